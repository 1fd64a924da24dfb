"""Matrix products through one BLAS library, in place: MKL (or numpy's OpenBLAS)
through ctypes where ``_cblas.load()`` gives one, else scipy's ``gemm``.

Why one library: the numpy and scipy wheels each bundle their own OpenBLAS, each
with its own thread pool, and after a call a pool's threads keep spinning for a
while (OpenBLAS's default thread timeout is ~2^28 cycles). When products
alternate between the two libraries, the idle pool's spinning threads take cores
from the busy one: on a 2-core machine a mnist_pi training step (forward
products in numpy, accumulating backward products in scipy) took 33 ms instead
of 16 ms. scipy's ``gemm`` can also accumulate (``beta=1``), which numpy cannot,
so every product of the NumpyHandler and of its conv ops goes to one library
that can (``_cblas``: a CBLAS ``gemm``; else scipy's), and ``np.matmul`` is only
the fallback for operands BLAS cannot take.
"""

import numpy as np

from brainstorm.handlers import _cblas

_GEMM_BY_DTYPE = {}


def _gemm_for(dtype):
    """scipy's gemm for float32 / float64 (None for other dtypes), looked up once."""
    dtype = np.dtype(dtype)
    if dtype not in _GEMM_BY_DTYPE:
        gemm = None
        if dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            from scipy.linalg import blas
            gemm = blas.get_blas_funcs('gemm', dtype=dtype)
        _GEMM_BY_DTYPE[dtype] = gemm
    return _GEMM_BY_DTYPE[dtype]


def gemm_into(a, b, out, transa=False, transb=False, beta=0.0):
    """``out = op(a) @ op(b) + beta * out`` with one in-place BLAS gemm.

    Args:
        a, b: 2-D float32 or float64 arrays (one dtype with ``out``), each C- or
            Fortran-contiguous (a transposed view of a contiguous matrix is fine).
        out: 2-D result, C- or Fortran-contiguous.
        transa, transb (bool): use ``a.T`` / ``b.T``.
        beta (float): 0 overwrites ``out`` (its old values are not read), 1 accumulates.

    Returns:
        bool: False if BLAS cannot take these operands (other dtype, strided
        layout, empty); then nothing was written and the caller falls back.
    """
    if not a.dtype == b.dtype == out.dtype:
        return False
    if 0 in a.shape or 0 in b.shape or 0 in out.shape:
        return False
    cblas = _cblas.load()
    if cblas is not None and cblas.supports(out.dtype):
        return _cblas_gemm_into(cblas, a, b, out, transa, transb, beta)
    gemm = _gemm_for(out.dtype)
    if gemm is None:
        return False
    # BLAS wants Fortran order. A C-contiguous out is a Fortran-ordered out.T,
    # and out.T = op(b).T @ op(a).T (+ beta * out.T) is the same product.
    if out.flags.f_contiguous:
        target, first, second = out, (a, transa), (b, transb)
    elif out.flags.c_contiguous:
        target, first, second = out.T, (b, not transb), (a, not transa)
    else:
        return False
    first_matrix, first_trans = _as_fortran_operand(*first)
    second_matrix, second_trans = _as_fortran_operand(*second)
    if first_matrix is None or second_matrix is None:
        return False
    result = gemm(1.0, first_matrix, second_matrix, beta=beta, c=target,
                  trans_a=first_trans, trans_b=second_trans, overwrite_c=True)
    if result.ctypes.data != target.ctypes.data:
        # scipy copied c after all; the result still holds the full product
        np.copyto(target, result)
    return True


def _cblas_gemm_into(cblas, a, b, out, transa, transb, beta):
    """:func:`gemm_into` through a :class:`_cblas.Cblas` (row-major CBLAS call).

    Takes the operands the scipy path takes: C- or Fortran-contiguous matrices.
    """
    target = _row_major(out)
    if target is not None:
        first, second = (a, transa), (b, transb)
    else:  # a column-major out is a row-major out.T = op(b).T @ op(a).T
        target = _row_major(out.T)
        if target is None:
            return False
        first, second = (b, not transb), (a, not transa)
    operands = []
    for matrix, transposed in (first, second):
        layout = _row_major(matrix)
        if layout is None:
            layout = _row_major(matrix.T)
            if layout is None:
                return False
            transposed = not transposed
        operands.append((layout, _cblas.TRANS if transposed else _cblas.NO_TRANS))
    (c, ldc), ((a_matrix, lda), trans_a), ((b_matrix, ldb), trans_b) = target, *operands
    rows, columns = c.shape
    inner = a_matrix.shape[0] if trans_a == _cblas.TRANS else a_matrix.shape[1]
    cblas.gemm(_cblas.ROW_MAJOR, trans_a, trans_b, rows, columns, inner, 1.0, a_matrix, lda,
               b_matrix, ldb, beta, c, ldc)
    return True


def _row_major(matrix):
    """(matrix, leading dimension) if it is C-contiguous, else None.

    (Row-strided matrices would do for CBLAS too; they take the scipy path's
    fallback instead, so that both paths accept the same operands.)
    """
    if matrix.flags.c_contiguous:
        return matrix, max(1, matrix.shape[1])
    return None


def matmul_into(a, b, out):
    """``out = a @ b`` (2-D), through :func:`gemm_into` where possible, else np.matmul."""
    if not gemm_into(a, b, out):
        np.matmul(a, b, out=out)


def _as_fortran_operand(matrix, transposed):
    """Return (Fortran-ordered matrix, BLAS trans flag) meaning op(matrix), or (None, 0)."""
    if matrix.flags.f_contiguous:
        return matrix, int(transposed)
    if matrix.flags.c_contiguous:
        return matrix.T, int(not transposed)
    return None, 0
