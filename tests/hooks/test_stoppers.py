"""Stopping hooks: when exactly each one stops training, and its argument checks."""

import os
import signal

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.errors import ValidationError
from brainstorm.hooks import (EarlyStopper, StopAfterEpoch, StopAfterThresholdReached,
                              StopOnNan, StopOnSigQuit)
from brainstorm.training import SgdStepper, Trainer
from tests.hooks.scripted import ScriptedMonitor
from tests.training.nets import regression_data, regression_net


def train_with(*hooks, max_epochs=30, learning_rate=0.01):
    trainer = Trainer(SgdStepper(learning_rate), verbose=False)
    for hook in hooks:
        trainer.add_hook(hook)
    trainer.add_hook(StopAfterEpoch(max_epochs, name='limit'))
    inputs, targets = regression_data(8)
    trainer.train(regression_net(), bs.Minibatches(4, default=inputs, targets=targets))
    return trainer


def test_stop_after_epoch_trains_exactly_that_many_epochs():
    trainer = train_with(StopAfterEpoch(3))
    assert (trainer.current_epoch_nr, trainer.current_update_nr) == (3, 6)
    assert trainer.stop_reason == 'StopAfterEpoch: 3 epochs are done'


@pytest.mark.parametrize('values, patience, criterion, stop_epoch', [
    ([5, 4, 3, 3.5, 3.2, 3.1, 2.0], 3, 'min', 5),
    ([5, 4, 3, 3.5, 2.0, 3.1, 3.1, 3.1, 3.1], 3, 'min', 7),
    ([5, 4, 3, 3, 3, 3, 3], 2, 'min', 4),  # ties are no improvement
    ([0.1, 0.2, 0.3, 0.2, 0.3, 0.1], 1, 'max', 3),
    ([1, 2, 3, 4, 5, 6, 7, 8], 1, 'max', None),
], ids=['min-patience-3', 'late-improvement', 'ties', 'max-patience-1', 'always-improving'])
def test_early_stopper_waits_patience_log_updates(values, patience, criterion, stop_epoch):
    trainer = train_with(ScriptedMonitor(values),
                         EarlyStopper('monitor.value', patience=patience, criterion=criterion),
                         max_epochs=len(values) - 1)
    if stop_epoch is None:
        assert trainer.stop_reason.startswith('limit')
    else:
        assert trainer.current_epoch_nr == stop_epoch
        assert trainer.stop_reason.startswith('EarlyStopper: monitor.value did not improve')


def test_early_stopper_counts_nan_as_no_improvement():
    stopper = EarlyStopper('m.value', patience=2)
    stopper(1, 1, None, None, {'m': {'value': [1.0, float('nan')]}})
    with pytest.raises(StopIteration):
        stopper(2, 2, None, None, {'m': {'value': [1.0, float('nan'), float('nan')]}})


def test_early_stopper_on_the_update_timescale():
    trainer = train_with(ScriptedMonitor([3, 2, 1, 1, 1, 1, 1], timescale='update'),
                         EarlyStopper('monitor.value', patience=2, timescale='update'))
    # entries at updates 0, 1, 2, 3, 4: best (1) at update 2, two more -> stop at update 4
    assert trainer.current_update_nr == 4


@pytest.mark.parametrize('criterion, values, stop_epoch', [
    ('max', [0.1, 0.5, 0.9, 0.95], 2), ('min', [3.0, 2.0, 0.5, 0.1], 2)])
def test_stop_after_threshold_reached(criterion, values, stop_epoch):
    threshold = 0.9 if criterion == 'max' else 0.5
    trainer = train_with(ScriptedMonitor(values),
                         StopAfterThresholdReached('monitor.value', threshold, criterion))
    assert trainer.current_epoch_nr == stop_epoch
    assert 'monitor.value' in trainer.stop_reason


def test_threshold_default_criterion_is_min_as_documented():
    hook = StopAfterThresholdReached('m.loss', 0.5)
    assert hook.criterion == 'min'
    hook(1, 1, None, None, {'m': {'loss': [0.7]}})
    with pytest.raises(StopIteration, match=r"m.loss = 0.5 <= 0.5"):
        hook(2, 2, None, None, {'m': {'loss': [0.7, 0.5]}})


@pytest.mark.parametrize('criterion', ['at_least', 'at_most', 'above'])
def test_threshold_takes_only_the_documented_criteria(criterion):
    with pytest.raises(ValidationError, match="criterion must be one of 'min', 'max'"):
        StopAfterThresholdReached('a.b', 0.5, criterion)


def test_watchers_read_a_log_written_on_another_timescale():
    # the monitor logs after every update (2 per epoch); the epoch watchers see the latest
    monitor = ScriptedMonitor([5, 4, 3, 2, 1, 0.5, 0.4, 0.3, 0.2], timescale='update')
    trainer = train_with(monitor, StopAfterThresholdReached('monitor.value', 0.45),
                         max_epochs=10)
    # entries at updates 0..5: 0.5 (<= 0.45? no) at update 5, 0.4 at update 6 = epoch 3
    assert (trainer.current_epoch_nr, trainer.current_update_nr) == (3, 6)
    trainer = train_with(ScriptedMonitor([3, 2, 1, 1, 1, 1, 1, 1, 1], timescale='update'),
                         EarlyStopper('monitor.value', patience=3), max_epochs=10)
    # best 1 at update 2; three more entries by update 5, seen at the end of epoch 3
    assert trainer.current_epoch_nr == 3


def test_a_watcher_may_read_a_user_hook_that_does_not_declare_its_logs():
    class Reporter(bs.hooks.Hook):
        def __call__(self, epoch_nr, update_nr, net, stepper, logs):
            return {'score': 1.0 / (epoch_nr + 1)}

    trainer = train_with(Reporter(name='mine', timescale='update', interval=2),
                         StopAfterThresholdReached('mine.score', 0.3))
    assert trainer.current_epoch_nr == 3


def test_a_log_no_hook_provides_is_still_an_error_at_start():
    with pytest.raises(bs.errors.TrainingError, match="no hook logs it"):
        train_with(StopAfterThresholdReached('nobody.value', 0.5))
    with pytest.raises(bs.errors.TrainingError, match="logs only value"):
        train_with(ScriptedMonitor([1.0]), StopAfterThresholdReached('monitor.other', 0.5))


@pytest.mark.parametrize('make, message', [
    (lambda: EarlyStopper('validation.Accuracy', criterion='maximum'), "criterion must be"),
    (lambda: EarlyStopper('Accuracy'), "log_name must be '<hook name>.<entry>'"),
    (lambda: EarlyStopper('a.b', patience=0), "patience must be a positive integer"),
    (lambda: StopAfterThresholdReached('a.b', 0.5, 'above'), "criterion must be"),
    (lambda: StopAfterThresholdReached('a.b', '0.5'), "threshold must be a number"),
    (lambda: StopAfterEpoch(-1), "max_epochs must be an integer"),
    (lambda: StopOnNan(logs_to_check=[3]), "logs_to_check must be log names"),
    (lambda: StopAfterEpoch(3, timescale='epochs'), "timescale must be"),
    (lambda: StopAfterEpoch(3, interval=0), "interval must be a positive integer"),
], ids=['early-criterion', 'early-log-name', 'patience', 'threshold-criterion',
        'threshold-value', 'max-epochs', 'logs-to-check', 'timescale', 'interval'])
def test_bad_arguments_are_clear_errors(make, message):
    with pytest.raises(ValidationError, match=message):
        make()


def test_stop_on_nan_in_the_parameters():
    net = regression_net()
    hook = StopOnNan()
    hook(1, 1, net, None, {})  # finite: nothing happens
    parameters = net.get('parameters')
    parameters[3] = np.nan
    net.handler.set_from_numpy(net.buffer.parameters, parameters)
    with pytest.raises(StopIteration, match="parameters"):
        hook(1, 1, net, None, {})
    StopOnNan(check_parameters=False)(1, 1, net, None, {})  # not checked: no stop


@pytest.mark.parametrize('hook, logs, stops', [
    (StopOnNan(), {'rolling_training': {'total_loss': [1.0, float('inf')]}}, True),
    (StopOnNan(check_training_loss=False),
     {'rolling_training': {'total_loss': [float('nan')]}}, False),
    (StopOnNan(logs_to_check=['m.value']), {'m': {'value': [float('nan')]}}, True),
    (StopOnNan(logs_to_check=['m.value']), {'m': {'value': [float('nan'), 1.0]}}, False),
    (StopOnNan(logs_to_check=['m']), {'m': {'W': {'max': [float('nan')]}}}, True),
], ids=['training-loss', 'training-loss-off', 'log', 'only-latest', 'nested'])
def test_stop_on_nan_in_logs(hook, logs, stops):
    net = regression_net()
    if stops:
        with pytest.raises(StopIteration):
            hook(1, 1, net, None, logs)
    else:
        hook(1, 1, net, None, logs)


def test_stop_on_nan_ends_a_diverging_training():
    with np.errstate(over='ignore', invalid='ignore'):  # divergence overflows on purpose
        trainer = train_with(StopOnNan(), learning_rate=1e200)
    assert trainer.stop_reason.startswith('StopOnNan')
    assert trainer.current_epoch_nr < 30


@pytest.mark.skipif(not hasattr(signal, 'SIGQUIT'), reason='no SIGQUIT on this platform')
def test_stop_on_sigquit_stops_at_the_next_call_and_restores_the_handler():
    hook = StopOnSigQuit()
    previous = signal.getsignal(signal.SIGQUIT)
    hook.start(None, None, False, {})
    hook(0, 0, None, None, {})
    os.kill(os.getpid(), signal.SIGQUIT)
    with pytest.raises(StopIteration, match="SIGQUIT"):
        hook(1, 1, None, None, {})
    hook.end()
    assert signal.getsignal(signal.SIGQUIT) == previous
