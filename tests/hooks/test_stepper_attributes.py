"""ModifyStepperAttribute: which value the stepper uses in which epoch or update."""

import pytest

import brainstorm as bs
from brainstorm.errors import ValidationError
from brainstorm.hooks import ModifyStepperAttribute, StopAfterEpoch
from brainstorm.training import (Exponential, Linear, MomentumStepper, MultiStep, SgdStepper,
                                 Trainer)
from tests.training.nets import regression_data, regression_net


class RecordingSgd(SgdStepper):
    """Records (epoch in progress, learning rate) of every update it makes."""

    def __init__(self, learning_rate):
        super().__init__(learning_rate)
        self.used = []

    def _update(self, values):
        self.used.append((self.epoch_nr + 1, values['learning_rate']))
        super()._update(values)


def train(stepper, *hooks, epochs=3):
    trainer = Trainer(stepper, verbose=False)
    for hook in hooks:
        trainer.add_hook(hook)
    trainer.add_hook(StopAfterEpoch(epochs))
    inputs, targets = regression_data(8)
    trainer.train(regression_net(), bs.Minibatches(4, default=inputs, targets=targets))
    return trainer


def test_epoch_schedule_sets_the_value_used_in_the_next_epoch():
    stepper = RecordingSgd(1.0)
    trainer = train(stepper, ModifyStepperAttribute(Exponential(0.1, 0.5)))
    assert stepper.used == ([(1, 0.1), (1, 0.1), (2, 0.05), (2, 0.05),
                                      (3, 0.025), (3, 0.025)])
    assert trainer.logs['ModifyStepperAttribute']['learning_rate'] == \
        pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_update_schedule_changes_the_value_every_update():
    stepper = RecordingSgd(1.0)
    train(stepper, ModifyStepperAttribute(Linear(0.4, 0.0, 4, timescale='update'),
                                          timescale='update'), epochs=2)
    assert [rate for _, rate in stepper.used] == pytest.approx([0.4, 0.3, 0.2, 0.1])


def test_a_schedule_as_the_hyperparameter_itself_gives_the_same_values():
    by_hook, direct = RecordingSgd(1.0), RecordingSgd(Exponential(0.1, 0.5))
    train(by_hook, ModifyStepperAttribute(Exponential(0.1, 0.5)))
    train(direct)
    assert by_hook.used == direct.used


def test_other_attributes_can_be_modified():
    stepper = MomentumStepper(0.1, momentum=0.0)
    train(stepper, ModifyStepperAttribute(Linear(0.5, 0.9, 2), attr_name='momentum'))
    assert stepper.momentum == pytest.approx(0.9)


def test_the_schedule_must_be_callable():
    with pytest.raises(ValidationError, match="schedule must be a schedule"):
        ModifyStepperAttribute(0.1)


def test_a_users_seven_argument_function_gets_the_hooks_timescale_and_interval():
    calls = []

    def halve_every_call(epoch_nr, update_nr, timescale, interval, net, stepper, logs):
        calls.append((epoch_nr, update_nr, timescale, interval, type(stepper).__name__,
                      isinstance(logs, dict), net is not None))
        return 0.4 / 2 ** (update_nr // interval)

    stepper = RecordingSgd(1.0)
    train(stepper, ModifyStepperAttribute(halve_every_call, timescale='update', interval=2),
          epochs=2)
    # called before training and after updates 2 and 4 (epoch 1 ends after update 2)
    assert [call[:4] for call in calls] == [(0, 0, 'update', 2), (1, 2, 'update', 2),
                                            (2, 4, 'update', 2)]
    assert all(call[4:] == ('RecordingSgd', True, True) for call in calls)
    assert [rate for _, rate in stepper.used] == pytest.approx([0.4, 0.4, 0.2, 0.2])


def test_the_hooks_timescale_overrides_the_schedules_own():
    stepper = RecordingSgd(1.0)
    # Linear's own timescale is 'epoch'; called by an update hook it follows updates
    train(stepper, ModifyStepperAttribute(Linear(0.4, 0.0, 4), timescale='update'), epochs=2)
    assert [rate for _, rate in stepper.used] == pytest.approx([0.4, 0.3, 0.2, 0.1])


def test_an_interval_moves_the_schedule_in_steps_of_counter_over_interval():
    stepper = RecordingSgd(1.0)
    train(stepper, ModifyStepperAttribute(Exponential(0.8, 0.5), timescale='update',
                                          interval=3), epochs=4)
    # the hook runs after updates 0, 3, 6: n = update_nr // 3 = 0, 1, 2
    assert [rate for _, rate in stepper.used] == pytest.approx(
        [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2])


def test_multistep_with_an_interval_is_a_clear_error():
    with pytest.raises(ValidationError, match="MultiStep works only with interval 1"):
        train(RecordingSgd(1.0), ModifyStepperAttribute(MultiStep(0.1, [1], [0.01]),
                                                        interval=2))


def test_a_seven_argument_function_as_the_hyperparameter_itself():
    calls = []

    def rate(epoch_nr, update_nr, timescale, interval, net, stepper, logs):
        calls.append((timescale, interval, type(stepper).__name__))
        return 0.4 / (1 + update_nr)

    stepper = RecordingSgd(rate)
    train(stepper, epochs=2)
    assert [value for _, value in stepper.used] == pytest.approx([0.4, 0.2, 0.4 / 3, 0.1])
    assert set(calls) == {('update', 1, 'RecordingSgd')}
