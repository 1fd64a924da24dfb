"""Schedules: values by their documented formulas, timescales, argument checks, descriptions."""

import pytest

import brainstorm as bs
from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import ValidationError
from brainstorm.training.schedules import (DecreaseAfterEpoch, Exponential, Linear, MultiStep,
                                          StepDecay)


@pytest.mark.parametrize('schedule, expected', [
    (Linear(1.0, 0.0, 4), [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]),
    (Linear(0.0, 2.0, 1), [0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]),
    (Exponential(1.0, 0.5), [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]),
    (Exponential(1.0, 0.5, minimum=0.1), [1.0, 0.5, 0.25, 0.125, 0.1, 0.1, 0.1]),
    (MultiStep(1.0, [2, 5], [0.5, 0.1]), [1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]),
    (StepDecay(1.0, 0.1, 3), [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]),
], ids=['linear', 'linear-one-change', 'exponential', 'exponential-minimum', 'multistep',
        'stepdecay'])
def test_values_follow_the_formulas(schedule, expected):
    values = [schedule(epoch_nr, update_nr=1000) for epoch_nr in range(len(expected))]
    assert values == pytest.approx(expected, rel=1e-12)


def test_update_timescale_reads_the_update_counter():
    schedule = Exponential(1.0, 0.5, timescale='update')
    assert schedule(epoch_nr=9, update_nr=2) == 0.25
    assert Exponential(1.0, 0.5)(epoch_nr=1, update_nr=9) == 0.5


@pytest.mark.parametrize('timescale', ['epoch', 'update'])
@pytest.mark.parametrize('interval', [1, 2, 3])
@pytest.mark.parametrize('schedule, formula', [
    (Linear(1.0, 0.0, 4), lambda n: 1.0 - min(n, 4) / 4),
    (Exponential(1.0, 0.5, minimum=0.05, maximum=0.4), lambda n: min(max(0.5 ** n, 0.05), 0.4)),
    (StepDecay(1.0, 0.1, 2), lambda n: 0.1 ** (n // 2)),
], ids=['linear', 'exponential-min-max', 'stepdecay'])
def test_seven_argument_call_uses_the_callers_timescale_and_interval(schedule, formula,
                                                                     timescale, interval):
    for counter in range(12):
        other = 1000 - counter      # the counter of the other timescale must not matter
        epoch_nr, update_nr = (counter, other) if timescale == 'epoch' else (other, counter)
        value = schedule(epoch_nr, update_nr, timescale, interval, None, None, {})
        assert value == pytest.approx(formula(counter // interval), rel=1e-12)


def test_multistep_counts_the_callers_counter_and_needs_interval_one():
    schedule = MultiStep(1.0, [2, 5], [0.5, 0.1])
    assert [schedule(0, n, 'update', 1, None, None, {}) for n in range(7)] == \
        [1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValidationError, match="MultiStep works only with interval 1"):
        schedule(4, 4, 'epoch', 2, None, None, {})


def test_decrease_after_epoch_is_constant_then_one_over_epoch():
    schedule = DecreaseAfterEpoch(0.6, 3)
    values = [schedule(epoch, 99, 'epoch', 1, None, None, {}) for epoch in range(6)]
    assert values == pytest.approx([0.6, 0.6, 0.6, 0.6 * 3 / 4, 0.6 * 3 / 5, 0.6 * 3 / 6])


def test_exponential_defaults_are_unbounded_and_describe_to_nothing():
    schedule = Exponential(2.0, 10.0)
    assert schedule(5, 0) == 2.0e5
    assert 'minimum' not in get_description(schedule)
    assert 'maximum' not in get_description(schedule)


@pytest.mark.parametrize('make, message', [
    (lambda: Linear(1.0, 0.0, 0), "num_changes must be a positive integer"),
    (lambda: Linear('1', 0.0, 2), "initial_value must be a number"),
    (lambda: Exponential(1.0, -0.5), "factor must be > 0"),
    (lambda: MultiStep(1.0, [3, 2], [0.1, 0.2]), "strictly increasing"),
    (lambda: MultiStep(1.0, [3], [0.1, 0.2]), "same length"),
    (lambda: StepDecay(1.0, 0.5, 0), "every must be a positive integer"),
    (lambda: StepDecay(1.0, 0.5, 2, timescale='minute'), "timescale must be"),
], ids=['linear-changes', 'linear-value', 'exponential-factor', 'multistep-order',
        'multistep-lengths', 'stepdecay-every', 'timescale'])
def test_bad_arguments_are_clear_errors(make, message):
    with pytest.raises(ValidationError, match=message):
        make()


@pytest.mark.parametrize('schedule', [Linear(0.1, 0.01, 5, timescale='update'),
                                      Exponential(0.1, 0.9, minimum=0.01, maximum=0.09),
                                      MultiStep(0.1, [3], [0.01]), StepDecay(0.1, 0.5, 2),
                                      DecreaseAfterEpoch(0.1, 2)],
                         ids=['linear', 'exponential', 'multistep', 'stepdecay', 'decrease'])
def test_description_round_trip(schedule):
    copy = create_from_description(get_description(schedule))
    assert type(copy) is type(schedule)
    assert [copy(n, n) for n in range(6)] == [schedule(n, n) for n in range(6)]


def test_reachable_from_the_training_package():
    assert bs.training.Exponential is Exponential
    assert bs.training.schedules.StepDecay is StepDecay
