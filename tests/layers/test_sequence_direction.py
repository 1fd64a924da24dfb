"""Reversed recurrent layers, masks of uneven lengths, Bidirectional, and Gru against numpy.

The finite-difference, contract and handler checks of these layers come from
their LayerCases (cases_sequence_direction.py); here: a reversed layer on data
reversed within each sequence equals the forward layer (outputs, input deltas and
gradients), the Gru forward pass equals a plain numpy loop, and the
Bidirectional helper and spec syntax build what they promise.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from brainstorm import layers
from brainstorm.errors import NetworkValidationError
from brainstorm.handlers import NumpyHandler
from brainstorm.structure.network import Network
from brainstorm.testing import LayerHarness, check_layer_gradients
from brainstorm.tools import create_net_from_spec
from tests.cuda_emulator import emulated_pycuda_handler
from tests.cuda_emulator.marks import needs_emulator
from tests.layers.cases import ALL_CASES
from tests.layers.cases_sequence_direction import uneven_mask

LENGTHS = (5, 2, 4)


def reverse_within(array, lengths):
    """array[len_b - 1 - t, b] for t < len_b, zeros on the padding after it."""
    result = np.zeros_like(array)
    for column, length in enumerate(lengths):
        result[:length, column] = array[:length, column][::-1]
    return result


def harness(layer_type, reverse, seed=0):
    kwargs = {'size': 3, 'activation': 'tanh'}
    if reverse:
        kwargs['reverse'] = True
    case = SimpleNamespace(layer_type=layer_type, kwargs=kwargs,
                           in_shapes={'default': (2,), 'mask': (1,)}, time_steps=5,
                           batch_size=3, input_data={'mask': uneven_mask(LENGTHS)})
    return LayerHarness(case, NumpyHandler(np.float64), seed=seed)


@pytest.mark.parametrize('layer_type', ['Recurrent', 'Lstm', 'Gru'])
def test_reversed_layer_on_reversed_data_equals_forward_layer(layer_type):
    forward = harness(layer_type, reverse=False)
    backward = harness(layer_type, reverse=True, seed=1)
    for name in forward.layer.parameter_shapes:
        backward.handler.set_from_numpy(backward.parameter_view(name),
                                        forward.handler.get_numpy_copy(
                                            forward.parameter_view(name)))
    valid = uneven_mask(LENGTHS)((5, 3, 1), None)
    # padding gets garbage data and no output deltas: the mask must keep it out
    forward.output_deltas['default'] *= valid
    backward.data = {'default': reverse_within(forward.data['default'], LENGTHS) +
                     (1 - valid) * 7.0, 'mask': forward.data['mask']}
    backward.net.provide_external_data(backward.data)
    backward.output_deltas['default'] = reverse_within(forward.output_deltas['default'],
                                                       LENGTHS)
    for each in (forward, backward):
        each.forward()
        each.backward()
    np.testing.assert_allclose(reverse_within(backward.output('default'), LENGTHS),
                               forward.output('default') * valid, rtol=1e-12, atol=1e-12)
    input_deltas = [each.handler.get_numpy_copy(each.input_delta_view('default'))
                    for each in (forward, backward)]
    np.testing.assert_allclose(reverse_within(input_deltas[1], LENGTHS), input_deltas[0],
                               rtol=1e-10, atol=1e-12)
    for name in forward.layer.parameter_shapes:
        np.testing.assert_allclose(backward.handler.get_numpy_copy(backward.gradient_view(name)),
                                   forward.handler.get_numpy_copy(forward.gradient_view(name)),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_padding_does_not_change_a_reversed_layers_valid_outputs():
    first = harness('Lstm', reverse=True)
    first.forward()
    before = first.output('default')
    padded = uneven_mask(LENGTHS)((5, 3, 1), None) == 0
    first.data['default'][padded[..., 0]] = 100.0
    first.net.provide_external_data(first.data)
    first.forward()
    after = first.output('default')
    np.testing.assert_array_equal(after[~padded[..., 0]], before[~padded[..., 0]])


def numpy_gru(x, context, p):
    """The formulas of gru_layer.py as a plain loop, float64."""
    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))
    y, outputs = context, []
    for x_t in x:
        z = sigmoid(x_t @ p['Wz'] + y @ p['Rz'] + p['bz'])
        r = sigmoid(x_t @ p['Wr'] + y @ p['Rr'] + p['br'])
        n = np.tanh(x_t @ p['Wh'] + p['bh'] + r * (y @ p['Rh']))
        y = (1 - z) * n + z * y
        outputs.append(y)
    return np.array(outputs)


def test_gru_forward_pass_equals_numpy_formulas():
    case = SimpleNamespace(layer_type='Gru', kwargs={'size': 4}, in_shapes={'default': (3,)},
                           time_steps=6, batch_size=2, context=True)
    gru = LayerHarness(case, NumpyHandler(np.float64))
    gru.forward()
    parameters = {name: gru.handler.get_numpy_copy(gru.parameter_view(name))
                  for name in gru.layer.parameter_shapes}
    context = gru.context[gru.layer_name]['outputs.default'][0]
    expected = numpy_gru(gru.data['default'], context, parameters)
    np.testing.assert_allclose(gru.output('default'), expected, rtol=1e-12, atol=1e-12)


def test_bidirectional_builds_forward_reverse_and_merge():
    inp = layers.Input(out_shapes={'default': (3,), 'mask': (1,)})
    bi = layers.Bidirectional(layers.Gru(4, activation='el'), name='Bi')
    inp >> bi >> layers.FullyConnected(2, name='Out')
    inp - 'mask' >> 'mask' - bi
    net = Network.from_layer(inp)
    assert [name for name in net.layers if name.startswith('Bi')] == \
        ['Bi_forward', 'Bi_reverse', 'Bi']
    assert net.architecture['Bi_reverse']['reverse'] is True
    assert net.architecture['Bi_reverse']['activation'] == 'el'
    assert 'reverse' not in net.architecture['Bi_forward']
    assert set(net.layers['Bi_reverse'].in_shapes) == {'default', 'mask'}
    assert net.layers['Bi'].out_shapes['default'].feature_shape == (8,)
    assert net.layers['Out'].in_shapes['default'].feature_shape == (8,)


@pytest.mark.parametrize('bad, message', [
    (lambda: layers.Bidirectional(layers.FullyConnected(3)), 'needs a Recurrent, Lstm or Gru'),
    (lambda: layers.Bidirectional(layers.Lstm(3, reverse=True)), 'has reverse=True'),
])
def test_bidirectional_rejects_what_it_cannot_mirror(bad, message):
    with pytest.raises(NetworkValidationError, match=message):
        bad()


def test_spec_bidirectional_and_reversed_layers_get_the_mask():
    net = create_net_from_spec('classification', 12, 9, 'L8<> G4< R3', mask_name='mask')
    assert net.layers['Lstm'].out_shapes['default'].feature_shape == (16,)
    assert set(net.layers['Lstm_reverse'].in_shapes) == {'default', 'mask'}
    assert net.layers['Lstm_reverse'].reverse and not net.layers['Lstm_forward'].reverse
    assert set(net.layers['Gru'].in_shapes) == {'default', 'mask'} and net.layers['Gru'].reverse
    assert set(net.layers['Recurrent'].in_shapes) == {'default'}


def test_every_new_layer_and_mode_has_layer_cases():
    # the finite-difference, contract and handler tests (emulated CUDA included) run on these
    ids = [case.id for case in ALL_CASES]
    for fragment in ('gru-', '-reverse', '-mask'):
        for context in ('', '-context'):
            assert any(fragment in case_id and case_id.endswith(context) for case_id in ids)
    for layer_type in ('recurrent', 'lstm', 'gru'):
        assert any(case_id.startswith(layer_type + '-') and '-reverse-mask' in case_id
                   for case_id in ids)


def test_context_of_a_reversed_layer_is_its_first_step():
    net = create_net_from_spec('regression', 2, 1, 'L3<')
    net.set_handler(NumpyHandler(np.float64))
    data = np.random.RandomState(0).standard_normal((4, 2, 2))
    net.provide_external_data({'default': data, 'targets': np.zeros((4, 2, 1))})
    net.forward_pass()
    context = net.get_context()['Lstm']['outputs.default']
    np.testing.assert_array_equal(context[0], net.get('Lstm.outputs.default')[0])


SEQUENCE_CASES = [case for case in ALL_CASES if case.layer_type == 'Gru' or
                  '-reverse' in case.id or '-mask' in case.id]


@needs_emulator
@pytest.mark.slow
@pytest.mark.parametrize('case', SEQUENCE_CASES, ids=[case.id for case in SEQUENCE_CASES])
def test_finite_differences_on_the_emulated_cuda_handler(case):
    # the new layers and modes, differentiated through PyCudaHandler's own kernels (float64)
    failures = check_layer_gradients(case, emulated_pycuda_handler(np.float64))
    assert not failures, "\n".join(failures)
