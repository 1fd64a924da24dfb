"""One trial of a study: suggested values -> an ordinary training run -> its best value.

The trial trains the experiment with the study's ``--set`` values plus one ``--set``
per searched key, into a run directory named ``NAME-trial-NNNN-TIMESTAMP`` in the
study folder. After every epoch the value of the experiment's ``best:`` log is
reported to Optuna; when the pruner says so, the run stops after that epoch with the
status ``pruned``. The trial's value is the run's best value of that log.
"""

import json
import math
import time

from bstorm_cli import console
from bstorm_cli.errors import CliError, RunFailedError
from bstorm_cli.exit_codes import ExitStatus


def suggest(trial, key, spec):
    """The trial's value for the searched ``key`` with distribution ``spec``."""
    if spec['type'] == 'float':
        return trial.suggest_float(key, spec['low'], spec['high'], log=spec['log'],
                                   step=spec['step'])
    if spec['type'] == 'int':
        return trial.suggest_int(key, spec['low'], spec['high'], log=spec['log'],
                                 step=spec['step'])
    return trial.suggest_categorical(key, spec['choices'])


class TrialObjective:
    """``objective(trial) -> float`` for ``study.optimize``; one process trains one trial."""

    def __init__(self, folder, settings, worker_index=0):
        self.folder = folder
        self.settings = settings
        self.worker_index = worker_index

    def __call__(self, trial):
        import optuna
        from bstorm_cli.commands.train import start_run
        settings = self.settings
        started = time.monotonic()
        params = {dimension['key']: suggest(trial, dimension['key'], dimension['spec'])
                  for dimension in settings['dimensions']}
        overrides = list(settings['overrides'])
        overrides += [f"{key}={json.dumps(value)}" for key, value in params.items()]
        overrides.append(f"name={settings['name']}-trial-{trial.number:04d}")

        def prepare(run):
            def listener(epoch_nr, value):
                if value is None or not math.isfinite(value):
                    return None
                trial.report(value, epoch_nr)
                if run.max_epochs is not None and epoch_nr >= run.max_epochs:
                    return None  # the last epoch: stopping now would save nothing
                return 'pruned' if trial.should_prune() else None
            run.epoch_listener = listener
            run.display_options = {'quiet': True}
            trial.set_user_attr('run_dir', str(run.folder))
            trial.set_user_attr('worker', self.worker_index)

        try:
            status, run = start_run(settings['experiment'], overrides, self.folder,
                                    verbose=False, prepare=prepare)
        except KeyboardInterrupt:
            trial.set_user_attr('interrupted', True)
            raise
        except CliError as error:
            trial.set_user_attr('error', ' '.join(error.lines()))
            self._say(trial, 'failed', started, params, error.message)
            raise
        if status == ExitStatus.INTERRUPTED:
            trial.set_user_attr('interrupted', True)
            raise KeyboardInterrupt
        if run.stopped_as == 'pruned':
            self._say(trial, f"pruned after epoch {run.epochs_done}", started, params)
            raise optuna.TrialPruned()
        value = run.best_value
        if status == ExitStatus.DIVERGED or value is None or not math.isfinite(value):
            # a diverged run keeps its last finite best, but the trial's setting failed
            message = run.diverged if status == ExitStatus.DIVERGED else \
                f"the run gave no finite value of {run.best_log}"
            trial.set_user_attr('error', message)
            self._say(trial, 'failed', started, params, message)
            raise RunFailedError(message)
        self._say(trial, f"{run.best_log} = {value:.4f}", started, params)
        return value

    def _say(self, trial, what, started, params, detail=''):
        values = ', '.join(f"{key}={_short(value)}" for key, value in params.items())
        text = f"trial {trial.number}: {what} in {time.monotonic() - started:.1f} s ({values})"
        if detail:
            text += f": {detail}"
        console.err().print(text, markup=False, highlight=False)


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)

