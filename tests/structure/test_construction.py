"""Wiring forms and custom layers of brainstorm 0.5's construction API."""

from collections import OrderedDict

import numpy as np
import pytest

from brainstorm.errors import NetworkValidationError
from brainstorm.handlers import NumpyHandler
from brainstorm.layers import FullyConnected, Input, Loss, SquaredDifference
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.structure.network import Network


def connections(net):
    """Every connection as 'Source.output->Target.input'."""
    found = set()
    for name, entry in net.architecture.items():
        for out_name, targets in entry['@outgoing_connections'].items():
            for target in targets:
                layer, _, in_name = target.partition('.')
                found.add(f"{name}.{out_name}->{layer}.{in_name or 'default'}")
    return found


def test_the_wiring_forms_of_the_data_format_chapter_mix_in_one_chain():
    inputs = Input(out_shapes={'input_data': ('T', 'B', 4), 'targets': ('T', 'B', 3)})
    difference = SquaredDifference(name='diff')
    # a - 'out' >> b,   a >> 'name' - b,   'in' - b - 'out' in the middle of a chain
    inputs - 'input_data' >> FullyConnected(3, name='Hid') >> 'inputs_1' - difference
    inputs - 'targets' >> 'inputs_2' - difference - 'default' >> 'default' - Loss(name='L')
    net = Network.from_layer(difference)
    assert connections(net) == {
        'Input.input_data->Hid.default', 'Hid.default->diff.inputs_1',
        'Input.targets->diff.inputs_2', 'diff.default->L.default'}


def test_an_input_and_output_selection_in_one_term():
    inputs = Input(out_shapes={'default': ('T', 'B', 4), 'targets': ('T', 'B', 4)})
    difference = SquaredDifference(name='diff')
    chain_end = inputs >> 'inputs_1' - difference - 'default' >> Loss(name='L')
    inputs - 'targets' >> 'inputs_2' - difference
    assert chain_end.name == 'L'
    # the selection may also start a chain
    assert {'Input.default->diff.inputs_1', 'diff.default->L.default',
            'Input.targets->diff.inputs_2'} == connections(Network.from_layer(chain_end))


def test_fully_connected_without_a_size_keeps_the_input_shape():
    out = Input(out_shapes={'default': ('T', 'B', 3, 2)}) >> FullyConnected(name='Same') >> \
        FullyConnected(size=None, name='Again')
    net = Network.from_layer(out)
    assert net.layers['Same'].out_shapes['default'].feature_shape == (3, 2)
    assert net.get('Again.parameters.W').shape == (6, 6)


class DoublingLayerImpl(Layer):
    """A user's layer as brainstorm 0.5 code writes one: y = factor * x."""

    expected_kwargs = {'factor'}

    def setup(self, kwargs, in_shapes):
        self.factor = kwargs.get('factor', 2.0)
        shape = in_shapes['default'].feature_shape
        return OrderedDict(default=BufferStructure('T', 'B', *shape)), OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        self.handler.mult_st(self.factor, buffers.inputs.default, buffers.outputs.default)

    def backward_pass(self, buffers):
        self.handler.mult_add_st(self.factor, buffers.output_deltas.default,
                                 buffers.input_deltas.default)


def test_a_custom_layer_is_created_with_its_class():
    def Doubling(factor=2.0, name=None):  # noqa: N802  (a factory, as 0.5 writes them)
        return ConstructionWrapper.create(DoublingLayerImpl, name=name, factor=factor)

    out = Input(out_shapes={'default': ('T', 'B', 2)}) >> Doubling(3.0) >> \
        FullyConnected(2, activation='linear', name='Out')
    net = Network.from_layer(out)
    assert net.architecture['Doubling']['@type'] == 'Doubling'
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(1.0)
    net.provide_external_data({'default': np.ones((1, 1, 2))})
    net.forward_pass()
    np.testing.assert_allclose(net.get('Doubling.outputs.default'), 3.0)
    # a saved architecture comes back to the same class
    assert type(Network.from_architecture(net.architecture).layers['Doubling']) is \
        DoublingLayerImpl


def test_create_refuses_a_class_that_is_no_layer_or_clashes():
    with pytest.raises(NetworkValidationError, match="not a layer implementation"):
        ConstructionWrapper.create(dict)
    clash = type('FullyConnectedLayerImpl', (Layer,), {})   # registers over the built-in...
    from brainstorm.layers import base_layer
    from brainstorm.layers.fully_connected_layer import FullyConnectedLayerImpl
    base_layer._LAYER_TYPES['FullyConnected'] = FullyConnectedLayerImpl   # ...put it back
    with pytest.raises(NetworkValidationError, match="already"):
        ConstructionWrapper.create(clash)


def test_buffer_views_unpack_and_iterate_like_lists():
    out = Input(out_shapes={'default': ('T', 'B', 3)}) >> FullyConnected(2, name='Hid')
    net = Network.from_layer(out)
    W, bias = net.buffer.Hid.parameters
    assert W is net.buffer.Hid.parameters.W and bias is net.buffer.Hid.parameters.bias
    assert [array.shape for array in net.buffer.Hid.parameters] == [(3, 2), (2,)]
    assert list(net.buffer.Hid.parameters.keys()) == ['W', 'bias']
    assert 'W' in net.buffer.Hid.parameters
