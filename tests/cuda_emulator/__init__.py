"""PyCudaHandler on the CPU: the real handler and kernels, an emulated pycuda and cuBLAS.

Without a GPU, PyCudaHandler's GPU tests skip, and its kernels would only be
compiled (``nvcc --ptx``), never run. This package runs them: the handler's
unchanged code and the unchanged CUDA source of its kernels, compiled with g++
behind a header of CPU stand-ins for the CUDA built-ins
(``kernel_runtime.h``), with pycuda's driver, ``GPUArray`` and
``SourceModule`` emulated in ``fake_pycuda.py`` and cuBLAS's gemm in
``cublas.c`` (loaded through the handler's own ctypes binding).

What it checks: that the kernels, run as CUDA would run them, compute what
NumpyHandler computes for every op, every layer and a short training run (every
index computation, view layout, reduction and barrier included); that launches
stay within CUDA's limits and pass arguments of the types the kernels declare;
that no kernel or gemm writes into the 1 KiB guard zones around each array; and,
because fresh allocations hold NaN, that no result depends on memory nothing
wrote.

Threads run one after another, first to last or, after
``fake_pycuda.set_reverse_order(True)``, last to first; a kernel whose result
depends on the order of its threads fails in one of the two orders.

What it cannot find: races that give one result in both orders (two threads
adding into one element without atomics lose an update on a GPU, never here),
float rounding of the GPU's fused multiply-adds and math library, the real
cuBLAS, pycuda's real argument packing, or speed. Those need a GPU
(``bench/gpu_session.sh``).
"""

import contextlib
import os
import sys

import numpy as np

from brainstorm.errors import HandlerUnavailableError
from tests.cuda_emulator import fake_pycuda

UNAVAILABLE_REASON = fake_pycuda.unavailable_reason()

_RUNTIME = None


@contextlib.contextmanager
def _emulated_pycuda():
    """Put the emulated pycuda modules in sys.modules (and our cuBLAS in the environment)."""
    modules = fake_pycuda.build_modules()
    saved = {name: sys.modules.get(name) for name in modules}
    saved_library = os.environ.get('BRAINSTORM_CUBLAS_LIBRARY')
    sys.modules.update(modules)
    os.environ['BRAINSTORM_CUBLAS_LIBRARY'] = fake_pycuda.build_cublas()
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        if saved_library is None:
            os.environ.pop('BRAINSTORM_CUBLAS_LIBRARY', None)
        else:
            os.environ['BRAINSTORM_CUBLAS_LIBRARY'] = saved_library


def emulated_runtime():
    """The process's one emulated CUDA runtime (PyCudaHandler's ``_CudaRuntime``)."""
    global _RUNTIME
    if _RUNTIME is None:
        from brainstorm.handlers import pycuda_handler
        with _emulated_pycuda():
            _RUNTIME = pycuda_handler._CudaRuntime()
    return _RUNTIME


@contextlib.contextmanager
def every_pycuda_handler_emulated():
    """Within the block, every ``PyCudaHandler()`` runs on the emulator.

    Whoever creates it: a test, the CLI from an experiment's ``handler``, a
    benchmark, ``create_from_description``.

    Raises:
        HandlerUnavailableError: where the emulator cannot run (``UNAVAILABLE_REASON``).
    """
    if UNAVAILABLE_REASON is not None:
        raise HandlerUnavailableError(UNAVAILABLE_REASON)
    from brainstorm.handlers import pycuda_handler
    runtime = emulated_runtime()
    real_runtime = pycuda_handler._runtime
    pycuda_handler._runtime = lambda: runtime
    try:
        yield
    finally:
        pycuda_handler._runtime = real_runtime


def emulated_pycuda_handler(dtype=np.float32, seed=None):
    """A real ``PyCudaHandler`` whose runtime is the CPU emulation.

    Raises:
        HandlerUnavailableError: where the emulator cannot run (``UNAVAILABLE_REASON``).
    """
    from brainstorm.handlers import PyCudaHandler
    with every_pycuda_handler_emulated():
        return PyCudaHandler(dtype, seed)
