"""Schedules: values that change with the progress of training.

A schedule is called as ``schedule(epoch_nr, update_nr)`` and returns a number. Both
arguments count what is *completed*: during the first update of the first epoch a
stepper asks for ``schedule(0, 0)``; a hook called after epoch ``E`` asks for
``schedule(E, U)`` and so sets the value used in epoch ``E + 1``. Each schedule reads
one of the two counters, chosen by its ``timescale`` (``'epoch'`` or ``'update'``);
below, ``n`` is that counter.

* ``Linear(initial_value, final_value, num_changes)``:
  ``initial + (final - initial) * min(n, num_changes) / num_changes``.
* ``Exponential(initial_value, factor, minimum=None)``:
  ``initial * factor ** n``, never below ``minimum`` (when given).
* ``MultiStep(initial_value, steps, values)``: ``initial`` while ``n < steps[0]``,
  ``values[i]`` once ``n >= steps[i]``.
* ``StepDecay(initial_value, factor, every)``: ``initial * factor ** (n // every)``
  (the classic "divide the learning rate by 10 every 30 epochs" decay).

Any stepper hyper-parameter may be a schedule (``SgdStepper(learning_rate=
Exponential(0.1, 0.95))``), or a hook may set it (``ModifyStepperAttribute``).
Extra positional or keyword arguments are accepted and ignored, so the original's
longer calling convention (``schedule(epoch_nr, update_nr, timescale, interval, net,
stepper, logs)``) works too.
"""

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
        timescale (str): which counter the value depends on: ``'epoch'`` (completed
            epochs) or ``'update'`` (completed parameter updates).
    """

    __default_values__ = {'timescale': 'epoch'}

    def __init__(self, timescale='epoch'):
        if timescale not in TIMESCALES:
            raise ValidationError(f"{type(self).__name__}: timescale must be 'epoch' or "
                                  f"'update', got {timescale!r}")
        self.timescale = timescale

    def __call__(self, epoch_nr, update_nr, *args, **kwargs):
        """Return the value after ``epoch_nr`` epochs and ``update_nr`` updates."""
        count = epoch_nr if self.timescale == 'epoch' else update_nr
        return self.value_at(max(int(count), 0))

    def value_at(self, count):
        """Return the value after ``count`` (>= 0) steps of the timescale."""
        raise NotImplementedError(f"{type(self).__name__} does not implement value_at")


class Linear(Schedule):
    """Changes linearly from ``initial_value`` to ``final_value`` in ``num_changes`` steps.

    Value: ``initial + (final - initial) * min(n, num_changes) / num_changes``.

    Args:
        initial_value (float): value at ``n = 0``.
        final_value (float): value from ``n = num_changes`` on.
        num_changes (int): number of steps (>= 1) the change takes.
        timescale (str): ``'epoch'`` or ``'update'``.

    Example:
        >>> Linear(0.1, 0.01, 9)(epoch_nr=3, update_nr=300)  # 0.1 - 3 * 0.01
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
        minimum (Optional[float]): the value never goes below this.
        timescale (str): ``'epoch'`` or ``'update'``.
    """

    __default_values__ = {'minimum': None}

    def __init__(self, initial_value, factor, minimum=None, timescale='epoch'):
        super().__init__(timescale)
        self.initial_value = _check_number('Exponential', 'initial_value', initial_value)
        self.factor = _check_number('Exponential', 'factor', factor, positive=True)
        self.minimum = None if minimum is None else _check_number('Exponential', 'minimum',
                                                                   minimum)

    def value_at(self, count):
        value = self.initial_value * self.factor ** count
        return value if self.minimum is None else max(value, self.minimum)


class MultiStep(Schedule):
    """Piecewise constant: switches to ``values[i]`` once ``n >= steps[i]``.

    Args:
        initial_value (float): value while ``n < steps[0]``.
        steps (list[int]): strictly increasing step counts at which the value changes.
        values (list[float]): the values from each step on (same length as ``steps``).
        timescale (str): ``'epoch'`` or ``'update'``.

    Example:
        >>> schedule = MultiStep(0.1, steps=[10, 20], values=[0.01, 0.001])
        >>> schedule(15, 0)
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

    def value_at(self, count):
        value = self.initial_value
        for step, step_value in zip(self.steps, self.values):
            if count >= step:
                value = step_value
        return value


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


__all__ = ['Schedule', 'Linear', 'Exponential', 'MultiStep', 'StepDecay']
