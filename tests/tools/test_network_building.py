"""get_in_out_layers and create_net_from_spec: wiring, names, shapes, initialization, errors."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from brainstorm import Network, layers
from brainstorm.errors import NetworkValidationError
from brainstorm.handlers import NumpyHandler
from brainstorm.initializers import Gaussian
from brainstorm.tools import create_net_from_spec, get_in_out_layers

OUTPUT_TYPES = {'classification': 'SoftmaxCE', 'multi-label': 'SigmoidCE',
                'regression': 'SquaredError'}


def _targets(architecture):
    """(source layer, output) -> list of 'Layer.input' references."""
    return {(name, out): references for name, entry in architecture.items()
            for out, references in entry['@outgoing_connections'].items()}


@pytest.mark.parametrize('mask_name', [None, 'mask'], ids=['no-mask', 'mask'])
@pytest.mark.parametrize('task_type', sorted(OUTPUT_TYPES))
def test_in_out_layers_wire_the_task_output_and_loss(task_type, mask_name):
    inp, out = get_in_out_layers(task_type, 4, 3, mask_name=mask_name)
    net = Network.from_layer(inp >> layers.FullyConnected(5) >> out)
    architecture = net.architecture
    assert architecture['Output']['@type'] == OUTPUT_TYPES[task_type]
    assert architecture['Output_projection']['@type'] == 'FullyConnected'
    assert architecture['Output_projection']['activation'] == 'linear'
    assert architecture['Output_projection']['size'] == 3
    connections = _targets(architecture)
    assert connections[('Output_projection', 'default')] == ['Output']
    assert connections[('Input', 'targets')] == ['Output.targets']
    targets_shape = (1,) if task_type == 'classification' else (3,)
    input_shapes = net.layers['Input'].out_shapes
    assert input_shapes['targets'].feature_shape == targets_shape
    assert input_shapes['default'].feature_shape == (4,)
    if mask_name is None:
        assert 'Mask' not in architecture
        assert connections[('Output', 'loss')] == ['Loss']
        assert set(input_shapes) == {'default', 'targets'}
    else:
        assert connections[('Output', 'loss')] == ['Mask']
        assert connections[('Mask', 'default')] == ['Loss']
        assert connections[('Input', 'mask')] == ['Mask.mask']
        assert input_shapes['mask'].shape == ('T', 'B', 1)
    assert net.output_name == 'Output.outputs.predictions'


@pytest.mark.parametrize('task_type', sorted(OUTPUT_TYPES))
def test_mask_weights_the_loss_of_each_step(task_type):
    inp, out = get_in_out_layers(task_type, 2, 3, mask_name='mask')
    net = Network.from_layer(inp >> out)
    net.initialize(Gaussian(1.0), seed=1)
    rnd = np.random.RandomState(0)
    time_size, batch_size = 4, 2
    targets = (rnd.randint(0, 3, (time_size, batch_size, 1)) if task_type == 'classification'
               else rnd.randint(0, 2, (time_size, batch_size, 3)).astype(float))
    data = {'default': rnd.randn(time_size, batch_size, 2), 'targets': targets}
    losses = []
    for mask_value in (1.0, 0.0):
        mask = np.ones((time_size, batch_size, 1))
        mask[2:] = mask_value
        net.provide_external_data(dict(data, mask=mask))
        net.forward_pass()
        per_step = net.get('Output.outputs.loss').reshape(time_size, batch_size, -1).sum(axis=2)
        losses.append((net.get_loss_values()['total_loss'], per_step))
    (full, per_step), (masked, _) = losses
    assert full == pytest.approx(per_step.sum() / batch_size, rel=1e-5)
    assert masked == pytest.approx(per_step[:2].sum() / batch_size, rel=1e-5)
    assert masked < full


def test_custom_names_and_data_names():
    inp, out = get_in_out_layers('regression', (2, 3), 5, data_name='x', targets_name='y',
                                 outlayer_name='Pred', mask_name='w')
    net = Network.from_layer(inp - 'x' >> out)
    assert set(net.architecture) == {'Input', 'Pred_projection', 'Pred', 'Mask', 'Loss'}
    assert set(net.layers['Input'].out_shapes) == {'x', 'y', 'w'}
    assert net.layers['Input'].out_shapes['x'].feature_shape == (2, 3)
    inp, out = get_in_out_layers('regression', 2, 5, projection_name='Proj')
    assert out.name == 'Proj'


@pytest.mark.parametrize('use_conv, expected_type', [(None, 'Convolution2D'),
                                                     (True, 'Convolution2D'),
                                                     (False, 'FullyConnected')])
def test_projection_is_a_1x1_convolution_for_image_outputs(use_conv, expected_type):
    inp, out = get_in_out_layers('regression', (4, 4, 2), (4, 4, 3), use_conv=use_conv)
    net = Network.from_layer(inp >> out)
    projection = net.architecture['Output_projection']
    assert projection['@type'] == expected_type
    assert projection['activation'] == 'linear'
    if expected_type == 'Convolution2D':
        assert projection['num_filters'] == 3
        assert projection['kernel_size'] == [1, 1]
    assert net.layers['Output'].out_shapes['predictions'].feature_shape == (4, 4, 3)


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(task_type='classifcation'), "did you mean 'classification'"),
    (dict(in_shape=0), 'in_shape must be a positive int'),
    (dict(out_shape=(3, 'a')), 'out_shape must be a positive int'),
    (dict(in_shape=True), 'in_shape must be a positive int'),
    (dict(use_conv=True), 'use_conv needs out_shape (height, width, channels)'),
    (dict(targets_name='default'), 'must differ'),
    (dict(mask_name='targets'), 'must differ'),
])
def test_in_out_layers_reject_bad_arguments(kwargs, fragment):
    arguments = dict(task_type='classification', in_shape=4, out_shape=3)
    arguments.update(kwargs)
    with pytest.raises(NetworkValidationError) as info:
        get_in_out_layers(**arguments)
    assert fragment in str(info.value)


# ---------------------------------------------------------------- create_net_from_spec

def _sequence(net):
    return [(name, layer.layer_type) for name, layer in net.layers.items()]


def test_mnist_pi_example_builds_the_documented_layers():
    net = create_net_from_spec('classification', 784, 10, 'D.2 F1200 D F1200 D')
    assert _sequence(net) == [
        ('Input', 'Input'), ('Dropout_1', 'Dropout'), ('FullyConnected_1', 'FullyConnected'),
        ('Dropout_2', 'Dropout'), ('FullyConnected_2', 'FullyConnected'),
        ('Dropout_3', 'Dropout'), ('Output_projection', 'FullyConnected'),
        ('Output', 'SoftmaxCE'), ('Loss', 'Loss')]
    architecture = net.architecture
    assert [architecture[name]['drop_prob'] for name in ('Dropout_1', 'Dropout_2', 'Dropout_3')] \
        == [0.2, 0.5, 0.5]
    assert architecture['FullyConnected_1']['size'] == 1200
    assert architecture['FullyConnected_1']['activation'] == 'rel'
    assert net.get('FullyConnected_2.parameters.W').shape == (1200, 1200)


def test_cifar10_example_builds_conv_pool_stack_with_its_shapes():
    net = create_net_from_spec('classification', (32, 32, 3), 10,
                               'C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64')
    types = [layer_type for _, layer_type in _sequence(net)]
    assert types == ['Input'] + ['Convolution2D', 'Pooling2D'] * 3 + [
        'FullyConnected', 'FullyConnected', 'SoftmaxCE', 'Loss']
    shapes = [layer.out_shapes['default'].feature_shape
              for name, layer in net.layers.items() if name.startswith(('Conv', 'Pool'))]
    assert shapes == [(32, 32, 32), (15, 15, 32), (15, 15, 32), (7, 7, 32), (7, 7, 64),
                      (3, 3, 64)]
    conv = net.architecture['Convolution2D_1']
    assert (conv['num_filters'], conv['kernel_size'], conv['padding']) == (32, [5, 5], 2)
    pool = net.architecture['Pooling2D_1']
    assert (pool['kernel_size'], pool['stride'], pool['type']) == ([3, 3], [2, 2], 'max')


def test_every_letter_builds_its_layer_with_its_arguments():
    net = create_net_from_spec('multi-label', (6, 6, 2), 4,
                               'Cs3:3p1s2 B Pa2 Lt5 Rl4 Fs3 D.1', mask_name='mask')
    architecture = net.architecture
    assert [layer_type for _, layer_type in _sequence(net)] == [
        'Input', 'Convolution2D', 'BatchNorm', 'Pooling2D', 'Lstm', 'Recurrent',
        'FullyConnected', 'Dropout', 'FullyConnected', 'SigmoidCE',
        'Mask', 'Loss']
    conv = architecture['Convolution2D']
    assert (conv['activation'], conv['stride'], conv['padding']) == ('sigmoid', [2, 2], 1)
    assert architecture['Pooling2D']['type'] == 'avg'
    assert (architecture['Lstm']['activation'], architecture['Lstm']['size']) == ('tanh', 5)
    assert architecture['Recurrent']['activation'] == 'linear'
    assert architecture['FullyConnected']['activation'] == 'sigmoid'
    assert architecture['Dropout']['drop_prob'] == 0.1


def test_empty_spec_connects_input_to_projection():
    net = create_net_from_spec('regression', 3, 2, '  ')
    assert _sequence(net) == [('Input', 'Input'), ('Output_projection', 'FullyConnected'),
                              ('Output', 'SquaredError'), ('Loss', 'Loss')]


def test_data_name_feeds_the_first_spec_layer():
    net = create_net_from_spec('classification', 3, 2, 'F4', data_name='x', targets_name='y')
    assert net.architecture['Input']['@outgoing_connections']['x'] == ['FullyConnected']
    assert net.architecture['Input']['@outgoing_connections']['y'] == ['Output.targets']


def test_initialization_uses_fan_in_out_with_the_activation_scale():
    net = create_net_from_spec('classification', 30, 10, 'Ft40 B Fs20')
    kinds = {(layer, parameter): type(initializer).__name__
             for layer, parameters in net.initializers.items()
             for parameter, initializer in parameters.items()}
    assert kinds[('FullyConnected_1', 'W')] == 'DenseSqrtFanInOut'
    assert kinds[('FullyConnected_1', 'bias')] == 'Gaussian'
    assert net.initializers['FullyConnected_1']['W'].scale == 'tanh'
    assert net.initializers['FullyConnected_2']['W'].scale == 'sigmoid'
    assert net.initializers['Output_projection']['W'].scale == 'linear'
    for name, fan_sum, scale in [('FullyConnected_1', 70, math.sqrt(6)),
                                 ('FullyConnected_2', 60, 4 * math.sqrt(6)),
                                 ('Output_projection', 30, 1.0)]:
        weights = net.get(f"{name}.parameters.W")
        bound = scale / math.sqrt(fan_sum)
        assert np.abs(weights).max() <= bound * (1 + 1e-6)
        assert np.abs(weights).max() > 0.8 * bound   # uniform: comes close to the bound
    np.testing.assert_array_equal(net.get('BatchNorm.parameters.gamma'), np.ones(40))
    np.testing.assert_array_equal(net.get('BatchNorm.parameters.sigma'), np.ones(40))
    np.testing.assert_array_equal(net.get('BatchNorm.parameters.beta'), np.zeros(40))
    assert np.std(net.get('FullyConnected_1.parameters.bias')) > 0  # Gaussian fallback


def test_spec_net_runs_forward_and_backward():
    net = create_net_from_spec('classification', (6, 6, 1), 3, 'Cr2:3p1 P2s2 B F4 D')
    rnd = np.random.RandomState(0)
    net.provide_external_data({'default': rnd.randn(1, 2, 6, 6, 1),
                               'targets': rnd.randint(0, 3, (1, 2, 1))})
    net.forward_pass(training_pass=True)
    net.backward_pass()
    assert np.isfinite(net.get_loss_values()['total_loss'])
    assert np.abs(net.get('gradients')).sum() > 0


@pytest.mark.parametrize('spec, in_shape, position, token', [
    ('F5 C3:2', 4, 3, 'C3:2'),                 # convolution on a non-image
    ('C3:9', (4, 4, 1), 0, 'C3:9'),            # kernel larger than the image
    ('F3 P 5', (4, 4, 1), 3, 'P5'),
])
def test_layers_that_do_not_fit_are_reported_at_their_position(spec, in_shape, position,
                                                                token):
    with pytest.raises(NetworkValidationError) as info:
        create_net_from_spec('classification', in_shape, 2, spec)
    assert str(info.value).startswith(f"spec {spec!r}: position {position}: {token!r} "
                                      f"cannot be built: ")


def test_syntax_errors_come_before_any_building():
    with pytest.raises(NetworkValidationError, match=r"position 4: unknown layer letter 'X'"):
        create_net_from_spec('classification', 4, 2, 'F50 X3')


def _no_huge_numbers(spec):
    digits = ''.join(character if character.isdigit() else ' ' for character in spec)
    return all(len(run) <= 2 for run in digits.split())


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='FRLBDCPXrstma0123456789.:ps ', max_size=14),
       st.sampled_from([5, (6, 6, 2)]))
def test_random_specs_give_a_network_or_a_network_validation_error(spec, in_shape):
    # numbers of at most two digits keep every network small
    assume(_no_huge_numbers(''.join(spec.split())))
    try:
        net = create_net_from_spec('classification', in_shape, 3, spec)
    except NetworkValidationError as error:
        assert str(error).startswith(f"spec {spec!r}: ")
        return
    assert isinstance(net, Network)
    assert list(net.layers)[-3:] == ['Output_projection', 'Output', 'Loss']


def test_per_pixel_classification_builds_and_scores_every_pixel():
    inp, out = get_in_out_layers('classification', (4, 4, 2), (4, 4, 3))
    net = Network.from_layer(inp >> out)
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(0.1)
    rnd = np.random.RandomState(0)
    targets = rnd.randint(0, 3, size=(1, 2, 4, 4, 1)).astype(np.float64)
    net.provide_external_data({'default': rnd.randn(1, 2, 4, 4, 2), 'targets': targets})
    net.forward_pass()
    predictions = net.get('Output.outputs.predictions')
    assert predictions.shape == (1, 2, 4, 4, 3)
    np.testing.assert_allclose(predictions.sum(axis=-1), 1.0)
    picked = np.take_along_axis(predictions, targets.astype(int), axis=-1)
    expected = -np.log(picked).sum() / 2
    assert net.get_loss_values()['total_loss'] == pytest.approx(expected)


def test_spec_string_layers_are_named_as_in_brainstorm_0_5():
    net = create_net_from_spec('classification', 4, 3, 'F8 F8 F8 D.5')
    assert list(net.layers)[:5] == ['Input', 'FullyConnected_1', 'FullyConnected_2',
                                    'FullyConnected_3', 'Dropout']
