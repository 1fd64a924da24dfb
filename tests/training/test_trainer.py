"""Trainer: hook schedule and order, logs, stopping, checks before training, reporting."""

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.errors import TrainingError
from brainstorm.hooks import (EarlyStopper, Hook, MonitorLayerParameters, MonitorLoss,
                              MonitorScores, SaveBestNetwork, StopAfterEpoch,
                              StopAfterThresholdReached, StopOnNan)
from brainstorm.scorers import Accuracy
from brainstorm.training import SgdStepper, Trainer
from brainstorm.training.utils import Report, format_report
from tests.training.nets import (XOR_INPUTS, XOR_TARGETS, regression_data, regression_net,
                                 xor_net)


class Recorder(Hook):
    """Records every call in a shared list; optionally stops or returns a log."""

    def __init__(self, calls, name=None, timescale='epoch', interval=1, stop_at=None,
                 log=None, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        self.calls, self.stop_at, self.log = calls, stop_at, log

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        self.calls.append((self.name, epoch_nr, update_nr))
        if self.stop_at is not None and (epoch_nr, update_nr) == self.stop_at:
            raise StopIteration(f"{self.name} says stop")
        return self.log


def regression_iterator(batch_size=4, nr_samples=12, shuffle=False):
    inputs, targets = regression_data(nr_samples)
    return bs.Minibatches(batch_size, shuffle=shuffle, default=inputs, targets=targets)


def test_hooks_are_called_first_at_epoch_zero_then_on_their_schedule_in_order():
    calls = []
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(Recorder(calls, 'every-2-updates', timescale='update', interval=2))
    trainer.add_hook(Recorder(calls, 'every-epoch'))
    trainer.add_hook(Recorder(calls, 'every-2-epochs', interval=2))
    trainer.add_hook(StopAfterEpoch(3))
    trainer.train(regression_net(), regression_iterator())  # 3 batches per epoch
    assert calls == [
        ('every-2-updates', 0, 0), ('every-epoch', 0, 0), ('every-2-epochs', 0, 0),
        ('every-2-updates', 1, 2), ('every-epoch', 1, 3),
        ('every-2-updates', 2, 4), ('every-2-updates', 2, 6), ('every-epoch', 2, 6),
        ('every-2-epochs', 2, 6),
        ('every-2-updates', 3, 8), ('every-epoch', 3, 9)]
    assert (trainer.current_epoch_nr, trainer.current_update_nr) == (3, 9)


def test_logs_are_nested_dicts_of_lists_with_one_entry_per_call():
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(Recorder([], 'nested', log={'a': 1.0, 'group': {'b': 2.0}}))
    trainer.add_hook(MonitorLoss('validation_iter', name='validation'))
    trainer.add_hook(StopAfterEpoch(2))
    trainer.train(regression_net(), regression_iterator(),
                  validation_iter=regression_iterator())
    logs = trainer.logs
    assert logs['nested'] == {'a': [1.0] * 3, 'group': {'b': [2.0] * 3}}
    assert list(logs['validation']) == ['total_loss'] and len(logs['validation']['total_loss']) == 3
    assert list(logs['rolling_training']) == ['total_loss']
    assert len(logs['rolling_training']['total_loss']) == 2  # complete epochs only
    assert 'StopAfterEpoch' not in logs  # hooks that return None log nothing


def test_rolling_training_loss_and_train_scorers_average_over_the_epoch():
    # learning rate 0: every batch sees the same parameters, so the rolling values are
    # those of a monitor over the same data (batches of 5, 5 and 2: weighted by size)
    net = xor_net()
    inputs = np.concatenate([XOR_INPUTS] * 3, axis=1)
    targets = np.concatenate([XOR_TARGETS] * 3, axis=1)
    data = bs.Minibatches(5, shuffle=False, default=inputs, targets=targets)
    trainer = Trainer(SgdStepper(0.0), verbose=False)
    trainer.train_scorers = [Accuracy(out_name='Output.outputs.probabilities')]
    trainer.add_hook(MonitorScores('all', trainer.train_scorers, name='monitor'))
    trainer.add_hook(StopAfterEpoch(1))
    trainer.train(net, data, all=data)
    rolling, monitor = trainer.logs['rolling_training'], trainer.logs['monitor']
    assert rolling['total_loss'][0] == pytest.approx(monitor['total_loss'][0], rel=1e-12)
    assert rolling['Accuracy'][0] == pytest.approx(monitor['Accuracy'][0], rel=1e-12)

    net.provide_external_data({'default': inputs, 'targets': targets})
    net.forward_pass()
    assert monitor['total_loss'][0] == pytest.approx(net.get_loss_values()['total_loss'],
                                                     rel=1e-12)


def test_add_hook_rejects_duplicate_and_reserved_names():
    trainer = Trainer(SgdStepper())
    trainer.add_hook(StopAfterEpoch(1))
    with pytest.raises(ValueError, match="'StopAfterEpoch' was already added"):
        trainer.add_hook(StopAfterEpoch(2))
    with pytest.raises(ValueError, match="reserved"):
        trainer.add_hook(StopAfterEpoch(2, name='rolling_training'))
    trainer.add_hook(StopAfterEpoch(2, name='second'))
    assert list(trainer.hooks) == ['StopAfterEpoch', 'second']


def test_a_stopping_hook_ends_training_after_the_other_hooks_of_its_round():
    calls = []
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(Recorder(calls, 'stopper', stop_at=(2, 6)))
    trainer.add_hook(Recorder(calls, 'after', log={'x': 1.0}))
    trainer.train(regression_net(), regression_iterator())
    assert calls[-2:] == [('stopper', 2, 6), ('after', 2, 6)]
    assert trainer.stop_reason == 'stopper says stop'
    assert trainer.interrupted is False
    assert trainer.logs['after']['x'] == [1.0] * 3
    assert len(trainer.logs['rolling_training']['total_loss']) == 2


def test_a_stop_at_epoch_zero_trains_nothing():
    net = regression_net()
    before = net.get('parameters')
    trainer = Trainer(SgdStepper(0.5), verbose=False)
    trainer.add_hook(Recorder([], 'stopper', stop_at=(0, 0)))
    trainer.train(net, regression_iterator())
    np.testing.assert_array_equal(net.get('parameters'), before)
    assert trainer.current_update_nr == 0 and 'rolling_training' not in trainer.logs


def test_update_hooks_can_stop_in_the_middle_of_an_epoch():
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(Recorder([], 'stopper', timescale='update', stop_at=(2, 5)))
    trainer.train(regression_net(), regression_iterator())
    assert (trainer.current_epoch_nr, trainer.current_update_nr) == (2, 5)
    assert len(trainer.logs['rolling_training']['total_loss']) == 1


class Requester(Hook):
    """Calls trainer.request_stop (as a signal handler would) at one update."""

    def __init__(self, trainer, at_update):
        super().__init__('Requester', 'update')
        self.trainer, self.at_update = trainer, at_update

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if update_nr == self.at_update:
            self.trainer.request_stop('SIGINT received')


def test_request_stop_ends_training_after_the_current_update():
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(Requester(trainer, at_update=4))
    trainer.add_hook(StopAfterEpoch(10))
    trainer.train(regression_net(), regression_iterator())
    assert (trainer.current_epoch_nr, trainer.current_update_nr) == (2, 4)
    assert trainer.interrupted is True and trainer.stop_reason == 'SIGINT received'
    assert len(trainer.logs['rolling_training']['total_loss']) == 1


def train_expecting_error(trainer, net=None, **iterators):
    net = regression_net() if net is None else net
    with pytest.raises(TrainingError) as error:
        trainer.train(net, regression_iterator(), **iterators)
    assert trainer.current_update_nr == 0 and not trainer.logs  # nothing ran
    return str(error.value)


@pytest.mark.parametrize('hooks, fragment', [
    ([MonitorLoss('valid_getter', name='validation')],
     "'validation' (MonitorLoss) uses the data iterator 'valid_getter', but train() was "
     "given only training_data_iter"),
    ([MonitorLayerParameters('Hiden')], "monitors the layer 'Hiden', which the network does "
                                        "not have"),
    ([EarlyStopper('validation.total_loss')],
     "reads the log 'validation.total_loss', but no hook logs it"),
    ([MonitorScores('training_data_iter', [Accuracy()], name='validation'),
      StopAfterThresholdReached('validation.Acuracy', 0.9)],
     "'validation' logs only total_loss, Accuracy"),
    ([StopOnNan(logs_to_check=['rolling_training.accuracy'])],
     "'rolling_training' logs only total_loss"),
], ids=['iterator', 'layer', 'unknown-log', 'unknown-entry', 'rolling-entry'])
def test_bad_hook_setups_fail_before_training_with_a_clear_message(hooks, fragment):
    trainer = Trainer(SgdStepper(), verbose=False)
    for hook in hooks:
        trainer.add_hook(hook)
    assert fragment in train_expecting_error(trainer)


@pytest.mark.parametrize('hooks, note', [
    ([SaveBestNetwork('validation.total_loss', criterion='min'),
      MonitorLoss('training_data_iter', name='validation')],
     "is called before 'validation'"),
    ([MonitorLoss('training_data_iter', name='validation', interval=2),
      EarlyStopper('validation.total_loss')],
     "logged every 2 epoch(s)"),
    ([MonitorLoss('training_data_iter', name='validation', timescale='update'),
      SaveBestNetwork('validation.total_loss', criterion='min')],
     "logged every 1 update(s)"),
    ([EarlyStopper('rolling_training.total_loss', timescale='update', patience=50)],
     "logged every 1 epoch(s)"),
], ids=['later-hook', 'interval-mismatch', 'timescale-mismatch', 'rolling-timescale'])
def test_watchers_on_another_schedule_train_and_are_only_noted(hooks, note):
    # brainstorm 0.5 runs these: the watcher reads the latest value when it is called
    trainer = Trainer(SgdStepper(0.01), verbose=True)
    reports = []
    trainer.reporter = reports.append
    for hook in hooks:
        trainer.add_hook(hook)
    trainer.add_hook(StopAfterEpoch(2))
    trainer.train(regression_net(), regression_iterator())
    assert trainer.current_epoch_nr == 2
    assert any(report.kind == 'message' and note in report.message for report in reports)


def test_every_problem_is_listed_at_once():
    trainer = Trainer(SgdStepper(), verbose=False)
    trainer.add_hook(MonitorLoss('valid', name='validation'))
    trainer.add_hook(MonitorLayerParameters('Nope'))
    message = train_expecting_error(trainer)
    assert "'valid'" in message and "'Nope'" in message


def test_valid_log_names_pass_the_checks():
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.train_scorers = [bs.scorers.MeanSquaredError(out_name='Output.outputs.predictions')]
    trainer.add_hook(MonitorLoss('valid', name='validation'))
    trainer.add_hook(MonitorLayerParameters('Hidden', name='params'))
    trainer.add_hook(EarlyStopper('validation.total_loss', patience=100))
    trainer.add_hook(SaveBestNetwork('rolling_training.MeanSquaredError', criterion='min'))
    trainer.add_hook(StopOnNan(logs_to_check=['params.W.mean']))
    trainer.add_hook(StopAfterEpoch(1))
    trainer.train(regression_net(), regression_iterator(), valid=regression_iterator())
    assert trainer.logs['params']['W']['mean'][0] == pytest.approx(
        trainer.logs['params']['W']['mean'][0])
    assert len(trainer.logs['rolling_training']['MeanSquaredError']) == 1


def test_modify_stepper_attribute_of_a_missing_attribute_fails_before_training():
    trainer = Trainer(SgdStepper(), verbose=False)
    trainer.add_hook(bs.hooks.ModifyStepperAttribute(bs.training.Linear(1, 0, 2),
                                                     attr_name='momentum'))
    assert "has no attribute 'momentum'" in train_expecting_error(trainer)


@pytest.mark.parametrize('trainer_verbose, hook_verbose, reported', [
    (True, None, True), (False, None, False), (False, True, True), (True, False, False)],
    ids=['trainer-on', 'trainer-off', 'hook-on', 'hook-off'])
def test_logs_are_reported_according_to_verbosity(trainer_verbose, hook_verbose, reported):
    reports = []
    trainer = Trainer(SgdStepper(0.01), verbose=trainer_verbose)
    trainer.reporter = reports.append
    trainer.add_hook(Recorder([], 'monitor', log={'x': 1.0}, verbose=hook_verbose))
    trainer.add_hook(StopAfterEpoch(1))
    trainer.train(regression_net(), regression_iterator())
    monitor_reports = [report for report in reports if report.name == 'monitor']
    assert bool(monitor_reports) == reported
    if reported:
        assert monitor_reports[0] == Report('log', 'monitor', 0, 0, values={'x': 1.0})
    stops = [report for report in reports if report.kind == 'stop']
    assert bool(stops) == trainer_verbose


def test_the_default_reporter_writes_to_stderr_only(capsys):
    trainer = Trainer(SgdStepper(0.01), verbose=True)
    trainer.add_hook(StopAfterEpoch(1))
    trainer.train(regression_net(), regression_iterator())
    captured = capsys.readouterr()
    assert captured.out == ''
    assert 'rolling_training (epoch 1, update 3):' in captured.err
    assert 'StopAfterEpoch: 1 epochs are done' in captured.err


def test_format_report_renders_nested_values():
    text = format_report(Report('log', 'm', 2, 10, values={'a': 0.5, 'g': {'b': 1}}))
    assert text == "m (epoch 2, update 10):\n  a: 0.5\n  g:\n    b: 1"


def test_trainer_at_the_spec_paths():
    assert bs.Trainer is bs.training.trainer.Trainer is Trainer


def test_every_log_entry_has_its_epoch_and_update_number():
    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(MonitorLoss('validation_iter', name='validation'))
    trainer.add_hook(Recorder([], 'every-2-updates', timescale='update', interval=2,
                              log={'a': 1.0}))
    trainer.add_hook(StopAfterEpoch(2))
    trainer.train(regression_net(), regression_iterator(),  # 3 batches per epoch
                  validation_iter=regression_iterator())
    steps = trainer.log_steps
    assert steps['validation'] == {'epoch_nr': [0, 1, 2], 'update_nr': [0, 3, 6]}
    assert steps['rolling_training'] == {'epoch_nr': [1, 2], 'update_nr': [3, 6]}
    assert steps['every-2-updates'] == {'epoch_nr': [0, 1, 2, 2], 'update_nr': [0, 2, 4, 6]}
    for name, numbers in steps.items():
        entries = trainer.logs[name]
        first = next(iter(entries.values())) if isinstance(entries, dict) else entries
        assert len(numbers['epoch_nr']) == len(numbers['update_nr']) == len(first), name
    resumed = Trainer(SgdStepper(0.01), verbose=False)
    for hook in trainer.hooks.values():
        resumed.add_hook(hook)
    resumed.set_state(trainer.get_state())
    assert resumed.log_steps == steps


def test_a_state_saved_by_a_hook_after_the_stopping_one_is_finished():
    states = []

    class SaveState(Hook):
        def __call__(self, epoch_nr, update_nr, net, stepper, logs):
            states.append(trainer.get_state()['finished'])

    trainer = Trainer(SgdStepper(0.01), verbose=False)
    trainer.add_hook(StopAfterEpoch(2))
    trainer.add_hook(SaveState())
    trainer.train(regression_net(), regression_iterator())
    assert states == [False, False, True]
    assert trainer.get_state()['finished'] and trainer.completed_epochs == 2
