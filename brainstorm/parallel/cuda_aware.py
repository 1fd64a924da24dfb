"""Whether the MPI library can reduce CUDA device memory itself (a *CUDA-aware* MPI).

A CUDA-aware MPI (Open MPI or MPICH built with CUDA, MVAPICH2-GDR, Cray MPICH with
``MPICH_GPU_SUPPORT_ENABLED=1``) takes device pointers in its calls, so the gradients
of a GPU network are reduced where they are, without two copies through the host.
mpi4py hands it a GPU array through the array's ``__cuda_array_interface__``
(pycuda's ``GPUArray`` has one). A device pointer given to an MPI that is not
CUDA-aware crashes or hangs, so the device path is taken only where the library
says it can, or where the user says so:

``BRAINSTORM_MPI_CUDA_AWARE``
    ``auto`` (the default, also when unset or empty): ask the library; ``1``: use
    the device path; ``0``: always reduce through host memory.

The library is asked, in order: mpi4py's ``MPI.Query_cuda_support()`` where the
installed mpi4py has it; ``MPIX_Query_cuda_support()`` (Open MPI, MPICH >= 4.1);
``MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &flag)`` (MPICH >= 4.0). A library
with none of them is taken as not CUDA-aware (Cray MPICH has no query: set the
variable to 1 there).
"""

import os

from brainstorm.errors import ParallelSetupError

CUDA_AWARE_VARIABLE = 'BRAINSTORM_MPI_CUDA_AWARE'
_CHOICES = {'auto': None, '': None, '1': True, '0': False}
#: ``MPIX_GPU_SUPPORT_CUDA`` of MPICH's ``mpi.h``
_MPIX_GPU_SUPPORT_CUDA = 0


def cuda_aware_mpi(mpi=None, environ=None, library=None):
    """Whether to pass device memory to MPI directly.

    Args:
        mpi (Optional[module]): ``mpi4py.MPI`` (imported when None).
        environ (Optional[Mapping[str, str]]): default ``os.environ``.
        library (Optional[ctypes.CDLL]): the MPI library's symbols; default the
            library mpi4py loaded (looked up through its extension module).

    Returns:
        bool: True for the device path.

    Raises:
        ParallelSetupError: ``BRAINSTORM_MPI_CUDA_AWARE`` is not auto, 1 or 0.
    """
    setting = cuda_aware_setting(environ)
    if setting is not None:
        return setting
    if mpi is None:
        from mpi4py import MPI as mpi
    query = getattr(mpi, 'Query_cuda_support', None)
    if callable(query):
        return bool(query())
    return _library_says_cuda_aware(mpi, library)


def cuda_aware_setting(environ=None):
    """The user's ``BRAINSTORM_MPI_CUDA_AWARE``: True (1), False (0) or None (auto).

    Args:
        environ (Optional[Mapping[str, str]]): default ``os.environ``.

    Raises:
        ParallelSetupError: the value is not auto, 1 or 0 (``bstorm train`` checks
            it when its MPI world is set up, before anything is written).
    """
    environ = os.environ if environ is None else environ
    value = environ.get(CUDA_AWARE_VARIABLE, '').strip().lower()
    if value not in _CHOICES:
        raise ParallelSetupError(f"{CUDA_AWARE_VARIABLE}={environ[CUDA_AWARE_VARIABLE]!r}: "
                                 f"expected auto, 1 or 0")
    return _CHOICES[value]


def _library_says_cuda_aware(mpi, library):
    import ctypes
    if library is None:
        try:
            # dlsym through the extension module finds the symbols of the libmpi it links
            library = ctypes.CDLL(mpi.__file__)
        except (OSError, AttributeError):
            return False
    query = getattr(library, 'MPIX_Query_cuda_support', None)
    if query is not None:
        query.restype = ctypes.c_int
        query.argtypes = []
        return query() == 1
    query = getattr(library, 'MPIX_GPU_query_support', None)
    if query is not None:
        supported = ctypes.c_int(0)
        query.restype = ctypes.c_int
        return query(_MPIX_GPU_SUPPORT_CUDA, ctypes.byref(supported)) == 0 and \
            supported.value == 1
    return False


__all__ = ['cuda_aware_mpi', 'cuda_aware_setting', 'CUDA_AWARE_VARIABLE']
