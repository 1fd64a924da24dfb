"""BufferManager layout: transient internals share one region per buffer type."""

import numpy as np
import pytest

from brainstorm import layers
from brainstorm.errors import StructureValidationError
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.buffers import BufferManager
from brainstorm.structure.network import Network


def _net():
    # three layers with transient internals of different sizes, and a loss layer
    # with two of them (BinomialCrossEntropy: dx and denominator)
    inputs = layers.Input(out_shapes={'default': ('T', 'B', 3), 'targets': ('T', 'B', 2)})
    hidden = layers.FullyConnected(11, name='Wide')
    narrow = layers.FullyConnected(2, activation='sigmoid', name='Narrow')
    loss = layers.BinomialCrossEntropy(name='Cost')
    inputs - 'default' >> hidden >> narrow >> 'default' - loss
    inputs - 'targets' >> 'targets' - loss
    net = Network.from_layer(loss >> layers.Loss())
    net.buffer_manager.resize(4, 5)
    return net


def _transient_arrays(net):
    return {(name, internal): net.buffer[name].internals[internal]
            for name, layer in net.layers.items()
            for internal, structure in layer.internal_shapes.items() if structure.is_transient}


def test_transient_internals_of_different_layers_share_memory():
    net = _net()
    arrays = _transient_arrays(net)
    assert set(arrays) == {('Wide', 'dH'), ('Narrow', 'dH'), ('Cost', 'dx'),
                           ('Cost', 'denominator')}
    assert np.shares_memory(arrays['Wide', 'dH'], arrays['Narrow', 'dH'])
    assert np.shares_memory(arrays['Wide', 'dH'], arrays['Cost', 'dx'])


def test_transient_internals_of_one_layer_do_not_overlap():
    net = _net()
    arrays = _transient_arrays(net)
    assert not np.shares_memory(arrays['Cost', 'dx'], arrays['Cost', 'denominator'])


def test_transient_region_holds_the_largest_layer_and_nothing_else_overlaps_it():
    net = _net()
    manager = net.buffer_manager
    region = manager._memory['transient', 2]
    # Wide needs 4*5*11 = 220 elements; Cost 2 * 4*5*2 = 80; Narrow 40
    assert region.size == 220
    for key, memory in manager._memory.items():
        if key[0] != 'transient':
            assert not np.shares_memory(memory, region)
    manager.resize(6, 5)
    assert manager._memory['transient', 2].size == 330


def test_clearing_leaves_transient_internals_alone_and_layout_marks_them():
    net = _net()
    dH = net.buffer.Wide.internals.dH
    net.handler.fill(dH, 3.0)
    net.buffer_manager.clear_backward_buffers()
    assert (dH == 3.0).all()
    layout = net.buffer_manager.get_layout()
    assert layout['Wide']['internals']['dH']['@transient'] is True
    assert layout['Cost']['internals']['denominator']['@slice'] == (2, 4)
    assert '@transient' not in layout['Wide']['outputs']['default']


def test_transient_implies_backward_only_and_takes_no_context():
    structure = BufferStructure('T', 'B', 3, is_transient=True)
    assert structure.is_backward_only
    assert structure != BufferStructure('T', 'B', 3, is_backward_only=True)
    assert repr(structure) == "BufferStructure('T', 'B', 3, is_transient=True)"
    with pytest.raises(StructureValidationError, match='transient .* cannot have a context'):
        BufferStructure('T', 'B', 3, context_size=1, is_transient=True)


def test_gradients_are_the_same_as_with_separate_memory():
    # the shared region against a layout where each layer has its own: same results
    net = _net()
    separate = _net()
    for layer in separate.layers.values():
        for name, structure in list(layer.internal_shapes.items()):
            if structure.is_transient:
                layer.internal_shapes[name] = BufferStructure(
                    *structure.shape, is_backward_only=True)
    separate.buffer_manager = BufferManager(separate.layers, separate.handler)
    separate.buffer_manager.resize(4, 5)
    assert not _transient_arrays(separate)
    rnd = np.random.RandomState(1)
    data = {'default': rnd.standard_normal((4, 5, 3)),
            'targets': rnd.randint(0, 2, (4, 5, 2)).astype(float)}
    results = []
    for network in (net, separate):
        network.buffer.parameters[:] = np.linspace(-1, 1, network.buffer.parameters.size)
        network.provide_external_data(data)
        network.forward_pass(training_pass=True)
        network.backward_pass()
        results.append(np.array(network.buffer.gradients))
    assert np.count_nonzero(results[0]) == results[0].size
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


# -- the gradient tail (data-parallel training sends its stop flag in it) -------------------

@pytest.mark.parametrize('spec', ['F7 B F6', 'L5'])
def test_gradient_tail_follows_the_gradients_and_changes_no_gradient(spec):
    from brainstorm.handlers import NumpyHandler
    from brainstorm.initializers import Gaussian
    from brainstorm.tools import create_net_from_spec

    def gradients(tail):
        net = create_net_from_spec('classification', 3, 2, spec)
        net.set_handler(NumpyHandler(np.float64))
        net.initialize(Gaussian(0.5), seed=1)
        manager = net.buffer_manager
        if tail:
            manager.set_gradient_tail(tail)
            with_tail = manager.gradients_with_tail
            assert with_tail.shape == (manager.parameter_size + tail,)
            assert np.shares_memory(with_tail, net.buffer.gradients)
            assert with_tail[:manager.parameter_size].ctypes.data == \
                net.buffer.gradients.ctypes.data
            with_tail[manager.parameter_size:] = 42.0
        rnd = np.random.RandomState(2)
        net.provide_external_data({'default': rnd.randn(4, 3, 3),
                                   'targets': rnd.randint(0, 2, (4, 3, 1)).astype(float)})
        net.forward_pass(training_pass=True)
        net.backward_pass()
        if tail:  # no layer wrote into the tail, and clearing left it alone
            np.testing.assert_array_equal(
                manager.gradients_with_tail[manager.parameter_size:], 42.0)
        return net.get('gradients')

    plain = gradients(0)
    assert np.any(plain != 0)
    np.testing.assert_array_equal(gradients(1), plain)
    np.testing.assert_array_equal(gradients(3), plain)


def test_gradient_tail_moves_the_other_constant_backward_arrays_behind_it():
    from brainstorm.structure.buffers import BACKWARD
    net = _net()
    manager = net.buffer_manager
    # a constant backward array after the gradients, as a layer's backward-only internal
    manager._add_slot(('Wide', 'internals', 'scratch'), BACKWARD, BufferStructure(4))
    manager._plan_clearing()
    manager.set_gradient_tail(2)
    size = manager.parameter_size
    scratch = manager._arrays[('Wide', 'internals', 'scratch')]
    scratch[...] = 5.0
    manager.gradients_with_tail[size:] = 7.0
    assert not np.shares_memory(scratch, manager.gradients_with_tail)
    manager.clear_backward_buffers()
    np.testing.assert_array_equal(scratch, 0.0)  # cleared where it now lives
    np.testing.assert_array_equal(manager.gradients_with_tail[size:], 7.0)
