"""Initializers that draw every entry independently (or copy a given array)."""

import math

import numpy as np

from brainstorm.errors import InitializationError
from brainstorm.initializers.base import (Initializer, _check_number, _normalize_shape,
                                          _resolve_scale, _shape_error, get_fans)


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

def _uniform_scaled_by_fans(initializer, name, shape, fan_count):
    """Draw from ``U(-bound, bound)``, ``bound = scale / sqrt(fan_count(fan_in, fan_out))``.

    Args:
        initializer (Initializer): the caller; gives ``scale``, ``scales`` and ``rnd``.
        name (str): the initializer's name, for error messages.
        shape (tuple[int]): the parameter's shape (see :func:`get_fans` for the layout).
        fan_count (callable): maps (fan_in, fan_out) to the number under the root.

    Returns:
        numpy.ndarray: the drawn values, of the given shape.
    """
    shape = _normalize_shape(shape)
    scale = _resolve_scale(initializer, initializer.scales)
    try:
        fan_in, fan_out = get_fans(shape)
    except InitializationError as error:
        raise InitializationError(f"{name}: {error}") from None
    bound = scale / math.sqrt(fan_count(fan_in, fan_out))
    return initializer.rnd.uniform(-bound, bound, shape)


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
        return _uniform_scaled_by_fans(self, 'DenseSqrtFanIn', shape,
                                       lambda fan_in, fan_out: fan_in)


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
        return _uniform_scaled_by_fans(self, 'DenseSqrtFanInOut', shape,
                                       lambda fan_in, fan_out: fan_in + fan_out)
