"""The compiled max-pooling kernels (brainstorm/handlers/_pool_kernels.c).

test_conv_ops.py checks them against naive loops wherever NumpyHandler pools
C-contiguous arrays; here they are compared with the numpy path (_pool_numpy without
kernels) on what those cases lack: float32, ties, NaN, -inf, windows entirely in the
padding, the layer's sizes; and the arrays they must decline.
"""

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler, _compiled_kernels, _pool_numpy
from tests.handlers.compiled_kernel_marks import needs_compiled

needs_kernels = needs_compiled('pool')

# id, (N, H, W, C), window, padding, stride
GEOMETRIES = [
    ('cifar-first-pool', (3, 32, 32, 32), (3, 3), 0, (2, 2)),
    ('3x3-p1-s21', (2, 9, 8, 5), (3, 3), 1, (2, 1)),
    ('2x3-p3-padding-only-windows', (2, 4, 5, 3), (2, 3), 3, (2, 2)),
    ('1x1', (2, 3, 3, 4), (1, 1), 0, (1, 1)),
]

KINDS = ['random', 'ties', 'nan', 'minus-inf']


def make_inputs(kind, shape, dtype, rng):
    if kind == 'ties':  # few distinct values: most windows hold their maximum twice
        return rng.integers(0, 3, shape).astype(dtype)
    values = rng.standard_normal(shape).astype(dtype)
    if kind == 'nan':
        values[rng.random(shape) < 0.05] = np.nan
    if kind == 'minus-inf':
        values[rng.random(shape) < 0.3] = -np.inf
    return values


def out_shape(shape, window, padding, stride):
    n, height, width, channels = shape
    return (n, (height + 2 * padding - window[0]) // stride[0] + 1,
            (width + 2 * padding - window[1]) // stride[1] + 1, channels)


def scratch_provider():
    arrays = {}

    def scratch(key, shape, dtype=np.float64):
        key = (key, tuple(shape), np.dtype(dtype))
        if key not in arrays:
            arrays[key] = np.empty(shape, dtype)
        return arrays[key]
    return scratch


def both_paths(function, *args):
    """Run a _pool_numpy function with the compiled kernels and with numpy alone.

    Returns the copies of the arrays after each run (they start equal)."""
    kernels = _compiled_kernels.load('pool')
    results = []
    for path_kernels in (kernels, None):
        copies = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in args]
        function(*copies, scratch=scratch_provider(), kernels=path_kernels)
        results.append([copy for copy in copies if isinstance(copy, np.ndarray)])
    return results


@needs_kernels
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('geometry', GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
@pytest.mark.parametrize('with_argmax', [True, False], ids=['argmax', 'no-argmax'])
def test_forward_equals_numpy(geometry, kind, dtype, with_argmax):
    _, shape, window, padding, stride = geometry
    rng = np.random.default_rng(len(kind))
    inputs = make_inputs(kind, shape, dtype, rng)
    outputs = np.full(out_shape(shape, window, padding, stride), 7.0, dtype)
    argmax = np.full(outputs.shape, 7.0, dtype) if with_argmax else None
    args = [inputs, window, outputs, padding, stride, argmax]
    compiled, numpy_only = both_paths(_pool_numpy.maxpool2d_forward_batch, *args)
    for name, ours, theirs in zip(('inputs', 'outputs', 'argmax'), compiled, numpy_only):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)  # NaN equals NaN here


@needs_kernels
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('geometry', GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_backward_equals_numpy(geometry, dtype):
    _, shape, window, padding, stride = geometry
    rng = np.random.default_rng(3)
    inputs = make_inputs('ties', shape, dtype, rng)
    outputs = np.empty(out_shape(shape, window, padding, stride), dtype)
    argmax = np.empty(outputs.shape, dtype)
    _pool_numpy.maxpool2d_forward_batch(inputs, window, outputs, padding, stride, argmax,
                                        scratch=scratch_provider())
    argmax.reshape(-1)[::7] = 2.5  # not an offset: no delta is routed from there
    argmax.reshape(-1)[3::11] = window[0] * window[1]  # the NaN mark: none either
    in_deltas = rng.standard_normal(shape).astype(dtype)
    out_deltas = rng.standard_normal(outputs.shape).astype(dtype)
    args = [inputs, window, outputs, padding, stride, argmax, in_deltas, out_deltas]
    compiled, numpy_only = both_paths(_pool_numpy.maxpool2d_backward_batch, *args)
    tolerance = 1e-6 if dtype == np.float32 else 1e-14  # overlapping windows add in
    for ours, theirs in zip(compiled, numpy_only):      # another order
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


@needs_kernels
def test_numpy_handler_pools_contiguous_arrays_with_the_kernels(monkeypatch):
    handler = NumpyHandler(np.float32)
    calls = []

    class Counting:
        def __getattr__(self, name):
            function = getattr(_compiled_kernels.load('pool'), name)

            def counted(*args):
                computed = function(*args)
                calls.append((name, computed))
                return computed
            return counted
    handler._pool_kernels = Counting()
    inputs = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    outputs, argmax = np.empty((2, 3, 3, 3), np.float32), np.empty((2, 3, 3, 3), np.float32)
    handler.maxpool2d_forward_batch(inputs, (2, 2), outputs, 0, (2, 2), argmax)
    in_deltas = np.zeros_like(inputs)
    handler.maxpool2d_backward_batch(inputs, (2, 2), outputs, 0, (2, 2), argmax, in_deltas,
                                     np.ones_like(outputs))
    strided = np.zeros((2, 6, 6, 6), np.float32)[..., ::2]
    handler.maxpool2d_forward_batch(inputs, (2, 2), outputs, 0, (2, 2), None)
    handler.maxpool2d_backward_batch(inputs, (2, 2), outputs, 0, (2, 2), argmax, strided,
                                     np.ones_like(outputs))
    assert calls == [('maxpool2d_forward', True), ('maxpool2d_backward', True),
                     ('maxpool2d_forward', True), ('maxpool2d_backward', False)]
    np.testing.assert_array_equal(strided, in_deltas)  # numpy did it the same


def forward_arrays(dtype=np.float32):
    inputs = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(dtype)
    return inputs, np.full((2, 3, 3, 3), 5.0, dtype), np.full((2, 3, 3, 3), 5.0, dtype)


GEOMETRY = (2, 6, 6, 3, 3, 3, 2, 2, 2, 2, 0)  # n, h, w, c, out h, out w, window, stride, pad


@needs_kernels
@pytest.mark.parametrize('spoil', ['short', 'mixed-dtypes', 'strided', 'read-only', 'ints'])
def test_kernels_decline_arrays_they_cannot_take(spoil):
    kernels = _compiled_kernels.load('pool')
    inputs, outputs, argmax = forward_arrays()
    if spoil == 'short':
        inputs = inputs[:1]
    elif spoil == 'mixed-dtypes':
        argmax = argmax.astype(np.float64)
    elif spoil == 'strided':
        outputs = np.full((2, 3, 3, 6), 5.0, np.float32)[..., ::2]
    elif spoil == 'read-only':
        outputs.flags.writeable = False
    else:
        inputs = inputs.astype(np.int32)
    before = [array.copy() for array in (inputs, outputs, argmax)]
    assert kernels.maxpool2d_forward(*GEOMETRY, inputs, outputs, argmax) is False
    for array, old in zip((inputs, outputs, argmax), before):
        np.testing.assert_array_equal(array, old)


@needs_kernels
@pytest.mark.parametrize('sizes, message', [
    ((2, 6, 6, 3, 4, 3, 2, 2, 2, 2, 0), 'larger than the geometry allows'),
    ((2, 6, 6, 3, 3, 3, 2, 2, 0, 2, 0), 'must be positive'),
    ((2, 6, 6, -3, 3, 3, 2, 2, 2, 2, 0), 'must not be negative'),
])
def test_kernels_refuse_a_geometry_that_would_read_past_the_images(sizes, message):
    kernels = _compiled_kernels.load('pool')
    with pytest.raises(ValueError, match=message):
        kernels.maxpool2d_forward(*sizes, *forward_arrays())


@needs_kernels
def test_kernels_check_their_argument_count():
    with pytest.raises(TypeError, match='expected 11 sizes and 3 arrays'):
        _compiled_kernels.load('pool').maxpool2d_backward(*GEOMETRY)
