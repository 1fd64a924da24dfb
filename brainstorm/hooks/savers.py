"""Savers: hooks that write the network or the logs to files (always atomically).

* ``SaveNetwork(filename)``: the network (``Network.save_as_hdf5``) at every call.
* ``SaveBestNetwork(log_name, filename, criterion)``: the network whenever the
  watched log reaches a new best; in memory (``best_parameters``) without a filename.
* ``SaveLogs(filename)``: the trainer logs as HDF5: a group per dict, a dataset per
  list of values (``f['validation/Accuracy'][()]``).
"""

import os

import numpy as np

from brainstorm.errors import TrainingError, ValidationError
from brainstorm.hooks._log_criteria import (as_number, best_index, check_criterion,
                                            check_log_name)
from brainstorm.hooks.base import Hook
from brainstorm.training.utils import get_log, write_atomically


def _check_filename(owner, filename, optional=False):
    if filename is None and optional:
        return None
    if not isinstance(filename, str) or not filename:
        raise ValidationError(f"{owner}: filename must be a non-empty string"
                              f"{' or None' if optional else ''}, got {filename!r}")
    return filename


class SaveNetwork(Hook):
    """Periodically save the network (description and parameters) to an HDF5 file.

    Default behaviour is to save after every training epoch (and once before
    training). Load it with ``Network.from_hdf5(filename)``.

    Args:
        filename (str): the HDF5 file; replaced atomically at every save.
        name (Optional[str]): default 'SaveNetwork'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
    """

    can_stop = False

    provided_log_entries = ()
    writes_files = True

    def __init__(self, filename, name=None, timescale='epoch', interval=1):
        super().__init__(name, timescale, interval)
        self.filename = _check_filename(self.name, filename)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        net.save_as_hdf5(self.filename,
                         comment=f"saved by {self.name} at epoch {epoch_nr}, update {update_nr}")

    def load_network(self):
        """Return the network last saved by this hook (read from ``filename``)."""
        from brainstorm.structure.network import Network
        return Network.from_hdf5(self.filename)


class SaveBestNetwork(Hook):
    """Save the network whenever the specified log entry reaches a new best value.

    The value is best when it is strictly better than every earlier entry (NaN
    never is). The log is read whenever this hook is called: when the latest
    entry is new and the best, the network is saved (as in brainstorm 0.5, the
    hook need not share the monitor's timescale; called less often than the
    monitor logs, it only sees the latest entry). Without a filename the best
    parameters are kept in memory, in ``best_parameters`` (a numpy copy of
    ``net.get('parameters')``). :meth:`load_best_network` returns the best network.

    Note that the spec's signature gives ``criterion='max'`` (its prose says
    'min'); the signature is followed here.

    Args:
        log_name (str): ``'<monitor name>.<entry>'``, e.g. ``'validation.Accuracy'``.
        filename (Optional[str]): HDF5 file for the best network; None: memory only.
        criterion (str): ``'max'`` (e.g. an accuracy) or ``'min'`` (e.g. a loss).
        name (Optional[str]): default 'SaveBestNetwork'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        verbose (Optional[bool]): None uses the trainer's.

    Attributes:
        best_value (Optional[float]): the best value seen so far.
        best_parameters (Optional[numpy.ndarray]): its parameters (memory mode only).

    Example:
        >>> SaveBestNetwork('validation.Accuracy', filename='best.h5', criterion='max')
    """

    can_stop = False

    provided_log_entries = ()
    writes_files = True
    __undescribed__ = {'best_value': None, 'best_parameters': None, '_entries_seen': 0,
                       '_net': None}
    __default_values__ = {'filename': None, 'criterion': 'max'}

    def __init__(self, log_name, filename=None, criterion='max', name=None, timescale='epoch',
                 interval=1, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        self.log_name = check_log_name(self.name, log_name)
        self.filename = _check_filename(self.name, filename, optional=True)
        self.criterion = check_criterion(self.name, criterion)
        self.best_value = None
        self.best_parameters = None
        self._entries_seen = 0
        self._net = None

    def required_logs(self):
        return (self.log_name,)

    def start(self, net, stepper, verbose, named_data_iters):
        super().start(net, stepper, verbose, named_data_iters)
        self._net = net

    def load_best_network(self):
        """Return the best network saved so far (a new Network).

        Returns:
            brainstorm.structure.Network: read from ``filename``, or, in memory
            mode, the trained network's architecture with ``best_parameters``.

        Raises:
            TrainingError: if nothing has been saved yet.
        """
        from brainstorm.structure.network import Network
        if self.filename is not None:
            if not os.path.exists(self.filename):
                raise TrainingError(f"{self.name}: no best network saved yet (no file "
                                    f"{self.filename})")
            return Network.from_hdf5(self.filename)
        if self.best_parameters is None or self._net is None:
            raise TrainingError(f"{self.name}: no best network saved yet")
        net = Network.from_architecture(self._net.architecture)
        net.output_name = self._net.output_name
        net.handler.set_from_numpy(net.buffer.parameters,
                                   self.best_parameters.astype(net.handler.dtype))
        return net

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        entries = get_log(logs, self.log_name)
        if not entries or len(entries) == self._entries_seen:
            return  # nothing new logged (e.g. rolling_training before the first epoch)
        self._entries_seen = len(entries)
        values = [as_number(self.name, self.log_name, value) for value in entries]
        if best_index(values, self.criterion) != len(values) - 1:
            return
        self.best_value = values[-1]
        if self.filename is None:
            self.best_parameters = net.get('parameters')
        else:
            net.save_as_hdf5(self.filename,
                             comment=f"best {self.log_name} = {values[-1]!r} at epoch "
                                     f"{epoch_nr}, update {update_nr}")
        self.message(f"{self.log_name} improved to {values[-1]:.6g}; saved the network"
                     + (f" to {self.filename}" if self.filename else " in memory"))

    def get_state(self):
        state = {'entries_seen': self._entries_seen, 'best_value': self.best_value}
        if self.best_parameters is not None:
            state['best_parameters'] = self.best_parameters
        return state

    def set_state(self, state):
        self._entries_seen = int(state.get('entries_seen', 0))
        best_value = state.get('best_value')
        self.best_value = None if best_value is None else float(best_value)
        best_parameters = state.get('best_parameters')
        self.best_parameters = None if best_parameters is None else \
            np.array(best_parameters)


def write_logs_hdf5(filename, logs):
    """Write nested logs to an HDF5 file atomically (groups for dicts, datasets for lists).

    Lists of numbers (or of equally shaped arrays) become numeric datasets; lists
    that numpy cannot make a regular array of are stored as strings.
    """
    import h5py

    def write_group(group, node):
        for key, value in node.items():
            if isinstance(value, dict):
                write_group(group.create_group(str(key)), value)
                continue
            try:
                array = np.asarray(value)
            except ValueError:  # ragged
                array = np.asarray([repr(item) for item in value], dtype=object)
            if array.dtype == object or array.dtype.kind == 'U':
                array = np.asarray([str(item) for item in value],
                                   dtype=h5py.string_dtype())
            group.create_dataset(str(key), data=array)

    def write(path):
        with h5py.File(path, 'w') as f:
            write_group(f, logs)

    write_atomically(filename, write)


class SaveLogs(Hook):
    """Periodically save the trainer logs dictionary to an HDF5 file.

    Default behaviour is to save every epoch. Dicts become groups and lists
    datasets: ``h5py.File(filename)['validation/Accuracy'][()]``.

    Args:
        filename (str): the HDF5 file; replaced atomically at every save.
        name (Optional[str]): default 'SaveLogs'.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
    """

    can_stop = False

    provided_log_entries = ()
    writes_files = True

    def __init__(self, filename, name=None, timescale='epoch', interval=1):
        super().__init__(name, timescale, interval)
        self.filename = _check_filename(self.name, filename)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        write_logs_hdf5(self.filename, logs)


__all__ = ['SaveNetwork', 'SaveBestNetwork', 'SaveLogs', 'write_logs_hdf5']
