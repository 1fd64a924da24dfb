"""Convolution2D and Pooling2D: forward passes against plain-numpy references, shapes, errors.

Gradients are checked for every LayerCase in cases_conv.py by test_finite_differences.py.
"""

import numpy as np
import pytest

from brainstorm.errors import LayerValidationError
from brainstorm.handlers import NumpyHandler
from brainstorm.layers import Convolution2D, Input, Pooling2D
from brainstorm.structure.network import Network
from brainstorm.testing import LayerHarness, build_architecture
from tests.layers.cases import ALL_CASES

CONV_CASES = [case for case in ALL_CASES if case.layer_type == 'Convolution2D']
POOL_CASES = [case for case in ALL_CASES if case.layer_type == 'Pooling2D']

ACTIVATION_FUNCTIONS = {
    'linear': lambda x: x,
    'rel': lambda x: np.maximum(x, 0.0),
    'sigmoid': lambda x: 1.0 / (1.0 + np.exp(-x)),
    'tanh': np.tanh,
    'el': lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def windows(images, kernel_size, stride, padding, fill):
    """Yield (row, column, window) of (N, H, W, C) images padded with ``fill``."""
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)),
                    constant_values=fill)
    rows = (padded.shape[1] - kernel_size[0]) // stride[0] + 1
    columns = (padded.shape[2] - kernel_size[1]) // stride[1] + 1
    for row in range(rows):
        for column in range(columns):
            top, left = row * stride[0], column * stride[1]
            yield row, column, padded[:, top:top + kernel_size[0], left:left + kernel_size[1]]


def reference_convolution(images, weights, bias, stride, padding):
    """(N, H, W, C) images, (F, kh, kw, C) weights -> (N, out_h, out_w, F), by definition."""
    results = {}
    for row, column, window in windows(images, weights.shape[1:3], stride, padding, 0.0):
        results[row, column] = np.einsum('nijc,fijc->nf', window, weights) + bias
    out_shape = max(results)
    out = np.zeros((images.shape[0], out_shape[0] + 1, out_shape[1] + 1, weights.shape[0]))
    for (row, column), values in results.items():
        out[:, row, column] = values
    return out


def reference_pooling(images, kernel_size, stride, padding, pooling_type):
    """brainstorm 0.5: padding never wins a max nor counts in an average; all-padding gives 0."""
    fill = -np.inf if pooling_type == 'max' else 0.0
    inside = windows(np.ones(images.shape[:3] + (1,)), kernel_size, stride, padding, 0.0)
    results = {}
    for (row, column, window), (_, _, mask) in zip(
            windows(images, kernel_size, stride, padding, fill), inside):
        count = mask[0].sum()
        if count == 0:
            results[row, column] = np.zeros((images.shape[0], images.shape[3]))
        elif pooling_type == 'max':
            results[row, column] = window.max(axis=(1, 2))
        else:
            results[row, column] = window.sum(axis=(1, 2)) / count
    last = max(results)
    out = np.zeros((images.shape[0], last[0] + 1, last[1] + 1, images.shape[3]))
    for (row, column), values in results.items():
        out[:, row, column] = values
    return out


def time_flattened(array):
    return array.reshape((-1,) + array.shape[2:])


@pytest.mark.parametrize('case', CONV_CASES, ids=[case.id for case in CONV_CASES])
def test_convolution_forward_matches_reference(case):
    harness = LayerHarness(case, NumpyHandler(np.float64))
    harness.forward()
    kwargs = case.kwargs
    weights = harness.handler.get_numpy_copy(harness.parameter_view('W'))
    bias = harness.handler.get_numpy_copy(harness.parameter_view('bias'))
    expected = reference_convolution(time_flattened(harness.data['default']), weights, bias,
                                     pair(kwargs.get('stride', 1)), kwargs.get('padding', 0))
    expected = ACTIVATION_FUNCTIONS[kwargs.get('activation', 'rel')](expected)
    output = harness.output('default')
    assert output.shape[:2] == (case.time_steps, case.batch_size)
    np.testing.assert_allclose(time_flattened(output), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('case', POOL_CASES, ids=[case.id for case in POOL_CASES])
def test_pooling_forward_matches_reference(case):
    harness = LayerHarness(case, NumpyHandler(np.float64))
    harness.forward()
    kwargs = case.kwargs
    expected = reference_pooling(time_flattened(harness.data['default']),
                                 pair(kwargs['kernel_size']), pair(kwargs.get('stride', 1)),
                                 kwargs.get('padding', 0), kwargs.get('type', 'max'))
    np.testing.assert_allclose(time_flattened(harness.output('default')), expected,
                               rtol=1e-12, atol=1e-12)


def test_max_pooling_routes_deltas_to_the_maximum():
    case = next(case for case in POOL_CASES if case.id.endswith('max-k2-stride2'))
    harness = LayerHarness(case, NumpyHandler(np.float64))
    harness.forward()
    harness.backward()
    images = time_flattened(harness.data['default'])
    deltas = time_flattened(harness.output_deltas['default'])
    expected = np.zeros_like(images)
    for row, column, window in windows(images, (2, 2), (2, 2), 0, -np.inf):
        for n in range(images.shape[0]):
            for channel in range(images.shape[3]):
                i, j = np.unravel_index(np.argmax(window[n, :, :, channel]), (2, 2))
                expected[n, 2 * row + i, 2 * column + j, channel] += deltas[n, row, column,
                                                                            channel]
    received = harness.handler.get_numpy_copy(harness.input_delta_view('default'))
    np.testing.assert_allclose(time_flattened(received), expected, rtol=1e-12, atol=0)


MAX_POOL_CASES = [case for case in POOL_CASES if case.kwargs.get('type', 'max') == 'max']
ARGMAX_SENTINEL = 7.0


def argmax_of(harness):
    return harness.handler.get_numpy_copy(
        harness.net.buffer[harness.layer_name].internals.argmax)


class ArgmaxRecorder:
    """Wraps a handler; records the argmax argument of each maxpool2d_forward_batch call."""

    def __init__(self, handler):
        self.handler, self.argmax_arguments = handler, []

    def __getattr__(self, name):
        return getattr(self.handler, name)

    def maxpool2d_forward_batch(self, *args):
        self.argmax_arguments.append(args[5])
        self.handler.maxpool2d_forward_batch(*args)


@pytest.mark.parametrize('case', MAX_POOL_CASES, ids=[case.id for case in MAX_POOL_CASES])
def test_max_pooling_test_pass_leaves_the_argmax_alone(case):
    """training_pass=False: the outputs of a training pass, argmax=None, argmax untouched."""
    harness = LayerHarness(case, NumpyHandler(np.float64))
    harness.net.forward_pass(training_pass=True)
    trained_outputs = harness.output('default')
    argmax = harness.net.buffer[harness.layer_name].internals.argmax
    harness.handler.set_from_numpy(argmax, np.full(argmax.shape, ARGMAX_SENTINEL))
    recorder = ArgmaxRecorder(harness.handler)
    harness.layer.set_handler(recorder)
    harness.net.forward_pass(training_pass=False)
    assert recorder.argmax_arguments == [None]
    np.testing.assert_array_equal(argmax_of(harness), ARGMAX_SENTINEL)
    np.testing.assert_array_equal(harness.output('default'), trained_outputs)


@pytest.mark.parametrize('case', MAX_POOL_CASES, ids=[case.id for case in MAX_POOL_CASES])
def test_max_pooling_backward_after_a_test_pass_computes_the_argmax(case):
    """A backward pass after a test pass gives the deltas of one after a training pass."""
    trained = LayerHarness(case, NumpyHandler(np.float64))
    trained.net.forward_pass(training_pass=True)
    trained.backward()
    tested = LayerHarness(case, NumpyHandler(np.float64))
    argmax = tested.net.buffer[tested.layer_name].internals.argmax
    tested.handler.set_from_numpy(argmax, np.full(argmax.shape, ARGMAX_SENTINEL))
    tested.net.forward_pass(training_pass=False)
    tested.backward()
    np.testing.assert_array_equal(argmax_of(tested), argmax_of(trained))
    np.testing.assert_array_equal(tested.output('default'), trained.output('default'))
    deltas = [harness.handler.get_numpy_copy(harness.input_delta_view('default'))
              for harness in (trained, tested)]
    np.testing.assert_array_equal(*deltas)


@pytest.mark.parametrize('case', CONV_CASES, ids=[case.id for case in CONV_CASES])
def test_convolution_skips_input_deltas_nobody_reads(case):
    """With 'default' in skipped_input_deltas the gradients stay, input deltas are untouched."""
    harness = LayerHarness(case, NumpyHandler(np.float64))
    harness.forward()
    harness.backward()
    handler = harness.handler
    expected = {name: handler.get_numpy_copy(harness.gradient_view(name))
                for name in ('W', 'bias')}
    assert np.any(handler.get_numpy_copy(harness.input_delta_view('default')) != 0)

    harness.layer.skipped_input_deltas = frozenset({'default'})
    harness.net.buffer_manager.clear_backward_buffers()
    harness.set_output_deltas()
    sentinel = np.full(harness.input_delta_view('default').shape, 7.0)
    handler.set_from_numpy(harness.input_delta_view('default'), sentinel)
    harness.layer.backward_pass(harness.net.buffer[harness.layer_name])
    for name, values in expected.items():
        np.testing.assert_allclose(handler.get_numpy_copy(harness.gradient_view(name)), values,
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(handler.get_numpy_copy(harness.input_delta_view('default')),
                                  sentinel)


def layer_of(layer_type, kwargs, in_shape):
    net = Network.from_architecture(build_architecture(layer_type, kwargs,
                                                       {'default': in_shape}))
    return net.layers['Tested']


@pytest.mark.parametrize('layer_type, kwargs, in_shape, out_shape', [
    ('Convolution2D', {'num_filters': 32, 'kernel_size': (5, 5), 'padding': 2}, (32, 32, 3),
     (32, 32, 32)),
    ('Convolution2D', {'num_filters': 4, 'kernel_size': 3}, (7, 6, 2), (5, 4, 4)),
    ('Convolution2D', {'num_filters': 1, 'kernel_size': (3, 1), 'stride': (2, 3)},
     (7, 7, 1), (3, 3, 1)),
    ('Pooling2D', {'kernel_size': (3, 3), 'stride': (2, 2)}, (32, 32, 32), (15, 15, 32)),
    ('Pooling2D', {'kernel_size': (3, 3), 'stride': (2, 2)}, (15, 15, 32), (7, 7, 32)),
    ('Pooling2D', {'kernel_size': (3, 3), 'stride': (2, 2)}, (7, 7, 64), (3, 3, 64)),
    ('Pooling2D', {'kernel_size': 2, 'type': 'avg', 'padding': 1}, (4, 4, 1), (5, 5, 1)),
], ids=['conv-5x5-pad2', 'conv-int-kernel', 'conv-stride', 'pool-32', 'pool-15', 'pool-7',
        'avg-pad1'])
def test_output_and_parameter_shapes(layer_type, kwargs, in_shape, out_shape):
    layer = layer_of(layer_type, kwargs, in_shape)
    assert layer.out_shapes['default'].shape == ('T', 'B') + out_shape
    if layer_type == 'Convolution2D':
        kernel = pair(kwargs['kernel_size'])
        assert layer.parameter_shapes['W'].shape == (kwargs['num_filters'], *kernel,
                                                     in_shape[2])
        assert layer.parameter_shapes['bias'].shape == (kwargs['num_filters'],)
    else:
        assert not layer.parameter_shapes
        expected_internals = ['argmax'] if kwargs.get('type', 'max') == 'max' else []
        assert list(layer.internal_shapes) == expected_internals


def test_walkthrough_network_builds_with_the_spec_factories():
    inp = Input(out_shapes={'default': (32, 32, 3), 'targets': (1,)})
    last = (inp >>
            Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv1') >>
            Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
            Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv2') >>
            Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >>
            Convolution2D(64, kernel_size=(5, 5), padding=2, name='Conv3') >>
            Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2), name='Pool3'))
    net = Network.from_layer(last)
    assert net.layers['Pool3'].out_shapes['default'].shape == ('T', 'B', 3, 3, 64)
    assert net.layers['Conv3'].parameter_shapes['W'].shape == (64, 5, 5, 32)
    assert net.layers['Conv1'].kwargs['activation'] == 'rel'


@pytest.mark.parametrize('layer_type, kwargs, in_shape, message', [
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 2}, (4,), "must be an image"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 2}, (4, 4), "must be an image"),
    ('Pooling2D', {'kernel_size': 2}, (4, 4, 1, 1), "must be an image"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 5}, (4, 4, 1), "does not fit"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': (2, 7), 'padding': 1}, (4, 4, 1),
     "width 4 with padding 1 is 6, less than 7"),
    ('Pooling2D', {'kernel_size': (5, 2)}, (4, 4, 1), "does not fit"),
    ('Pooling2D', {'kernel_size': 2, 'type': 'maximum'}, (4, 4, 1), "did you mean 'max'"),
    ('Pooling2D', {'kernel_size': 2, 'type': 'mean'}, (4, 4, 1), "type must be one of"),
    ('Convolution2D', {'num_filters': 0, 'kernel_size': 2}, (4, 4, 1), "num_filters"),
    ('Convolution2D', {'num_filters': 2.0, 'kernel_size': 2}, (4, 4, 1), "num_filters"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': (2, 2, 2)}, (4, 4, 1),
     "kernel_size must be"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 0}, (4, 4, 1), "kernel_size must be"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 2, 'stride': (0, 1)}, (4, 4, 1),
     "stride must be"),
    ('Pooling2D', {'kernel_size': 2, 'padding': -1}, (4, 4, 1), "padding must be"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 2, 'padding': (1, 1)}, (4, 4, 1),
     "padding must be"),
    ('Convolution2D', {'num_filters': 2, 'kernel_size': 2, 'activation': 'relu'}, (4, 4, 1),
     "activation must be one of"),
], ids=['conv-vector', 'conv-2d', 'pool-4d', 'conv-kernel-too-big', 'conv-padded-width',
        'pool-window-too-big', 'pool-type-typo', 'pool-type-unknown',
        'conv-zero-filters', 'conv-float-filters', 'conv-kernel-triple', 'conv-kernel-zero',
        'conv-zero-stride', 'pool-negative-padding', 'conv-tuple-padding', 'conv-relu'])
def test_invalid_configurations_raise_layer_validation_errors(layer_type, kwargs, in_shape,
                                                              message):
    with pytest.raises(LayerValidationError, match='Tested') as error:
        layer_of(layer_type, kwargs, in_shape)
    assert message in str(error.value)


def test_int_kernel_size_and_stride_mean_square_ones():
    square = layer_of('Convolution2D', {'num_filters': 2, 'kernel_size': 3, 'stride': 2},
                      (7, 7, 1))
    assert square.kernel_size == (3, 3) and square.stride == (2, 2)
    pool = layer_of('Pooling2D', {'kernel_size': 2, 'stride': 1}, (3, 3, 1))
    assert pool.kernel_size == (2, 2) and pool.stride == (1, 1)


def test_factories_pass_spec_defaults():
    conv = Convolution2D(8, (3, 3))
    assert conv.layer_type == 'Convolution2D'
    assert conv.layer_kwargs == {'num_filters': 8, 'kernel_size': (3, 3), 'stride': (1, 1),
                           'padding': 0, 'activation': 'rel'}
    pool = Pooling2D((2, 2))
    assert pool.layer_kwargs == {'kernel_size': (2, 2), 'type': 'max', 'stride': (1, 1),
                           'padding': 0}
