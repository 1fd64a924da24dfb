"""Shared test fixtures. Handler part: every handler present, for every op test.

Adding a handler to the test suite = one entry in ``_HANDLER_FACTORIES``.
"""

import numpy as np
import pytest

from brainstorm.errors import HandlerUnavailableError


def _numpy_float64():
    from brainstorm.handlers import NumpyHandler
    return NumpyHandler(np.float64)


def _debug_numpy_float64():
    from brainstorm.handlers import DebugHandler, NumpyHandler
    return DebugHandler(NumpyHandler(np.float64))


def _pycuda_float32():
    from brainstorm.handlers import PyCudaHandler
    return PyCudaHandler(np.float32)


def _emulated_pycuda_float32():
    from tests.cuda_emulator import emulated_pycuda_handler
    return emulated_pycuda_handler(np.float32)


#: handler id -> factory. A factory raising ImportError or HandlerUnavailableError
#: means "not here" (no pycuda, no GPU) and its handler is left out.
_HANDLER_FACTORIES = {
    'numpy': _numpy_float64,
    'debug-numpy': _debug_numpy_float64,
    'pycuda': _pycuda_float32,
    'pycuda-emulated': _emulated_pycuda_float32,
}


def available_handlers():
    """Return ``[(id, handler), ...]`` for every handler that can be created here.

    Always ``NumpyHandler(float64)`` (the reference) and
    ``DebugHandler(NumpyHandler(float64))``; ``PyCudaHandler(float32)`` only
    where pycuda and a GPU are present; ``PyCudaHandler(float32)`` on the CPU
    emulation of CUDA (``tests/cuda_emulator``) wherever g++ is.
    """
    handlers = []
    for handler_id, factory in _HANDLER_FACTORIES.items():
        try:
            handlers.append((handler_id, factory()))
        except (ImportError, HandlerUnavailableError):
            continue
    return handlers


def _handler_params():
    params = []
    for handler_id, _ in available_handlers():
        marks = [pytest.mark.gpu] if handler_id == 'pycuda' else []
        params.append(pytest.param(handler_id, id=handler_id, marks=marks))
    return params


@pytest.fixture(params=_handler_params())
def handler(request):
    """A fresh handler of each available kind.

    Ids: numpy, debug-numpy, pycuda (GPU), pycuda-emulated (tests/cuda_emulator).
    """
    return _HANDLER_FACTORIES[request.param]()


@pytest.fixture
def reference_handler():
    """The reference handler: a fresh ``NumpyHandler(float64)``."""
    return _numpy_float64()
