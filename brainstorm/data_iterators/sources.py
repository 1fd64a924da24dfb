"""Iterators that read named data: Undivided, Online and Minibatches.

Each takes its data as named arguments, numpy arrays or h5py datasets of shape
``(T, B, ...)`` (``T = 1`` allowed for items that do not change over time), so
``Minibatches(100, **h5py_file['training'])`` works on a file's group. h5py data is
read batch by batch, as contiguous slices along ``B``; the whole file is never
loaded (except by ``Undivided``, whose one batch is everything).

Under a :class:`~brainstorm.data_iterators.sharding.BatchShard` (``set_shard``, used
by data-parallel training) ``Minibatches`` and ``Undivided`` read only the shard's
part of every batch; ``Online`` (one sequence per batch) cannot be split.
"""

import math

import numpy as np

from brainstorm.data_iterators.base import (DataIterator, check_named_data, read_all,
                                            read_batch)
from brainstorm.errors import IteratorValidationError


class Undivided(DataIterator):
    """Yields the entire data as a single batch (one iteration per epoch).

    Args:
        **named_data: name -> numpy array or h5py dataset of shape ``(T, B, ...)``.

    Example:
        >>> getter = Undivided(default=inputs, targets=targets)
    """

    def __init__(self, **named_data):
        data_shapes, _, nr_sequences = check_named_data('Undivided', named_data)
        super().__init__(data_shapes, length=1)
        self.data = named_data
        self.nr_sequences = nr_sequences

    def set_shard(self, shard):
        if shard is not None:
            shard.check_batch_sizes('Undivided', [self.nr_sequences])
        super().set_shard(shard)

    def __call__(self, handler=None):
        if self.shard is None:
            yield {name: read_all(data) for name, data in self.data.items()}
            return
        part = self.shard.begin_batch(self.nr_sequences)
        yield {name: read_batch(data, part) for name, data in self.data.items()}


class Online(DataIterator):
    """Yields one sequence at a time: every batch has ``B = 1``.

    Args:
        shuffle (bool): visit the sequences in a new random order every epoch.
        verbose (Optional[bool]): accepted for compatibility; the engine never
            prints, progress is shown by the trainer's hooks.
        **named_data: name -> numpy array or h5py dataset of shape ``(T, B, ...)``.

    Batches are ``(T, 1, ...)`` and are not cut to a sequence's length.
    """

    def __init__(self, shuffle=True, verbose=None, **named_data):
        data_shapes, _, nr_sequences = check_named_data('Online', named_data)
        super().__init__(data_shapes, length=nr_sequences)
        self.data = named_data
        self.shuffle = shuffle
        self.verbose = verbose
        self.nr_sequences = nr_sequences

    def set_shard(self, shard):
        if shard is not None and shard.count > 1:
            raise IteratorValidationError(
                f"Online yields one sequence per batch, which cannot be split over "
                f"{shard.count} processes; use Minibatches(batch_size=...) instead")
        super().set_shard(shard)

    def __call__(self, handler=None):
        order = np.arange(self.nr_sequences)
        if self.shuffle:
            self.rnd.shuffle(order)
        for sequence in order:
            sequences = slice(int(sequence), int(sequence) + 1)
            yield {name: read_batch(data, sequences) for name, data in self.data.items()}


class Minibatches(DataIterator):
    """Yields minibatches of ``batch_size`` sequences (the last one may be smaller).

    Batch ``i`` holds sequences ``[i * batch_size, (i + 1) * batch_size)``.
    With ``shuffle`` the order of the batches is random in every epoch, but no
    instance moves to another batch (so h5py data is always read in contiguous
    slices); shuffle the data set once beforehand if batches must be mixed.

    If the data has an item named ``cut_according_to`` (a ``(T, B, 1)`` mask,
    nonzero at valid time steps), every batch is cut along ``T`` to the last time
    step at which any of its sequences is valid (at least one step); items with
    ``T = 1`` are left as they are.

    Args:
        batch_size (int): sequences per batch (> 0).
        shuffle (bool): visit the batches in a new random order every epoch.
        cut_according_to (str): name of the mask item used for cutting.
        verbose (Optional[bool]): accepted for compatibility; the engine never
            prints, progress is shown by the trainer's hooks.
        **named_data: name -> numpy array or h5py dataset of shape ``(T, B, ...)``.

    Example:
        >>> getter_tr = Minibatches(100, default=images, targets=labels)
    """

    def __init__(self, batch_size=10, shuffle=True, cut_according_to='mask', verbose=None,
                 **named_data):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise IteratorValidationError(
                f"Minibatches: batch_size must be a positive integer, got {batch_size!r}")
        data_shapes, _, nr_sequences = check_named_data('Minibatches', named_data)
        super().__init__(data_shapes, length=int(math.ceil(nr_sequences / batch_size)))
        self.data = named_data
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.cut_according_to = cut_according_to
        self.verbose = verbose
        self.nr_sequences = nr_sequences

    def set_shard(self, shard):
        if shard is not None:
            last = self.nr_sequences - (self.length - 1) * self.batch_size
            shard.check_batch_sizes('Minibatches', [min(self.batch_size, self.nr_sequences),
                                                    last])
        super().set_shard(shard)

    def __call__(self, handler=None):
        order = np.arange(self.length)
        if self.shuffle:
            self.rnd.shuffle(order)
        for batch_index in order:
            start = int(batch_index) * self.batch_size
            sequences = slice(start, min(start + self.batch_size, self.nr_sequences))
            mask_sequences = sequences
            if self.shard is not None:
                part = self.shard.begin_batch(sequences.stop - sequences.start)
                sequences = slice(start + part.start, start + part.stop)
            batch = {name: read_batch(data, sequences) for name, data in self.data.items()}
            if self.cut_according_to in batch:
                # cut where one process would (the whole batch's mask: it is small)
                mask = batch[self.cut_according_to] if mask_sequences == sequences else \
                    read_batch(self.data[self.cut_according_to], mask_sequences)
                batch = _cut_to_mask(batch, mask)
            yield batch


def _cut_to_mask(batch, mask):
    """Cut every item of ``batch`` with the mask's ``T`` to the last valid step of ``mask``."""
    time_steps = mask.shape[0]
    if time_steps == 1:
        return batch
    valid_steps = np.flatnonzero(mask.reshape(time_steps, -1).any(axis=1))
    length = int(valid_steps[-1]) + 1 if valid_steps.size else 1
    if length == time_steps:
        return batch
    return {name: (data[:length] if data.shape[0] == time_steps else data)
            for name, data in batch.items()}
