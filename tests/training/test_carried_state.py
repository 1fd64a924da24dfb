"""Truncated BPTT: SequenceWindows, the carried state of a network, Trainer(carry_state=True).

Carrying the state over windows must give exactly the forward pass of the whole
sequence unrolled at once (bit for bit, float64), and each window's gradients must
be those of its own loss with the incoming state held fixed (truncated: the
gradients are not carried back into earlier windows).
"""

import numpy as np
import pytest

from brainstorm.data_iterators import SequenceWindows
from brainstorm.errors import IteratorValidationError
from brainstorm.handlers import NumpyHandler
from brainstorm.hooks import MonitorLoss, StopAfterEpoch
from brainstorm.tools import create_net_from_spec
from brainstorm.training import SgdStepper, Trainer
from brainstorm.training.carried_state import RESET_NAME, CarriedState

LENGTH, COLUMNS, WINDOW = 12, 3, 4


def make_net(spec='L4 G3 R2<'):
    net = create_net_from_spec('regression', 2, 1, spec)
    net.set_handler(NumpyHandler(np.float64))
    rnd = np.random.RandomState(5)
    net.handler.set_from_numpy(net.buffer.parameters,
                               rnd.uniform(-0.6, 0.6, net.buffer.parameters.shape))
    return net


def make_streams(length=LENGTH, columns=COLUMNS, seed=0):
    rnd = np.random.RandomState(seed)
    return {'default': rnd.standard_normal((length, columns, 2)),
            'targets': rnd.standard_normal((length, columns, 1))}


def outputs(net, names=('Lstm', 'Gru')):
    return {name: net.get(f"{name}.outputs.default") for name in names}


# ---- SequenceWindows --------------------------------------------------------------------

def test_windows_come_in_order_with_a_reset_at_the_first():
    streams = make_streams(length=10)
    batches = list(SequenceWindows(4, **streams)())
    assert [batch['default'].shape[0] for batch in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b['default'] for b in batches]),
                                  streams['default'])
    assert batches[0][RESET_NAME].tolist() == [True] * COLUMNS
    assert not any(batch[RESET_NAME].any() for batch in batches[1:])


def test_columns_recut_the_text_layout_into_streams():
    text = np.arange(6 * 5).reshape(5, 6).T[..., None]  # 5 pieces of 6 consecutive steps
    windows = SequenceWindows(4, columns=2, default=text)
    stream = np.concatenate([batch['default'] for batch in windows()])
    assert stream.shape == (12, 2, 1)  # 2 pieces (12 steps) per column; the 5th is dropped
    np.testing.assert_array_equal(stream[:, 0, 0], np.arange(12))
    np.testing.assert_array_equal(stream[:, 1, 0], np.arange(12, 24))


def test_sequence_starts_reset_their_columns():
    streams = make_streams()
    starts = np.zeros((LENGTH, COLUMNS, 1))
    starts[8, 1] = 1
    batches = list(SequenceWindows(WINDOW, sequence_starts='starts', starts=starts, **streams)())
    assert 'starts' not in batches[0]
    assert [batch[RESET_NAME].tolist() for batch in batches] == \
        [[True] * 3, [False] * 3, [False, True, False]]


@pytest.mark.parametrize('settings, message', [
    ({'window_size': 0}, 'window_size must be a positive integer'),
    ({'columns': 0}, 'columns must be a positive integer'),
    ({'columns': 50}, 'too few for 50 columns'),
    ({'sequence_starts': 'nothing'}, "'nothing', which is not a data item"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(IteratorValidationError, match=message):
        SequenceWindows(**dict({'window_size': WINDOW}, **settings), **make_streams())


def test_a_sequence_start_inside_a_window_is_refused():
    starts = np.zeros((LENGTH, COLUMNS, 1))
    starts[5, 2] = 1
    with pytest.raises(IteratorValidationError, match='step 5 of column 2, which is not the '
                                                      'first step of a window of 4'):
        SequenceWindows(WINDOW, sequence_starts='starts', starts=starts, **make_streams())


# ---- the carried state ------------------------------------------------------------------

def test_carried_windows_equal_one_long_unrolled_sequence_bit_for_bit():
    net = make_net()
    streams = make_streams()
    net.provide_external_data(streams)
    net.forward_pass()
    whole = outputs(net)
    net.carried_state = CarriedState()
    parts = {name: [] for name in whole}
    for batch in SequenceWindows(WINDOW, **streams)():
        net.provide_external_data(batch)
        net.forward_pass()
        for name, values in outputs(net).items():
            parts[name].append(values)
    for name, values in whole.items():
        np.testing.assert_array_equal(np.concatenate(parts[name]), values, err_msg=name)


def test_without_a_carried_state_every_window_restarts():
    net = make_net()
    streams = make_streams()
    net.provide_external_data(streams)
    net.forward_pass()
    whole = outputs(net)['Lstm']
    batches = list(SequenceWindows(WINDOW, **streams)())
    net.provide_external_data(batches[1])  # the reset signal is ignored
    net.forward_pass()
    assert not np.allclose(outputs(net)['Lstm'], whole[WINDOW:2 * WINDOW])
    net.provide_external_data({name: streams[name][WINDOW:2 * WINDOW] for name in streams})
    net.forward_pass()
    np.testing.assert_array_equal(outputs(net)['Lstm'],
                                  net.get('Lstm.outputs.default'))


def test_reset_signal_restarts_only_its_columns():
    net = make_net()
    streams = make_streams()
    net.carried_state = CarriedState()
    batches = list(SequenceWindows(WINDOW, **streams)())
    for batch in batches[:2]:
        net.provide_external_data(batch)
        net.forward_pass()
    last = dict(batches[2], **{RESET_NAME: np.array([False, True, False])})
    net.provide_external_data(last)
    net.forward_pass()
    carried = outputs(net)['Lstm']
    fresh = make_net()
    fresh.provide_external_data({name: streams[name][2 * WINDOW:] for name in streams})
    fresh.forward_pass()
    restarted = outputs(fresh)['Lstm']
    np.testing.assert_array_equal(carried[:, 1], restarted[:, 1])
    assert not np.allclose(carried[:, 0], restarted[:, 0])


def loss_of_window(net, window, context, parameters):
    net.handler.set_from_numpy(net.buffer.parameters, parameters)
    net.provide_external_data(window)
    net.forward_pass(context=context)
    return net.get_loss_values()['total_loss']


def test_window_gradients_are_truncated_at_the_window_start():
    net = make_net('L3 G2')
    streams = make_streams()
    parameters = net.get('parameters')
    windows = [{name: streams[name][start:start + WINDOW] for name in streams}
               for start in range(0, LENGTH, WINDOW)]
    # the carried run: gradients of the third window
    net.carried_state = CarriedState()
    for window in windows:
        net.provide_external_data(window)
        net.forward_pass(training_pass=True)
        net.backward_pass()
    gradients = net.get('gradients')
    net.carried_state = None
    # the state the long unrolled sequence has before the third window
    net.provide_external_data({name: streams[name][:2 * WINDOW] for name in streams})
    net.forward_pass()
    context = net.get_context()
    rnd = np.random.RandomState(1)
    epsilon = 1e-6
    for _ in range(3):
        direction = rnd.standard_normal(parameters.shape)
        truncated = (loss_of_window(net, windows[2], context, parameters + epsilon * direction)
                     - loss_of_window(net, windows[2], context,
                                      parameters - epsilon * direction)) / (2 * epsilon)
        assert truncated == pytest.approx(float(gradients @ direction), rel=1e-6, abs=1e-9)
    # the full gradient (also through the state the earlier windows hand over) differs
    def full_loss(values):
        net.handler.set_from_numpy(net.buffer.parameters, values)
        net.provide_external_data({name: streams[name][:2 * WINDOW] for name in streams})
        net.forward_pass()
        return loss_of_window(net, windows[2], net.get_context(), values)
    full = (full_loss(parameters + epsilon * direction) -
            full_loss(parameters - epsilon * direction)) / (2 * epsilon)
    assert full != pytest.approx(float(gradients @ direction), rel=1e-3)


# ---- Trainer(carry_state=True) ------------------------------------------------------------

def carried_losses(net, streams):
    """Per-window losses of a manual carried pass."""
    net.carried_state = CarriedState()
    losses = []
    for batch in SequenceWindows(WINDOW, **streams)():
        net.provide_external_data(batch)
        net.forward_pass()
        losses.append(net.get_loss_values()['total_loss'])
    net.carried_state = None
    return losses


@pytest.mark.parametrize('carry_state', [True, False])
def test_trainer_carries_the_state_in_training_and_validation(carry_state):
    net = make_net()
    streams, validation = make_streams(), make_streams(seed=3)
    expected_training = np.mean(carried_losses(net, streams))
    expected_validation = np.mean(carried_losses(net, validation))
    trainer = Trainer(SgdStepper(learning_rate=0.0), verbose=False, carry_state=carry_state)
    trainer.add_hook(MonitorLoss('valid', name='validation', timescale='update', interval=1))
    trainer.add_hook(StopAfterEpoch(2))
    trainer.train(net, SequenceWindows(WINDOW, **streams),
                  valid=SequenceWindows(WINDOW, **validation))
    training = trainer.logs['rolling_training']['total_loss']
    validation_losses = trainer.logs['validation']['total_loss']
    assert net.carried_state is None
    if carry_state:
        assert training == pytest.approx([expected_training] * 2, rel=1e-12)
        assert validation_losses == pytest.approx([expected_validation] * 7, rel=1e-12)
    else:
        assert training[0] != pytest.approx(expected_training, rel=1e-6)
        assert validation_losses[0] != pytest.approx(expected_validation, rel=1e-6)
