"""Stoppers: hooks that end training by raising StopIteration (with the reason).

* ``StopAfterEpoch(max_epochs)``: once ``max_epochs`` epochs are done.
* ``EarlyStopper(log_name, patience, criterion)``: when the watched log has not
  improved on its best value for ``patience`` entries.
* ``StopAfterThresholdReached(log_name, threshold, criterion)``: when the latest
  value is at most (``'min'``) or at least (``'max'``) ``threshold``.
* ``StopOnNan(logs_to_check, check_parameters, check_training_loss)``: when a
  parameter, the rolling training loss or a listed log is NaN or infinite.
* ``StopOnSigQuit()``: after a SIGQUIT (Ctrl+\\) was received.
"""

import numbers
import signal
import threading

import numpy as np

from brainstorm.errors import ValidationError
from brainstorm.hooks._log_criteria import (as_number, best_index, check_criterion,
                                            check_log_name)
from brainstorm.hooks.base import Hook
from brainstorm.training.utils import get_log, latest_value


class StopAfterEpoch(Hook):
    """Stop the training after a specified number of epochs.

    Args:
        max_epochs (int): the number of epochs to train.
        name (Optional[str]): default 'StopAfterEpoch'.
        timescale (str): ``'epoch'`` or ``'update'`` (checked after updates too).
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.
    """

    provided_log_entries = ()

    def __init__(self, max_epochs, name=None, timescale='epoch', interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, numbers.Integral) \
                or max_epochs < 0:
            raise ValidationError(f"{self.name}: max_epochs must be an integer >= 0, got "
                                  f"{max_epochs!r}")
        self.max_epochs = int(max_epochs)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        # after an update, epoch_nr is the epoch in progress: not yet done
        done = epoch_nr if self.timescale == 'epoch' or update_nr == 0 else epoch_nr - 1
        if done >= self.max_epochs:
            raise StopIteration(f"{self.name}: {self.max_epochs} epochs are done")


class EarlyStopper(Hook):
    """Stop the training if a log entry does not improve for some time.

    Training stops when ``patience`` entries have been logged after the best one
    (ties are no improvement, NaN never is). The log is read whenever this hook
    is called, whatever the timescale of the hook that logs the entry.

    Args:
        log_name (str): ``'<monitor name>.<entry>'``, e.g. ``'validation.total_loss'``;
            the entry may itself be dotted.
        patience (int): number of log updates to wait for an improvement (>= 1).
        criterion (str): ``'min'`` (e.g. a loss) or ``'max'`` (e.g. an accuracy).
        name (Optional[str]): default 'EarlyStopper'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.

    Example:
        >>> trainer.add_hook(EarlyStopper('validation.Accuracy', patience=10,
        ...                               criterion='max'))
    """

    provided_log_entries = ()

    def __init__(self, log_name, patience=1, criterion='min', name=None, timescale='epoch',
                 interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        self.log_name = check_log_name(self.name, log_name)
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) \
                or patience < 1:
            raise ValidationError(f"{self.name}: patience must be a positive integer, got "
                                  f"{patience!r}")
        self.patience = int(patience)
        self.criterion = check_criterion(self.name, criterion)

    def required_logs(self):
        return (self.log_name,)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        # the logs themselves say where the best was: nothing to keep for resuming
        entries = get_log(logs, self.log_name)
        if not entries:
            return
        values = [as_number(self.name, self.log_name, value) for value in entries]
        best = best_index(values, self.criterion)
        since_best = len(values) if best is None else len(values) - 1 - best
        if since_best >= self.patience:
            raise StopIteration(
                f"{self.name}: {self.log_name} did not improve for {since_best} log "
                f"updates (best: {'none' if best is None else values[best]!r})")


class StopAfterThresholdReached(Hook):
    """Stop the training if a log entry reaches the given threshold.

    The latest value of the entry is read at every call, whatever the timescale
    of the hook that logs it.

    Args:
        log_name (str): ``'<monitor name>.<entry>'``, e.g. ``'validation.Accuracy'``.
        threshold (float): the threshold value to reach.
        criterion (str): ``'min'``: stop once the value is <= threshold (e.g. a
            loss); ``'max'``: once it is >= threshold (e.g. an accuracy).
        name (Optional[str]): default 'StopAfterThresholdReached'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.

    Example:
        >>> StopAfterThresholdReached('validation.Accuracy', threshold=0.97,
        ...                           criterion='max')
    """

    provided_log_entries = ()

    def __init__(self, log_name, threshold, criterion='min', name=None,
                 timescale='epoch', interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        self.log_name = check_log_name(self.name, log_name)
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise ValidationError(f"{self.name}: threshold must be a number, got "
                                  f"{threshold!r}")
        self.threshold = threshold
        self.criterion = check_criterion(self.name, criterion)

    def required_logs(self):
        return (self.log_name,)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        value = latest_value(logs, self.log_name)
        if value is None:
            return
        value = as_number(self.name, self.log_name, value)
        reached = value >= self.threshold if self.criterion == 'max' \
            else value <= self.threshold
        if reached:
            relation = '>=' if self.criterion == 'max' else '<='
            raise StopIteration(f"{self.name}: {self.log_name} = {value!r} {relation} "
                                f"{self.threshold!r}")


def _latest_leaves(logs, log_name):
    """``[(dotted path, latest value)]`` of every list under ``log_name`` (a leaf or a dict)."""
    node = logs
    for part in log_name.split('.'):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    if isinstance(node, dict):
        return [leaf for key in node for leaf in _latest_leaves(logs, f"{log_name}.{key}")]
    return [(log_name, node[-1])] if isinstance(node, list) and node else []


def _non_finite_in(value):
    """Whether a log value (number, array, or nested dict of them) is NaN or infinite."""
    if isinstance(value, dict):
        return any(_non_finite_in(item) for item in value.values())
    try:
        return not bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):
        return False


class StopOnNan(Hook):
    """Stop the training if infinite or NaN values are found in parameters or logs.

    Args:
        logs_to_check (list[str] or tuple[str]): log names (dotted) whose latest
            value is checked.
        check_parameters (bool): check all parameters of the network.
        check_training_loss (bool): check the latest ``rolling_training.total_loss``.
        name (Optional[str]): default 'StopOnNan'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.
    """

    provided_log_entries = ()

    def __init__(self, logs_to_check=(), check_parameters=True, check_training_loss=True,
                 name=None, timescale='epoch', interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        if isinstance(logs_to_check, str):
            logs_to_check = (logs_to_check,)
        for log_name in logs_to_check:
            if not isinstance(log_name, str):
                raise ValidationError(f"{self.name}: logs_to_check must be log names "
                                      f"(strings), got {log_name!r}")
        self.logs_to_check = tuple(logs_to_check)
        self.check_parameters = bool(check_parameters)
        self.check_training_loss = bool(check_training_loss)

    def required_logs(self):
        return self.logs_to_check

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if self.check_parameters and not net.handler.is_fully_finite(net.buffer.parameters):
            raise StopIteration(f"{self.name}: NaN or infinite values in the parameters")
        log_names = list(self.logs_to_check)
        if self.check_training_loss:
            log_names.append('rolling_training.total_loss')
        for log_name in log_names:
            for path, value in _latest_leaves(logs, log_name):
                if _non_finite_in(value):
                    raise StopIteration(f"{self.name}: log {path} is {value!r}")


class StopOnSigQuit(Hook):
    """Stop training after the next call if it received a SIGQUIT (Ctrl + \\).

    The signal handler is installed by :meth:`start` (only where SIGQUIT exists and
    in the main thread) and the previous one is put back by :meth:`end`.

    Args:
        name (Optional[str]): default 'StopOnSigQuit'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.
    """

    __undescribed__ = {'quit': False, '_previous_handler': None}

    provided_log_entries = ()

    def __init__(self, name=None, timescale='epoch', interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        self.quit = False
        self._previous_handler = None

    def _receive(self, signal_number, frame):
        self.quit = True

    def start(self, net, stepper, verbose, named_data_iters):
        super().start(net, stepper, verbose, named_data_iters)
        self.quit = False
        if hasattr(signal, 'SIGQUIT') and \
                threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGQUIT, self._receive)

    def end(self):
        if self._previous_handler is not None:
            signal.signal(signal.SIGQUIT, self._previous_handler)
            self._previous_handler = None

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if self.quit:
            raise StopIteration(f"{self.name}: received SIGQUIT")


__all__ = ['StopAfterEpoch', 'EarlyStopper', 'StopAfterThresholdReached', 'StopOnNan',
           'StopOnSigQuit']
