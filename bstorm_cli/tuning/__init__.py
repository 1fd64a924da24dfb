"""``bstorm tune``: hyper-parameter search on Optuna over an experiment's ``search:`` space.

Entry point: :func:`tune` (start or resume a study and print its table) and
:func:`show` (print a study's table again). Modules: ``space`` (the searched keys and
their distributions), ``study`` (the study folder, its journal storage, sampler and
pruner), ``objective`` (one trial = one training run), ``worker`` (one process's share
of the trials), ``runner`` (start, resume, workers), ``report`` (the table).
Optuna is the optional extra ``[tune]``; nothing here imports it at module level.
"""

import json

from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


def require_optuna():
    """Raise the exit-2 error that names the extra when Optuna is not installed."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise BadInputError("bstorm tune needs Optuna, which is not installed",
                            Location('bstorm tune'),
                            hint="pip install '.[tune]'") from None


def tune(request=None, resume=None, trials=None, timeout=None, jobs=1, as_json=False):
    """Start (``request``, a TuneRequest) or resume (``resume``, a study folder) a study,
    run its trials, print the table; return an ExitStatus."""
    from bstorm_cli.tuning import runner
    require_optuna()
    if resume is not None:
        folder = resume
        remaining = runner.prepare_resume(folder, trials)
    else:
        folder = runner.start_study(request)
        remaining, timeout, jobs = request.trials, request.timeout, request.jobs
    status = runner.run_workers(folder, remaining, timeout, jobs)
    show(folder, as_json)
    return status


def show(folder, as_json=False):
    """Print the table (or JSON) of the study in ``folder``; return ExitStatus.OK."""
    import click
    from bstorm_cli.tuning.report import print_summary, study_summary
    require_optuna()
    summary = study_summary(folder)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    return ExitStatus.OK
