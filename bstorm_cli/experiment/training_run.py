"""One training run in its run directory: start or resume, checkpoints, signals, summary.

The run adds two hooks after the experiment's own: one advances the progress bar
after every update, the other (:class:`RunRecorder`) after every epoch writes the logs,
``last.h5``, ``best.h5`` when the watched log improved, the checkpoint and the status,
and prints the epoch's row. Ctrl-C (SIGINT) and SIGTERM ask the trainer to stop after
the current update (``Trainer.request_stop``), so the checkpoint written then is
consistent; a second Ctrl-C stops at once (the last epoch's checkpoint stays valid).

Whether the run was interrupted is the trainer's word (``Trainer.interrupted``, agreed
by all processes under MPI), not whether a signal arrived: a signal that comes after
the round of hooks in which a stopper ended the training, or while the end of the run
is written (last and best network, final checkpoint, test score, status), does not
undo the training, which was complete. The run writes its last files and ends
``finished`` (exit 0), the message in ``status.json`` naming the signal; only a second
Ctrl-C stops at once (``interrupted``, exit 130, the checkpoint already says that the
training is over). Once the final status is written, signals are ignored until the
command has ended (:func:`bstorm_cli.interrupts.settle`).

Resuming rebuilds every object from the run's resolved experiment with the same seed,
then restores the parameters, the trainer (stepper, hooks, iterators, counters, logs)
and the global random state from the checkpoint.
"""

import math
import signal
import sys
import time

import numpy as np

from brainstorm.hooks.base import Hook

from bstorm_cli import interrupts
from bstorm_cli.errors import BadInputError, Location, RunFailedError
from bstorm_cli.log_files import log_file_hooks
from bstorm_cli.network_summary import summary_attributes
from bstorm_cli.exit_codes import ExitStatus
from bstorm_cli.experiment import checks, run_dir, test_score
from bstorm_cli.experiment.divergence import DIVERGED_NETWORK, DivergenceCheck
from bstorm_cli.progress import TrainingDisplay, UpdateProgressHook


def _global_random_state():
    from brainstorm.data_iterators.base import random_state_to_dict
    from brainstorm.randomness import global_rnd
    return random_state_to_dict(global_rnd)


def _set_global_random_state(state):
    from brainstorm.data_iterators.base import set_random_state_from_dict
    from brainstorm.randomness import global_rnd
    set_random_state_from_dict(global_rnd, state, 'global_rnd')


def _latest(logs, log_name):
    from brainstorm.training.utils import get_log
    values = get_log(logs, log_name) if log_name else None
    if not values:
        return None
    try:
        value = float(values[-1])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None  # best is never NaN or infinite


def _batch_size_of(iterator):
    """The batch size of an iterator chain's source (Minibatches), or None."""
    while iterator is not None:
        size = getattr(iterator, 'batch_size', None)
        if isinstance(size, int):
            return size
        iterator = getattr(iterator, 'iter', None)
    return None


class RunRecorder(Hook):
    """After every epoch (and before the first): files of the run directory and the row."""

    __undescribed__ = {'run': None}

    def __init__(self, run):
        super().__init__(name='bstorm_run', timescale='epoch', interval=1, verbose=False)
        self.run = run

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        self.run.record_epoch(epoch_nr, update_nr, logs)
        return None


class TrainingRun:
    """Train ``setup`` (a RunSetup) in ``folder``; :meth:`execute` returns an ExitStatus."""

    def __init__(self, setup, folder, command_line, resume=False):
        self.setup = setup
        #: optional ``listener(epoch_nr, value of the best log) -> None or a status word``;
        #: a word (e.g. 'pruned') stops the run after this epoch with that status
        self.epoch_listener = None
        self.stopped_as = None
        self.max_epochs = None
        #: the best network's losses and scores on the data's test split (test_score)
        self.test_result = None
        #: keyword arguments of the TrainingDisplay (``quiet``, ``verbose``, ``interval``)
        self.display_options = {}
        self.folder = folder
        self.command_line = command_line
        self.resume = resume
        self.trainer = None
        self.display = None
        self.stop_signal = None
        #: a signal that arrived after the training had ended (it changes nothing)
        self.late_signal = None
        #: True from the moment ``Trainer.train`` has returned
        self.ending = False
        #: whether the checkpoint written last records that the training is over
        self.checkpoint_is_final = False
        self.divergence = DivergenceCheck.for_hooks(setup.hooks)
        #: why the run diverged (None while it has not)
        self.diverged = None
        self.best_log, self.best_criterion = checks.best_log(setup.experiment)
        self.best_value = None
        self.best_epoch = None
        self.epochs_done = 0
        self.updates_done = 0
        self.started = time.monotonic()
        self._previous_handlers = {}

    # ---- files ---------------------------------------------------------------------------------
    def path(self, name):
        return self.folder / name

    def write_status(self, status, message='', in_place_fallback=False):
        """Write status.json; with ``in_place_fallback``, where the atomic write fails
        (disk full, folder made read-only) overwrite the old file in place, and where
        that fails too, say so on stderr."""
        writer = run_dir.write_json_in_place_if_need_be if in_place_fallback else \
            run_dir.write_json
        writer(self.path(run_dir.STATUS_FILE), {
            'status': status, 'message': message, 'epochs': self.epochs_done,
            'updates': self.updates_done, 'best_log': self.best_log,
            'best_criterion': self.best_criterion,
            'best_value': self.best_value, 'best_epoch': self.best_epoch,
            'test': self.test_result, 'time': run_dir.timestamp()})

    def save_logs(self):
        run_dir.save_logs(self.path(run_dir.LOGS_FILE), self.trainer.logs,
                          self.trainer.log_steps)

    def write_final_status(self, status, message='', **keywords):
        """Write the run's outcome to status.json; from then on signals are ignored."""
        try:
            self.write_status(status, message, **keywords)
        finally:
            interrupts.settle()

    def write_checkpoint(self, reason):
        network = self.setup.network
        trainer_state = self.trainer.get_state()
        final = reason == 'finished' or trainer_state.get('finished') is True
        state = {'trainer': trainer_state,
                 'global_rnd': _global_random_state(),
                 'run': {'best_log': self.best_log,
                         'best_value': self.best_value, 'best_epoch': self.best_epoch,
                         'epochs_done': self.epochs_done, 'updates_done': self.updates_done}}
        info = {'reason': reason, 'epoch': self.epochs_done, 'update': self.updates_done,
                'time': run_dir.timestamp()}
        run_dir.save_checkpoint(self.path(run_dir.CHECKPOINT_FILE), network.get('parameters'),
                                state, info)
        self.checkpoint_is_final = final  # once it is on disk

    def save_network(self, file_name, comment):
        """Save the network with the experiment's summary (``bstorm info`` shows it)."""
        experiment = self.setup.experiment
        self.setup.network.save_as_hdf5(
            str(self.path(file_name)), comment=comment,
            attributes=summary_attributes(experiment.name, experiment.resolved['seed'],
                                          self.epochs_done, self.updates_done, self.best_log,
                                          self.best_value, self.best_epoch))

    def _is_better(self, value):
        if value is None:
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.best_criterion == 'max' else \
            value < self.best_value

    def record_epoch(self, epoch_nr, update_nr, logs):
        """Save logs, last/best network, checkpoint and status; print the epoch's row.

        A diverged state is written beside the run's files (never over them) and stops
        the training.
        """
        self.save_logs()
        reason = self.divergence_reason(logs)
        if reason is not None:
            if epoch_nr > 0:
                self.display.epoch_row(epoch_nr, logs)
            self.record_divergence(epoch_nr, reason)
            raise StopIteration(f"diverged: {reason}")
        self.epochs_done, self.updates_done = epoch_nr, update_nr
        if epoch_nr > 0:
            value = _latest(logs, self.best_log)
            better = self._is_better(value) or (self.best_log is None)
            if better:
                self.best_value, self.best_epoch = value, epoch_nr
            self.save_network(run_dir.LAST_NETWORK, f"{self.setup.experiment.name}: epoch "
                                                    f"{epoch_nr}")
            if better:
                self.save_network(run_dir.BEST_NETWORK,
                                  f"best {self.best_log} = {value} at epoch {epoch_nr}"
                                  if self.best_log else 'last epoch')
            self.display.epoch_row(epoch_nr, logs)
            if self.epoch_listener is not None and self.stopped_as is None:
                self.stopped_as = self.epoch_listener(epoch_nr, _latest(logs, self.best_log))
                if self.stopped_as is not None:
                    self.trainer.request_stop(f"{self.stopped_as} after epoch {epoch_nr}")
        self.write_checkpoint('epoch')
        self.write_status('running')

    def divergence_reason(self, logs):
        """Why the run has diverged, or None (see ``divergence.DivergenceCheck``)."""
        return self.divergence.reason(self.setup.network, logs, self.trainer.stop_reason)

    def record_divergence(self, epoch_nr, reason):
        """Keep the non-finite network beside the run's files, in diverged.h5."""
        if self.diverged is not None:
            return
        self.diverged = f"diverged in epoch {epoch_nr}: {reason}"
        self.setup.network.save_as_hdf5(str(self.path(DIVERGED_NETWORK)),
                                        comment=self.diverged)

    def _end_diverged(self):
        kept = [name for name in (run_dir.CHECKPOINT_FILE, run_dir.LAST_NETWORK)
                if self.path(name).exists()]
        message = (f"{self.diverged}; {' and '.join(kept) or 'nothing'} kept from epoch "
                   f"{self.epochs_done}, the last finite one; the diverged network is in "
                   f"{DIVERGED_NETWORK}")
        self.write_final_status('diverged', message)
        self.display.summary([message, f"run directory: {self.folder}"])
        return ExitStatus.DIVERGED

    # ---- signals ---------------------------------------------------------------------------
    def _stops_at_once(self):
        """Whether a second Ctrl-C stops this process at once (see ParallelTrainingRun)."""
        return True

    def _on_signal(self, number, frame):
        name = signal.Signals(number).name
        second = self.stop_signal is not None or self.late_signal is not None
        if second and number == signal.SIGINT and self._stops_at_once():
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        if self.ending:
            # the training is over (a stopper ended it, or a first signal did): what is
            # left is writing its end, which this signal does not change
            if not second:
                self.late_signal = name
                if self.display is not None:
                    self.display.note(f"{name}: the training has ended; writing the end of "
                                      f"the run (Ctrl-C again to stop at once)")
            return
        if self.stop_signal is not None:
            return
        self.stop_signal = name
        if self.trainer is not None:
            self.trainer.request_stop(f"{name} received")
        if self.display is not None:
            self.display.note(f"{name}: stopping after this update and writing a checkpoint "
                              f"(Ctrl-C again to stop at once)")

    def _install_signal_handlers(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous_handlers[number] = signal.signal(number, self._on_signal)
            except ValueError:  # not the main thread (tests calling in a thread)
                pass

    def _restore_signal_handlers(self):
        for number, handler in self._previous_handlers.items():
            interrupts.restore(number, handler)
        self._previous_handlers = {}

    # ---- running -----------------------------------------------------------------------------
    def _make_trainer(self):
        from brainstorm.training.trainer import Trainer
        setup = self.setup
        carry_state = setup.experiment.resolved['trainer'].get('carry_state', False)
        trainer = Trainer(setup.stepper, verbose=True, carry_state=carry_state)
        trainer.train_scorers = list(setup.train_scorers)
        for hook in setup.hooks + log_file_hooks(setup.experiment, self.folder):
            trainer.add_hook(hook)
        trainer.add_hook(UpdateProgressHook(self.display))
        trainer.add_hook(RunRecorder(self))
        trainer.reporter = self._report
        return trainer

    def _running_training_loss(self):
        """Mean training loss over the current epoch's batches so far (None before any)."""
        pairs = (getattr(self.trainer, '_rolling_scores', None) or {}).get('total_loss') or ()
        weight = sum(pair[0] for pair in pairs)
        return sum(pair[1] for pair in pairs) / weight if weight else None

    def _report(self, report):
        if report.kind != 'log' and self.display is not None:
            text = report.message or ''
            self.display.note(f"{report.name}: {text}" if not text.startswith(report.name)
                              else text)

    def _restore(self, parameters, state, info):
        network = self.setup.network
        if parameters.shape != network.get('parameters').shape:
            raise BadInputError(f"the checkpoint's parameters have the shape "
                                f"{parameters.shape}, the experiment's network needs "
                                f"{network.get('parameters').shape}",
                                Location(str(self.path(run_dir.CHECKPOINT_FILE))))
        network.handler.set_from_numpy(network.buffer.parameters,
                                       parameters.astype(network.handler.dtype))
        self.trainer.set_state(state['trainer'])
        _set_global_random_state(state['global_rnd'])
        run_state = state.get('run', {})
        self.best_value = run_state.get('best_value')
        self.best_epoch = run_state.get('best_epoch')
        self.epochs_done = run_state.get('epochs_done', 0)
        self.updates_done = run_state.get('updates_done', 0)

    def execute(self, checkpoint=None):
        """Train to the end (or until stopped); return an ExitStatus."""
        setup = self.setup
        training_name = setup.experiment.resolved['trainer']['training_iterator']
        training_iterator = setup.sources.iterators[training_name]
        max_epochs = min((hook.get('max_epochs') for hook in
                          setup.experiment.resolved['trainer']['hooks']
                          if hook['type'] == 'StopAfterEpoch'), default=None)
        self.max_epochs = max_epochs
        self.display = TrainingDisplay(self.folder.name, training_iterator.length, max_epochs,
                                       samples_per_batch=_batch_size_of(training_iterator),
                                       running_loss=self._running_training_loss,
                                       **self.display_options)
        self.trainer = self._make_trainer()
        if checkpoint is not None:
            self._restore(*checkpoint)
            self.display.note(f"resuming {self.folder} after epoch {self.epochs_done} "
                              f"(update {self.updates_done})")
        self._install_signal_handlers()
        try:
            return self._train_and_finish()
        except KeyboardInterrupt:
            # a second Ctrl-C, during the training or while its end is written
            self.display.close_bar()
            if interrupts.settled():  # the outcome was written before the Ctrl-C came
                raise
            if self.checkpoint_is_final:
                message = ('stopped at once by a second Ctrl-C while the end of the run was '
                           'written; the training was complete: bstorm train --resume '
                           'records it as finished')
            else:
                message = ('stopped at once by a second Ctrl-C; resume continues after the '
                           'last checkpoint')
            self.write_final_status('interrupted', message)
            raise
        finally:
            self._restore_signal_handlers()

    def _train_and_finish(self):
        setup = self.setup
        sources = setup.sources
        training_name = setup.experiment.resolved['trainer']['training_iterator']
        others = {name: iterator for name, iterator in sources.iterators.items()
                  if name != training_name}
        try:
            # overflow is expected when a run diverges, which is checked after every
            # epoch and reported as such; numpy's warnings about it would only be noise
            with np.errstate(over='ignore', invalid='ignore'):
                self.trainer.train(setup.network, sources.iterators[training_name], **others)
        except KeyboardInterrupt:
            raise
        except (OSError, MemoryError) as error:  # disk full, no permission, out of memory
            self.display.close_bar()
            from bstorm_cli.main import resource_error_line
            line = resource_error_line(error) or f"error: {error}"
            self.write_final_status('failed', line[len('error: '):], in_place_fallback=True)
            raise RunFailedError(f"training stopped: {line[len('error: '):]}") from error
        except (StopIteration, RuntimeError, ArithmeticError) as error:
            self.display.close_bar()
            self.write_final_status('failed', str(error))
            raise RunFailedError(f"training failed: {type(error).__name__}: {error}") \
                from error
        except Exception as error:
            self.display.close_bar()
            from brainstorm.errors import BrainstormError, TrainingError
            self.write_final_status('failed', str(error))
            if isinstance(error, TrainingError) and self.trainer.current_update_nr == 0:
                raise BadInputError(str(error).replace('\n  ', '; ')) from error
            if isinstance(error, BrainstormError):
                raise RunFailedError(f"training failed: {error}") from error
            raise
        self.ending = True
        logs = self.trainer.logs
        if self.diverged is None:  # stopped inside an epoch (StopOnNan on updates)
            reason = self.divergence_reason(logs)
            if reason is not None:
                self.save_logs()
                self.record_divergence(self.trainer.current_epoch_nr, reason)
        if self.diverged is not None:
            return self._end_diverged()
        self.epochs_done = self.trainer.completed_epochs
        self.updates_done = self.trainer.current_update_nr
        self.save_logs()
        if self.stopped_as is not None and self.stop_signal is None:
            self.write_final_status(self.stopped_as, self.trainer.stop_reason or '')
            self.display.summary([f"{self.stopped_as} after epoch {self.epochs_done}"])
            return ExitStatus.OK
        if self.trainer.interrupted:  # agreed by every process; a stopper ended it if not
            self.stop_signal = self.stop_signal or 'stop request'
            self.write_checkpoint(self.stop_signal)
            self.write_final_status('interrupted', f"{self.stop_signal}; resume with bstorm "
                                                   f"train --resume {self.folder}")
            self.display.summary([f"interrupted by {self.stop_signal} in epoch "
                                  f"{self.epochs_done + 1} ({self.epochs_done} complete); "
                                  f"checkpoint written",
                                  f"resume: bstorm train --resume {self.folder}"])
            return ExitStatus.INTERRUPTED
        self.save_network(run_dir.LAST_NETWORK, f"{setup.experiment.name}: end of training")
        if not self.path(run_dir.BEST_NETWORK).exists():
            self.save_network(run_dir.BEST_NETWORK, 'last epoch')
        self.write_checkpoint('finished')
        self.test_result = test_score.evaluate_best_network(setup,
                                                            self.path(run_dir.BEST_NETWORK))
        # a signal that came after the last round of hooks (stop_signal) or during the
        # end (late_signal) found the training complete
        late = self.stop_signal or self.late_signal
        self.write_final_status('finished', f"{late} arrived after the training had ended; "
                                            f"the run was completed" if late else '')
        self.display.summary(self.summary_lines())
        return ExitStatus.OK

    def summary_lines(self):
        seconds = time.monotonic() - self.started
        lines = [f"finished {self.epochs_done} epochs ({self.updates_done} updates) in "
                 f"{seconds:.1f} s"]
        if self.best_log is not None and self.best_value is not None:
            lines.append(f"best {self.best_log}: {self.best_value:.4f} (epoch {self.best_epoch})")
        if self.test_result is not None:
            lines.append(test_score.result_text(self.test_result))
        lines.append(f"run directory: {self.folder}")
        return lines

    def result_lines(self):
        """What goes to stdout at the end: where the run is and its best value."""
        lines = [f"run directory: {self.folder}"]
        if self.best_log is not None and self.best_value is not None:
            lines.append(f"best {self.best_log}: {self.best_value:.4f} (epoch {self.best_epoch})")
        final = _latest(self.trainer.logs, self.best_log) if self.trainer else None
        if final is not None:
            # 'final' only for a run that ended; an interrupted one has a latest value
            ended = not self.trainer.interrupted and self.diverged is None
            lines.append(f"{'final' if ended else 'latest'} {self.best_log}: {final:.4f}")
        if self.test_result is not None:
            lines.append(test_score.result_text(self.test_result))
        return lines


def current_command_line():
    return ' '.join(['bstorm'] + sys.argv[1:])


__all__ = ['TrainingRun', 'RunRecorder', 'current_command_line', 'np']
