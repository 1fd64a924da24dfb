"""SequenceWindows: long sequences cut into consecutive windows, for truncated BPTT.

Each batch column holds one long sequence (a stream: a text of millions of
characters, a long time series). Every batch is the next window of ``window_size``
steps of all columns, in order, so a network that carries its recurrent state
from one batch to the next (``Trainer(stepper, carry_state=True)``, see
:mod:`brainstorm.training.carried_state`) sees each stream as one sequence.

Every batch also holds the per-column reset signal under the name
:data:`~brainstorm.training.carried_state.RESET_NAME` (``'@reset'``), a ``(B,)`` bool
array: True where the state must start from zero. It is True for every column in
the first window of a pass, and where a new sequence starts in a column
(``sequence_starts``). The network takes it out of the data and passes it to its
carried state; without one, it is ignored.
"""

import math

import numpy as np

from brainstorm.data_iterators.base import DataIterator, check_named_data, read_all
from brainstorm.errors import IteratorValidationError
from brainstorm.training.carried_state import RESET_NAME


class SequenceWindows(DataIterator):
    """Yields consecutive windows of ``window_size`` steps of long sequences, in order.

    Args:
        window_size (int): T of every batch (the last window of a pass may be shorter).
        columns (Optional[int]): the data is ONE stream cut into consecutive pieces,
            the layout of the text converter (``(T0, N, ...)``, piece b continuing
            piece b - 1); it is re-cut into ``columns`` streams of equal length
            (each ``(N // columns) * T0`` steps; the rest is dropped), the batch size.
            None: every column of the data is its own stream (``(L, B, ...)``).
        sequence_starts (Optional[str]): name of a ``(L, B, 1)`` data item, non-zero
            at the first step of each sequence in a column after the first (columns
            that hold several sequences one after another). These steps must be the
            first steps of windows (multiples of ``window_size``): pad each sequence
            to a multiple of it, with a mask item that marks the padding. The item is
            read, not yielded.
        **named_data: name -> numpy array or h5py dataset; all of the same shape in
            their first two axes.

    Example:
        >>> windows = SequenceWindows(100, columns=50, **h5file['split/training'])
        >>> trainer = Trainer(SgdStepper(), carry_state=True)
        >>> trainer.train(net, OneHot(windows, {'default': 205}))

    Raises:
        IteratorValidationError: bad settings, items of different lengths, or a
            sequence start that is not the first step of a window.
    """

    def __init__(self, window_size=100, columns=None, sequence_starts=None, **named_data):
        label = 'SequenceWindows'
        if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)) \
                or window_size < 1:
            raise IteratorValidationError(f"{label}: window_size must be a positive integer, "
                                          f"got {window_size!r}")
        data_shapes, time_steps, _ = check_named_data(label, named_data)
        short = [name for name, shape in data_shapes.items() if shape[0] != time_steps]
        if short:
            raise IteratorValidationError(
                f"{label}: data item {short[0]!r} has shape {data_shapes[short[0]]}; every "
                f"item must have all {time_steps} steps (no T = 1 items)")
        streams = {name: read_all(data) for name, data in named_data.items()}
        if columns is not None:
            streams = {name: _restack(label, data, columns) for name, data in streams.items()}
        starts = None
        if sequence_starts is not None:
            if sequence_starts not in streams:
                raise IteratorValidationError(
                    f"{label}: sequence_starts names {sequence_starts!r}, which is not a data "
                    f"item (items: {', '.join(streams)})")
            starts = _check_starts(label, streams.pop(sequence_starts), window_size)
        self.streams = streams
        self.window_size = int(window_size)
        self.columns = columns
        self.sequence_starts = sequence_starts
        self.starts = starts
        self.stream_length = next(iter(streams.values())).shape[0]
        shapes = {name: (self.window_size,) + tuple(data.shape[1:])
                  for name, data in streams.items()}
        super().__init__(shapes, length=int(math.ceil(self.stream_length / self.window_size)))

    def set_shard(self, shard):
        """Under a shard every process gets the same columns (streams) in every window."""
        if shard is not None:
            shard.check_batch_sizes('SequenceWindows',
                                    [next(iter(self.streams.values())).shape[1]])
        super().set_shard(shard)

    def __call__(self, handler=None):
        batch_size = next(iter(self.streams.values())).shape[1]
        columns = slice(None) if self.shard is None else self.shard.begin_batch(batch_size)
        for index in range(self.length):
            start = index * self.window_size
            stop = min(start + self.window_size, self.stream_length)
            batch = {name: data[start:stop, columns] for name, data in self.streams.items()}
            if index == 0:
                reset = np.ones(batch_size, dtype=bool)
            elif self.starts is not None:
                reset = self.starts[start].copy()
            else:
                reset = np.zeros(batch_size, dtype=bool)
            batch[RESET_NAME] = reset[columns]
            yield batch


def _restack(label, data, columns):
    """(T0, N, ...) consecutive pieces of one stream -> (L, columns, ...) streams."""
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise IteratorValidationError(f"{label}: columns must be a positive integer, got "
                                      f"{columns!r}")
    pieces, piece_length = data.shape[1], data.shape[0]
    per_column = pieces // columns
    if per_column == 0:
        raise IteratorValidationError(
            f"{label}: the data holds {pieces} pieces of {piece_length} steps, too few for "
            f"{columns} columns")
    stream = np.swapaxes(np.asarray(data), 0, 1).reshape((pieces * piece_length,) +
                                                         tuple(data.shape[2:]))
    length = per_column * piece_length
    stream = stream[:columns * length].reshape((columns, length) + tuple(data.shape[2:]))
    return np.ascontiguousarray(np.swapaxes(stream, 0, 1))


def _check_starts(label, starts, window_size):
    """The (L, B) bool sequence starts; each must be the first step of a window."""
    starts = np.asarray(starts).reshape(starts.shape[0], starts.shape[1], -1).any(axis=2)
    steps, columns = np.nonzero(starts)
    misplaced = steps % window_size != 0
    if misplaced.any():
        step, column = int(steps[misplaced][0]), int(columns[misplaced][0])
        raise IteratorValidationError(
            f"{label}: a sequence starts at step {step} of column {column}, which is not the "
            f"first step of a window of {window_size}; pad each sequence to a multiple of "
            f"window_size (and mask the padding)")
    return starts
