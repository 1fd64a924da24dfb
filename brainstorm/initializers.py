"""Initializers: objects that produce the starting values of a parameter.

An initializer is called with the shape of one parameter and returns a new
``numpy.float64`` array of exactly that shape, drawn from its own random state
``self.rnd`` (see :class:`brainstorm.randomness.Seedable`). When the shape does
not suit it (a square-only scheme on a non-square matrix, a fan-in scheme on a
1-D bias) it raises :class:`~brainstorm.errors.InitializationError`, which is
what lets ``Network.initialize`` try the ``'fallback'`` initializer instead.

Weight layout, used by every fan-based scheme (one place: :func:`get_fans`):

* 2-D weights ``(in_size, size)``: rows are inputs, columns are units
  (``FullyConnected.W``, ``Lstm.W``, recurrent ``R``), so the fan-in is
  ``shape[0]`` and the fan-out ``shape[1]``.
* 3-D and higher, convolution weights ``(num_filters, kh, kw, in_channels)``:
  units are filters (axis 0); the fan-in is ``kh * kw * in_channels`` and the
  fan-out ``num_filters * kh * kw``.

:func:`evaluate_initializer` turns anything ``Network.initialize`` accepts (a
number, an array-like or an Initializer) into such an array.
"""

import math

import numpy as np

from brainstorm.errors import InitializationError
from brainstorm.randomness import Seedable

__all__ = ['Initializer', 'ArrayInitializer', 'DenseSqrtFanIn', 'DenseSqrtFanInOut',
           'EchoState', 'Gaussian', 'Identity', 'LstmOptInit', 'Orthogonal', 'RandomWalk',
           'SparseInputs', 'SparseOutputs', 'Uniform', 'evaluate_initializer', 'get_fans']


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


# ---------------------------------------------------------------------------- simple

class ArrayInitializer(Initializer):
    """Initialize the parameter with the values of a given array.

    Args:
        array (array_like): the values; its shape must equal the parameter's.
    """

    def __init__(self, array):
        super().__init__()
        try:
            self.array = np.array(array, dtype=np.float64)
        except (TypeError, ValueError):
            raise InitializationError(
                f"ArrayInitializer: array must be numeric, got {array!r}") from None

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        # A description holds the array as nested lists; convert on use.
        values = np.array(self.array, dtype=np.float64)
        if values.shape != shape:
            raise _shape_error(self, shape, f"the array's own shape {values.shape}")
        return values


class Gaussian(Initializer):
    """Draw from a normal distribution ``N(mean, std**2)``.

    Args:
        std (float): standard deviation (>= 0). Defaults to 0.1.
        mean (float): mean. Defaults to 0.0.
    """

    def __init__(self, std=0.1, mean=0.0):
        super().__init__()
        self.std = std
        self.mean = mean
        _check_number(self, 'std', std, minimum=0)
        _check_number(self, 'mean', mean)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        return self.mean + self.std * self.rnd.standard_normal(shape)


class Uniform(Initializer):
    """Draw from a uniform distribution over ``[low, high]``.

    Args:
        low (float): lower bound. Defaults to 0.1.
        high (Optional[float]): upper bound; None means the symmetric interval
            ``[-abs(low), abs(low)]``. Defaults to None.
    """

    def __init__(self, low=0.1, high=None):
        super().__init__()
        self.low = low
        self.high = high
        self._interval()

    def _interval(self):
        _check_number(self, 'low', self.low)
        _check_number(self, 'high', self.high, allow_none=True)
        if self.high is None:
            return -abs(self.low), abs(self.low)
        if self.low > self.high:
            raise InitializationError(
                f"Uniform: low ({self.low}) must not be greater than high ({self.high})")
        return self.low, self.high

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        low, high = self._interval()
        return self.rnd.uniform(low, high, shape)


# ---------------------------------------------------------------------------- fan-based

class DenseSqrtFanIn(Initializer):
    """Uniform over ``[-scale/sqrt(n), scale/sqrt(n)]``, n = fan-in (see :func:`get_fans`).

    Args:
        scale (float or str): a positive number or one of 'rel' (sqrt(6)),
            'tanh' (sqrt(3)), 'sigmoid' (4*sqrt(3)), 'linear' (1). Defaults to 'rel'.
    """

    scales = {'rel': math.sqrt(6), 'tanh': math.sqrt(3), 'sigmoid': 4 * math.sqrt(3),
              'linear': 1.0}

    def __init__(self, scale='rel'):
        super().__init__()
        self.scale = scale
        _resolve_scale(self, self.scales)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        scale = _resolve_scale(self, self.scales)
        try:
            fan_in, _ = get_fans(shape)
        except InitializationError as error:
            raise InitializationError(f"DenseSqrtFanIn: {error}") from None
        bound = scale / math.sqrt(fan_in)
        return self.rnd.uniform(-bound, bound, shape)


class DenseSqrtFanInOut(Initializer):
    """Uniform over ``[-scale/sqrt(n1+n2), scale/sqrt(n1+n2)]``, n1, n2 = fan-in, fan-out.

    Glorot & Bengio (2010). See :func:`get_fans` for the weight layout.

    Args:
        scale (float or str): a positive number or one of 'rel' (sqrt(12)),
            'tanh' (sqrt(6)), 'sigmoid' (4*sqrt(6)), 'linear' (1). Defaults to 'rel'.
    """

    scales = {'rel': math.sqrt(12), 'tanh': math.sqrt(6), 'sigmoid': 4 * math.sqrt(6),
              'linear': 1.0}

    def __init__(self, scale='rel'):
        super().__init__()
        self.scale = scale
        _resolve_scale(self, self.scales)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        scale = _resolve_scale(self, self.scales)
        try:
            fan_in, fan_out = get_fans(shape)
        except InitializationError as error:
            raise InitializationError(f"DenseSqrtFanInOut: {error}") from None
        bound = scale / math.sqrt(fan_in + fan_out)
        return self.rnd.uniform(-bound, bound, shape)


# ---------------------------------------------------------------------------- matrices

def _require_square(initializer, shape):
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise _shape_error(initializer, shape, "a non-empty square 2-D matrix")


class EchoState(Initializer):
    """Gaussian square matrix rescaled to a given spectral radius (echo state networks).

    Args:
        spectral_radius (float): largest absolute eigenvalue of the result;
            below 1 for the echo state property. Defaults to 1.0.
    """

    def __init__(self, spectral_radius=1.0):
        super().__init__()
        self.spectral_radius = spectral_radius
        _check_number(self, 'spectral_radius', spectral_radius, minimum=0)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        _require_square(self, shape)
        matrix = self.rnd.standard_normal(shape)
        radius = np.max(np.abs(np.linalg.eigvals(matrix)))
        # A Gaussian matrix is singular-with-zero-radius with probability 0.
        return matrix * (self.spectral_radius / radius)


class Identity(Initializer):
    """``scale * I`` plus Gaussian noise ``N(0, std**2)``.

    Args:
        scale (float): factor of the identity. Defaults to 1.0.
        std (float): standard deviation of the added noise. Defaults to 0.01.
        enforce_square (bool): if True only square matrices are accepted;
            otherwise rectangular ones get ones on their main diagonal.
            Defaults to True.
    """

    def __init__(self, scale=1.0, std=0.01, enforce_square=True):
        super().__init__()
        self.scale = scale
        self.std = std
        self.enforce_square = enforce_square
        _check_number(self, 'scale', scale)
        _check_number(self, 'std', std, minimum=0)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        if len(shape) != 2:
            raise _shape_error(self, shape, "a 2-D matrix")
        if self.enforce_square and shape[0] != shape[1]:
            raise _shape_error(self, shape,
                               "a square matrix (use enforce_square=False for rectangular)")
        return self.scale * np.eye(*shape) + self.std * self.rnd.standard_normal(shape)


class Orthogonal(Initializer):
    """(Semi-)orthogonal matrix times ``scale`` (Saxe et al., 2013).

    The weight is read as a ``(shape[0], prod(shape[1:]))`` matrix; its rows are
    orthonormal if it is wide, its columns if it is tall (both if square).

    Args:
        scale (float): factor applied to the orthogonal matrix. Defaults to 1.0.
    """

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        _check_number(self, 'scale', scale)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        if len(shape) < 2 or math.prod(shape) == 0:
            raise _shape_error(self, shape, "a non-empty array with at least 2 axes")
        matrix_shape = (shape[0], math.prod(shape[1:]))
        gaussian = self.rnd.standard_normal(matrix_shape)
        left, _, right = np.linalg.svd(gaussian, full_matrices=False)
        orthogonal = left if left.shape == matrix_shape else right
        return self.scale * orthogonal.reshape(shape)


class RandomWalk(Initializer):
    """Square Gaussian matrix ``N(0, g**2 / N)`` (Sussillo & Abbott, 2014).

    The gain g is ``exp(1/(2N))`` for 'linear' units and
    ``sqrt(2) * exp(1.2 / (max(N, 6) - 2.4))`` for 'rel' units, N = matrix size.

    Args:
        act_func (str): 'linear' or 'rel'; chooses the gain. Defaults to 'linear'.
        scale (Optional[float]): a gain to use instead. Defaults to None.
    """

    gains = {'linear': lambda size: math.exp(1.0 / (2 * size)),
             'rel': lambda size: math.sqrt(2) * math.exp(1.2 / (max(size, 6) - 2.4))}

    def __init__(self, act_func='linear', scale=None):
        super().__init__()
        self.act_func = act_func
        self.scale = scale
        self._check()

    def _check(self):
        if self.act_func not in self.gains:
            raise InitializationError(
                f"RandomWalk: unknown act_func {self.act_func!r}; expected one of "
                f"{sorted(self.gains)}")
        _check_number(self, 'scale', self.scale, allow_none=True)

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        self._check()
        _require_square(self, shape)
        size = shape[0]
        gain = self.gains[self.act_func](size) if self.scale is None else self.scale
        return gain / math.sqrt(size) * self.rnd.standard_normal(shape)


# ---------------------------------------------------------------------------- composite

class LstmOptInit(Initializer):
    """Initialize the four concatenated gate blocks of an LSTM weight separately.

    Layout: the last axis (the units axis of ``(in_size, 4*size)`` weights and
    of ``(4*size,)`` biases) holds the blocks in the order Z (input block),
    I (input gate), F (forget gate), O (output gate), ``size`` entries each.

    Args:
        input_block: number, array-like or Initializer for block Z. Defaults to 4.0.
        input_gate: the same for I. Defaults to 3.0.
        forget_gate: the same for F. Defaults to 2.0.
        output_gate: the same for O. Defaults to 1.0.
    """

    def __init__(self, input_block=4.0, input_gate=3.0, forget_gate=2.0, output_gate=1.0):
        super().__init__()
        self.input_block = input_block
        self.input_gate = input_gate
        self.forget_gate = forget_gate
        self.output_gate = output_gate

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        if len(shape) < 1 or shape[-1] % 4 != 0 or shape[-1] == 0:
            raise _shape_error(self, shape,
                               "a last axis of 4 * size entries (blocks Z, I, F, O)")
        size = shape[-1] // 4
        block_shape = shape[:-1] + (size,)
        result = np.empty(shape)
        blocks = (self.input_block, self.input_gate, self.forget_gate, self.output_gate)
        for index, block in enumerate(blocks):
            # Draw a seed per block whatever the block is, so results only depend on rnd.
            seed = self.rnd.generate_seed()
            result[..., index * size:(index + 1) * size] = evaluate_initializer(
                block, block_shape, seed=seed)
        return result


class _SparseMixin:
    """Shared code of SparseInputs and SparseOutputs.

    Not an Initializer itself, so that it is not registered as a Describable type.
    """

    def __init__(self, sub_initializer, connections=15):
        super().__init__()
        self.sub_initializer = sub_initializer
        self.connections = connections
        _check_connections(self)

    def _mask(self, fan_in, num_units):
        """Return a boolean ``(fan_in, num_units)`` matrix of the kept connections."""
        raise NotImplementedError

    def __call__(self, shape):
        shape = _normalize_shape(shape)
        _check_connections(self)
        if len(shape) < 2 or math.prod(shape) == 0:
            raise _shape_error(self, shape, "a non-empty weight with at least 2 axes "
                                            "(in_size, size) or (num_filters, kh, kw, in)")
        seed = self.rnd.generate_seed()
        values = np.ascontiguousarray(
            evaluate_initializer(self.sub_initializer, shape, seed=seed))
        matrix = _inputs_by_units(values)
        matrix *= self._mask(*matrix.shape)
        return values


def _random_subsets(rnd, num_candidates, num_sets, size):
    """Return ``(size, num_sets)`` indices: for each set, ``size`` distinct values
    out of ``range(num_candidates)``, uniformly at random."""
    return rnd.random_sample((num_candidates, num_sets)).argsort(axis=0)[:size]


class SparseInputs(_SparseMixin, Initializer):
    """Every unit keeps ``connections`` randomly chosen incoming weights; the rest are 0.

    The kept weights take the values of ``sub_initializer`` (evaluated on the
    full shape). Units are the columns of ``(in_size, size)`` weights and the
    filters of convolution weights.

    Args:
        sub_initializer: number, array-like or Initializer for the kept weights.
        connections (int): incoming connections per unit; at most the fan-in.
            Defaults to 15.

    Example:
        >>> net.initialize(FullyConnected=SparseInputs(Gaussian(), connections=10))
    """

    def _mask(self, fan_in, num_units):
        if self.connections > fan_in:
            raise InitializationError(
                f"SparseInputs: {self.connections} connections per unit, but the "
                f"weight has only {fan_in} inputs")
        mask = np.zeros((fan_in, num_units))
        chosen = _random_subsets(self.rnd, fan_in, num_units, self.connections)
        mask[chosen, np.arange(num_units)] = 1.0
        return mask


class SparseOutputs(_SparseMixin, Initializer):
    """Every input feeds ``connections`` randomly chosen units; the other weights are 0.

    The kept weights take the values of ``sub_initializer`` (evaluated on the
    full shape). Inputs are the rows of ``(in_size, size)`` weights.

    Args:
        sub_initializer: number, array-like or Initializer for the kept weights.
        connections (int): outgoing connections per input; at most the number
            of units. Defaults to 15.
    """

    def _mask(self, fan_in, num_units):
        if self.connections > num_units:
            raise InitializationError(
                f"SparseOutputs: {self.connections} connections per input, but the "
                f"weight has only {num_units} units")
        mask = np.zeros((fan_in, num_units))
        chosen = _random_subsets(self.rnd, num_units, fan_in, self.connections)
        mask[np.arange(fan_in), chosen] = 1.0
        return mask
