"""Network.compute_data_deltas: skipping the deltas no gradient depends on."""

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler
from brainstorm.tools import create_net_from_spec

# (in_shape, spec, the layers whose whole backward pass is data-only work)
NETWORKS = {
    'mlp': (6, 'D.2 F7 D F5', {'Input', 'Dropout_1'}),
    'mlp_no_dropout': (6, 'F5', {'Input'}),
    'lstm': (6, 'L5', {'Input'}),
    'recurrent': (6, 'R5', {'Input'}),
    'conv': ((6, 6, 2), 'C3:3p1 P2s2 F4', {'Input'}),
    'batch_norm_first': (6, 'B F5', {'Input'}),
}
TIME_SIZE, BATCH_SIZE, CLASSES = 3, 4, 3


def run_backward(in_shape, spec, compute_data_deltas):
    """Gradients and the Input layer's output deltas after one backward pass."""
    net = create_net_from_spec('classification', in_shape, CLASSES, spec)
    net.set_handler(NumpyHandler(np.float64))
    net.initialize({'default': 0.3}, seed=1)
    rnd = np.random.RandomState(2)
    feature_shape = in_shape if isinstance(in_shape, tuple) else (in_shape,)
    net.provide_external_data({
        'default': rnd.standard_normal((TIME_SIZE, BATCH_SIZE) + feature_shape),
        'targets': rnd.randint(0, CLASSES, (TIME_SIZE, BATCH_SIZE, 1))})
    net.compute_data_deltas = compute_data_deltas
    # the same dropout masks in both runs
    net.handler.rnd.seed(3)
    net.forward_pass(training_pass=True)
    net.backward_pass()
    return net, net.get('gradients'), net.get('Input.output_deltas.default')


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_gradients_are_unchanged_and_data_deltas_are_not_computed(name):
    in_shape, spec, data_only = NETWORKS[name]
    _, all_gradients, all_data_deltas = run_backward(in_shape, spec, True)
    net, gradients, data_deltas = run_backward(in_shape, spec, False)
    assert np.abs(all_data_deltas).max() > 0
    np.testing.assert_allclose(gradients, all_gradients, rtol=1e-12, atol=1e-14)
    assert not data_deltas.any()
    assert net._layers_without_backward == data_only


def test_first_layer_skips_only_inputs_from_data():
    net = create_net_from_spec('classification', 6, CLASSES, 'D.2 F7 D F5')
    net.compute_data_deltas = False
    skipped = {name: layer.skipped_input_deltas for name, layer in net.layers.items()
               if layer.skipped_input_deltas}
    assert skipped == {'Dropout_1': {'default'}, 'FullyConnected_1': {'default'},
                       'Output': {'targets'}}


def test_turning_it_back_on_computes_the_data_deltas_again():
    net, _, _ = run_backward(6, 'D.2 F7 D F5', False)
    net.compute_data_deltas = True
    assert all(not layer.skipped_input_deltas for layer in net.layers.values())
    net.forward_pass(training_pass=True)
    net.backward_pass()
    assert np.abs(net.get('Input.output_deltas.default')).max() > 0


def test_default_computes_everything_as_the_spec_describes():
    net = create_net_from_spec('classification', 6, CLASSES, 'F5')
    assert net.compute_data_deltas is True
    assert all(not layer.skipped_input_deltas for layer in net.layers.values())
