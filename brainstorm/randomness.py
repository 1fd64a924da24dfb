"""Seeded randomness: one global seed fixes every random choice.

``global_rnd`` is the root ``RandomState``. Every ``Seedable`` object (handlers,
initializers, data iterators, dropout) draws its own seed from it when created,
unless given one, so that ``global_rnd.set_seed(42)`` before building an
experiment makes initialisation, dropout masks and shuffling reproducible, while
the objects' streams stay independent of each other.
"""

import numpy as np

from brainstorm.describable import Describable

_SEED_RANGE = 2 ** 31 - 1


class RandomState(np.random.RandomState):
    """A numpy ``RandomState`` that remembers its seed and can make child seeds."""

    def __init__(self, seed=None):
        if seed is None:
            seed = np.random.randint(_SEED_RANGE)
        super().__init__(seed)
        self._seed = int(seed)

    def seed(self, seed=None):
        """Reseed; ``None`` picks a fresh random seed."""
        if seed is None:
            seed = np.random.randint(_SEED_RANGE)
        super().seed(seed)
        self._seed = int(seed)

    def set_seed(self, seed):
        """Reseed with ``seed`` (an int in [0, 2**31 - 1))."""
        self.seed(seed)

    def reset(self):
        """Reseed with the seed it was last seeded with: the same numbers come again."""
        self.seed(self._seed)

    def get_seed(self):
        """Return the seed this state was last seeded with."""
        return self._seed

    def generate_seed(self):
        """Draw a new seed from this state (for a child random state)."""
        return int(self.randint(_SEED_RANGE))

    def create_random_state(self, seed=None):
        """Return a new RandomState seeded from this one (or from ``seed``)."""
        if seed is None:
            seed = self.generate_seed()
        return RandomState(seed)


#: The root random state; ``global_rnd.set_seed(n)`` makes a run reproducible.
global_rnd = RandomState()


class Seedable(Describable):
    """Base class for objects that own a random state derived from ``global_rnd``.

    Args:
        seed (Optional[int]): seed of this object's random state; drawn from
            ``global_rnd`` when None.

    Attributes:
        rnd (RandomState): this object's random state (not described).
    """

    __undescribed__ = {'rnd'}

    def __init__(self, seed=None):
        self.rnd = global_rnd.create_random_state(seed)

    def __init_from_description__(self, description):
        self.rnd = global_rnd.create_random_state()
