"""Recurrent, Lstm, Clockwork, ClockworkLstm beyond the generic layer tests.

(Gru takes part in the continuation and the stale-internals tests; its forward
reference is in test_sequence_direction.py.)

- forward passes against plain-numpy step-by-step references, with a context;
- T=8 in one go == T=4 then T=4 with ``net.get_context()``: outputs, contexts,
  and the gradients and input deltas (the first half's backward pass gets the
  deltas that flow back through the context from the second half);
- masks: a network with a 'mask' input restricts the loss to the valid steps of
  sequences of different lengths, and masked steps get zero deltas;
- no stale backward internals: the backward pass gives the same with every
  backward internal NaN beforehand (slot T, the two-step slots);
- skipped input deltas: with 'default' in ``skipped_input_deltas`` the input
  deltas are left untouched and the gradients are unchanged;
- kwarg validation and the spec's buffer paths.

(The finite-difference checks of these layers run in test_finite_differences.py
over tests/layers/cases_recurrent.py.)
"""

import numpy as np
import pytest

from brainstorm.errors import LayerValidationError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.layers import _recurrent
from brainstorm.structure.network import Network
from brainstorm.testing import LAYER_NAME, build_architecture

LAYER_TYPES = ('Recurrent', 'Lstm', 'Clockwork', 'ClockworkLstm')
CLOCKWORK_TYPES = ('Clockwork', 'ClockworkLstm')
SIZE, IN_SHAPE = 5, (2, 2)
PERIODS = np.array([1, 2, 3, 5, 3], dtype=np.float64)  # 3 and 5 do not divide 4


def make_net(layer_type, handler, activation='tanh', in_shape=IN_SHAPE, size=SIZE):
    architecture = build_architecture(layer_type, {'size': size, 'activation': activation},
                                      {'default': in_shape})
    net = Network.from_architecture(architecture)
    net.set_handler(handler)
    return net


def random_parameters(net, seed=1):
    """Parameter name -> values (periods for 'timing'), drawn once per layer type."""
    rnd = np.random.RandomState(seed)
    values = {}
    for name, structure in net.layers[LAYER_NAME].parameter_shapes.items():
        if name == 'timing':
            values[name] = np.resize(PERIODS, structure.shape)
        else:
            values[name] = rnd.standard_normal(structure.shape) * 0.5
    return values


def set_parameters(net, values):
    for name, array in values.items():
        net.handler.set_from_numpy(net.buffer[LAYER_NAME].parameters[name], array)


def random_context(layer_type, batch_size, rnd):
    """A non-zero context: y[-1], Ca[-1] random; clockwork step counters integer."""
    context = {'outputs.default': rnd.standard_normal((1, batch_size, SIZE))}
    if 'Lstm' in layer_type:
        context['internals.Ca'] = rnd.standard_normal((1, batch_size, SIZE))
    if layer_type in CLOCKWORK_TYPES:
        context['internals.phase'] = rnd.randint(0, 7, (1, batch_size, 1)).astype(float)
    return {LAYER_NAME: context}


def backward(net, output_deltas):
    """Run the tested layer's backward pass with the given output deltas (T, B, size)."""
    net.buffer_manager.clear_backward_buffers()
    time_size = output_deltas.shape[0]
    views = net.buffer[LAYER_NAME]
    net.handler.set_from_numpy(views.output_deltas.default[:time_size], output_deltas)
    net.layers[LAYER_NAME].backward_pass(views)
    gradients = {name: net.handler.get_numpy_copy(array)
                 for name, array in views.gradients.items() if name != 'timing'}
    return gradients, net.handler.get_numpy_copy(net.buffer.Input.output_deltas.default)


# ---- numpy references -------------------------------------------------------------------

ACTIVATIONS = {
    'tanh': np.tanh, 'linear': lambda x: x, 'rel': lambda x: np.maximum(x, 0.0),
    'sigmoid': lambda x: 1.0 / (1.0 + np.exp(-x)),
    'el': lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


def reference_forward(layer_type, activation, p, x, context):
    """Step-by-step outputs (T, B, size) of each layer type, written from the formulas."""
    act, sigmoid = ACTIVATIONS[activation], ACTIVATIONS['sigmoid']
    x = x.reshape(x.shape[0], x.shape[1], -1)
    context = context[LAYER_NAME]
    y = context['outputs.default'][0]
    cell = context.get('internals.Ca', np.zeros((1,) + y.shape))[0]
    step_index = context.get('internals.phase', np.zeros((1, y.shape[0], 1)))[0]
    outputs = []
    for t in range(x.shape[0]):
        updated = (step_index + t) % p['timing'] == 0 if 'timing' in p else True
        if 'Lstm' in layer_type:
            z = act(x[t] @ p['Wz'] + y @ p['Rz'] + p['bz'])
            i = sigmoid(x[t] @ p['Wi'] + y @ p['Ri'] + p['pi'] * cell + p['bi'])
            f = sigmoid(x[t] @ p['Wf'] + y @ p['Rf'] + p['pf'] * cell + p['bf'])
            new_cell = z * i + f * cell
            o = sigmoid(x[t] @ p['Wo'] + y @ p['Ro'] + p['po'] * new_cell + p['bo'])
            new_y = o * act(new_cell)
            cell = np.where(updated, new_cell, cell)
        else:
            new_y = act(x[t] @ p['W'] + y @ p['R'] + p['bias'])
        y = np.where(updated, new_y, y)
        outputs.append(y)
    return np.array(outputs)


def _seeded_lstm_start(continuation):
    """The LSTMs' :func:`_seeded_start`: their dy and dCa hold two steps only.

    The cell deltas of the continuation's step 0 go to the slot of step T, and
    what held units passed on to its context is added to the output deltas of
    the first step processed, T - 1.
    """
    original = _recurrent.start_lstm_backward

    def start(handler, buffers, order, dy, dCa):
        original(handler, buffers, order, dy, dCa)
        first, time_size = order.backward_steps()[0], order.time_size
        handler.set_from_numpy(dCa[order.next(first) % 2], continuation['dCa'])
        handler.set_from_numpy(dy[first % 2],
                               continuation['dy'] + handler.get_numpy_copy(dy[first % 2]))
        for name in ('dZa', 'dIa', 'dFa', 'dOa', 'Fb'):
            handler.set_from_numpy(buffers.internals[name][time_size], continuation[name])
    return start


@pytest.mark.parametrize('with_context', [False, True], ids=['zero-context', 'context'])
@pytest.mark.parametrize('layer_type, activation', [
    ('Recurrent', 'tanh'), ('Recurrent', 'el'), ('Lstm', 'tanh'), ('Lstm', 'rel'),
    ('Clockwork', 'sigmoid'), ('ClockworkLstm', 'tanh')])
def test_forward_matches_reference(layer_type, activation, with_context):
    rnd = np.random.RandomState(2)
    net = make_net(layer_type, NumpyHandler(np.float64), activation)
    parameters = random_parameters(net)
    set_parameters(net, parameters)
    x = rnd.standard_normal((7, 3) + IN_SHAPE)
    context = random_context(layer_type, 3, rnd) if with_context else \
        {LAYER_NAME: {'outputs.default': np.zeros((1, 3, SIZE))}}
    net.provide_external_data({'default': x})
    net.forward_pass(context=context if with_context else None)
    expected = reference_forward(layer_type, activation, parameters, x, context)
    np.testing.assert_allclose(net.get(f'{LAYER_NAME}.outputs.default'), expected,
                               rtol=1e-12, atol=1e-12)


def test_clockwork_reference_skips_steps():
    # the reference above is only a test if units really keep their state sometimes
    net = make_net('Clockwork', NumpyHandler(np.float64))
    set_parameters(net, random_parameters(net))
    net.provide_external_data({'default': np.random.RandomState(0).standard_normal(
        (7, 2) + IN_SHAPE)})
    net.forward_pass()
    y = net.get(f'{LAYER_NAME}.outputs.default')
    unchanged = np.all(y[1:] == y[:-1], axis=1)           # (T-1, size)
    expected = (np.arange(1, 7)[:, None] % PERIODS) != 0
    np.testing.assert_array_equal(unchanged, expected)


# ---- T=8 in one go == 4 + 4 through the context -------------------------------------

def _seeded_start(continuation):
    """A start_backward that lets the deltas of the sequence's continuation flow in.

    Slot T of the delta buffers (and of Fb, read there as 'Fb[t+1]') is where the
    backward loop reads step t + 1; filling it with the second half's step 0
    makes the first half's backward pass exactly the first half of the 8-step
    one. ``continuation`` holds those values, read from the second half's run.
    """
    original = _recurrent.start_backward

    def start(handler, buffers, time_size, next_step_deltas):
        dy = original(handler, buffers, time_size, next_step_deltas)
        for name, values in continuation.items():
            target = buffers.internals[name][time_size]
            if name == 'dy':  # a clockwork unit that skipped step T passes its delta back
                target = dy[time_size - 1]
                values = values + handler.get_numpy_copy(target)
            handler.set_from_numpy(target, values)
        return dy
    return start


def _seeded_gru_start(continuation):
    """The Gru's :func:`_seeded_start`: its dy holds two steps only.

    The gate deltas of the continuation's step 0 go to slot T, and what its step 0
    passed on to the context through the update gate is added to the output deltas
    of the first step processed, T - 1.
    """
    original = _recurrent.start_two_step_backward

    def start(handler, buffers, order, dy, gate_deltas):
        original(handler, buffers, order, dy, gate_deltas)
        first, time_size = order.backward_steps()[0], order.time_size
        handler.set_from_numpy(dy[first % 2],
                               continuation['dy'] + handler.get_numpy_copy(dy[first % 2]))
        for name in ('dZa', 'dRa', 'dHr'):
            handler.set_from_numpy(buffers.internals[name][time_size], continuation[name])
    return start


@pytest.mark.parametrize('with_context', [False, True], ids=['zero-context', 'context'])
@pytest.mark.parametrize('layer_type', LAYER_TYPES + ('Gru',))
def test_eight_steps_equal_four_plus_four(layer_type, with_context, monkeypatch):
    rnd = np.random.RandomState(5)
    x = rnd.standard_normal((8, 3) + IN_SHAPE)
    output_deltas = rnd.standard_normal((8, 3, SIZE))
    context = random_context(layer_type, 3, rnd) if with_context else None
    nets = [make_net(layer_type, DebugHandler(NumpyHandler(np.float64))) for _ in range(3)]
    parameters = random_parameters(nets[0])
    for net in nets:
        set_parameters(net, parameters)
    whole, first, second = nets
    whole.provide_external_data({'default': x})
    whole.forward_pass(context=context)
    first.provide_external_data({'default': x[:4]})
    first.forward_pass(context=context)
    second.provide_external_data({'default': x[4:]})
    second.forward_pass(context=first.get_context())

    path = f'{LAYER_NAME}.outputs.default'
    np.testing.assert_allclose(np.concatenate([first.get(path), second.get(path)]),
                               whole.get(path), rtol=1e-13, atol=1e-13)
    for key, values in second.get_context()[LAYER_NAME].items():
        np.testing.assert_allclose(values, whole.get_context()[LAYER_NAME][key], rtol=1e-13,
                                   atol=1e-13, err_msg=f"context {key}")

    whole_gradients, whole_input_deltas = backward(whole, output_deltas)
    second_gradients, second_input_deltas = backward(second, output_deltas[4:])
    layer = second.layers[LAYER_NAME]
    views = second.buffer[LAYER_NAME]
    continuation = {name: second.handler.get_numpy_copy(views.internals[name][0])
                    for name, structure in layer.internal_shapes.items()
                    if structure.is_backward_only and structure.context_size and name != 'dy'}
    if 'Lstm' in layer_type:
        # step 0's cell deltas are in slot 0, what went to the context (step -1) in slot 1
        continuation['dCa'] = second.handler.get_numpy_copy(
            _recurrent.two_step_slots(views.internals.dCa)[0])
        continuation['dy'] = second.handler.get_numpy_copy(
            _recurrent.two_step_slots(views.internals.dy)[1])
        continuation['Fb'] = second.handler.get_numpy_copy(views.internals.Fb[0])
        monkeypatch.setattr(_recurrent, 'start_lstm_backward', _seeded_lstm_start(continuation))
    elif layer_type == 'Gru':
        # what step 0 passed on to the context (step -1) is in slot 1
        continuation['dy'] = second.handler.get_numpy_copy(
            _recurrent.two_step_slots(views.internals.dy)[1])
        monkeypatch.setattr(_recurrent, 'start_two_step_backward',
                            _seeded_gru_start(continuation))
    else:
        continuation['dy'] = second.handler.get_numpy_copy(views.internals.dy[-1])
        monkeypatch.setattr(_recurrent, 'start_backward', _seeded_start(continuation))
    first_gradients, first_input_deltas = backward(first, output_deltas[:4])

    np.testing.assert_allclose(np.concatenate([first_input_deltas, second_input_deltas]),
                               whole_input_deltas, rtol=1e-10, atol=1e-12)
    for name, values in whole_gradients.items():
        np.testing.assert_allclose(first_gradients[name] + second_gradients[name], values,
                                   rtol=1e-10, atol=1e-12, err_msg=f"gradient of {name}")


# ---- no stale backward internals ------------------------------------------------------------

@pytest.mark.parametrize('layer_type', LAYER_TYPES + ('Gru',))
def test_backward_pass_reads_no_backward_internal_it_has_not_written(layer_type):
    # the backward buffers are zeroed before a network's backward pass; the layer must
    # not rely on that for its own internals (slot T, the LSTM's two-step slots)
    rnd = np.random.RandomState(13)
    net = make_net(layer_type, NumpyHandler(np.float64))
    set_parameters(net, random_parameters(net))
    net.provide_external_data({'default': rnd.standard_normal((5, 3) + IN_SHAPE)})
    net.forward_pass(context=random_context(layer_type, 3, rnd))
    output_deltas = rnd.standard_normal((5, 3, SIZE))
    clean_gradients, clean_input_deltas = backward(net, output_deltas)

    layer, views = net.layers[LAYER_NAME], net.buffer[LAYER_NAME]
    net.buffer_manager.clear_backward_buffers()
    for name, structure in layer.internal_shapes.items():
        if structure.is_backward_only:
            views.internals[name][...] = np.nan
    views.output_deltas.default[:5] = output_deltas
    layer.backward_pass(views)
    for name, values in clean_gradients.items():
        np.testing.assert_array_equal(views.gradients[name], values, err_msg=name)
    np.testing.assert_array_equal(net.buffer.Input.output_deltas.default, clean_input_deltas)


# ---- skipped input deltas -------------------------------------------------------------------

@pytest.mark.parametrize('layer_type', LAYER_TYPES)
def test_skipped_input_deltas_are_untouched_and_gradients_unchanged(layer_type):
    rnd = np.random.RandomState(11)
    net = make_net(layer_type, DebugHandler(NumpyHandler(np.float64)))
    set_parameters(net, random_parameters(net))
    net.provide_external_data({'default': rnd.standard_normal((6, 3) + IN_SHAPE)})
    net.forward_pass(context=random_context(layer_type, 3, rnd))
    output_deltas = rnd.standard_normal((6, 3, SIZE))
    gradients, input_deltas = backward(net, output_deltas)
    assert np.any(input_deltas != 0.0)  # computed when not skipped

    layer = net.layers[LAYER_NAME]
    layer.skipped_input_deltas = frozenset({'default'})
    net.buffer_manager.clear_backward_buffers()
    sentinel = rnd.standard_normal(input_deltas.shape)
    views = net.buffer[LAYER_NAME]
    net.handler.set_from_numpy(net.buffer.Input.output_deltas.default, sentinel)
    net.handler.set_from_numpy(views.output_deltas.default[:6], output_deltas)
    layer.backward_pass(views)
    np.testing.assert_array_equal(net.get('Input.output_deltas.default'), sentinel)
    for name, values in gradients.items():
        np.testing.assert_allclose(net.handler.get_numpy_copy(views.gradients[name]), values,
                                   rtol=1e-13, atol=1e-13, err_msg=f"gradient of {name}")


# ---- masks ----------------------------------------------------------------------------------

def masked_lstm_net_from_tools(handler):
    """Input -> Lstm -> the output layers of tools.get_in_out_layers(..., mask_name='mask')."""
    from brainstorm.layers import Lstm
    from brainstorm.tools import get_in_out_layers
    inp, out = get_in_out_layers('classification', 3, 3, mask_name='mask')
    net = Network.from_layer(inp >> Lstm(4, name='Lstm') >> out)
    net.set_handler(handler)
    return net


def masked_lstm_net(handler):
    """Input -> Lstm -> FullyConnected -> SoftmaxCE; its per-step loss -> Mask -> Loss."""
    from brainstorm.layers import FullyConnected, Input, Loss, Lstm, Mask, SoftmaxCE
    inp = Input(out_shapes={'default': (3,), 'targets': (1,), 'mask': (1,)})
    output = SoftmaxCE(name='Output')
    masked = Mask(name='Masked')
    inp >> Lstm(4, name='Lstm') >> FullyConnected(3, activation='linear') >> output
    inp - 'targets' >> 'targets' - output
    output - 'loss' >> masked
    inp - 'mask' >> 'mask' - masked
    masked >> Loss(name='Loss')
    net = Network.from_layer(output)
    net.set_handler(handler)
    return net


@pytest.mark.parametrize('make_masked_net', [masked_lstm_net_from_tools, masked_lstm_net],
                         ids=['get_in_out_layers', 'hand-wired'])
def test_mask_restricts_loss_and_gradients_to_valid_steps(make_masked_net):
    lengths = [5, 3, 1]
    time_size, batch_size = max(lengths), len(lengths)
    rnd = np.random.RandomState(7)
    data = {'default': rnd.standard_normal((time_size, batch_size, 3)),
            'targets': rnd.randint(0, 3, (time_size, batch_size, 1)).astype(float),
            'mask': (np.arange(time_size)[:, None, None] <
                     np.array(lengths)[None, :, None]).astype(float)}
    net = make_masked_net(NumpyHandler(np.float64))
    parameters = rnd.standard_normal(net.buffer.parameters.shape) * 0.5
    net.handler.set_from_numpy(net.buffer.parameters, parameters)
    net.provide_external_data(data)
    net.forward_pass(training_pass=True)
    net.backward_pass()
    loss = net.get_loss_values()['total_loss']
    gradients = net.get('gradients')
    input_deltas = net.get('Input.output_deltas.default')

    # each sequence alone, cut to its length, without padding: the same loss and gradients
    separate_loss, separate_gradients = 0.0, np.zeros_like(gradients)
    for b, length in enumerate(lengths):
        single = make_masked_net(NumpyHandler(np.float64))
        single.handler.set_from_numpy(single.buffer.parameters, parameters)
        single.provide_external_data({name: array[:length, b:b + 1]
                                      for name, array in data.items()})
        single.forward_pass(training_pass=True)
        single.backward_pass()
        separate_loss += single.get_loss_values()['total_loss']
        separate_gradients += single.get('gradients')
        # the Loss layer averages over the batch: deltas scale with 1 / B
        np.testing.assert_allclose(input_deltas[:length, b] * batch_size,
                                   single.get('Input.output_deltas.default')[:, 0],
                                   rtol=1e-10, atol=1e-13)
    assert loss * batch_size == pytest.approx(separate_loss, rel=1e-12)
    np.testing.assert_allclose(gradients * batch_size, separate_gradients, rtol=1e-10,
                               atol=1e-13)
    masked_steps = data['mask'][..., 0] == 0
    assert np.all(input_deltas[masked_steps] == 0.0)


# ---- kwargs and buffer paths --------------------------------------------------------------

@pytest.mark.parametrize('layer_type', LAYER_TYPES)
@pytest.mark.parametrize('kwargs, fragment', [
    ({'size': 0}, 'size must be a positive int, got 0'),
    ({'size': 2.5}, 'size must be a positive int, got 2.5'),
    ({'size': 3, 'activation': 'tanhh'}, "did you mean 'tanh'"),
])
def test_bad_kwargs_are_rejected(layer_type, kwargs, fragment):
    with pytest.raises(LayerValidationError, match=f"'{LAYER_NAME}'.*{fragment}"):
        Network.from_architecture(build_architecture(layer_type, kwargs, {'default': (2,)}))


def test_spec_paths_and_context_of_lstm():
    net = make_net('Lstm', NumpyHandler(np.float64))
    set_parameters(net, random_parameters(net))
    net.provide_external_data({'default': np.ones((4, 2) + IN_SHAPE)})
    net.forward_pass()
    forget_gates = net.get(f'{LAYER_NAME}.internals.Fb')
    assert forget_gates.shape == (4, 2, SIZE)
    assert np.all((forget_gates > 0) & (forget_gates < 1))
    context = net.get_context()[LAYER_NAME]
    np.testing.assert_array_equal(context['outputs.default'][0],
                                  net.get(f'{LAYER_NAME}.outputs.default')[-1])
    np.testing.assert_array_equal(context['internals.Ca'][0],
                                  net.get(f'{LAYER_NAME}.internals.Ca')[-1])
    assert set(net.layers[LAYER_NAME].parameter_shapes) == {
        'Wz', 'Wi', 'Wf', 'Wo', 'Rz', 'Ri', 'Rf', 'Ro', 'bz', 'bi', 'bf', 'bo',
        'pi', 'pf', 'po'}


class _TransposedWeightsHandler(NumpyHandler):
    """A NumpyHandler whose BLAS prefers transposed weights (as with MKL)."""

    prefers_transposed_weights = True


@pytest.mark.parametrize('layer_type', ['Lstm', 'ClockworkLstm'])
def test_both_packings_of_the_recurrent_weights_compute_the_same(layer_type):
    """The LSTM packs its recurrent matrix side by side or transposed, as the handler's
    BLAS prefers; outputs, internals, gradients and input deltas do not depend on it."""
    rnd = np.random.RandomState(7)
    x = rnd.standard_normal((5, 3) + IN_SHAPE)
    output_deltas = rnd.standard_normal((5, 3, SIZE))
    results = []
    for handler in (NumpyHandler(np.float64), _TransposedWeightsHandler(np.float64)):
        net = make_net(layer_type, handler)
        set_parameters(net, random_parameters(net))
        net.provide_external_data({'default': x})
        net.forward_pass(training_pass=True)
        gradients, input_deltas = backward(net, output_deltas)
        internals = {name: handler.get_numpy_copy(array) for name, array
                     in net.buffer[LAYER_NAME].internals.items()
                     if name not in ('recurrent_weights', 'recurrent_products')}
        results.append((net.get(f'{LAYER_NAME}.outputs.default'), internals, gradients,
                        input_deltas))
    (outputs, internals, gradients, input_deltas), transposed = results
    np.testing.assert_allclose(transposed[0], outputs, rtol=1e-12, atol=1e-12)
    for name in internals:
        np.testing.assert_allclose(transposed[1][name], internals[name], rtol=1e-12,
                                   atol=1e-12, err_msg=name)
    for name in gradients:
        np.testing.assert_allclose(transposed[2][name], gradients[name], rtol=1e-12,
                                   atol=1e-12, err_msg=f"gradient of {name}")
    np.testing.assert_allclose(transposed[3], input_deltas, rtol=1e-12, atol=1e-12)
