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

The package's modules: ``base`` (the base class, :func:`get_fans`,
:func:`evaluate_initializer`), ``distributions`` (elementwise random draws),
``matrices`` (schemes for whole matrices) and ``composite`` (initializers built
from other initializers).
"""

from brainstorm.errors import InitializationError  # noqa: F401  (0.5 scripts import it here)
from brainstorm.initializers.base import Initializer, evaluate_initializer, get_fans
from brainstorm.initializers.composite import LstmOptInit, SparseInputs, SparseOutputs
from brainstorm.initializers.distributions import (ArrayInitializer, DenseSqrtFanIn,
                                                   DenseSqrtFanInOut, Gaussian, Uniform)
from brainstorm.initializers.matrices import EchoState, Identity, Orthogonal, RandomWalk

__all__ = ['Initializer', 'ArrayInitializer', 'DenseSqrtFanIn', 'DenseSqrtFanInOut',
           'EchoState', 'Gaussian', 'Identity', 'LstmOptInit', 'Orthogonal', 'RandomWalk',
           'SparseInputs', 'SparseOutputs', 'Uniform', 'evaluate_initializer', 'get_fans']
