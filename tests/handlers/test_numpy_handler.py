"""NumpyHandler specifics: BLAS accumulation in place, and ops that allocate nothing."""

import tracemalloc

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler

RNG = np.random.default_rng(5)


def layouts(array, layout):
    if layout == 'C':
        return np.ascontiguousarray(array)
    if layout == 'F':
        return np.asfortranarray(array)
    big = np.zeros(array.shape[:-1] + (array.shape[-1] + 3,), array.dtype)
    view = big[..., 1:1 + array.shape[-1]]
    view[...] = array
    return view


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('out_layout', ['C', 'F'])
@pytest.mark.parametrize('transa', [False, True])
@pytest.mark.parametrize('transb', [False, True])
def test_dot_add_mm_accumulates_with_blas_in_place(dtype, out_layout, transa, transb):
    handler = NumpyHandler(dtype)
    a = RNG.uniform(-1, 1, (3, 2) if transa else (2, 3)).astype(dtype)
    b = RNG.uniform(-1, 1, (4, 3) if transb else (3, 4)).astype(dtype)
    out = layouts(RNG.uniform(-1, 1, (2, 4)).astype(dtype), out_layout)
    expected = out + (a.T if transa else a) @ (b.T if transb else b)
    address = out.ctypes.data
    handler.dot_add_mm(a, b, out, transa, transb)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert out.ctypes.data == address
    assert handler.scratch_allocation_count == 0  # no scratch product: gemm with beta=1


def test_dot_add_mm_on_strided_views_falls_back_to_scratch():
    handler = NumpyHandler(np.float64)
    a = layouts(RNG.uniform(-1, 1, (3, 2)), 'strided')
    b = layouts(RNG.uniform(-1, 1, (2, 5)), 'strided')
    out = layouts(RNG.uniform(-1, 1, (3, 5)), 'strided')
    expected = out + a @ b
    handler.dot_add_mm(a, b, out)
    np.testing.assert_allclose(out, expected)
    assert handler.scratch_allocation_count == 1


def test_dot_add_mm_makes_no_copies_of_large_operands():
    handler = NumpyHandler(np.float64)
    a, b = RNG.uniform(size=(300, 200)), RNG.uniform(size=(300, 100))
    out = np.zeros((200, 100))
    handler.dot_add_mm(a, b, out, transa=True)
    tracemalloc.start()
    try:
        handler.dot_add_mm(a, b, out, transa=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < out.nbytes / 10


def _calls(handler):
    """(name, call) pairs of ops on 500 x 400 strided views (1.6 MB each)."""
    shape = (500, 400)

    def view(low=-1.0, high=1.0):
        return layouts(RNG.uniform(low, high, shape), 'strided')
    a, b, out, positive, cond = view(), view(), view(), view(0.5, 2.0), view()
    contiguous = RNG.uniform(-1.0, 1.0, shape)  # BLAS paths take contiguous arrays only
    column = RNG.integers(0, shape[1], (shape[0], 1)).astype(np.float64)
    row_out, column_out = np.zeros((1, shape[1])), np.zeros((shape[0], 1))
    square_out = np.zeros((shape[0], shape[0]))
    return [
        ('add_tt', lambda: handler.add_tt(a, b, out)),
        ('mult_add_tt', lambda: handler.mult_add_tt(a, b, out)),
        ('mult_add_st', lambda: handler.mult_add_st(0.5, a, out)),
        ('mult_add_mv', lambda: handler.mult_add_mv(a, row_out, out)),
        ('divide_mv', lambda: handler.divide_mv(a, positive[:, :1], out)),
        ('log_t', lambda: handler.log_t(positive, out)),
        ('copy_to_if', lambda: handler.copy_to_if(a, out, cond)),
        ('fill_if', lambda: handler.fill_if(out, 2.0, cond)),
        ('add_into_if', lambda: handler.add_into_if(a, out, cond)),
        ('softmax_m', lambda: handler.softmax_m(a, out)),
        ('sum_t', lambda: handler.sum_t(a, 0, row_out)),
        ('sum_add_t', lambda: handler.sum_add_t(a, 1, column_out)),
        ('sum_add_t_of_columns', lambda: handler.sum_add_t(contiguous, 0, row_out)),
        ('rel_deriv', lambda: handler.rel_deriv(None, a, b, out)),
        ('binarize_v', lambda: handler.binarize_v(column, out)),
        ('index_m_by_v', lambda: handler.index_m_by_v(a, column, column_out)),
        ('dot_mm', lambda: handler.dot_mm(a, b, square_out, transb=True)),
        ('sigmoid', lambda: handler.sigmoid(a, out)),
        ('el', lambda: handler.el(a, out)),
        ('el_deriv', lambda: handler.el_deriv(None, a, b, out)),
        ('sigmoid_deriv', lambda: handler.sigmoid_deriv(None, a, b, out)),
        ('is_fully_finite', lambda: handler.is_fully_finite(a)),
    ]


@pytest.mark.parametrize('index', range(len(_calls(NumpyHandler(np.float64)))),
                         ids=[name for name, _ in _calls(NumpyHandler(np.float64))])
def test_ops_allocate_no_temporary_arrays_after_the_first_call(index):
    handler = NumpyHandler(np.float64)
    name, call = _calls(handler)[index]
    call()
    tracemalloc.start()
    try:
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # numpy's iterator may take fixed-size buffers (8192 elements per operand) for
    # strided views; what must not happen is a temporary the size of an array
    assert peak < 400_000, f"{name} allocated {peak} bytes (arrays are 1600000 bytes)"


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_column_sums_overwrite_whatever_out_held(dtype):
    # sum_t of a contiguous matrix over axis 0 is a BLAS gemv with beta=0, which
    # must not read out: NaN or inf left there by earlier work may not leak in
    handler = NumpyHandler(dtype)
    a = RNG.uniform(-1.0, 1.0, (7, 5)).astype(dtype)
    for stale in (np.nan, np.inf):
        out = np.full((1, 5), stale, dtype=dtype)
        handler.sum_t(a, 0, out)
        np.testing.assert_allclose(out[0], a.sum(axis=0), rtol=1e-6)



@pytest.mark.parametrize('aliased', [False, True], ids=['dx_separate', 'dx_is_dy'])
def test_rel_deriv_of_large_arrays_goes_in_chunks_with_a_small_mask(aliased):
    from brainstorm.handlers.numpy_handler import REL_DERIV_CHUNK
    handler = NumpyHandler(np.float32)
    rows = (2 * REL_DERIV_CHUNK + REL_DERIV_CHUNK // 2) // 7  # a partial last chunk
    y = np.maximum(RNG.standard_normal((rows, 7)), 0).astype(np.float32)
    dy = RNG.standard_normal(y.shape).astype(np.float32)
    expected = dy * (y > 0)
    dx = dy.copy() if aliased else np.full_like(dy, np.nan)
    tracemalloc.start()
    try:
        handler.rel_deriv(None, y, dx if aliased else dy, dx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(dx, expected)
    # the first call allocates the mask: one chunk of bools, not one per element
    assert peak < REL_DERIV_CHUNK + 100_000 < y.size
