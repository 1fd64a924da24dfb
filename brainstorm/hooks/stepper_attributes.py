"""ModifyStepperAttribute: a hook that sets a stepper hyper-parameter from a schedule."""

from brainstorm.errors import TrainingError, ValidationError
from brainstorm.hooks.base import Hook
from brainstorm.training.schedules import call_schedule


class ModifyStepperAttribute(Hook):
    """Modify an attribute of the training stepper.

    At every call, ``setattr(stepper, attr_name, schedule(epoch_nr, update_nr,
    timescale, interval, net, stepper, logs))`` with this hook's ``timescale`` and
    ``interval`` (brainstorm 0.5's call), and the value is logged under
    ``logs[name][attr_name]``. Called after epoch ``E``, the schedule gets
    ``epoch_nr = E``: the value it returns is the one used in epoch ``E + 1`` (and
    the value for ``(0, 0)`` is set before training).

    Args:
        schedule (callable): a ``brainstorm.training.schedules`` schedule, or any
            function of those seven arguments (a function of just
            ``(epoch_nr, update_nr)`` works too).
        attr_name (str): the stepper attribute to set, e.g. ``'learning_rate'``.
        timescale (str): ``'epoch'`` or ``'update'``.
        interval (int): called every ``interval`` epochs/updates.
        name (Optional[str]): default 'ModifyStepperAttribute'.
        verbose (Optional[bool]): None uses the trainer's.

    Example:
        >>> ModifyStepperAttribute(Exponential(0.1, 0.9), attr_name='learning_rate')
    """

    can_stop = False

    __default_values__ = {'attr_name': 'learning_rate'}

    def __init__(self, schedule, attr_name='learning_rate', timescale='epoch', interval=1,
                 name=None, verbose=None):
        super().__init__(name, timescale, interval, verbose)
        if not callable(schedule):
            raise ValidationError(f"{self.name}: schedule must be a schedule (callable as "
                                  f"schedule(epoch_nr, update_nr, timescale, interval, net, "
                                  f"stepper, logs)), got {schedule!r}")
        if not isinstance(attr_name, str) or not attr_name:
            raise ValidationError(f"{self.name}: attr_name must be a stepper attribute name, "
                                  f"got {attr_name!r}")
        self.schedule = schedule
        self.attr_name = attr_name

    def provided_logs(self, net):
        return [self.attr_name]

    def start(self, net, stepper, verbose, named_data_iters):
        super().start(net, stepper, verbose, named_data_iters)
        if not hasattr(stepper, self.attr_name):
            known = ', '.join(getattr(stepper, 'hyperparameters', ())) or 'none listed'
            raise TrainingError(f"{self.name}: the stepper {type(stepper).__name__} has no "
                                f"attribute {self.attr_name!r} (its hyper-parameters: {known})")

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        value = call_schedule(self.schedule, epoch_nr, update_nr, self.timescale,
                              self.interval, net, stepper, logs)
        setattr(stepper, self.attr_name, value)
        return {self.attr_name: value}


__all__ = ['ModifyStepperAttribute']
