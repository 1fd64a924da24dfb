"""Wrappers that encode integer class indices as one-hot or multi-hot vectors.

Both produce float32 arrays (the network casts to its own dtype when it copies the
data) and check at run time that every index lies in ``[0, vocab_size)``.
"""

import numpy as np

from brainstorm.data_iterators.base import WrappingIterator
from brainstorm.errors import IteratorValidationError


class _ClassIndexEncoder(WrappingIterator):
    """Shared by :class:`OneHot` and :class:`MultiHot`: checks the settings and the
    input shapes, then encodes every named item of each batch with :func:`_encode`.

    Subclasses say which ``(T, B, K)`` inputs they accept in :meth:`_accepts` and
    name that layout in ``_layout`` for the error message.
    """

    _layout = '(T, B, K)'

    def __init__(self, iter, vocab_size_dict):  # noqa: A002
        super().__init__(iter)
        self.vocab_size_dict = _check_vocab_sizes(self, vocab_size_dict)
        data_shapes = dict(self.iter.data_shapes)
        for name, vocab_size in self.vocab_size_dict.items():
            shape = data_shapes[name]
            if not self._accepts(shape):
                raise IteratorValidationError(
                    f"{type(self).__name__}: data item {name!r} has shape {shape}, but only "
                    f"3-D data of shape {self._layout} holding class indices is supported")
            data_shapes[name] = (shape[0], shape[1], vocab_size)
        self.data_shapes = data_shapes

    @staticmethod
    def _accepts(shape):
        return len(shape) == 3

    def transform(self, batch):
        batch = dict(batch)
        for name, vocab_size in self.vocab_size_dict.items():
            batch[name] = _encode(self, name, batch[name], vocab_size)
        return batch


class OneHot(_ClassIndexEncoder):
    """Turns ``(T, B, 1)`` class indices into ``(T, B, vocab_size)`` one-hot vectors.

    Items not named in ``vocab_size_dict`` are yielded as they are.

    Args:
        iter (DataIterator): iterator that provides the named items.
        vocab_size_dict (dict[str, int]): name -> number of classes (> 0).
    """

    _layout = '(T, B, 1)'

    @staticmethod
    def _accepts(shape):
        return len(shape) == 3 and shape[2] == 1


class MultiHot(_ClassIndexEncoder):
    """Turns ``(T, B, K)`` class indices into ``(T, B, vocab_size)`` multi-hot vectors.

    Entry ``[t, b, c]`` of the result is 1 if ``c`` is among the ``K`` indices at
    ``[t, b, :]`` and 0 otherwise. Items not named in ``vocab_size_dict`` are
    yielded as they are.

    Args:
        iter (DataIterator): iterator that provides the named items.
        vocab_size_dict (dict[str, int]): name -> number of classes (> 0).
    """


def _check_vocab_sizes(owner, vocab_size_dict):
    if not isinstance(vocab_size_dict, dict):
        raise IteratorValidationError(
            f"{type(owner).__name__}: vocab_size_dict must be a dict mapping data names to "
            f"vocabulary sizes, got {type(vocab_size_dict).__name__}")
    owner.check_names('vocab_size_dict', vocab_size_dict)
    for name, vocab_size in vocab_size_dict.items():
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) \
                or vocab_size < 1:
            raise IteratorValidationError(
                f"{type(owner).__name__}: vocab_size_dict[{name!r}] must be a positive "
                f"integer, got {vocab_size!r}")
    return {name: int(size) for name, size in vocab_size_dict.items()}


def _encode(owner, name, data, vocab_size):
    """Scatter ones at the indices along the last axis of ``data``: (T, B, K) -> (T, B, V)."""
    indices = np.asarray(data)
    if not np.issubdtype(indices.dtype, np.integer):
        as_integers = indices.astype(np.int64)
        if not np.array_equal(as_integers, indices):
            raise IteratorValidationError(
                f"{type(owner).__name__}: data item {name!r} must hold integer class "
                f"indices, got non-integer values of dtype {indices.dtype}")
        indices = as_integers
    if indices.size and (indices.min() < 0 or indices.max() >= vocab_size):
        raise IteratorValidationError(
            f"{type(owner).__name__}: data item {name!r} holds class indices in "
            f"[{indices.min()}, {indices.max()}], expected them in [0, {vocab_size})")
    encoded = np.zeros(indices.shape[:2] + (vocab_size,), dtype=np.float32)
    np.put_along_axis(encoded, indices.astype(np.intp, copy=False), 1.0, axis=2)
    return encoded
