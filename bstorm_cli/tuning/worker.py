"""One worker of a study: ``study.optimize`` over a share of the trials.

``bstorm tune --jobs 1`` runs :func:`work` in its own process; with ``--jobs N`` it
starts N processes of ``python -m bstorm_cli.tuning.worker FOLDER TRIALS TIMEOUT
INDEX``, which share the study through its journal file (see
:mod:`bstorm_cli.tuning.study`).
"""

import sys

from bstorm_cli.errors import CliError
from bstorm_cli.exit_codes import ExitStatus


def work(folder, trials, timeout=None, worker_index=0):
    """Run ``trials`` trials (or until ``timeout`` seconds) of the study in ``folder``.

    A trial that fails (bad sampled value, diverged, crashed) is recorded as failed
    and the next one starts; Ctrl-C ends the worker after its trial wrote a
    checkpoint (the trial is recorded as failed and ``--resume`` runs it again).
    """
    import optuna
    from bstorm_cli.tuning.objective import TrialObjective
    from bstorm_cli.tuning.study import load_study
    # bstorm prints one line per trial; Optuna's own log lines would repeat them
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study, settings = load_study(folder, worker_index)
    if trials <= 0:
        return
    study.optimize(TrialObjective(folder, settings, worker_index), n_trials=trials,
                   timeout=timeout, catch=(CliError, ArithmeticError, MemoryError),
                   gc_after_trial=False)


def main(argv):
    """Entry of a worker process: FOLDER TRIALS TIMEOUT|none INDEX; returns an exit code."""
    from bstorm_cli import console
    folder, trials, timeout, worker_index = argv
    try:
        work(folder, int(trials), None if timeout == 'none' else float(timeout),
             int(worker_index))
    except KeyboardInterrupt:
        return int(ExitStatus.INTERRUPTED)
    except CliError as error:
        console.print_error_lines(error.lines())
        return int(ExitStatus.RUN_FAILED)
    return int(ExitStatus.OK)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
