"""Schedules: values by their documented formulas, timescales, argument checks, descriptions."""

import pytest

import brainstorm as bs
from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import ValidationError
from brainstorm.training.schedules import Exponential, Linear, MultiStep, StepDecay


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


def test_extra_arguments_of_the_original_calling_convention_are_ignored():
    assert Linear(1.0, 0.0, 2)(1, 5, 'epoch', 1, None, None, {}) == 0.5


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
                                      Exponential(0.1, 0.9, minimum=0.01),
                                      MultiStep(0.1, [3], [0.01]), StepDecay(0.1, 0.5, 2)],
                         ids=['linear', 'exponential', 'multistep', 'stepdecay'])
def test_description_round_trip(schedule):
    copy = create_from_description(get_description(schedule))
    assert type(copy) is type(schedule)
    assert [copy(n, n) for n in range(6)] == [schedule(n, n) for n in range(6)]


def test_reachable_from_the_training_package():
    assert bs.training.Exponential is Exponential
    assert bs.training.schedules.StepDecay is StepDecay
