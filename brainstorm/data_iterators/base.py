"""The data-iterator contract, the checks of named data, and resumable random state.

A data iterator is called as a generator, ``for data in iterator(handler): ...``,
and yields one dict per batch that maps each data name to a numpy array of shape
``(T, B, ...)``. The network copies the arrays to its handler's memory itself, so
iterators never touch the handler. Yielded arrays are read-only or fresh: no
iterator writes into the arrays it receives from the one it wraps.

Data iterators hold data, so they are not ``Describable`` (the CLI builds them from
its own experiment files). They are seeded like ``Seedable`` objects: each draws its
random state from ``brainstorm.randomness.global_rnd`` when it is created, so
``global_rnd.set_seed(n)`` before building them makes shuffling and augmentation
reproducible.

Resuming exactly: ``get_state()`` returns the random states of an iterator and of
every iterator it wraps. Restore them with ``set_state(state)`` before starting an
epoch, discard the batches already consumed, and the following batches are
bit-identical to those of the uninterrupted run (every random draw happens while a
batch is produced, so discarded batches consume the same draws).
"""

import h5py
import numpy as np

from brainstorm.errors import IteratorValidationError
from brainstorm.randomness import global_rnd

_RANDOM_STATE_KEYS = ('algorithm', 'keys', 'position', 'has_gauss', 'cached_gaussian')


class DataIterator:
    """Base class for data iterators.

    Args:
        data_shapes (dict[str, tuple[int]]): the names this iterator provides and
            the shape ``(T, B, ...)`` of each. ``T`` and ``B`` are those of the
            whole data set (a batch has at most that many steps and sequences);
            the feature dimensions are those of every yielded array.
        length (int | None): number of batches per epoch, None if unknown.

    Attributes:
        data_shapes (dict[str, tuple[int]]): as above.
        length (int | None): as above.
        rnd (brainstorm.randomness.RandomState): this iterator's random state,
            drawn from ``global_rnd``.
        shard (Optional[BatchShard]): set by :meth:`set_shard` when several
            processes share every batch (data-parallel training); None otherwise.
    """

    def __init__(self, data_shapes, length):
        self.data_shapes = {name: tuple(int(size) for size in shape)
                            for name, shape in data_shapes.items()}
        self.length = length
        self.rnd = global_rnd.create_random_state()
        self.shard = None

    def set_shard(self, shard):
        """Yield only part ``shard.index`` of ``shard.count`` of every batch from now on.

        Data-parallel training (:mod:`brainstorm.parallel`) calls this on every
        iterator it uses; None makes the iterator yield whole batches again.

        Args:
            shard (Optional[brainstorm.data_iterators.sharding.BatchShard]): the part.

        Raises:
            IteratorValidationError: if a batch of this iterator cannot be split.
        """
        self.shard = shard

    def draw_for_batch(self, draw, shape, batch_axis=1):
        """``draw(shape)``, or under a shard this part of the global batch's draw."""
        if self.shard is None:
            return draw(shape)
        return self.shard.draw(draw, shape, batch_axis)

    def __call__(self, handler=None):
        """Yield one dict ``name -> (T, B, ...) numpy array`` per batch.

        Args:
            handler: the handler of the network that consumes the data (unused by
                the iterators here; kept for the spec's calling convention).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def get_state(self):
        """Return the random state of this iterator (and of any it wraps).

        Returns:
            dict: ``{'random_state': {...}}`` of plain Python/numpy values
            (``keys`` is a ``(624,)`` uint32 array, the rest are str/int/float);
            wrappers add ``'wrapped'``: the state of the iterator they wrap.
        """
        return {'random_state': random_state_to_dict(self.rnd)}

    def set_state(self, state):
        """Restore a state made by :meth:`get_state` of an iterator built alike.

        Args:
            state (dict): as returned by ``get_state()``; ``keys`` may be a list.

        Raises:
            IteratorValidationError: if ``state`` does not fit this iterator.
        """
        if not isinstance(state, dict) or 'random_state' not in state:
            raise IteratorValidationError(
                f"{type(self).__name__}.set_state: expected a dict with the entry "
                f"'random_state' (as made by get_state()), got {_short(state)}")
        set_random_state_from_dict(self.rnd, state['random_state'], type(self).__name__)


def random_state_to_dict(random_state):
    """Return ``random_state.get_state()`` as a dict of plain values."""
    algorithm, keys, position, has_gauss, cached_gaussian = random_state.get_state()
    return {'algorithm': str(algorithm), 'keys': np.array(keys, dtype=np.uint32),
            'position': int(position), 'has_gauss': int(has_gauss),
            'cached_gaussian': float(cached_gaussian)}


def set_random_state_from_dict(random_state, state, owner):
    """Set ``random_state`` from a dict made by :func:`random_state_to_dict`."""
    if not isinstance(state, dict) or set(state) != set(_RANDOM_STATE_KEYS):
        raise IteratorValidationError(
            f"{owner}.set_state: the random state must be a dict with the entries "
            f"{list(_RANDOM_STATE_KEYS)}, got {_short(state)}")
    keys = np.asarray(state['keys'], dtype=np.uint32)
    if keys.shape != (624,):
        raise IteratorValidationError(
            f"{owner}.set_state: the random state's 'keys' must have shape (624,), "
            f"got {keys.shape}")
    random_state.set_state((state['algorithm'], keys, int(state['position']),
                            int(state['has_gauss']), float(state['cached_gaussian'])))


def check_named_data(iterator_name, named_data):
    """Check the data items given to a source iterator and return their shapes.

    Every item must be a numpy array or an h5py dataset of shape ``(T, B, ...)``;
    all must have the same ``B`` and the same ``T`` (or ``T = 1`` for data that
    does not change over time).

    Args:
        iterator_name (str): used in error messages.
        named_data (dict[str, array-like]): name -> data.

    Returns:
        tuple: ``(data_shapes, time_steps, batch_size)``: the dict of shapes, the
        largest ``T`` and the common ``B``.

    Raises:
        IteratorValidationError: naming the item, its shape and what was expected.
    """
    if not named_data:
        raise IteratorValidationError(
            f"{iterator_name}: no data given; pass the data as named arguments, "
            f"e.g. {iterator_name}(default=inputs, targets=targets)")
    data_shapes = {}
    for name, data in named_data.items():
        if not isinstance(data, (np.ndarray, h5py.Dataset)):
            raise IteratorValidationError(
                f"{iterator_name}: data item {name!r} must be a numpy array or an h5py "
                f"dataset of shape (T, B, ...), got {type(data).__name__}")
        if len(data.shape) < 2:
            raise IteratorValidationError(
                f"{iterator_name}: data item {name!r} has shape {tuple(data.shape)}, "
                f"expected at least two dimensions (T, B, ...)")
        data_shapes[name] = tuple(int(size) for size in data.shape)
    time_steps = max(shape[0] for shape in data_shapes.values())
    first_name, first_shape = next(iter(data_shapes.items()))
    batch_size = first_shape[1]
    for name, shape in data_shapes.items():
        if shape[0] not in (1, time_steps):
            raise IteratorValidationError(
                f"{iterator_name}: data item {name!r} has shape {shape} with T={shape[0]}, "
                f"expected T={time_steps} (the longest item) or T=1")
        if shape[1] != batch_size:
            raise IteratorValidationError(
                f"{iterator_name}: data item {name!r} has shape {shape} with B={shape[1]}, "
                f"but {first_name!r} has shape {first_shape} with B={batch_size}; "
                f"all items must have the same number of sequences B (axis 1)")
        if shape[0] == 0 or shape[1] == 0:
            raise IteratorValidationError(
                f"{iterator_name}: data item {name!r} has shape {shape}, which holds no data")
    return data_shapes, time_steps, batch_size


def read_batch(data, sequences):
    """Read the sequences ``sequences`` (a slice along axis 1) of one data item.

    h5py datasets read only that hyperslab from the file; numpy arrays give a
    read-only view, so no consumer can change the user's data through it.
    """
    if isinstance(data, np.ndarray):
        view = data[:, sequences]
        view.flags.writeable = False
        return view
    return data[:, sequences]


def read_all(data):
    """Read a whole data item (a read-only view for numpy arrays)."""
    if isinstance(data, np.ndarray):
        view = data.view()
        view.flags.writeable = False
        return view
    return data[()]


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


class WrappingIterator(DataIterator):
    """Base class of iterators that transform the batches of another iterator.

    Subclasses check their settings against ``iter.data_shapes`` in ``__init__``
    and implement :meth:`transform`, which must return new arrays for the items it
    changes and never write into the arrays it receives.

    Args:
        iter (DataIterator): the iterator whose batches are transformed.
        data_shapes (Optional[dict]): the shapes after the transformation;
            defaults to those of ``iter``.

    Attributes:
        iter (DataIterator): the wrapped iterator.
    """

    def __init__(self, iter, data_shapes=None):  # noqa: A002 -- the spec's argument name
        if not isinstance(iter, DataIterator):
            raise IteratorValidationError(
                f"{type(self).__name__}: expected a DataIterator to wrap (such as "
                f"Minibatches(...)), got {type(iter).__name__}")
        super().__init__(iter.data_shapes if data_shapes is None else data_shapes,
                         iter.length)
        self.iter = iter

    def __call__(self, handler=None):
        for batch in self.iter(handler):
            yield self.transform(batch)

    def set_shard(self, shard):
        self.iter.set_shard(shard)  # the source checks and splits; this chain shares it
        super().set_shard(shard)

    def transform(self, batch):
        """Return the transformed batch (a new dict) for one batch of ``iter``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement transform")

    def get_state(self):
        state = super().get_state()
        state['wrapped'] = self.iter.get_state()
        return state

    def set_state(self, state):
        if not isinstance(state, dict) or 'wrapped' not in state:
            raise IteratorValidationError(
                f"{type(self).__name__}.set_state: expected a dict with the entries "
                f"'random_state' and 'wrapped' (as made by get_state() of the same chain "
                f"of iterators), got {_short(state)}")
        super().set_state(state)
        self.iter.set_state(state['wrapped'])

    def check_names(self, setting_name, names):
        """Raise unless every name in ``names`` is provided by ``iter``."""
        for name in names:
            if name not in self.iter.data_shapes:
                raise IteratorValidationError(
                    f"{type(self).__name__}: {setting_name} names the data item {name!r}, "
                    f"but the wrapped {type(self.iter).__name__} provides only "
                    f"{sorted(self.iter.data_shapes)}")

    def check_images(self, names):
        """Raise unless every item in ``names`` is 5-D ``(T, B, H, W, C)`` data."""
        for name in names:
            shape = self.iter.data_shapes[name]
            if len(shape) != 5:
                raise IteratorValidationError(
                    f"{type(self).__name__}: data item {name!r} has shape {shape}, but only "
                    f"5-D image data in TNHWC layout (T, B, height, width, channels) is "
                    f"supported")
