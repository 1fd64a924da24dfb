"""Data iterators: they feed named ``(T, B, ...)`` batches to a network (spec 8.4).

Sources read the data (``Undivided``, ``Online``, ``Minibatches``, and
``SequenceWindows`` for long sequences in consecutive windows); wrappers
transform the batches of another iterator and can be chained, e.g.
``Flip(RandomCrop(Pad(Minibatches(100, default=x, targets=y), {'default': 4}),
{'default': (32, 32)}))``. See :mod:`brainstorm.data_iterators.base` for the
contract and for resuming exactly with ``get_state`` / ``set_state``.
"""

from brainstorm.data_iterators.augmentation import (AddGaussianNoise, AddSaltNPepper, Flip,
                                                    Pad, RandomCrop)
from brainstorm.data_iterators.base import DataIterator
from brainstorm.data_iterators.encoding import MultiHot, OneHot
from brainstorm.data_iterators.sources import Minibatches, Online, Undivided
from brainstorm.data_iterators.windows import SequenceWindows

__all__ = ['AddGaussianNoise', 'AddSaltNPepper', 'DataIterator', 'Flip', 'Minibatches',
           'MultiHot', 'OneHot', 'Online', 'Pad', 'RandomCrop', 'SequenceWindows', 'Undivided']
