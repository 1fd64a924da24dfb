"""Interrupted and resumed training gives the same parameters and logs, bit for bit."""

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.errors import TrainingError
from brainstorm.handlers import NumpyHandler
from brainstorm.hooks import (EarlyStopper, Hook, MonitorLoss, SaveBestNetwork,
                              StopAfterEpoch)
from brainstorm.layers import Dropout, FullyConnected
from brainstorm.scorers import MeanSquaredError
from brainstorm.training import AdamStepper, MomentumStepper, Trainer
from tests.training.nets import regression_data

EPOCHS = 4
BATCHES_PER_EPOCH = 5  # 23 samples in batches of 5


class Interrupter(Hook):
    """Requests a stop (as the CLI's signal handler does) at one update or epoch end."""

    def __init__(self, timescale, at=None):
        super().__init__(f"Interrupter-{timescale}", timescale)
        self.at, self.trainer = at, None

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        count = update_nr if self.timescale == 'update' else epoch_nr
        if self.at is not None and count == self.at:
            self.trainer.request_stop('interrupted by the test')


def build(stepper_factory, dropout, seed, interrupt_update=None, interrupt_epoch=None):
    """Network, trainer and iterators; everything random depends on ``seed``."""
    bs.global_rnd.set_seed(seed)
    inp, out = bs.tools.get_in_out_layers('regression', 3, 2)
    hidden = inp >> FullyConnected(6, activation='tanh', name='Hidden')
    if dropout:
        hidden = hidden >> Dropout(0.3, name='Drop')
    hidden >> out
    net = bs.Network.from_layer(out)
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(bs.Gaussian(0.3), seed=5)
    inputs, targets = regression_data(23)
    training = bs.Minibatches(5, shuffle=True, default=inputs, targets=targets)
    validation = bs.Minibatches(7, shuffle=True, default=inputs[:, :14],
                                targets=targets[:, :14])
    trainer = Trainer(stepper_factory(), verbose=False)
    trainer.train_scorers = [MeanSquaredError(out_name='Output.outputs.predictions')]
    update_interrupter = Interrupter('update', interrupt_update)
    epoch_interrupter = Interrupter('epoch', interrupt_epoch)
    for hook in (update_interrupter, epoch_interrupter):
        hook.trainer = trainer
        trainer.add_hook(hook)
    trainer.add_hook(MonitorLoss('validation_getter', name='validation'))
    trainer.add_hook(SaveBestNetwork('validation.total_loss', criterion='min'))
    trainer.add_hook(EarlyStopper('rolling_training.total_loss', patience=50))
    trainer.add_hook(StopAfterEpoch(EPOCHS))
    return net, trainer, training, validation


def as_stored(value):
    """What a state looks like after a trip through a file: lists become arrays."""
    if isinstance(value, dict):
        return {key: as_stored(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(item, float) for item in value):
        return np.array(value)
    if isinstance(value, (list, tuple)):
        return [as_stored(item) for item in value]
    return value


def check_plain(value, path='state'):
    """States hold only plain values and numpy arrays (so the CLI can store them)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{path}: key {key!r}"
            check_plain(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{path}[{index}]")
    else:
        assert value is None or isinstance(value, (bool, int, float, str, np.ndarray,
                                                   np.generic)), f"{path}: {type(value)}"


STEPPERS = {'momentum': lambda: MomentumStepper(0.2, 0.9), 'adam': lambda: AdamStepper(0.02)}


@pytest.mark.parametrize('dropout', [False, True], ids=['plain', 'dropout'])
@pytest.mark.parametrize('stepper_name', sorted(STEPPERS))
@pytest.mark.parametrize('interrupt_update, interrupt_epoch', [
    (1, None), (7, None), (10, None), (None, 0), (None, 2), (18, None)],
    ids=['first-update', 'mid-epoch', 'last-update-of-epoch', 'before-training',
         'epoch-end-hooks', 'late'])
def test_resumed_training_is_bit_identical(stepper_name, dropout, interrupt_update,
                                           interrupt_epoch):
    factory = STEPPERS[stepper_name]
    net, trainer, training, validation = build(factory, dropout, seed=42)
    trainer.train(net, training, validation_getter=validation)
    assert trainer.stop_reason.startswith('StopAfterEpoch') and not trainer.interrupted
    expected_parameters = net.get('parameters')

    net_a, trainer_a, training_a, validation_a = build(
        factory, dropout, seed=42, interrupt_update=interrupt_update,
        interrupt_epoch=interrupt_epoch)
    trainer_a.train(net_a, training_a, validation_getter=validation_a)
    assert trainer_a.interrupted and trainer_a.stop_reason == 'interrupted by the test'
    state = trainer_a.get_state()
    check_plain(state)
    parameters = net_a.get('parameters')

    # a fresh process: everything rebuilt with other seeds, then the state restored
    net_b, trainer_b, training_b, validation_b = build(factory, dropout, seed=7)
    net_b.handler.set_from_numpy(net_b.buffer.parameters, parameters)
    trainer_b.set_state(as_stored(state))
    trainer_b.train(net_b, training_b, validation_getter=validation_b)

    np.testing.assert_array_equal(net_b.get('parameters'), expected_parameters)
    assert trainer_b.logs == trainer.logs
    assert (trainer_b.current_epoch_nr, trainer_b.current_update_nr) == \
        (EPOCHS, EPOCHS * BATCHES_PER_EPOCH)
    assert trainer_b.stop_reason.startswith('StopAfterEpoch')
    np.testing.assert_array_equal(trainer_b.hooks['SaveBestNetwork'].best_parameters,
                                  trainer.hooks['SaveBestNetwork'].best_parameters)


def test_state_structure():
    net, trainer, training, validation = build(STEPPERS['adam'], False, 1, interrupt_update=7)
    trainer.train(net, training, validation_getter=validation)
    state = trainer.get_state()
    assert state['format'] == 'brainstorm-trainer-state' and state['version'] == 1
    assert (state['epoch_nr'], state['update_nr']) == (2, 7)
    assert state['epoch_in_progress'] is True and state['batches_done'] == 2
    assert set(state['training_iterator_state']) == {'random_state'}
    assert set(state['iterator_states']) == {'validation_getter'}
    assert set(state['rolling_scores']) == {'total_loss', 'MeanSquaredError'}
    assert state['rolling_scores']['total_loss'].shape == (2, 2)
    assert set(state['stepper']['arrays']) == {'first_moment', 'second_moment'}
    assert state['stepper']['steps_taken'] == 7
    assert set(state['hooks']) == set(trainer.hooks)
    assert state['hooks']['SaveBestNetwork']['entries_seen'] == 2
    assert state['handler_random_state']['keys'].shape == (624,)
    assert state['interrupted'] is True


def test_set_state_rejects_foreign_states():
    trainer = Trainer(MomentumStepper())
    with pytest.raises(TrainingError, match="not a trainer state"):
        trainer.set_state({'epoch_nr': 3})
    net, trained, training, validation = build(STEPPERS['adam'], False, 1, interrupt_update=3)
    trained.train(net, training, validation_getter=validation)
    with pytest.raises(TrainingError, match="hooks this trainer does not"):
        trainer.set_state(trained.get_state())
