"""NumpyHandler's level-1 BLAS paths (axpy, scal) against plain numpy.

In-place ``mult_st`` and ``add_tt`` on arrays of at least
``BLAS_ELEMENTWISE_MIN_SIZE`` elements, and every contiguous ``mult_add_st``, go to
BLAS; the op tests use small arrays, so these big ones check those paths, in every
memory layout, aliasing pattern and float dtype, and that nothing is allocated.
"""

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler
from brainstorm.handlers.numpy_handler import BLAS_ELEMENTWISE_MIN_SIZE

ROWS = 8
COLUMNS = BLAS_ELEMENTWISE_MIN_SIZE // ROWS + 3


def layouts(rnd, dtype):
    """(name, array) pairs of one big shape: C order, Fortran order, a strided view."""
    values = rnd.standard_normal((ROWS, COLUMNS)).astype(dtype)
    wide = rnd.standard_normal((ROWS, 2 * COLUMNS)).astype(dtype)
    wide[:, ::2] = values
    return [('C', values.copy()), ('F', np.asfortranarray(values)), ('strided', wide[:, ::2])]


@pytest.fixture(params=[np.float32, np.float64], ids=['float32', 'float64'])
def handler(request):
    return NumpyHandler(request.param)


@pytest.mark.parametrize('layout', ['C', 'F', 'strided'])
@pytest.mark.parametrize('aliasing', ['out is a', 'out is b', 'out is a and b'])
def test_add_tt_in_place(handler, layout, aliasing):
    rnd = np.random.RandomState(0)
    a = dict(layouts(rnd, handler.dtype))[layout]
    b = dict(layouts(rnd, handler.dtype))[layout]
    if aliasing == 'out is a and b':
        b = a
    expected = a.astype(np.float64) + b.astype(np.float64)
    out = b if aliasing == 'out is b' else a
    handler.add_tt(a, b, out)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('layout', ['C', 'F', 'strided'])
def test_mult_st_in_place(handler, layout):
    t = dict(layouts(np.random.RandomState(1), handler.dtype))[layout]
    expected = t.astype(np.float64) * -0.7
    handler.mult_st(-0.7, t, t)
    np.testing.assert_allclose(t, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('layout', ['C', 'F', 'strided'])
@pytest.mark.parametrize('out_layout', ['C', 'F'])
def test_mult_add_st_any_layouts(handler, layout, out_layout):
    rnd = np.random.RandomState(2)
    t = dict(layouts(rnd, handler.dtype))[layout]
    out = dict(layouts(rnd, handler.dtype))[out_layout]
    expected = out.astype(np.float64) + 0.3 * t.astype(np.float64)
    handler.mult_add_st(0.3, t, out)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t, dict(layouts(np.random.RandomState(2), handler.dtype))[layout])


def test_blas_paths_keep_the_arrays_and_allocate_no_scratch(handler):
    rnd = np.random.RandomState(3)
    velocity, gradients, parameters = (dict(layouts(rnd, handler.dtype))['C'] for _ in range(3))
    addresses = [array.ctypes.data for array in (velocity, parameters)]
    handler.mult_st(0.9, velocity, velocity)
    handler.mult_add_st(-0.01, gradients, velocity)
    handler.add_tt(parameters, velocity, parameters)
    assert [array.ctypes.data for array in (velocity, parameters)] == addresses
    assert handler.scratch_allocation_count == 0
