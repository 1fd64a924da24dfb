"""The Initializer base class, the weight-layout helper get_fans and evaluate_initializer."""

import math

import numpy as np

from brainstorm.errors import InitializationError
from brainstorm.randomness import Seedable


# ---------------------------------------------------------------------------- helpers

def _normalize_shape(shape):
    """Return ``shape`` as a tuple of non-negative ints or raise InitializationError."""
    try:
        normalized = tuple(int(extent) for extent in shape)
    except (TypeError, ValueError):
        raise InitializationError(
            f"cannot initialize an array of shape {shape!r}: expected a tuple of "
            f"non-negative ints") from None
    if any(extent < 0 for extent in normalized) or any(
            isinstance(extent, (float, bool)) for extent in shape):
        raise InitializationError(
            f"cannot initialize an array of shape {shape!r}: expected a tuple of "
            f"non-negative ints")
    return normalized


def get_fans(shape):
    """Return ``(fan_in, fan_out)`` of a weight of the given shape.

    Args:
        shape (tuple[int]): ``(in_size, size)`` for dense weights (inputs are
            rows, units are columns), ``(num_filters, kh, kw, in_channels)`` for
            convolution weights (any weight with 3 or more axes is read this way).

    Returns:
        tuple[int, int]: ``(shape[0], shape[1])`` for 2-D shapes;
        ``(kh * kw * in_channels, num_filters * kh * kw)`` for convolutions.

    Raises:
        InitializationError: for 0-D and 1-D shapes (biases have no fan-in) and
            for shapes with a zero fan.
    """
    shape = _normalize_shape(shape)
    if len(shape) < 2:
        raise InitializationError(
            f"shape {shape} has no fan-in: expected a 2-D weight (in_size, size) or a "
            f"convolution weight (num_filters, kh, kw, in_channels), not a bias")
    if len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive_field = math.prod(shape[1:-1])
        fan_in = receptive_field * shape[-1]
        fan_out = shape[0] * receptive_field
    if fan_in == 0 or fan_out == 0:
        raise InitializationError(
            f"shape {shape} has a zero fan-in or fan-out ({fan_in}, {fan_out})")
    return fan_in, fan_out


def _inputs_by_units(array):
    """Return a view of a weight array as a ``(fan_in, num_units)`` matrix.

    Dense ``(in_size, size)`` weights already are; convolution weights
    ``(num_filters, kh, kw, in_channels)`` become ``(kh*kw*in_channels, num_filters)``.
    ``array`` must be C-contiguous so that the reshape is a view.
    """
    if array.ndim == 2:
        return array
    return array.reshape(array.shape[0], -1).T


def _shape_error(initializer, shape, expected):
    return InitializationError(
        f"{type(initializer).__name__} cannot initialize an array of shape {shape}: "
        f"expected {expected}")


def _resolve_scale(initializer, table):
    """Return the numeric scale of ``initializer.scale`` (a number or a key of ``table``)."""
    scale = initializer.scale
    if isinstance(scale, str):
        if scale not in table:
            raise InitializationError(
                f"{type(initializer).__name__}: unknown scale {scale!r}; expected a "
                f"positive number or one of {sorted(table)}")
        return table[scale]
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not (
            math.isfinite(scale) and scale > 0):
        raise InitializationError(
            f"{type(initializer).__name__}: scale must be a positive number or one of "
            f"{sorted(table)}, got {scale!r}")
    return float(scale)


def _check_number(initializer, name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
            not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise InitializationError(
            f"{type(initializer).__name__}: {name} must be a finite number{bound}, "
            f"got {value!r}")


def _check_connections(initializer):
    connections = initializer.connections
    if isinstance(connections, bool) or not isinstance(connections, (int, np.integer)) \
            or connections < 1:
        raise InitializationError(
            f"{type(initializer).__name__}: connections must be a positive int, got "
            f"{connections!r}")


# ---------------------------------------------------------------------------- base

class Initializer(Seedable):
    """Base class of all initializers.

    Subclasses implement ``__call__(self, shape)`` returning a new float64 array
    of that shape drawn from ``self.rnd``, and raise InitializationError when
    the shape does not suit them. Their description holds their constructor
    arguments; the random state is not described (a re-created initializer
    draws a fresh seed from ``global_rnd``).
    """

    def __init__(self):
        super().__init__()

    def __call__(self, shape):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")


def evaluate_initializer(initializer, shape, seed=None, fallback=None):
    """Turn a number, an array-like or an Initializer into a float64 array.

    Args:
        initializer: a number (every entry gets it), an array-like of exactly
            ``shape``, or an :class:`Initializer`.
        shape (tuple[int]): shape of the parameter to initialize.
        seed (Optional[int]): if given, an Initializer's random state is
            reseeded with it first, which makes the result reproducible.
        fallback: used the same way (with the same seed) when ``initializer``
            raises InitializationError; None means no fallback.

    Returns:
        numpy.ndarray: a new float64 array of shape ``shape``, all finite.

    Raises:
        InitializationError: if the value cannot be turned into such an array.
    """
    shape = _normalize_shape(shape)
    try:
        return _evaluate(initializer, shape, seed)
    except InitializationError:
        if fallback is None:
            raise
        return _evaluate(fallback, shape, seed)


def _evaluate(initializer, shape, seed):
    if isinstance(initializer, Initializer):
        if seed is not None:
            initializer.rnd.set_seed(seed)
        result = initializer(shape)
        source = type(initializer).__name__
    else:
        try:
            result = np.array(initializer, dtype=np.float64)
        except (TypeError, ValueError):
            raise InitializationError(
                f"cannot initialize an array of shape {shape} from {initializer!r}: "
                f"expected a number, an array-like of that shape, or an Initializer"
            ) from None
        if result.ndim == 0:
            result = np.full(shape, float(result))
        source = 'the given array'
    result = np.asarray(result, dtype=np.float64)
    if result.shape != shape:
        raise InitializationError(
            f"{source} has shape {result.shape}, but the parameter has shape {shape}")
    if not np.isfinite(result).all():
        raise InitializationError(f"{source} produced non-finite values (NaN or inf)")
    return result
