"""The compiled kernels of NumpyHandler: extension modules built from C files here.

* ``_lstm_kernels_c`` (``_lstm_kernels.c``): the elementwise part of an LSTM step,
  forward and backward (float32, tanh units);
* ``_pool_kernels_c`` (``_pool_kernels.c``): max-pooling forward and backward
  (float32 and float64);
* ``_conv_kernels_c`` (``_conv_kernels.c``): im2col of NHWC images with zero padding
  for the convolutions (float32 and float64).

``pip install .`` builds them as optional extensions (``setup.py``); where that
failed (no C compiler; for the LSTM kernels also no glibc vector math library, not
x86-64 or an older gcc) :func:`load` returns None and NumpyHandler computes the same
ops with numpy (``Handler``'s composites, ``_pool_numpy``, ``_conv_numpy``).

Which one serves: the environment variable ``BRAINSTORM_COMPILED_KERNELS`` =
``auto`` (the default: the compiled kernels where they were built), ``1`` (they
must be there: an EnvironmentSettingError otherwise) or ``0`` (never; numpy only).
It is read when a NumpyHandler is created.

Every kernel function takes some sizes and then arrays and returns False, computing
nothing, where an array is not a C-contiguous buffer of the element type and length
it needs (``_kernel_common.h``); the caller then computes the op with numpy.
"""

import importlib
import os

from brainstorm.errors import EnvironmentSettingError

#: kernel set -> its extension module
MODULES = {
    'lstm': 'brainstorm.handlers._lstm_kernels_c',
    'pool': 'brainstorm.handlers._pool_kernels_c',
    'conv': 'brainstorm.handlers._conv_kernels_c',
}

_loaded = {}  # kernel set -> (module or None, why not), filled on first use


def _import(kernels):
    try:
        return importlib.import_module(MODULES[kernels]), None
    except ImportError as error:
        return None, (f"the compiled {kernels} kernels were not built when brainstorm was "
                      f"installed ({error}); a C compiler at `pip install .` builds them")


def unavailable_reason(kernels):
    """Why a kernel set (a key of :data:`MODULES`) is not here (None where it imports)."""
    if kernels not in _loaded:
        _loaded[kernels] = _import(kernels)
    return _loaded[kernels][1]


def load(kernels):
    """A kernel set's module for a new NumpyHandler, or None for numpy.

    Args:
        kernels: a key of :data:`MODULES`.

    Raises:
        EnvironmentSettingError: if ``BRAINSTORM_COMPILED_KERNELS`` is not auto, 1 or 0,
            or is 1 and the kernels are not there.
    """
    choice = os.environ.get('BRAINSTORM_COMPILED_KERNELS', 'auto').strip().lower()
    if choice not in ('auto', '1', '0'):
        raise EnvironmentSettingError(
            f"BRAINSTORM_COMPILED_KERNELS={choice!r} is not one of auto, 1, 0")
    if choice == '0':
        return None
    reason = unavailable_reason(kernels)
    if reason is not None and choice == '1':
        raise EnvironmentSettingError(f"BRAINSTORM_COMPILED_KERNELS=1, but {reason}")
    return _loaded[kernels][0]
