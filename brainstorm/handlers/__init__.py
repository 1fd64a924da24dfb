"""Handlers: the objects that own memory and arithmetic (spec 8.9).

``NumpyHandler`` (the default, CPU) and ``DebugHandler`` (checks every call) are
imported here; ``PyCudaHandler`` is imported only when first accessed, so that
importing brainstorm never touches pycuda or CUDA.
"""

from brainstorm.handlers.base_handler import Handler
from brainstorm.handlers.debug_handler import DebugHandler
from brainstorm.handlers.numpy_handler import NumpyHandler

__all__ = ['Handler', 'NumpyHandler', 'DebugHandler', 'PyCudaHandler', 'default_handler']


_DEFAULT_HANDLER = []


def __getattr__(name):
    if name == 'default_handler':
        # brainstorm 0.5's module-level NumpyHandler(np.float32) instance, made on first
        # access: creating a handler draws a seed from global_rnd, not wanted at import
        if not _DEFAULT_HANDLER:
            import numpy as np
            _DEFAULT_HANDLER.append(NumpyHandler(np.float32))
        return _DEFAULT_HANDLER[0]
    if name == 'PyCudaHandler':
        # imported on first access only: pycuda and a GPU are optional
        from brainstorm.handlers.pycuda_handler import PyCudaHandler
        return PyCudaHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
