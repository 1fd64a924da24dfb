"""A small ctypes binding to cuBLAS: one handle and row-major gemm (PyCudaHandler).

Why our own binding: scikit-cuda, the usual Python wrapper, has had no release
since 2019 and is not maintained; PyCudaHandler needs five functions
(create, destroy, set stream, set math mode, S/D gemm), which ctypes reaches
directly in the toolkit's ``libcublas``.

Row-major products: cuBLAS is column-major, and a row-major (M, N) matrix with
row stride ``ld`` *is* the column-major (N, M) matrix with leading dimension
``ld``. So ``C = op(A) @ op(B)`` in row-major is computed as the column-major
``C^T = op(B)^T @ op(A)^T``: operands swapped, same transposition flags.
:func:`plan_gemm` makes that plan from the operands' strides (also for
transposed views, which are row-major matrices read transposed); it is pure
Python, so the tests check it on the CPU with a numpy model of column-major
gemm (:func:`emulate_column_major_gemm`).

Nothing here touches CUDA at import; :class:`Cublas` loads the library when
created.
"""

import ctypes
import ctypes.util
import glob
import os
import sys
from dataclasses import dataclass

from brainstorm.errors import BrainstormError, HandlerUnavailableError

#: cublasOperation_t
OP_N, OP_T = 0, 1

#: cublasMath_t: CUBLAS_DEFAULT_MATH keeps float32 products in float32 (no TF32).
DEFAULT_MATH = 0

_STATUS_NAMES = {
    0: 'CUBLAS_STATUS_SUCCESS', 1: 'CUBLAS_STATUS_NOT_INITIALIZED',
    3: 'CUBLAS_STATUS_ALLOC_FAILED', 7: 'CUBLAS_STATUS_INVALID_VALUE',
    8: 'CUBLAS_STATUS_ARCH_MISMATCH', 11: 'CUBLAS_STATUS_MAPPING_ERROR',
    13: 'CUBLAS_STATUS_EXECUTION_FAILED', 14: 'CUBLAS_STATUS_INTERNAL_ERROR',
    15: 'CUBLAS_STATUS_NOT_SUPPORTED', 16: 'CUBLAS_STATUS_LICENSE_ERROR',
}


def library_candidates():
    """Paths or names under which libcublas may be found, most specific first.

    ``BRAINSTORM_CUBLAS_LIBRARY`` (a path) comes first; then the CUDA toolkit
    (``CUDA_HOME``, ``CUDA_PATH``, ``CUDA_ROOT``, ``/usr/local/cuda*``), the
    dynamic loader's search (``ctypes.util.find_library``), and the ``nvidia``
    wheels that PyTorch and others install (``site-packages/nvidia/cublas/lib``).
    """
    candidates = []
    explicit = os.environ.get('BRAINSTORM_CUBLAS_LIBRARY')
    if explicit:
        candidates.append(explicit)
    roots = [os.environ.get(name) for name in ('CUDA_HOME', 'CUDA_PATH', 'CUDA_ROOT')]
    roots += sorted(glob.glob('/usr/local/cuda*'), reverse=True)
    for root in filter(None, roots):
        for folder in ('lib64', 'lib', os.path.join('targets', 'x86_64-linux', 'lib')):
            candidates += sorted(glob.glob(os.path.join(root, folder, 'libcublas.so*')),
                                 reverse=True)
    found = ctypes.util.find_library('cublas')
    if found:
        candidates.append(found)
    for entry in sys.path:
        candidates += sorted(glob.glob(os.path.join(entry, 'nvidia', 'cu*', 'lib',
                                                    'libcublas.so*')), reverse=True)
        candidates += sorted(glob.glob(os.path.join(entry, 'nvidia', 'cublas', 'lib',
                                                    'libcublas.so*')), reverse=True)
    # libcublasLt is a dependency, not the library itself
    return [path for path in dict.fromkeys(candidates) if 'cublasLt' not in path]


def load_library():
    """Load libcublas.

    Returns:
        ctypes.CDLL: the library.

    Raises:
        HandlerUnavailableError: when no candidate loads.
    """
    tried = []
    for candidate in library_candidates():
        try:
            return ctypes.CDLL(candidate)
        except OSError as error:
            tried.append(f"{candidate} ({error})")
    where = '; '.join(tried) if tried else 'no libcublas.so* found'
    raise HandlerUnavailableError(
        f"cuBLAS library not found or not loadable ({where}); install the CUDA toolkit "
        f"or set BRAINSTORM_CUBLAS_LIBRARY to the path of libcublas.so")


@dataclass(frozen=True)
class Operand:
    """A 2D view as cuBLAS sees it.

    Attributes:
        pointer (int): device address of element [0, 0].
        leading (int): leading dimension (elements) of the row-major matrix
            ``R`` that holds the data.
        flipped (bool): the view is ``R`` transposed (e.g. ``a.T`` of a
            row-major ``a``) rather than ``R`` itself.
    """

    pointer: int
    leading: int
    flipped: bool


def describe_operand(pointer, shape, element_strides):
    """Describe a 2D view for cuBLAS, or return None when it cannot take it.

    A view works when one of its axes has unit stride (or length 1): it is
    then a row-major matrix, possibly read transposed, with a leading
    dimension at least its row length.

    Args:
        pointer (int): address of element [0, 0].
        shape (tuple[int]): (rows, cols).
        element_strides (tuple[int]): strides in elements (not bytes).

    Returns:
        Optional[Operand]
    """
    rows, cols = shape
    row_stride, col_stride = element_strides
    if (cols == 1 or col_stride == 1) and (rows == 1 or row_stride >= max(cols, 1)):
        return Operand(pointer, row_stride if rows > 1 else max(cols, 1), False)
    if (rows == 1 or row_stride == 1) and (cols == 1 or col_stride >= max(rows, 1)):
        return Operand(pointer, col_stride if cols > 1 else max(rows, 1), True)
    return None


@dataclass(frozen=True)
class GemmPlan:
    """The arguments of one column-major cuBLAS gemm call (alpha and beta aside).

    ``C = op_a(A) @ op_b(B)`` in column-major terms, with ``C`` (m, n).
    """

    op_a: int
    op_b: int
    m: int
    n: int
    k: int
    a: int
    lda: int
    b: int
    ldb: int
    c: int
    ldc: int


def plan_gemm(first, second, out, transpose_first, transpose_second, sizes):
    """Plan the row-major product ``out = op(first) @ op(second)`` as one cuBLAS call.

    Args:
        first, second (Operand): the factors.
        out (Operand): the result; must not be flipped (swap the factors and
            transpose the product instead; :func:`plan_product` does that).
        transpose_first, transpose_second (bool): the op flags.
        sizes (tuple[int]): (M, N, K) of the row-major product.

    Returns:
        GemmPlan
    """
    rows, cols, inner = sizes
    # column-major C^T (cols, rows) = op(second)^T @ op(first)^T; a stored R is R^T in
    # column-major terms, so each factor's cuBLAS op is N exactly when the row-major
    # factor is used as stored (op flag and flip cancel)
    op_for_second = OP_T if transpose_second != second.flipped else OP_N
    op_for_first = OP_T if transpose_first != first.flipped else OP_N
    return GemmPlan(op_for_second, op_for_first, cols, rows, inner,
                    second.pointer, second.leading, first.pointer, first.leading,
                    out.pointer, out.leading)


def plan_product(first, second, out, transpose_first, transpose_second, sizes):
    """Like :func:`plan_gemm`, for any ``out``: a flipped out computes its transpose.

    ``out = R^T`` for a row-major R, so ``R = op(second)^T @ op(first)^T``.
    """
    if not out.flipped:
        return plan_gemm(first, second, out, transpose_first, transpose_second, sizes)
    rows, cols, inner = sizes
    stored_out = Operand(out.pointer, out.leading, False)
    return plan_gemm(second, first, stored_out, not transpose_second, not transpose_first,
                     (cols, rows, inner))


def emulate_column_major_gemm(memory, plan, alpha, beta):
    """A numpy model of cuBLAS gemm on a flat ``memory`` array (pointers are indices).

    Used by the tests to check :func:`plan_product` without a GPU. Reads each
    matrix as column-major with its leading dimension, exactly as cuBLAS does.
    """
    from numpy.lib.stride_tricks import as_strided

    item = memory.itemsize

    def column_major(pointer, rows, cols, leading):
        return as_strided(memory[pointer:], shape=(rows, cols), strides=(item, leading * item))

    a_rows, a_cols = (plan.m, plan.k) if plan.op_a == OP_N else (plan.k, plan.m)
    b_rows, b_cols = (plan.k, plan.n) if plan.op_b == OP_N else (plan.n, plan.k)
    a = column_major(plan.a, a_rows, a_cols, plan.lda)
    b = column_major(plan.b, b_rows, b_cols, plan.ldb)
    if a_rows and a_cols and plan.lda < max(1, a_rows):
        raise ValueError("lda smaller than the rows of A")
    if b_rows and b_cols and plan.ldb < max(1, b_rows):
        raise ValueError("ldb smaller than the rows of B")
    if plan.ldc < max(1, plan.m):
        raise ValueError("ldc smaller than the rows of C")
    product = (a if plan.op_a == OP_N else a.T) @ (b if plan.op_b == OP_N else b.T)
    c = column_major(plan.c, plan.m, plan.n, plan.ldc)
    c[...] = alpha * product + (beta * c if beta else 0)


class Cublas:
    """One cuBLAS handle on the current CUDA context, with row-major gemm.

    Create it after the CUDA context is current (PyCudaHandler does); cuBLAS
    uses the context current on the calling thread.

    Raises:
        HandlerUnavailableError: no library, or the handle cannot be created.
    """

    def __init__(self):
        self.library = load_library()
        self._declare()
        handle = ctypes.c_void_p()
        status = self.library.cublasCreate_v2(ctypes.byref(handle))
        if status != 0:
            raise HandlerUnavailableError(f"cublasCreate failed: {_status_name(status)}")
        self.handle = handle
        self._check('cublasSetStream', self.library.cublasSetStream_v2(self.handle, None))
        self._check('cublasSetMathMode', self.library.cublasSetMathMode(self.handle,
                                                                        DEFAULT_MATH))
        self._one = {4: ctypes.c_float(1.0), 8: ctypes.c_double(1.0)}
        self._zero = {4: ctypes.c_float(0.0), 8: ctypes.c_double(0.0)}

    def _declare(self):
        library = self.library
        library.cublasCreate_v2.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        library.cublasDestroy_v2.argtypes = [ctypes.c_void_p]
        library.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        library.cublasSetMathMode.argtypes = [ctypes.c_void_p, ctypes.c_int]
        integer, pointer = ctypes.c_int, ctypes.c_void_p
        for name, scalar in (('cublasSgemm_v2', ctypes.c_float),
                             ('cublasDgemm_v2', ctypes.c_double)):
            function = getattr(library, name)
            function.argtypes = [pointer, integer, integer, integer, integer, integer,
                                 ctypes.POINTER(scalar), pointer, integer, pointer, integer,
                                 ctypes.POINTER(scalar), pointer, integer]
            function.restype = integer
        for name in ('cublasCreate_v2', 'cublasDestroy_v2', 'cublasSetStream_v2',
                     'cublasSetMathMode'):
            getattr(library, name).restype = ctypes.c_int

    def _check(self, what, status):
        if status != 0:
            raise BrainstormError(f"{what} failed: {_status_name(status)}")

    def gemm(self, itemsize, plan, accumulate):
        """Run one planned gemm: ``C = A B`` or, with ``accumulate``, ``C += A B``.

        Args:
            itemsize (int): 4 (float32, Sgemm) or 8 (float64, Dgemm).
            plan (GemmPlan): from :func:`plan_product`.
            accumulate (bool): beta = 1 instead of 0 (beta = 0 never reads C).
        """
        function = self.library.cublasSgemm_v2 if itemsize == 4 else self.library.cublasDgemm_v2
        beta = self._one[itemsize] if accumulate else self._zero[itemsize]
        status = function(self.handle, plan.op_a, plan.op_b, plan.m, plan.n, plan.k,
                          ctypes.byref(self._one[itemsize]), plan.a, plan.lda, plan.b, plan.ldb,
                          ctypes.byref(beta), plan.c, plan.ldc)
        self._check('cublas gemm', status)

    def destroy(self):
        """Destroy the handle (before the context goes)."""
        if self.handle is not None:
            self.library.cublasDestroy_v2(self.handle)
            self.handle = None


def _status_name(status):
    return _STATUS_NAMES.get(status, f"status {status}")
