"""Convolution and pooling ops checked against naive loop references.

The references below loop over images, output pixels and filters and are written
straight from the defining formulas; the library must agree with them, with
finite differences of a scalar function of its own forward outputs, and with
itself when called twice (scratch reuse). The same checks run through
``NumpyHandler(float64)`` and, where it exists, ``DebugHandler``.
"""

import itertools

import numpy as np
import pytest

from brainstorm.errors import HandlerContractError
from brainstorm.handlers import _conv_numpy, _pool_numpy

#: The handler ops this file covers (read by the handler op-coverage test).
CONV_OPS = [
    'conv2d_forward_batch',
    'conv2d_backward_batch',
    'maxpool2d_forward_batch',
    'maxpool2d_backward_batch',
    'avgpool2d_forward_batch',
    'avgpool2d_backward_batch',
]


# ---------------------------------------------------------------- test scratch

class RecordingScratch:
    """A ``scratch(key, shape)`` provider that records what it is asked for.

    Shares memory as the handlers' scratch does: one buffer per key, each request a
    view of its start, a larger request a new buffer. So requests of one key with
    different shapes alias, and an op that keeps two of them alive at once fails
    here. New buffers are filled with NaN so that a temporary read before it is
    written poisons the result instead of passing by luck.
    """

    def __init__(self, dtype):
        self.dtype = dtype
        self.buffers = {}
        self.requests = []

    def __call__(self, key, shape, dtype=None):
        shape = tuple(shape)
        self.requests.append((key, shape))
        dtype = np.dtype(self.dtype if dtype is None else dtype)
        size = int(np.prod(shape))
        buffer = self.buffers.get((key, dtype))
        if buffer is None or buffer.size < size:
            # integer and bool scratch get their largest value as the poison
            poison = np.nan if dtype.kind == 'f' else (
                True if dtype.kind == 'b' else np.iinfo(dtype).max)
            buffer = np.full(max(size, 1), poison, dtype=dtype)
            self.buffers[(key, dtype)] = buffer
        return buffer[:size].reshape(shape)


# ------------------------------------------------------------ naive references

def out_size(size, kernel, padding, stride):
    return (size + 2 * padding - kernel) // stride + 1


def pad(images, padding, value):
    return np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)),
                  constant_values=value)


def naive_conv_forward(inputs, weights, bias, padding, stride):
    n, height, width, _ = inputs.shape
    filters, kh, kw, _ = weights.shape
    oh, ow = out_size(height, kh, padding, stride[0]), out_size(width, kw, padding, stride[1])
    padded = pad(inputs, padding, 0.0)
    outputs = np.zeros((n, oh, ow, filters))
    for b, y, x, f in itertools.product(range(n), range(oh), range(ow), range(filters)):
        patch = padded[b, y * stride[0]:y * stride[0] + kh, x * stride[1]:x * stride[1] + kw]
        outputs[b, y, x, f] = bias[f] + np.sum(patch * weights[f])
    return outputs


def naive_conv_backward(inputs, weights, padding, stride, out_deltas):
    """Return (input deltas, weight deltas, bias deltas) by the chain rule, loop by loop."""
    n, height, width, _ = inputs.shape
    filters, kh, kw, _ = weights.shape
    _, oh, ow, _ = out_deltas.shape
    padded = pad(inputs, padding, 0.0)
    padded_deltas = np.zeros_like(padded)
    weight_deltas = np.zeros_like(weights)
    for b, y, x, f in itertools.product(range(n), range(oh), range(ow), range(filters)):
        rows = slice(y * stride[0], y * stride[0] + kh)
        cols = slice(x * stride[1], x * stride[1] + kw)
        delta = out_deltas[b, y, x, f]
        padded_deltas[b, rows, cols] += delta * weights[f]
        weight_deltas[f] += delta * padded[b, rows, cols]
    in_deltas = padded_deltas[:, padding:padding + height, padding:padding + width]
    return in_deltas, weight_deltas, out_deltas.sum(axis=(0, 1, 2))


def naive_pool_forward(inputs, window, padding, stride, kind):
    """Return outputs (and, for max, the window offsets of the maxima).

    brainstorm 0.5's rules: padding never wins a max and does not count in an
    average; a window entirely in the padding outputs 0 (its argmax: offset 0).
    """
    n, height, width, channels = inputs.shape
    oh = out_size(height, window[0], padding, stride[0])
    ow = out_size(width, window[1], padding, stride[1])
    padded = pad(inputs, padding, -np.inf if kind == 'max' else 0.0)
    inside = pad(np.ones((1, height, width, 1)), padding, 0.0)
    outputs = np.zeros((n, oh, ow, channels))
    argmax = np.zeros((n, oh, ow, channels))
    for b, y, x, c in itertools.product(range(n), range(oh), range(ow), range(channels)):
        rows = slice(y * stride[0], y * stride[0] + window[0])
        cols = slice(x * stride[1], x * stride[1] + window[1])
        patch, count = padded[b, rows, cols, c], inside[0, rows, cols, 0].sum()
        if kind == 'max':
            outputs[b, y, x, c] = patch.max() if count else 0.0
            argmax[b, y, x, c] = np.argmax(patch)  # first maximum, row-major
        else:
            outputs[b, y, x, c] = patch.sum() / count if count else 0.0
    return outputs, argmax


def naive_pool_backward(inputs, window, padding, stride, out_deltas, kind, argmax):
    n, height, width, channels = inputs.shape
    _, oh, ow, _ = out_deltas.shape
    inside = pad(np.ones((1, height, width, 1)), padding, 0.0)
    padded_deltas = np.zeros((n, height + 2 * padding, width + 2 * padding, channels))
    for b, y, x, c in itertools.product(range(n), range(oh), range(ow), range(channels)):
        top, left = y * stride[0], x * stride[1]
        if kind == 'max':
            i, j = divmod(int(argmax[b, y, x, c]), window[1])
            padded_deltas[b, top + i, left + j, c] += out_deltas[b, y, x, c]
        else:
            count = inside[0, top:top + window[0], left:left + window[1], 0].sum()
            if count:
                padded_deltas[b, top:top + window[0], left:left + window[1], c] += (
                    out_deltas[b, y, x, c] / count)
    return padded_deltas[:, padding:padding + height, padding:padding + width]


# ------------------------------------------------------------------- the cases

CONV_CASES = [
    # id, (N, H, W, C), (F, kh, kw), padding, stride
    ('N1-3x3-p0-s11', (1, 5, 5, 2), (3, 3, 3), 0, (1, 1)),
    ('N2-3x2-p1-s11', (2, 5, 6, 3), (4, 3, 2), 1, (1, 1)),
    ('N2-2x3-p2-s22', (2, 6, 5, 2), (3, 2, 3), 2, (2, 2)),
    ('N3-3x3-p1-s21', (3, 7, 5, 1), (2, 3, 3), 1, (2, 1)),
    ('N2-1x1-p0-s12', (2, 4, 5, 3), (2, 1, 1), 0, (1, 2)),
    ('N2-kernel-is-image', (2, 3, 4, 2), (2, 3, 4), 0, (1, 1)),
    # 8+ channels at stride 1 take the transposed-convolution path for input deltas
    ('N2-3x2-p1-s11-C8', (2, 5, 6, 8), (3, 3, 2), 1, (1, 1)),
    ('N1-2x3-p0-s11-C9', (1, 4, 5, 9), (2, 2, 3), 0, (1, 1)),
    ('N2-2x2-p2-s11-C8-padding-beyond-kernel', (2, 3, 4, 8), (2, 2, 2), 2, (1, 1)),
    ('N2-3x3-p1-s22-C8', (2, 5, 5, 8), (2, 3, 3), 1, (2, 2)),
]

POOL_CASES = [
    # id, (N, H, W, C), window, padding, stride
    ('N1-2x2-p0-s22', (1, 4, 4, 2), (2, 2), 0, (2, 2)),
    ('N2-3x3-p0-s22-overlap', (2, 7, 6, 3), (3, 3), 0, (2, 2)),
    ('N2-3x2-p1-s11', (2, 5, 6, 2), (3, 2), 1, (1, 1)),
    ('N3-3x3-p2-s21', (3, 5, 5, 1), (3, 3), 2, (2, 1)),
    ('N2-2x3-p1-s12', (2, 4, 5, 2), (2, 3), 1, (1, 2)),
    # padding as large as the window: some windows lie entirely in the padding
    ('N2-2x2-p2-s22-padding-only-windows', (2, 4, 5, 2), (2, 2), 2, (2, 2)),
    ('N1-3x2-p3-s12-padding-only-windows', (1, 3, 4, 2), (3, 2), 3, (1, 2)),
]


def strided_copy(array, rng, contiguous):
    """Return ``array``'s values, as a slice of a bigger buffer unless ``contiguous``."""
    if contiguous:
        return array.copy()  # a new array: callers compare against the original
    bigger = rng.standard_normal(array.shape[:-1] + (array.shape[-1] + 3,))
    view = bigger[..., 1:1 + array.shape[-1]]
    view[...] = array
    assert not view.flags.c_contiguous
    return view


def conv_data(case, rng):
    _, in_shape, (filters, kh, kw), padding, stride = case
    n, height, width, channels = in_shape
    out_shape = (n, out_size(height, kh, padding, stride[0]),
                 out_size(width, kw, padding, stride[1]), filters)
    return (rng.standard_normal(in_shape), rng.standard_normal((filters, kh, kw, channels)),
            rng.standard_normal(filters), out_shape)


# ---------------------------------------------------------- ways to call the ops

class ModuleCaller:
    """Calls the module-level functions with a recording scratch."""

    name = 'module'

    def __init__(self, dtype=np.float64):
        self.scratch = RecordingScratch(dtype)

    def __call__(self, op_name, *args):
        module = _conv_numpy if op_name.startswith('conv') else _pool_numpy
        getattr(module, op_name)(*args, scratch=self.scratch)


class HandlerCaller:
    """Calls the same-named methods of a handler."""

    def __init__(self, handler):
        self.handler = handler
        self.name = type(handler).__name__

    def __call__(self, op_name, *args):
        getattr(self.handler, op_name)(*args)


def _numpy_handler():
    module = pytest.importorskip('brainstorm.handlers.numpy_handler')
    return HandlerCaller(module.NumpyHandler(np.float64))


def _debug_handler():
    numpy_module = pytest.importorskip('brainstorm.handlers.numpy_handler')
    debug_module = pytest.importorskip('brainstorm.handlers.debug_handler')
    return HandlerCaller(debug_module.DebugHandler(numpy_module.NumpyHandler(np.float64)))


CALLER_FACTORIES = {
    'module': ModuleCaller,
    'NumpyHandler': _numpy_handler,
    'DebugHandler': _debug_handler,
}


@pytest.fixture(params=sorted(CALLER_FACTORIES))
def call(request):
    return CALLER_FACTORIES[request.param]()


# ----------------------------------------------------------------- convolution

@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('case', CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_forward_matches_naive_loops(case, contiguous, call):
    rng = np.random.default_rng(1)
    inputs, weights, bias, out_shape = conv_data(case, rng)
    _, _, _, padding, stride = case
    outputs = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    call('conv2d_forward_batch', strided_copy(inputs, rng, contiguous), weights, bias,
         outputs, padding, stride)
    np.testing.assert_allclose(outputs, naive_conv_forward(inputs, weights, bias, padding,
                                                           stride), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('case', CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_backward_matches_naive_loops_and_adds(case, contiguous, call):
    rng = np.random.default_rng(2)
    inputs, weights, _, out_shape = conv_data(case, rng)
    _, _, _, padding, stride = case
    out_deltas = rng.standard_normal(out_shape)
    # prefilled deltas must be added to, not overwritten
    in_before = rng.standard_normal(inputs.shape)
    weight_before = rng.standard_normal(weights.shape)
    bias_before = rng.standard_normal(weights.shape[0])
    in_deltas = strided_copy(in_before, rng, contiguous)
    weight_deltas = strided_copy(weight_before, rng, contiguous)
    bias_deltas = bias_before.copy()
    call('conv2d_backward_batch', strided_copy(inputs, rng, contiguous),
         strided_copy(weights, rng, contiguous), padding, stride, in_deltas,
         strided_copy(out_deltas, rng, contiguous), weight_deltas, bias_deltas)
    expected = naive_conv_backward(inputs, weights, padding, stride, out_deltas)
    for name, got, before, want in [('in_deltas', in_deltas, in_before, expected[0]),
                                    ('weight_deltas', weight_deltas, weight_before, expected[1]),
                                    ('bias_deltas', bias_deltas, bias_before, expected[2])]:
        np.testing.assert_allclose(got, before + want, rtol=1e-10, atol=1e-10, err_msg=name)


CHUNK_CASES = [
    # 5 images, so that chunks of 2 and 3 leave a smaller last chunk
    ('N5-3x3-p1-s21-col2im', (5, 6, 5, 2), (3, 3, 3), 1, (2, 1)),
    ('N5-3x2-p0-s11-col2im', (5, 5, 4, 3), (2, 3, 2), 0, (1, 1)),
    ('N5-3x3-p1-s11-C8-transposed', (5, 5, 6, 8), (3, 3, 3), 1, (1, 1)),
    ('N5-2x2-p2-s11-C8-transposed-padding-beyond-kernel', (5, 3, 4, 8), (2, 2, 2), 2, (1, 1)),
]


@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('chunk', [1, 2, 3, 5], ids=lambda chunk: f'chunk{chunk}')
@pytest.mark.parametrize('case', CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_conv_in_image_chunks_matches_naive_loops(case, chunk, contiguous, monkeypatch):
    monkeypatch.setattr(_conv_numpy, '_chunk_images', lambda n, _: min(n, chunk))
    rng = np.random.default_rng(4)
    inputs, weights, bias, out_shape = conv_data(case, rng)
    _, _, _, padding, stride = case
    call = ModuleCaller()
    outputs = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    call('conv2d_forward_batch', strided_copy(inputs, rng, contiguous), weights, bias,
         outputs, padding, stride)
    np.testing.assert_allclose(outputs, naive_conv_forward(inputs, weights, bias, padding,
                                                           stride), rtol=1e-10, atol=1e-10)
    out_deltas = rng.standard_normal(out_shape)
    befores = [rng.standard_normal(inputs.shape), rng.standard_normal(weights.shape),
               rng.standard_normal(weights.shape[0])]
    deltas = [strided_copy(before, rng, contiguous) for before in befores[:2]]
    deltas.append(befores[2].copy())
    call('conv2d_backward_batch', strided_copy(inputs, rng, contiguous), weights, padding,
         stride, deltas[0], strided_copy(out_deltas, rng, contiguous), deltas[1], deltas[2])
    expected = naive_conv_backward(inputs, weights, padding, stride, out_deltas)
    for name, got, before, want in zip(['in_deltas', 'weight_deltas', 'bias_deltas'],
                                       deltas, befores, expected):
        np.testing.assert_allclose(got, before + want, rtol=1e-10, atol=1e-10, err_msg=name)


def test_conv_chunks_keep_columns_near_the_byte_target(monkeypatch):
    """The column scratch holds one chunk of images, not the batch."""
    monkeypatch.setattr(_conv_numpy, 'COLUMN_CHUNK_BYTES', 1)  # forces one image per chunk
    rng = np.random.default_rng(5)
    inputs, weights, bias, out_shape = conv_data(CHUNK_CASES[2], rng)
    call = ModuleCaller()
    outputs = np.zeros(out_shape)
    call('conv2d_forward_batch', inputs, weights, bias, outputs, 1, (1, 1))
    call('conv2d_backward_batch', inputs, weights, 1, (1, 1), np.zeros_like(inputs),
         rng.standard_normal(out_shape), np.zeros_like(weights), np.zeros_like(bias))
    one_image_rows = out_shape[1] * out_shape[2]
    column_requests = [shape for key, shape in call.scratch.requests
                       if key == 'conv2d.columns']
    # the 2-d requests are the matrices; the backward pass first sizes the shared
    # buffer with a flat request, which must be one image's worth too
    assert {shape[0] for shape in column_requests if len(shape) == 2} == {one_image_rows}
    assert max(np.prod(shape) for shape in column_requests) == max(
        np.prod(shape) for shape in column_requests if len(shape) == 2)
    np.testing.assert_allclose(outputs, naive_conv_forward(inputs, weights, bias, 1, (1, 1)),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('case', CONV_CASES + CHUNK_CASES,
                         ids=[c[0] for c in CONV_CASES + CHUNK_CASES])
def test_conv_backward_without_input_deltas(case, call):
    """in_deltas=None skips the input deltas; the parameter gradients are unchanged."""
    rng = np.random.default_rng(6)
    inputs, weights, _, out_shape = conv_data(case, rng)
    _, _, _, padding, stride = case
    out_deltas = rng.standard_normal(out_shape)
    weight_deltas, bias_deltas = np.zeros_like(weights), np.zeros(weights.shape[0])
    call('conv2d_backward_batch', inputs, weights, padding, stride, None, out_deltas,
         weight_deltas, bias_deltas)
    _, weight_expected, bias_expected = naive_conv_backward(inputs, weights, padding, stride,
                                                           out_deltas)
    np.testing.assert_allclose(weight_deltas, weight_expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bias_deltas, bias_expected, rtol=1e-10, atol=1e-10)


def numeric_gradient(function, array, epsilon=1e-6):
    """Central differences of the scalar ``function()`` w.r.t. each element of ``array``."""
    gradient = np.zeros_like(array)
    for index in np.ndindex(*array.shape):
        original = array[index]
        array[index] = original + epsilon
        plus = function()
        array[index] = original - epsilon
        minus = function()
        array[index] = original
        gradient[index] = (plus - minus) / (2 * epsilon)
    return gradient


@pytest.mark.parametrize('case', CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_backward_matches_finite_differences(case):
    rng = np.random.default_rng(3)
    inputs, weights, bias, out_shape = conv_data(case, rng)
    _, _, _, padding, stride = case
    call = ModuleCaller()
    projection = rng.standard_normal(out_shape)  # loss = sum(outputs * projection)
    outputs = np.zeros(out_shape)

    def loss():
        call('conv2d_forward_batch', inputs, weights, bias, outputs, padding, stride)
        return np.sum(outputs * projection)

    in_deltas, weight_deltas = np.zeros_like(inputs), np.zeros_like(weights)
    bias_deltas = np.zeros_like(bias)
    call('conv2d_backward_batch', inputs, weights, padding, stride, in_deltas, projection,
         weight_deltas, bias_deltas)
    for name, analytic, variable in [('in_deltas', in_deltas, inputs),
                                     ('weight_deltas', weight_deltas, weights),
                                     ('bias_deltas', bias_deltas, bias)]:
        np.testing.assert_allclose(analytic, numeric_gradient(loss, variable),
                                   rtol=1e-6, atol=1e-7, err_msg=name)


# --------------------------------------------------------------------- pooling

def pool_inputs(case, rng):
    """Inputs with distinct values, so maxima are unique and finite differences stable."""
    _, in_shape, window, padding, stride = case
    values = rng.permutation(np.prod(in_shape)).reshape(in_shape) / 7.0 - 3.0
    n, height, width, channels = in_shape
    out_shape = (n, out_size(height, window[0], padding, stride[0]),
                 out_size(width, window[1], padding, stride[1]), channels)
    return values, out_shape


def pool_forward(call, kind, inputs, window, outputs, padding, stride, argmax):
    if kind == 'max':
        call('maxpool2d_forward_batch', inputs, window, outputs, padding, stride, argmax)
    else:
        call('avgpool2d_forward_batch', inputs, window, outputs, padding, stride)


def pool_backward(call, kind, inputs, window, outputs, padding, stride, argmax, in_deltas,
                  out_deltas):
    if kind == 'max':
        call('maxpool2d_backward_batch', inputs, window, outputs, padding, stride, argmax,
             in_deltas, out_deltas)
    else:
        call('avgpool2d_backward_batch', inputs, window, outputs, padding, stride, in_deltas,
             out_deltas)


@pytest.mark.parametrize('chunk', [None, 1, 2], ids=['batch', 'chunk1', 'chunk2'])
@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('kind', ['max', 'avg'])
@pytest.mark.parametrize('case', POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_forward_and_backward_match_naive_loops(case, kind, contiguous, chunk, call,
                                                     monkeypatch):
    rng = np.random.default_rng(4)
    inputs, out_shape = pool_inputs(case, rng)
    if chunk is not None:  # chunks of this many images (a 3-image batch: 2 + 1)
        image_bytes = np.prod(out_shape[1:]) * inputs.itemsize
        monkeypatch.setattr(_pool_numpy, 'POOL_CHUNK_BYTES', chunk * image_bytes)
    _, _, window, padding, stride = case
    outputs = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    argmax = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    strided_inputs = strided_copy(inputs, rng, contiguous)
    pool_forward(call, kind, strided_inputs, window, outputs, padding, stride, argmax)
    expected_outputs, expected_argmax = naive_pool_forward(inputs, window, padding, stride,
                                                           kind)
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-12, atol=1e-12)
    if kind == 'max':
        np.testing.assert_array_equal(argmax, expected_argmax)

    out_deltas = rng.standard_normal(out_shape)
    in_before = rng.standard_normal(inputs.shape)
    in_deltas = strided_copy(in_before, rng, contiguous)
    pool_backward(call, kind, strided_inputs, window, outputs, padding, stride, argmax,
                  in_deltas, strided_copy(out_deltas, rng, contiguous))
    expected = naive_pool_backward(inputs, window, padding, stride, out_deltas, kind,
                                   expected_argmax)
    np.testing.assert_allclose(in_deltas, in_before + expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('chunk', [None, 2], ids=['batch', 'chunk2'])
@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('case', POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_maxpool_without_argmax_gives_the_same_outputs(case, contiguous, chunk, call,
                                                       monkeypatch):
    """argmax=None (inference): the outputs of a call with an argmax, and no argmax work."""
    rng = np.random.default_rng(9)
    inputs, out_shape = pool_inputs(case, rng)
    if chunk is not None:
        image_bytes = np.prod(out_shape[1:]) * inputs.itemsize
        monkeypatch.setattr(_pool_numpy, 'POOL_CHUNK_BYTES', chunk * image_bytes)
    _, _, window, padding, stride = case
    strided_inputs = strided_copy(inputs, rng, contiguous)
    with_argmax = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    call('maxpool2d_forward_batch', strided_inputs, window, with_argmax, padding, stride,
         np.zeros(out_shape))
    outputs = strided_copy(np.full(out_shape, np.nan), rng, contiguous)
    if isinstance(call, ModuleCaller):
        call.scratch.requests.clear()
    call('maxpool2d_forward_batch', strided_inputs, window, outputs, padding, stride, None)
    np.testing.assert_array_equal(outputs, with_argmax)
    np.testing.assert_array_equal(outputs, naive_pool_forward(inputs, window, padding, stride,
                                                              'max')[0])
    if isinstance(call, ModuleCaller):
        keys = {key for key, _ in call.scratch.requests}
        assert not keys & {'maxpool2d.offset_code', 'maxpool2d.best_code'}, keys


@pytest.mark.parametrize('kind', ['max', 'avg'])
@pytest.mark.parametrize('case', POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_backward_matches_finite_differences(case, kind):
    rng = np.random.default_rng(5)
    inputs, out_shape = pool_inputs(case, rng)
    _, _, window, padding, stride = case
    call = ModuleCaller()
    projection = rng.standard_normal(out_shape)
    outputs, argmax = np.zeros(out_shape), np.zeros(out_shape)

    def loss():
        pool_forward(call, kind, inputs, window, outputs, padding, stride, argmax)
        return np.sum(outputs * projection)

    loss()
    in_deltas = np.zeros_like(inputs)
    pool_backward(call, kind, inputs, window, outputs, padding, stride, argmax, in_deltas,
                  projection)
    # inputs differ by >= 1/7, so a 1e-6 step never changes which element is the max
    np.testing.assert_allclose(in_deltas, numeric_gradient(loss, inputs), rtol=1e-6,
                               atol=1e-7)


def test_maxpool_ties_pick_the_first_offset_and_padding_never_wins():
    inputs = -np.ones((1, 2, 2, 1))  # all equal and below the zero a zero-padding would add
    outputs, argmax = np.zeros((1, 3, 3, 1)), np.zeros((1, 3, 3, 1))
    ModuleCaller()('maxpool2d_forward_batch', inputs, (2, 2), outputs, 1, (1, 1), argmax)
    np.testing.assert_array_equal(outputs, -1.0)
    # the first real (unpadded) element of each window, in row-major window order
    np.testing.assert_array_equal(argmax[0, :, :, 0], [[3, 2, 2], [1, 0, 0], [1, 0, 0]])


def test_avgpool_divides_by_the_positions_inside_the_image():
    inputs = np.ones((1, 1, 1, 1)) * 6.0
    outputs = np.zeros((1, 1, 1, 1))
    ModuleCaller()('avgpool2d_forward_batch', inputs, (3, 3), outputs, 1, (1, 1))
    np.testing.assert_allclose(outputs, 6.0)   # one position inside: 6 / 1, not 6 / 9
    inputs = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    outputs = np.zeros((1, 3, 3, 1))
    ModuleCaller()('avgpool2d_forward_batch', inputs, (2, 2), outputs, 1, (1, 1))
    # corners see one pixel, edges two, the centre all four
    np.testing.assert_allclose(outputs[0, :, :, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])


def test_a_max_window_entirely_in_the_padding_outputs_zero_and_takes_no_delta():
    inputs = -np.ones((1, 1, 1, 1))
    outputs, argmax = np.full((1, 2, 2, 1), np.nan), np.zeros((1, 2, 2, 1))
    call = ModuleCaller()
    call('maxpool2d_forward_batch', inputs, (1, 1), outputs, 1, (2, 2), argmax)
    # windows at (-1, -1), (-1, 1), (1, -1) hold padding only; (1, 1) is outside too
    np.testing.assert_array_equal(outputs[0, :, :, 0], [[0.0, 0.0], [0.0, 0.0]])
    outputs, argmax = np.full((1, 3, 3, 1), np.nan), np.zeros((1, 3, 3, 1))
    call('maxpool2d_forward_batch', inputs, (1, 1), outputs, 1, (1, 1), argmax)
    np.testing.assert_array_equal(outputs[0, :, :, 0], [[0, 0, 0], [0, -1, 0], [0, 0, 0]])
    in_deltas = np.zeros((1, 1, 1, 1))
    call('maxpool2d_backward_batch', inputs, (1, 1), outputs, 1, (1, 1), argmax, in_deltas,
         np.arange(1.0, 10.0).reshape(1, 3, 3, 1))
    np.testing.assert_array_equal(in_deltas, [[[[5.0]]]])   # only the centre window's delta


# ---------------------------------------------------------- scratch and errors

def _all_ops_once(call, rng):
    """Run every op once on a fixed problem and return copies of everything written."""
    inputs = rng.standard_normal((2, 6, 5, 3))
    weights, bias = rng.standard_normal((4, 3, 2, 3)), rng.standard_normal(4)
    padding, stride = 1, (2, 1)
    conv_out = np.zeros((2, 3, 6, 4))
    in_deltas, weight_deltas, bias_deltas = (np.zeros_like(inputs), np.zeros_like(weights),
                                             np.zeros_like(bias))
    call('conv2d_forward_batch', inputs, weights, bias, conv_out, padding, stride)
    call('conv2d_backward_batch', inputs, weights, padding, stride, in_deltas, conv_out,
         weight_deltas, bias_deltas)
    pool_out, argmax = np.zeros((2, 4, 5, 3)), np.zeros((2, 4, 5, 3))
    pool_in_deltas = np.zeros_like(inputs)
    for kind in ('max', 'avg'):
        pool_forward(call, kind, inputs, (2, 3), pool_out, 1, (2, 1), argmax)
        pool_backward(call, kind, inputs, (2, 3), pool_out, 1, (2, 1), argmax, pool_in_deltas,
                      pool_out)
    return [a.copy() for a in (conv_out, in_deltas, weight_deltas, bias_deltas, pool_out,
                               argmax, pool_in_deltas)]


def test_second_call_reuses_scratch_and_gives_the_same_results():
    call = ModuleCaller()
    first = _all_ops_once(call, np.random.default_rng(6))
    first_requests = list(call.scratch.requests)
    first_buffers = dict(call.scratch.buffers)
    call.scratch.requests.clear()
    second = _all_ops_once(call, np.random.default_rng(6))
    assert call.scratch.requests == first_requests  # same keys, same shapes, same order
    assert call.scratch.buffers.keys() == first_buffers.keys()
    assert all(call.scratch.buffers[k] is first_buffers[k] for k in first_buffers)
    for got, want in zip(second, first):
        np.testing.assert_array_equal(got, want)


def test_scratch_keys_of_one_call_are_distinct_per_temporary():
    # Two live temporaries under one key alias in the handler's scratch cache, which
    # keeps one buffer per key whatever the shape. Only the column matrices share a
    # key on purpose (they take turns within a chunk); RecordingScratch shares memory
    # like the handler, so the comparisons with naive loops above prove that safe.
    call = ModuleCaller()
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((2, 5, 5, 3))
    weights = rng.standard_normal((4, 3, 3, 3))
    call('conv2d_backward_batch', inputs, weights, 1, (1, 1), np.zeros_like(inputs),
         rng.standard_normal((2, 5, 5, 4)), np.zeros_like(weights),
         np.zeros(4))
    shapes_by_key = {}
    for key, shape in call.scratch.requests:
        shapes_by_key.setdefault(key, set()).add(shape)
    shared = shapes_by_key.pop('conv2d.columns')
    assert len({shape for shape in shared if len(shape) == 2}) == 2  # columns, then deltas'
    assert all(len(shapes) == 1 for shapes in shapes_by_key.values()), shapes_by_key


def test_steady_state_calls_allocate_no_array_memory():
    import tracemalloc
    call = ModuleCaller(np.float32)
    rng = np.random.default_rng(8)
    inputs = rng.standard_normal((32, 32, 32, 8)).astype(np.float32)  # 1 MiB
    weights = rng.standard_normal((8, 5, 5, 8)).astype(np.float32)
    bias = np.zeros(8, np.float32)
    outputs = np.zeros((32, 32, 32, 8), np.float32)
    deltas = (np.zeros_like(inputs), np.zeros_like(weights), np.zeros_like(bias))
    pooled, argmax = np.zeros((32, 15, 15, 8), np.float32), np.zeros((32, 15, 15, 8), np.float32)
    pooled_padded = np.zeros((32, 16, 16, 8), np.float32)

    def step():
        call('conv2d_forward_batch', inputs, weights, bias, outputs, 2, (1, 1))
        call('conv2d_backward_batch', inputs, weights, 2, (1, 1), deltas[0], outputs,
             deltas[1], deltas[2])
        call('maxpool2d_forward_batch', outputs, (3, 3), pooled, 0, (2, 2), None)
        call('maxpool2d_forward_batch', outputs, (3, 3), pooled, 0, (2, 2), argmax)
        call('maxpool2d_backward_batch', outputs, (3, 3), pooled, 0, (2, 2), argmax,
             deltas[0], pooled)
        call('avgpool2d_forward_batch', outputs, (3, 3), pooled_padded, 1, (2, 2))
        call('avgpool2d_backward_batch', outputs, (3, 3), pooled_padded, 1, (2, 2), deltas[0],
             pooled_padded)

    step()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # What remains are numpy's fixed-size ufunc iterator buffers (8192 elements, at
    # most a few at once); any copied image (>= 225 KiB here) or column matrix
    # (25 MiB) would push the peak past this bound.
    assert peak < 128 * 1024, peak


@pytest.mark.parametrize('op_name, arguments', [
    ('conv2d_forward_batch',
     lambda: (np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 3, 2)), np.zeros(3),
              np.zeros((1, 4, 4, 3)), 0, (1, 1))),
    ('conv2d_forward_batch',
     lambda: (np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 3, 1)), np.zeros(3),
              np.zeros((1, 2, 2, 3)), 0, (1, 1))),
    ('conv2d_backward_batch',
     lambda: (np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 3, 2)), 0, (1, 1),
              np.zeros((1, 4, 4, 2)), np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 3, 2)),
              np.zeros(2))),
    ('maxpool2d_forward_batch',
     lambda: (np.zeros((1, 2, 2, 1)), (3, 3), np.zeros((1, 1, 1, 1)), 0, (1, 1),
              np.zeros((1, 1, 1, 1)))),
    ('avgpool2d_forward_batch',
     lambda: (np.zeros((1, 4, 4, 1)), (2, 2), np.zeros((1, 3, 3, 2)), 0, (1, 1))),
], ids=['conv-wrong-outputs', 'conv-wrong-channels', 'conv-backward-wrong-bias',
        'maxpool-window-too-big', 'avgpool-wrong-channels'])
def test_contract_violations_raise_handler_contract_error(op_name, arguments):
    with pytest.raises(HandlerContractError, match=op_name):
        ModuleCaller()(op_name, *arguments())
