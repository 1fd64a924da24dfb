"""BatchShard: which part of every batch one of several processes reads.

Data-parallel training (:mod:`brainstorm.parallel`) splits every *global* batch of
``B`` sequences into ``count`` contiguous parts along ``B``; the process with part
``index`` reads only its part (a hyperslab of an h5py dataset: partial reads) and
weights its gradient by ``part size / B``. Parts differ by at most one sequence:
the first ``B % count`` parts hold one sequence more.

Random wrappers (noise, salt and pepper, flips, crops) draw their numbers for the
global batch and keep this part's slice (:meth:`BatchShard.draw`), so every process
sees exactly its slice of the batch one process would have seen.

A shard object is shared by a whole iterator chain: the source sets the current
global batch size with :meth:`begin_batch`, the wrappers read it.
"""

from brainstorm.errors import IteratorValidationError


class BatchShard:
    """Part ``index`` of ``count`` of every global batch.

    Args:
        index (int): this process's part, ``0 <= index < count`` (its MPI rank).
        count (int): number of parts (the number of processes).

    Attributes:
        batch_size (Optional[int]): ``B`` of the current global batch.
        part (Optional[slice]): this process's sequences of that batch (relative to
            the batch's first sequence).
    """

    def __init__(self, index, count):
        if not 0 <= index < count:
            raise IteratorValidationError(f"BatchShard: index must be in [0, {count}), "
                                          f"got {index}")
        self.index = int(index)
        self.count = int(count)
        self.batch_size = None
        self.part = None

    def split(self, batch_size):
        """Return this part of a batch of ``batch_size`` sequences as a slice."""
        base, extra = divmod(int(batch_size), self.count)
        start = self.index * base + min(self.index, extra)
        return slice(start, start + base + (1 if self.index < extra else 0))

    def begin_batch(self, batch_size):
        """Make a global batch of ``batch_size`` sequences current; return this part."""
        self.batch_size = int(batch_size)
        self.part = self.split(batch_size)
        return self.part

    @property
    def weight(self):
        """This part's share of the current global batch, ``part size / B``."""
        return (self.part.stop - self.part.start) / self.batch_size

    def check_batch_sizes(self, iterator_name, batch_sizes):
        """Raise unless every batch size has at least one sequence per part.

        Args:
            iterator_name (str): named in the error.
            batch_sizes (Iterable[int]): the global batch sizes the iterator yields.

        Raises:
            IteratorValidationError: a batch smaller than ``count``.
        """
        smallest = min(batch_sizes)
        if smallest < self.count:
            raise IteratorValidationError(
                f"{iterator_name}: a batch of {smallest} sequence(s) cannot be split over "
                f"{self.count} processes (each needs at least one); use a batch size of at "
                f"least {self.count} and a data set whose last batch is not smaller, or "
                f"fewer processes")

    def draw(self, draw, shape, batch_axis=1):
        """Draw random numbers for the global batch and return this part's slice.

        Args:
            draw (callable): ``draw(shape)`` returns an array of that shape (e.g.
                ``rnd.random_sample``).
            shape (tuple[int]): the shape for this part (its ``batch_axis`` is
                this part's number of sequences).
            batch_axis (int): the axis that counts sequences.

        Returns:
            numpy.ndarray: ``draw(global shape)[..., part, ...]``, shape ``shape``.
        """
        global_shape = tuple(shape[:batch_axis]) + (self.batch_size,) + \
            tuple(shape[batch_axis + 1:])
        index = (slice(None),) * batch_axis + (self.part,)
        return draw(global_shape)[index]


__all__ = ['BatchShard']
