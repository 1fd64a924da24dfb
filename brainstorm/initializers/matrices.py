"""Initializers for whole matrices: echo state, identity, orthogonal, random walk."""

import math

import numpy as np

from brainstorm.errors import InitializationError
from brainstorm.initializers.base import (Initializer, _check_number, _normalize_shape,
                                          _shape_error)


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
