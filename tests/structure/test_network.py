"""The Network (spec 8.1, 9.3, 9.4): wiring, validation, buffers, initialisation,
modifiers, data, resizing and the HDF5 format."""

import json

import h5py
import numpy as np
import pytest

from brainstorm.errors import (DataError, FileFormatError, InitializationError,
                               LayerValidationError, NetworkValidationError)
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.initializers import Gaussian, Identity, Uniform
from brainstorm.layers import (FullyConnected, Input, Loss, SoftmaxCE, SquaredDifference,
                               SquaredError)
from brainstorm.structure.network import Network
from brainstorm.value_modifiers import ClipValues, ConstrainL2Norm, MaskValues


def spec_architecture():
    """The 9.3 example, with its syntax slips (missing braces and commas) corrected."""
    return {
        'Input': {
            '@type': 'Input',
            '@outgoing_connections': {
                'default': ['hidden_layer'],
                'targets': ['output_layer.targets'],
            },
            'out_shapes': {
                'default': ('T', 'B', 784),
                'targets': ('T', 'B', 1),
            },
        },
        'hidden_layer': {
            '@type': 'FullyConnected',
            '@outgoing_connections': {
                'default': ['output_projection'],
            },
            'activation': 'rel',
            'size': 100,
        },
        'output_projection': {
            '@type': 'FullyConnected',
            '@outgoing_connections': {
                'default': ['output_layer'],
            },
            'activation': 'linear',
            'size': (10,),
        },
        'output_layer': {
            '@type': 'SoftmaxCE',
            '@outgoing_connections': {
                'loss': ['loss_layer'],
            },
        },
        'loss_layer': {
            '@outgoing_connections': {},
            '@type': 'Loss',
            'importance': 1.0,
        },
    }


def small_architecture():
    """Like the spec's, but small: 4 inputs -> 5 hidden -> 3 classes."""
    architecture = spec_architecture()
    architecture['Input']['out_shapes'] = {'default': ('T', 'B', 4), 'targets': ('T', 'B', 1)}
    architecture['hidden_layer']['size'] = 5
    architecture['output_projection']['size'] = 3
    return architecture


def float64_net(architecture=None):
    net = Network.from_architecture(architecture or small_architecture())
    net.set_handler(NumpyHandler(np.float64))
    return net


def classification_data(time_steps=2, batch_size=3, seed=0, classes=3, features=4):
    rnd = np.random.RandomState(seed)
    return {'default': rnd.standard_normal((time_steps, batch_size, features)),
            'targets': rnd.randint(0, classes, (time_steps, batch_size, 1)).astype(float)}


def wired_like_9_4_6():
    """Spec 9.4.6's wiring: named Input outputs, named inputs of the last layer."""
    inputs = Input(out_shapes={'input_data': (4,), 'targets': (10,)})
    difference = SquaredDifference(name='Mse')
    inputs - 'input_data' >> FullyConnected(5, name='Hidden') >> \
        FullyConnected(10, name='OutLayer') >> 'inputs_1' - difference
    inputs - 'targets' >> 'inputs_2' - difference
    difference >> Loss(name='Loss')
    return Network.from_layer(difference)


# ---- construction -----------------------------------------------------------------------

def test_9_4_6_wiring_connects_named_outputs_to_named_inputs():
    net = wired_like_9_4_6()
    assert list(net.layers) == ['Input', 'Hidden', 'OutLayer', 'Mse', 'Loss']
    assert net.architecture['Input']['@outgoing_connections'] == {
        'input_data': ['Hidden'], 'targets': ['Mse.inputs_2']}
    assert net.architecture['OutLayer']['@outgoing_connections'] == {
        'default': ['Mse.inputs_1']}
    # the layer's inputs are views of the outputs they are connected to
    assert np.shares_memory(net.buffer.Mse.inputs.inputs_2, net.buffer.Input.outputs.targets)
    assert np.shares_memory(net.buffer.Mse.inputs.inputs_1, net.buffer.OutLayer.outputs.default)


def test_9_4_6_network_runs_forward_and_backward():
    net = wired_like_9_4_6()
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(Gaussian(0.1), seed=3)
    rnd = np.random.RandomState(1)
    net.provide_external_data({'input_data': rnd.standard_normal((2, 3, 4)),
                               'targets': rnd.standard_normal((2, 3, 10))})
    net.forward_pass()
    prediction = net.get('OutLayer.outputs.default')
    expected = np.sum((prediction - net.get_input('targets')) ** 2) / 3
    assert net.get_loss_values()['total_loss'] == pytest.approx(expected)
    net.backward_pass()
    assert np.any(net.get('gradients') != 0)


def test_spec_architecture_builds_and_round_trips_through_from_layer():
    net = Network.from_architecture(spec_architecture())
    assert list(net.layers) == ['Input', 'hidden_layer', 'output_projection', 'output_layer',
                                'loss_layer']
    assert net.buffer.hidden_layer.parameters.W.shape == (784, 100)
    assert net.buffer.output_projection.parameters.W.shape == (100, 10)
    assert net.get('parameters').shape == (784 * 100 + 100 + 100 * 10 + 10,)
    assert json.loads(json.dumps(net.architecture)) == net.architecture


def test_unnamed_layers_get_type_names():
    inputs = Input(out_shapes={'default': (2,), 'targets': (1,)})
    out = inputs >> FullyConnected(3) >> FullyConnected(2) >> SoftmaxCE()
    inputs - 'targets' >> 'targets' - out
    out - 'loss' >> Loss()
    net = Network.from_layer(out)
    # brainstorm 0.5: a repeated base name is suffixed on *all* its layers
    assert list(net.layers) == ['Input', 'FullyConnected_1', 'FullyConnected_2', 'SoftmaxCE',
                                'Loss']


def test_chain_of_the_issue_names_repeated_types_and_keeps_explicit_names():
    out = (Input(out_shapes={'default': ('T', 'B', 4)}) >> FullyConnected(2) >>
           FullyConnected(3) >> FullyConnected(1, name='OutputLayer'))
    assert list(Network.from_layer(out).layers) == [
        'Input', 'FullyConnected_1', 'FullyConnected_2', 'OutputLayer']


def test_duplicate_explicit_names_are_suffixed_not_refused():
    out = (Input(out_shapes={'default': ('T', 'B', 4)}) >> FullyConnected(2, name='Hid') >>
           FullyConnected(3, name='Hid') >> FullyConnected(1, name='Out'))
    assert list(Network.from_layer(out).layers) == ['Input', 'Hid_1', 'Hid_2', 'Out']


def test_suffixes_skip_names_other_layers_hold():
    out = (Input(out_shapes={'default': ('T', 'B', 4)}) >> FullyConnected(2) >>
           FullyConnected(3, name='FullyConnected_1') >> FullyConnected(1) >>
           FullyConnected(5))
    assert list(Network.from_layer(out).layers) == [
        'Input', 'FullyConnected_2', 'FullyConnected_1', 'FullyConnected_3',
        'FullyConnected_4']


# ---- validation errors ------------------------------------------------------------------

def test_unknown_layer_type_suggests_a_close_name():
    architecture = small_architecture()
    architecture['hidden_layer']['@type'] = 'FullyConected'
    with pytest.raises(NetworkValidationError, match=r"unknown layer type 'FullyConected'.*"
                                                     r"did you mean 'FullyConnected'"):
        Network.from_architecture(architecture)


def test_unconnected_input_is_an_error():
    architecture = small_architecture()
    architecture['Input']['@outgoing_connections'] = {'default': ['hidden_layer']}
    with pytest.raises(NetworkValidationError, match=r"'output_layer'.*input 'targets' is "
                                                     r"not connected"):
        Network.from_architecture(architecture)


def test_doubly_connected_input_is_an_error():
    architecture = small_architecture()
    architecture['hidden_layer']['@outgoing_connections']['default'].append('output_layer')
    with pytest.raises(NetworkValidationError, match=r"input 'default' of layer "
                                                     r"'output_layer' is connected twice"):
        Network.from_architecture(architecture)


def test_doubly_connected_input_is_an_error_while_wiring():
    inputs = Input(out_shapes={'default': (2,)})
    layer = FullyConnected(2)
    inputs >> layer
    with pytest.raises(NetworkValidationError, match="connected twice"):
        inputs >> layer


def test_cycle_is_an_error():
    architecture = small_architecture()
    architecture['output_projection']['@outgoing_connections']['default'] = ['output_layer']
    architecture['hidden_layer']['@type'] = 'Merge'
    del architecture['hidden_layer']['size'], architecture['hidden_layer']['activation']
    architecture['Input']['@outgoing_connections']['default'] = ['hidden_layer.inputs_1']
    architecture['output_projection']['@outgoing_connections']['default'] = [
        'output_layer', 'hidden_layer.inputs_2']
    with pytest.raises(NetworkValidationError, match="cycle"):
        Network.from_architecture(architecture)


def test_shape_mismatch_is_an_error():
    architecture = small_architecture()
    # SoftmaxCE's targets must have one feature (class indices)
    architecture['Input']['out_shapes']['targets'] = ('T', 'B', 3)
    with pytest.raises(LayerValidationError, match=r"'output_layer'.*targets have feature "
                                                   r"shape \(3,\), expected \(1,\)"):
        Network.from_architecture(architecture)


def test_no_input_layer_is_an_error():
    architecture = small_architecture()
    del architecture['Input']
    with pytest.raises(NetworkValidationError, match="no Input layer"):
        Network.from_architecture(architecture)


def test_connection_to_unknown_layer_is_an_error():
    architecture = small_architecture()
    architecture['hidden_layer']['@outgoing_connections']['default'] = ['output_projektion']
    with pytest.raises(NetworkValidationError, match="did you mean 'output_projection'"):
        Network.from_architecture(architecture)


def test_unknown_kwarg_is_an_error():
    architecture = small_architecture()
    architecture['hidden_layer']['activaton'] = 'rel'
    with pytest.raises(LayerValidationError, match="did you mean 'activation'"):
        Network.from_architecture(architecture)


# ---- buffers and access -------------------------------------------------------------------

def test_buffers_by_attribute_key_and_dotted_path_are_the_same_arrays():
    net = float64_net()
    by_attribute = net.buffer.hidden_layer.parameters.W
    assert by_attribute is net.buffer['hidden_layer.parameters.W']
    assert by_attribute is net.buffer['hidden_layer']['parameters']['W']
    assert net.buffer.Input.outputs.default is net.buffer['Input.outputs.default']
    with pytest.raises(AttributeError, match="did you mean 'parameters'"):
        net.buffer.hidden_layer.parameter
    with pytest.raises(KeyError):
        net.buffer['hidden_layer.parameters.Q']


def test_parameters_and_gradients_are_one_contiguous_array_each():
    net = float64_net()
    parameters = net.buffer.parameters
    for layer_name in ('hidden_layer', 'output_projection'):
        for name in ('W', 'bias'):
            assert np.shares_memory(net.buffer[layer_name].parameters[name], parameters)
            assert np.shares_memory(net.buffer[layer_name].gradients[name],
                                    net.buffer.gradients)
    assert parameters.size == 4 * 5 + 5 + 5 * 3 + 3
    assert parameters.flags.c_contiguous


def test_get_returns_copies():
    net = float64_net()
    net.initialize(1.0)
    copy = net.get('parameters')
    copy[:] = 7.0
    assert np.all(net.get('parameters') == 1.0)
    assert np.all(net.get('hidden_layer.parameters.bias') == 1.0)
    with pytest.raises(KeyError):
        net.get('hidden_layer.parameters')
    with pytest.raises(KeyError):
        net.get('no_such_layer.outputs.default')


def test_get_input_and_outputs_after_forward_pass():
    net = float64_net()
    net.initialize(Gaussian(0.5), seed=1)
    data = classification_data()
    net.provide_external_data(data)
    net.forward_pass()
    np.testing.assert_array_equal(net.get_input('default'), data['default'])
    np.testing.assert_array_equal(net.get_input('targets'), data['targets'])
    predictions = net.get('output_layer.outputs.predictions')
    assert predictions.shape == (2, 3, 3)
    np.testing.assert_allclose(predictions.sum(axis=2), 1.0)
    # the old name still works
    np.testing.assert_array_equal(net.get('output_layer.outputs.probabilities'), predictions)


def test_get_loss_values_with_one_loss_layer():
    net = float64_net()
    net.initialize(Gaussian(0.5), seed=1)
    data = classification_data()
    net.provide_external_data(data)
    net.forward_pass()
    predictions = net.get('output_layer.outputs.predictions')
    targets = data['targets'][..., 0].astype(int)
    chosen = np.take_along_axis(predictions, targets[..., None], axis=2)
    expected = -np.log(chosen).sum() / 3
    losses = net.get_loss_values()
    assert list(losses) == ['total_loss']
    assert losses['total_loss'] == pytest.approx(expected)


def test_get_loss_values_with_several_loss_layers():
    inputs = Input(out_shapes={'default': (3,), 'targets': (3,)})
    out = inputs >> FullyConnected(3, activation='linear', name='Projection') >> \
        SquaredError(name='Output')
    inputs - 'targets' >> 'targets' - out
    out - 'loss' >> Loss(importance=1.0, name='MainLoss')
    net_layer = out - 'loss' >> Loss(importance=0.5, name='HalfLoss')
    net = Network.from_layer(net_layer)
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(Gaussian(0.5), seed=1)
    rnd = np.random.RandomState(0)
    net.provide_external_data({'default': rnd.standard_normal((2, 4, 3)),
                               'targets': rnd.standard_normal((2, 4, 3))})
    net.forward_pass()
    losses = net.get_loss_values()
    assert set(losses) == {'total_loss', 'MainLoss', 'HalfLoss'}
    assert losses['HalfLoss'] == pytest.approx(0.5 * losses['MainLoss'])
    assert losses['total_loss'] == pytest.approx(losses['MainLoss'] + losses['HalfLoss'])
    # the deltas of both losses add up
    net.backward_pass()
    error = net.get('Output.outputs.predictions') - net.get_input('targets')
    np.testing.assert_allclose(net.get('Projection.output_deltas.default'), error * 1.5 / 4)


def test_get_context_is_empty_for_feed_forward_nets_and_accepted_back():
    net = float64_net()
    net.initialize(Gaussian(0.5), seed=1)
    net.provide_external_data(classification_data())
    net.forward_pass()
    context = net.get_context()
    assert context == {}
    before = net.get('output_layer.outputs.predictions')
    net.forward_pass(context=context)
    np.testing.assert_array_equal(net.get('output_layer.outputs.predictions'), before)


# ---- initialize ------------------------------------------------------------------------------

def test_initialize_with_a_default_initializer_in_all_three_styles():
    values = []
    for call in (lambda net: net.initialize(Gaussian(), seed=5),
                 lambda net: net.initialize(default=Gaussian(), seed=5),
                 lambda net: net.initialize({'default': Gaussian()}, seed=5)):
        net = float64_net()
        call(net)
        values.append(net.get('parameters'))
    np.testing.assert_array_equal(values[0], values[1])
    np.testing.assert_array_equal(values[0], values[2])
    assert np.std(values[0]) > 0.01


def test_initialize_with_the_same_seed_is_reproducible_and_other_seeds_differ():
    first, second, third = float64_net(), float64_net(), float64_net()
    first.initialize(Gaussian(), seed=1234)
    second.initialize(Gaussian(), seed=1234)
    third.initialize(Gaussian(), seed=4321)
    np.testing.assert_array_equal(first.get('parameters'), second.get('parameters'))
    assert not np.array_equal(first.get('parameters'), third.get('parameters'))


def test_initialize_with_wildcards_subdicts_scalars_and_arrays():
    net = float64_net()
    weights = np.arange(15.0).reshape(5, 3)
    net.initialize({'hidden_*': {'W': Uniform(-0.1, 0.1), 'bias': 2.0},
                    'output_*': {'W': weights, 'default': -1.0}})
    hidden_weights = net.get('hidden_layer.parameters.W')
    assert np.all(np.abs(hidden_weights) <= 0.1) and np.std(hidden_weights) > 0
    assert np.all(net.get('hidden_layer.parameters.bias') == 2.0)
    np.testing.assert_array_equal(net.get('output_projection.parameters.W'), weights)
    assert np.all(net.get('output_projection.parameters.bias') == -1.0)


def test_initialize_keyword_arguments_take_precedence_over_the_dict():
    net = float64_net()
    net.initialize({'hidden_layer': 1.0, 'default': 0.0}, hidden_layer=3.0)
    assert np.all(net.get('hidden_layer.parameters.W') == 3.0)
    assert np.all(net.get('output_projection.parameters.W') == 0.0)


def test_initialize_uses_the_fallback_where_an_initializer_fails():
    net = float64_net()
    # Identity needs square matrices: hidden W is 4x5, so the fallback is used there
    net.initialize(default=Identity(std=0.0), fallback=0.25,
                   output_projection={'bias': 0.0, 'W': 0.5})
    assert np.all(net.get('hidden_layer.parameters.W') == 0.25)
    assert np.all(net.get('hidden_layer.parameters.bias') == 0.25)


def test_initialize_failing_without_fallback_names_the_parameter():
    net = float64_net()
    with pytest.raises(InitializationError, match=r"hidden_layer\.parameters\.W"):
        net.initialize(Identity())


def test_initialize_ambiguous_patterns_are_an_error():
    net = float64_net()
    with pytest.raises(NetworkValidationError, match="more than one"):
        net.initialize({'hidden_*': 1.0, '*_layer': 2.0, 'default': 0.0})


def test_initialize_pattern_matching_nothing_is_an_error():
    net = float64_net()
    with pytest.raises(NetworkValidationError, match="matches nothing.*did you mean"):
        net.initialize({'hiden_layer': 1.0, 'default': 0.0})
    with pytest.raises(NetworkValidationError, match="matches nothing"):
        net.initialize({'hidden_layer': {'V': 1.0}, 'default': 0.0})


def test_initialize_missing_parameter_is_an_error():
    net = float64_net()
    with pytest.raises(NetworkValidationError, match=r"no initializer for "
                                                     r"output_projection\.parameters"):
        net.initialize(hidden_layer=1.0)


def test_initialize_with_an_array_of_wrong_shape_is_an_error():
    net = float64_net()
    with pytest.raises(InitializationError):
        net.initialize(default=0.0, hidden_layer={'W': np.zeros((3, 3))})


# ---- modifiers -------------------------------------------------------------------------------

def test_set_weight_modifiers_spec_example():
    net = float64_net()
    net.initialize(Gaussian(2.0), seed=2)
    before = {path: net.get(path) for path in (
        'hidden_layer.parameters.bias', 'output_projection.parameters.W',
        'output_projection.parameters.bias')}
    mask = np.ones((4, 5))
    mask[0] = 0.0
    net.set_weight_modifiers(default=ClipValues(-1, 1),
                             hidden_layer={'W': [ConstrainL2Norm(1.0), MaskValues(mask)]})
    net.apply_weight_modifiers()
    hidden_weights = net.get('hidden_layer.parameters.W')
    assert np.all(hidden_weights[0] == 0.0)
    assert np.all(np.sqrt((hidden_weights ** 2).sum(axis=0)) <= 1.0 + 1e-12)
    assert np.any(np.abs(hidden_weights) > 1.0 / np.sqrt(20))  # not just clipped
    for path, values in before.items():
        np.testing.assert_array_equal(net.get(path), np.clip(values, -1, 1), err_msg=path)
    assert any(np.any(np.abs(values) > 1) for values in before.values())


def test_modifier_lists_run_in_their_order():
    net = float64_net()
    net.initialize(3.0)
    mask = np.full((4, 5), 0.5)
    # clip then mask: 1 * 0.5; mask then clip: min(1.5, 1)
    net.set_weight_modifiers(hidden_layer={'W': [ClipValues(-1, 1), MaskValues(mask)]})
    net.apply_weight_modifiers()
    assert np.all(net.get('hidden_layer.parameters.W') == 0.5)
    net.initialize(3.0)
    net.set_weight_modifiers(hidden_layer={'W': [MaskValues(mask), ClipValues(-1, 1)]})
    net.apply_weight_modifiers()
    assert np.all(net.get('hidden_layer.parameters.W') == 1.0)


def test_gradient_modifiers_run_after_every_backward_pass():
    net = float64_net()
    net.initialize(Gaussian(3.0), seed=1)
    net.set_gradient_modifiers(output_projection={'W': ClipValues(-1e-3, 1e-3)})
    net.provide_external_data(classification_data())
    net.forward_pass()
    net.backward_pass()
    gradients = net.get('output_projection.gradients.W')
    assert np.all(np.abs(gradients) <= 1e-3) and np.any(np.abs(gradients) == 1e-3)
    assert np.any(np.abs(net.get('hidden_layer.gradients.W')) > 1e-3)


def test_modifiers_reject_fallback_and_non_modifiers():
    net = float64_net()
    with pytest.raises(NetworkValidationError, match="fallback"):
        net.set_weight_modifiers(fallback=ClipValues())
    with pytest.raises(NetworkValidationError, match="ValueModifier"):
        net.set_gradient_modifiers(hidden_layer=3.0)
    with pytest.raises(NetworkValidationError, match="matches nothing"):
        net.set_weight_modifiers(hiden_layer=ClipValues())


# ---- handler, data, resize --------------------------------------------------------------------

def test_set_handler_keeps_the_parameter_values():
    net = Network.from_architecture(small_architecture())
    net.initialize(Gaussian(), seed=7)
    before = net.get('parameters')
    net.set_handler(DebugHandler(NumpyHandler(np.float64)))
    assert net.get('parameters').dtype == np.float64
    np.testing.assert_array_equal(net.get('parameters'), before)
    net.provide_external_data(classification_data())
    net.forward_pass()
    net.backward_pass()
    net.set_handler(NumpyHandler(np.float32))
    np.testing.assert_array_equal(net.get('parameters'), before)


def test_provide_external_data_unknown_name():
    net = float64_net()
    data = classification_data()
    data['defualt'] = data['default']
    with pytest.raises(DataError, match="no input named 'defualt'.*did you mean 'default'"):
        net.provide_external_data(data)


def test_provide_external_data_missing_name():
    net = float64_net()
    data = classification_data()
    del data['targets']
    with pytest.raises(DataError, match="'targets' was not provided"):
        net.provide_external_data(data)
    net.provide_external_data(data, all_inputs=False)


@pytest.mark.parametrize('name, shape, message', [
    ('default', (2, 3, 5), r"input 'default' has shape \(2, 3, 5\), expected \('T', 'B', 4\)"),
    ('default', (2, 3), "input 'default' has shape"),
    ('targets', (3, 3, 1), "3 time steps"),
    ('targets', (2, 4, 1), "batch size 4"),
], ids=['features', 'no-features', 'time-mismatch', 'batch-mismatch'])
def test_provide_external_data_wrong_shapes(name, shape, message):
    net = float64_net()
    data = classification_data()
    data[name] = np.zeros(shape)
    with pytest.raises(DataError, match=message):
        net.provide_external_data(data)


def test_resize_with_changing_time_and_batch_sizes():
    net = float64_net()
    net.initialize(Gaussian(0.5), seed=1)
    results = {}
    for time_steps, batch_size in ((2, 3), (5, 1), (1, 7), (2, 3)):
        data = classification_data(time_steps, batch_size, seed=time_steps)
        net.provide_external_data(data)
        net.forward_pass()
        net.backward_pass()
        predictions = net.get('output_layer.outputs.predictions')
        assert predictions.shape == (time_steps, batch_size, 3)
        assert net.get('hidden_layer.output_deltas.default').shape == (time_steps, batch_size, 5)
        # each sequence is computed on its own, whatever the batch around it
        fresh = float64_net()
        fresh.handler.set_from_numpy(fresh.buffer.parameters, net.get('parameters'))
        fresh.provide_external_data({name: values[:, :1] for name, values in data.items()})
        fresh.forward_pass()
        np.testing.assert_allclose(predictions[:, :1],
                                   fresh.get('output_layer.outputs.predictions'))
        results[(time_steps, batch_size)] = net.get_loss_values()['total_loss']
    assert net.get('parameters').shape == (4 * 5 + 5 + 5 * 3 + 3,)


def test_backward_pass_without_forward_pass_is_an_error():
    net = float64_net()
    net.provide_external_data(classification_data())
    with pytest.raises(NetworkValidationError, match="forward_pass"):
        net.backward_pass()


# ---- HDF5 ---------------------------------------------------------------------------------------

def trained_looking_net():
    net = Network.from_architecture(small_architecture())
    net.initialize(Gaussian(0.7), seed=11)
    net.set_weight_modifiers(hidden_layer={'W': ClipValues(-0.5, 0.5)})
    return net


def test_hdf5_round_trip_gives_bit_identical_outputs(tmp_path):
    net = trained_looking_net()
    filename = tmp_path / 'net.h5'
    net.save_as_hdf5(filename, comment='round trip')
    loaded = Network.from_hdf5(filename)
    assert loaded.architecture == net.architecture
    np.testing.assert_array_equal(loaded.get('parameters'), net.get('parameters'))
    data = classification_data()
    for each in (net, loaded):
        each.provide_external_data(data)
        each.forward_pass()
    np.testing.assert_array_equal(loaded.get('output_layer.outputs.predictions'),
                                  net.get('output_layer.outputs.predictions'))
    assert loaded.get_loss_values() == net.get_loss_values()
    assert list(loaded.weight_modifiers) == ['hidden_layer']
    with h5py.File(filename, 'r') as f:
        assert f.attrs['comment'] == 'round trip'
    assert [p.name for p in tmp_path.iterdir()] == ['net.h5']  # no temporary left


def _rewrite(filename, change):
    with h5py.File(filename, 'r+') as f:
        change(f)


def _set_description(f, change):
    description = json.loads(f.attrs['description'])
    change(description)
    f.attrs['description'] = json.dumps(description)


def test_hdf5_unknown_type_is_a_file_format_error(tmp_path):
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)
    _rewrite(filename, lambda f: _set_description(
        f, lambda d: d['architecture']['hidden_layer'].update({'@type': 'os.system'})))
    with pytest.raises(FileFormatError, match="unknown layer type 'os.system'"):
        Network.from_hdf5(filename)


def test_hdf5_unknown_modifier_type_is_a_file_format_error(tmp_path):
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)

    def change(description):
        description['weight_modifiers']['hidden_layer']['W'][0]['@type'] = 'subprocess.Popen'
    _rewrite(filename, lambda f: _set_description(f, change))
    with pytest.raises(FileFormatError, match="subprocess.Popen"):
        Network.from_hdf5(filename)


def test_hdf5_missing_parameters_is_a_file_format_error(tmp_path):
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)
    _rewrite(filename, lambda f: f.__delitem__('parameters'))
    with pytest.raises(FileFormatError, match="'parameters' is missing"):
        Network.from_hdf5(filename)


def test_hdf5_wrong_number_of_parameters_is_a_file_format_error(tmp_path):
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)

    def shorten(f):
        values = f['parameters'][()]
        del f['parameters']
        f.create_dataset('parameters', data=values[:-1])
    _rewrite(filename, shorten)
    with pytest.raises(FileFormatError, match="parameters"):
        Network.from_hdf5(filename)


@pytest.mark.parametrize('keep', [0.5, 0.9, 0.2])
def test_hdf5_truncated_file_is_a_file_format_error(tmp_path, keep):
    filename = tmp_path / 'net.h5'
    Network.from_architecture(spec_architecture()).save_as_hdf5(filename)
    content = filename.read_bytes()
    filename.write_bytes(content[:int(len(content) * keep)])
    with pytest.raises(FileFormatError):
        Network.from_hdf5(filename)


@pytest.mark.parametrize('content', [b'', b'not an hdf5 file at all\n' * 10,
                                     b'\x89HDF\r\n\x1a\n' + b'\x00' * 100],
                         ids=['empty', 'text', 'bad-hdf5-signature'])
def test_non_hdf5_file_is_a_file_format_error(tmp_path, content):
    filename = tmp_path / 'net.h5'
    filename.write_bytes(content)
    with pytest.raises(FileFormatError):
        Network.from_hdf5(filename)


def test_missing_file_is_a_file_format_error(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        Network.from_hdf5(tmp_path / 'absent.h5')


def test_hdf5_file_of_another_kind_is_a_file_format_error(tmp_path):
    filename = tmp_path / 'other.h5'
    with h5py.File(filename, 'w') as f:
        f.create_dataset('parameters', data=np.zeros(3))
    with pytest.raises(FileFormatError, match="not a brainstorm network"):
        Network.from_hdf5(filename)


class _Exploit:
    """Pickling this would run ``touch <marker>`` when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def _crafted_payloads(marker):
    import pickle
    return {
        'pickle-bytes': np.void(pickle.dumps(_Exploit(marker))),
        'pickle-text': pickle.dumps(_Exploit(marker), protocol=0).decode('latin-1'),
        'python-expression': f"__import__('os').system('touch {marker}')",
        'python-dict': "{'architecture': __import__('os').system('touch %s')}" % marker,
    }


@pytest.mark.parametrize('payload_name', ['pickle-bytes', 'pickle-text', 'python-expression',
                                          'python-dict'])
@pytest.mark.parametrize('attribute', ['description', 'format', 'format_version'])
def test_crafted_attributes_give_file_format_errors_and_run_nothing(tmp_path, payload_name,
                                                                     attribute):
    marker = tmp_path / 'pwned'
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)
    payload = _crafted_payloads(marker)[payload_name]
    _rewrite(filename, lambda f: f.attrs.__setitem__(attribute, payload))
    with pytest.raises(FileFormatError):
        Network.from_hdf5(filename)
    assert not marker.exists()


def test_crafted_description_values_are_data_not_code(tmp_path):
    marker = tmp_path / 'pwned'
    filename = tmp_path / 'net.h5'
    trained_looking_net().save_as_hdf5(filename)

    def change(description):
        description['architecture']['hidden_layer']['activation'] = \
            f"__import__('os').system('touch {marker}')"
        description['initializers'] = {'@type': '__builtin__.eval',
                                       'source': f"open('{marker}', 'w')"}
    _rewrite(filename, lambda f: _set_description(f, change))
    with pytest.raises(FileFormatError):
        Network.from_hdf5(filename)
    assert not marker.exists()


def test_layer_parameter_defaults_beat_the_catch_all_default_but_not_a_layer_pattern():
    from brainstorm.layers import BatchNorm
    inp = Input(out_shapes={'default': (3,)})
    net = Network.from_layer(inp >> BatchNorm(name='BN') >> FullyConnected(2, name='FC'))
    net.initialize(Gaussian(1.0), seed=3)
    np.testing.assert_array_equal(net.get('BN.parameters.gamma'), 1.0)
    np.testing.assert_array_equal(net.get('BN.parameters.sigma'), 1.0)
    np.testing.assert_array_equal(net.get('BN.parameters.beta'), 0.0)
    assert np.abs(net.get('FC.parameters.W')).max() > 0
    net.initialize({'default': Gaussian(1.0), 'BN': {'gamma': 2.0, 'default': 0.5}})
    np.testing.assert_array_equal(net.get('BN.parameters.gamma'), 2.0)
    np.testing.assert_array_equal(net.get('BN.parameters.mu'), 0.5)


def test_a_saved_network_with_modifiers_loads_in_a_fresh_process(tmp_path):
    # the stored modifier descriptions must resolve without the user importing their module
    import subprocess
    import sys
    filename = tmp_path / 'net.h5'
    save = ("import sys\n"
            "from brainstorm.structure.network import Network\n"
            "from brainstorm.layers import Input, FullyConnected\n"
            "from brainstorm.value_modifiers import ClipValues\n"
            "net = Network.from_layer(Input(out_shapes={'default': (3,)}) >> "
            "FullyConnected(2, name='FC'))\n"
            "net.set_weight_modifiers(FC={'W': ClipValues()})\n"
            "net.save_as_hdf5(sys.argv[1])\n")
    load = ("import sys\n"
            "from brainstorm.structure.network import Network\n"
            "net = Network.from_hdf5(sys.argv[1])\n"
            "print(type(net.weight_modifiers['FC']['W'][0]).__name__)\n")
    subprocess.run([sys.executable, '-c', save, str(filename)], check=True)
    result = subprocess.run([sys.executable, '-c', load, str(filename)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == 'ClipValues'


def test_a_network_larger_than_memory_is_refused_before_allocating(monkeypatch):
    from brainstorm.errors import NetworkValidationError
    from brainstorm.structure import buffers
    monkeypatch.setattr(buffers, 'physical_memory_bytes', lambda: 10_000)
    inp = Input(out_shapes={'default': ('T', 'B', 10)})
    with pytest.raises(NetworkValidationError, match=r"the network has 2,200 parameters: they "
                                                     r"and their gradients need"):
        Network.from_layer(inp >> FullyConnected(200, name='Big'))
    # one that fits is built as before
    Network.from_layer(Input(out_shapes={'default': ('T', 'B', 10)}) >>
                       FullyConnected(20, name='Small'))


@pytest.mark.parametrize('key', ['__class__', '__dict__', 'net', 'run', 'start', 123])
def test_a_description_sets_only_data_attributes(key):
    import brainstorm.training.steppers  # noqa: F401 (registers SgdStepper)
    from brainstorm.describable import create_from_description
    from brainstorm.errors import DescriptionError
    with pytest.raises(DescriptionError, match='is not an attribute a description may set'):
        create_from_description({'@type': 'SgdStepper', key: 'x'})
    assert create_from_description({'@type': 'SgdStepper', 'learning_rate': 0.5}) \
        .learning_rate == 0.5
