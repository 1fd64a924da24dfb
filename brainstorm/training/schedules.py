"""Schedules: values that change with the progress of training (brainstorm 0.5's API).

A schedule is called as ``schedule(epoch_nr, update_nr, timescale, interval, net,
stepper, logs)`` and returns a number; this is how ``ModifyStepperAttribute``
calls it, passing its own ``timescale`` and ``interval``. The schedule reads the
counter of the *caller's* timescale (``epoch_nr`` or ``update_nr``) and moves in
steps of ``n = counter // interval``:

* ``Linear(initial_value, final_value, num_changes)``:
  ``initial + (final - initial) * min(n, num_changes) / num_changes``.
* ``Exponential(initial_value, factor, minimum=-inf, maximum=inf)``:
  ``initial * factor ** n``, clipped to ``[minimum, maximum]``.
* ``MultiStep(initial_value, steps, values)``: ``initial`` while ``counter <
  steps[0]``, ``values[i]`` once ``counter >= steps[i]`` (``interval`` must be 1).
* ``DecreaseAfterEpoch(initial_value, T)``: ``initial * T / max(epoch_nr + 1, T)``.
* ``StepDecay(initial_value, factor, every)``: ``initial * factor ** (n // every)``
  (the classic "divide the learning rate by 10 every 30 epochs" decay; not in 0.5).

A schedule may also be a stepper hyper-parameter directly (``SgdStepper(
learning_rate=Exponential(0.1, 0.95))``): the stepper calls ``schedule(epoch_nr,
update_nr)`` with the completed epochs and updates, and the schedule then uses
its own ``timescale`` (constructor keyword, default ``'epoch'``) and interval 1.
A user's function with the seven arguments works wherever a schedule does.
"""

import inspect
import math
import numbers

from brainstorm.describable import Describable
from brainstorm.errors import ValidationError

TIMESCALES = ('epoch', 'update')


def _check_number(owner, name, value, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{owner}: {name} must be a number, got {value!r}")
    if positive and not value > 0:
        raise ValidationError(f"{owner}: {name} must be > 0, got {value!r}")
    return value


def _check_count(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValidationError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Schedule(Describable):
    """Base class of schedules.

    Args:
        timescale (str): the counter used when the caller gives none (a schedule
            used directly as a stepper hyper-parameter): ``'epoch'`` (completed
            epochs) or ``'update'`` (completed parameter updates).
    """

    __default_values__ = {'timescale': 'epoch'}

    def __init__(self, timescale='epoch'):
        if timescale not in TIMESCALES:
            raise ValidationError(f"{type(self).__name__}: timescale must be 'epoch' or "
                                  f"'update', got {timescale!r}")
        self.timescale = timescale

    def __call__(self, epoch_nr, update_nr, timescale=None, interval=1, net=None,
                 stepper=None, logs=None):
        """Return the value for the caller's counter.

        Args:
            epoch_nr (int): the trainer's epoch number (completed epochs when
                called on the epoch timescale).
            update_nr (int): the trainer's update number.
            timescale (Optional[str]): the caller's timescale, which picks the
                counter; None uses this schedule's own ``timescale``.
            interval (int): the caller's interval; the value moves in steps of
                ``counter // interval``.
            net, stepper, logs: the trainer's, passed on to user functions; unused.
        """
        timescale = self.timescale if timescale is None else timescale
        if timescale not in TIMESCALES:
            raise ValidationError(f"{type(self).__name__}: called with timescale "
                                  f"{timescale!r}; expected 'epoch' or 'update'")
        interval = _check_count(type(self).__name__, 'the interval it is called with',
                                interval)
        count = epoch_nr if timescale == 'epoch' else update_nr
        return self.value_at(max(int(count), 0) // interval)

    def value_at(self, count):
        """Return the value after ``count`` (>= 0) steps of ``interval`` counts."""
        raise NotImplementedError(f"{type(self).__name__} does not implement value_at")


def call_schedule(schedule, epoch_nr, update_nr, timescale, interval, net, stepper, logs):
    """Call ``schedule`` with 0.5's seven arguments, or a two-argument function with two.

    A function ``f(epoch_nr, update_nr)`` (this project's earlier convention)
    is still accepted; everything else gets all seven arguments. A
    :class:`Schedule` given ``timescale=None`` uses its own timescale.
    """
    if not isinstance(schedule, Schedule) and _takes_two_positional(schedule):
        return schedule(epoch_nr, update_nr)
    if timescale is None and not isinstance(schedule, Schedule):
        timescale = 'update'    # a user's function used directly by a stepper
    return schedule(epoch_nr, update_nr, timescale, interval, net, stepper, logs)


def _takes_two_positional(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2


class Linear(Schedule):
    """Changes linearly from ``initial_value`` to ``final_value`` in ``num_changes`` steps.

    Value: ``initial + (final - initial) * min(n, num_changes) / num_changes`` with
    ``n = counter // interval``.

    Args:
        initial_value (float): value at ``n = 0``.
        final_value (float): value from ``n = num_changes`` on.
        num_changes (int): number of steps (>= 1) the change takes.
        timescale (str): ``'epoch'`` or ``'update'`` (used when the caller gives none).

    Example:
        >>> Linear(0.1, 0.01, 9)(3, 300, 'epoch', 1, None, None, {})  # 0.1 - 3 * 0.01
        0.07
    """

    def __init__(self, initial_value, final_value, num_changes, timescale='epoch'):
        super().__init__(timescale)
        self.initial_value = _check_number('Linear', 'initial_value', initial_value)
        self.final_value = _check_number('Linear', 'final_value', final_value)
        self.num_changes = _check_count('Linear', 'num_changes', num_changes)

    def value_at(self, count):
        fraction = min(count, self.num_changes) / self.num_changes
        return self.initial_value + (self.final_value - self.initial_value) * fraction


class Exponential(Schedule):
    """Multiplies the value by ``factor`` every step: ``initial * factor ** n``.

    Args:
        initial_value (float): value at ``n = 0``.
        factor (float): multiplier per step (> 0).
        minimum (Optional[float]): the value never goes below this (None: no bound).
        maximum (Optional[float]): the value never goes above this (None: no bound).
        timescale (str): ``'epoch'`` or ``'update'`` (used when the caller gives none).
    """

    __default_values__ = {'minimum': -math.inf, 'maximum': math.inf}

    def __init__(self, initial_value, factor, minimum=-math.inf, maximum=math.inf,
                 timescale='epoch'):
        super().__init__(timescale)
        self.initial_value = _check_number('Exponential', 'initial_value', initial_value)
        self.factor = _check_number('Exponential', 'factor', factor, positive=True)
        self.minimum = -math.inf if minimum is None else _check_number(
            'Exponential', 'minimum', minimum)
        self.maximum = math.inf if maximum is None else _check_number(
            'Exponential', 'maximum', maximum)
        if self.minimum > self.maximum:
            raise ValidationError(f"Exponential: minimum ({minimum}) is above maximum "
                                  f"({maximum})")

    def value_at(self, count):
        return min(max(self.initial_value * self.factor ** count, self.minimum), self.maximum)

    def __init_from_description__(self, description):
        # descriptions of this project's earlier files hold minimum: None
        self.minimum = -math.inf if self.minimum is None else self.minimum
        self.maximum = math.inf if self.maximum is None else self.maximum


class MultiStep(Schedule):
    """Piecewise constant: switches to ``values[i]`` once the counter reaches ``steps[i]``.

    Only for interval 1 (as in brainstorm 0.5): the steps count epochs or updates.

    Args:
        initial_value (float): value while the counter is below ``steps[0]``.
        steps (list[int]): strictly increasing counts at which the value changes.
        values (list[float]): the values from each step on (same length as ``steps``).
        timescale (str): ``'epoch'`` or ``'update'`` (used when the caller gives none).

    Example:
        >>> schedule = MultiStep(0.1, steps=[10, 20], values=[0.01, 0.001])
        >>> schedule(15, 0, 'epoch', 1, None, None, {})
        0.01
    """

    def __init__(self, initial_value, steps, values, timescale='epoch'):
        super().__init__(timescale)
        self.initial_value = _check_number('MultiStep', 'initial_value', initial_value)
        steps, values = list(steps), list(values)
        if len(steps) != len(values):
            raise ValidationError(f"MultiStep: steps and values must have the same length, "
                                  f"got {len(steps)} steps and {len(values)} values")
        for step in steps:
            _check_count('MultiStep', 'every step', step)
        if any(later <= earlier for earlier, later in zip(steps, steps[1:])):
            raise ValidationError(f"MultiStep: steps must be strictly increasing, got {steps}")
        for value in values:
            _check_number('MultiStep', 'every value', value)
        self.steps = steps
        self.values = values

    def __call__(self, epoch_nr, update_nr, timescale=None, interval=1, net=None,
                 stepper=None, logs=None):
        if interval != 1:
            raise ValidationError(
                f"MultiStep works only with interval 1 (its steps count epochs or updates), "
                f"but it is called with interval {interval!r}; set the hook's interval to 1")
        return super().__call__(epoch_nr, update_nr, timescale, interval, net, stepper, logs)

    def value_at(self, count):
        value = self.initial_value
        for step, step_value in zip(self.steps, self.values):
            if count >= step:
                value = step_value
        return value


class DecreaseAfterEpoch(Schedule):
    """Constant for ``T`` epochs, then decreasing as ``1 / epoch``: 0.5's schedule.

    Value: ``initial_value * T / max(epoch_nr + 1, T)`` (whatever the timescale).

    Args:
        initial_value (float): value for the first ``T - 1`` epochs.
        T (int): the epoch from which the value decreases (>= 1).
    """

    def __init__(self, initial_value, T):  # noqa: N803 (0.5's name)
        super().__init__('epoch')
        self.initial_value = _check_number('DecreaseAfterEpoch', 'initial_value',
                                           initial_value)
        self.T = _check_count('DecreaseAfterEpoch', 'T', T)

    def __call__(self, epoch_nr, update_nr, timescale=None, interval=1, net=None,
                 stepper=None, logs=None):
        return self.initial_value * self.T / max(max(int(epoch_nr), 0) + 1, self.T)


class StepDecay(Schedule):
    """Multiplies the value by ``factor`` every ``every`` steps.

    Value: ``initial * factor ** (n // every)``; with the default epoch timescale this
    is "decrease after every ``every`` epochs".

    Args:
        initial_value (float): value for ``n < every``.
        factor (float): multiplier applied every ``every`` steps (> 0).
        every (int): steps between changes (>= 1).
        timescale (str): ``'epoch'`` or ``'update'``.
    """

    def __init__(self, initial_value, factor, every, timescale='epoch'):
        super().__init__(timescale)
        self.initial_value = _check_number('StepDecay', 'initial_value', initial_value)
        self.factor = _check_number('StepDecay', 'factor', factor, positive=True)
        self.every = _check_count('StepDecay', 'every', every)

    def value_at(self, count):
        return self.initial_value * self.factor ** (count // self.every)


__all__ = ['Schedule', 'Linear', 'Exponential', 'MultiStep', 'DecreaseAfterEpoch', 'StepDecay']
