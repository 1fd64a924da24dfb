"""Training steppers: one parameter update per call of ``run()``.

A stepper runs the network forward (``training_pass=True``) and backward on the data
already provided, updates the parameters, then applies the weight modifiers. All
parameters of a network are one contiguous array (``net.buffer.parameters``) and all
gradients another (``net.buffer.gradients``), so each update is a handful of handler
operations on those two arrays; the state arrays (velocities, moments) are allocated
once in ``start(net)`` and nothing is allocated per step.

Notation: ``P`` parameters, ``G`` gradients, ``lr`` learning rate, ``t`` the number of
this update (1 for the first).

* ``SgdStepper``:      ``P -= lr * G``
* ``MomentumStepper``: ``V = momentum * V - lr' * G;  P += V``
* ``NesterovStepper``: ``V = momentum * V;  P += V;`` forward/backward at ``P``
  (the look-ahead point)``;  V -= lr' * G;  P -= lr' * G``
  (``lr' = lr * (1 - momentum)`` when ``scale_learning_rate``, else ``lr``)
* ``RMSPropStepper``:  ``S = decay * S + (1 - decay) * G**2;  P -= lr * G / (sqrt(S) + epsilon)``
* ``AdamStepper``:     ``M = beta1 * M + (1 - beta1) * G;  V = beta2 * V + (1 - beta2) * G**2;
  P -= lr * (M / (1 - beta1**t)) / (sqrt(V / (1 - beta2**t)) + epsilon)``
* ``AdaDeltaStepper``: ``A = rho * A + (1 - rho) * G**2;
  D = sqrt(B + epsilon) / sqrt(A + epsilon) * G;  B = rho * B + (1 - rho) * D**2;
  P -= lr * D``

Every hyper-parameter (``learning_rate``, ``momentum``, ``beta1``, ...) may be a number
or a schedule (``brainstorm.training.schedules``); a schedule is evaluated at every
update with the numbers of completed epochs and updates, which the trainer sets in
``stepper.epoch_nr`` and ``stepper.update_nr`` before each ``run()``.
"""

import math
import numbers

import numpy as np

from brainstorm.describable import Describable
from brainstorm.errors import TrainingError, ValidationError
from brainstorm.training.schedules import call_schedule


class HyperparameterRange:
    """The values a hyper-parameter may take: finite, ``low`` to ``high``.

    Args:
        low (float): the smallest value (excluded if ``low_open``).
        high (Optional[float]): the largest value (excluded if ``high_open``); None: no
            upper limit.
    """

    def __init__(self, low, high=None, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __contains__(self, value):
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open
                                      else value <= self.high)
        return above and below

    def __str__(self):
        low = f"{'(' if self.low_open else '['}{self.low:g}"
        high = 'inf)' if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"a finite number in {low}, {high}"

    def schema_keywords(self):
        """The JSON Schema keywords of this range (the stepper schema carries them)."""
        keywords = {'exclusiveMinimum' if self.low_open else 'minimum': self.low}
        if self.high is not None:
            keywords['exclusiveMaximum' if self.high_open else 'maximum'] = self.high
        return keywords


#: the ranges the steppers share: a step size, a fraction kept per update, a constant
STEP_SIZE = HyperparameterRange(0.0)
DECAY = HyperparameterRange(0.0, 1.0, high_open=True)
CONDITIONING = HyperparameterRange(0.0, low_open=True)


class TrainingStepper(Describable):
    """Base class of steppers.

    Subclasses list their hyper-parameters in ``hyperparameters`` and their state
    arrays in ``state_arrays``, allocate the arrays in :meth:`start` and implement
    :meth:`_update` (the parameter update after the backward pass).

    Attributes:
        net (Network): the network being trained (set by :meth:`start`).
        epoch_nr (int): completed epochs; the trainer sets it before each run.
        update_nr (int): completed updates; the trainer sets it before each run, and
            each run increments it (so a stepper used without a trainer counts).
        steps_taken (int): updates this stepper made since :meth:`start` (Adam's ``t``).
    """

    __undescribed__ = {'net': None, 'epoch_nr': 0, 'update_nr': 0, 'steps_taken': 0}
    #: names of the hyper-parameter attributes (numbers or schedules)
    hyperparameters = ()
    #: name -> HyperparameterRange of the constant values each may take
    hyperparameter_ranges = {}
    #: names of the state arrays allocated in start() (each the shape of the parameters)
    state_arrays = ()
    #: names of scratch arrays (same shape, contents not kept between updates)
    scratch_arrays = ()

    def __init__(self):
        self.net = None
        self.epoch_nr = 0
        self.update_nr = 0
        self.steps_taken = 0

    def _check_hyperparameters(self):
        for name in self.hyperparameters:
            value = getattr(self, name)
            if callable(value):
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValidationError(f"{type(self).__name__}: {name} must be a number or a "
                                      f"schedule, got {value!r}")
            allowed = self.hyperparameter_ranges.get(name)
            if allowed is not None and value not in allowed:
                raise ValidationError(f"{type(self).__name__}: {name} must be {allowed}, "
                                      f"got {value!r}")

    def start(self, net):
        """Prepare to train ``net``: allocate the state arrays (zeros) and reset counters.

        Args:
            net (brainstorm.structure.Network): the network whose parameters to update.
        """
        self.net = net
        self.steps_taken = 0
        shape = net.buffer.parameters.shape
        for name in self.state_arrays + self.scratch_arrays:
            setattr(self, name, net.handler.zeros(shape))

    def current(self, name):
        """The value of hyper-parameter ``name`` for the next update (schedules evaluated)."""
        value = getattr(self, name)
        if callable(value):
            # a Schedule uses its own timescale; a user's seven-argument function is
            # told 'update' (the stepper asks before every update)
            return call_schedule(value, self.epoch_nr, self.update_nr, None, 1, self.net,
                                 self, {})
        return value

    def run(self):
        """Make one update: forward (training pass), backward, update, weight modifiers.

        Raises:
            TrainingError: if :meth:`start` was not called.
        """
        if self.net is None:
            raise TrainingError(f"{type(self).__name__}.run() was called before start(net)")
        values = {name: self.current(name) for name in self.hyperparameters}
        self._before_gradients(values)
        self.net.forward_pass(training_pass=True)
        self.net.backward_pass()
        self.steps_taken += 1
        self._update(values)
        self.net.apply_weight_modifiers()
        self.update_nr += 1

    def _before_gradients(self, values):
        """Work done before the forward pass (Nesterov's look-ahead step)."""

    def _update(self, values):
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ---- resuming ---------------------------------------------------------------------------
    def get_state(self):
        """Return everything needed to continue exactly where this stepper is.

        Returns:
            dict: ``{'steps_taken': int, 'epoch_nr': int, 'update_nr': int,
            'hyperparameters': {name: number} (only those that are numbers now, e.g.
            set by ModifyStepperAttribute), 'arrays': {name: numpy array}}``.
        """
        handler = self.net.handler if self.net is not None else None
        arrays = {}
        for name in self.state_arrays:
            array = getattr(self, name, None)
            if array is not None:
                arrays[name] = handler.get_numpy_copy(array)
        hyperparameters = {name: getattr(self, name) for name in self.hyperparameters
                           if not callable(getattr(self, name))}
        return {'steps_taken': int(self.steps_taken), 'epoch_nr': int(self.epoch_nr),
                'update_nr': int(self.update_nr), 'hyperparameters': hyperparameters,
                'arrays': arrays}

    def set_state(self, state):
        """Restore a state made by :meth:`get_state` (call after :meth:`start`).

        Raises:
            TrainingError: if the state does not fit this stepper and network.
        """
        name = type(self).__name__
        if not isinstance(state, dict) or 'arrays' not in state:
            raise TrainingError(f"{name}.set_state: expected a dict made by get_state(), "
                                f"got {type(state).__name__}")
        if self.net is None:
            raise TrainingError(f"{name}.set_state: call start(net) first")
        self.steps_taken = int(state.get('steps_taken', 0))
        self.epoch_nr = int(state.get('epoch_nr', 0))
        self.update_nr = int(state.get('update_nr', 0))
        for key, value in state.get('hyperparameters', {}).items():
            if key not in self.hyperparameters:
                raise TrainingError(f"{name}.set_state: unknown hyper-parameter {key!r} "
                                    f"(this stepper has {', '.join(self.hyperparameters)})")
            setattr(self, key, float(value) if isinstance(value, np.generic) else value)
        arrays = state['arrays']
        if set(arrays) != set(self.state_arrays):
            raise TrainingError(f"{name}.set_state: expected the arrays "
                                f"{sorted(self.state_arrays)}, got {sorted(arrays)}")
        handler = self.net.handler
        for key, values in arrays.items():
            target = getattr(self, key)
            values = np.asarray(values)
            if values.shape != tuple(target.shape):
                raise TrainingError(f"{name}.set_state: array {key!r} has shape "
                                    f"{values.shape}, the network's parameters have "
                                    f"{tuple(target.shape)}")
            handler.set_from_numpy(target, values.astype(handler.dtype))


class SgdStepper(TrainingStepper):
    """Plain stochastic gradient descent: ``P -= learning_rate * G``.

    Args:
        learning_rate (float or Schedule): step size.
    """

    hyperparameters = ('learning_rate',)
    hyperparameter_ranges = {'learning_rate': STEP_SIZE}

    def __init__(self, learning_rate=0.1):
        super().__init__()
        self.learning_rate = learning_rate
        self._check_hyperparameters()

    def _update(self, values):
        buffers = self.net.buffer
        self.net.handler.mult_add_st(-values['learning_rate'], buffers.gradients,
                                     buffers.parameters)


class MomentumStepper(TrainingStepper):
    """Gradient descent with momentum: ``V = momentum * V - lr' * G;  P += V``.

    Args:
        learning_rate (float or Schedule): step size.
        momentum (float or Schedule): fraction of the velocity kept per update.
        scale_learning_rate (bool): use ``lr' = learning_rate * (1 - momentum)`` (as
            brainstorm 0.5 did), so the long-run step size does not grow with the
            momentum; ``False`` uses ``lr' = learning_rate``.
    """

    hyperparameters = ('learning_rate', 'momentum')
    hyperparameter_ranges = {'learning_rate': STEP_SIZE, 'momentum': DECAY}
    state_arrays = ('velocity',)
    __undescribed__ = {'velocity': None}
    __default_values__ = {'scale_learning_rate': True}

    def __init__(self, learning_rate=0.1, momentum=0.0, scale_learning_rate=True):
        super().__init__()
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.scale_learning_rate = bool(scale_learning_rate)
        self.velocity = None
        self._check_hyperparameters()

    def _step_size(self, values):
        if self.scale_learning_rate:
            return values['learning_rate'] * (1.0 - values['momentum'])
        return values['learning_rate']

    def _update(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        handler.mult_st(values['momentum'], self.velocity, self.velocity)
        handler.mult_add_st(-self._step_size(values), buffers.gradients, self.velocity)
        handler.add_tt(buffers.parameters, self.velocity, buffers.parameters)


class NesterovStepper(MomentumStepper):
    """Nesterov's accelerated gradient in Sutskever's form.

    ``V = momentum * V;  P += V`` (look ahead), then forward and backward at the
    look-ahead point, then ``V -= lr' * G;  P -= lr' * G``.

    Args:
        learning_rate (float or Schedule): step size.
        momentum (float or Schedule): fraction of the velocity kept per update.
        scale_learning_rate (bool): as for :class:`MomentumStepper`.
    """

    def _before_gradients(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        handler.mult_st(values['momentum'], self.velocity, self.velocity)
        handler.add_tt(buffers.parameters, self.velocity, buffers.parameters)

    def _update(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        step = -self._step_size(values)
        handler.mult_add_st(step, buffers.gradients, self.velocity)
        handler.mult_add_st(step, buffers.gradients, buffers.parameters)


class RMSPropStepper(TrainingStepper):
    """RMSProp: ``S = decay * S + (1 - decay) * G**2;  P -= lr * G / (sqrt(S) + epsilon)``.

    Args:
        learning_rate (float or Schedule): step size.
        decay (float or Schedule): how much of the running mean square ``S`` is kept.
        epsilon (float or Schedule): added to ``sqrt(S)`` against division by zero.
    """

    hyperparameters = ('learning_rate', 'decay', 'epsilon')
    hyperparameter_ranges = {'learning_rate': STEP_SIZE, 'decay': DECAY,
                             'epsilon': CONDITIONING}
    state_arrays = ('mean_square',)
    scratch_arrays = ('_scratch',)
    __undescribed__ = {'mean_square': None, '_scratch': None}

    def __init__(self, learning_rate=0.001, decay=0.9, epsilon=1e-8):
        super().__init__()
        self.learning_rate = learning_rate
        self.decay = decay
        self.epsilon = epsilon
        self.mean_square = self._scratch = None
        self._check_hyperparameters()

    def _update(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        gradients, scratch = buffers.gradients, self._scratch
        handler.mult_st(values['decay'], self.mean_square, self.mean_square)
        handler.mult_tt(gradients, gradients, scratch)
        handler.mult_add_st(1.0 - values['decay'], scratch, self.mean_square)
        handler.sqrt_t(self.mean_square, scratch)
        handler.add_st(values['epsilon'], scratch, scratch)
        handler.divide_tt(gradients, scratch, scratch)
        handler.mult_add_st(-values['learning_rate'], scratch, buffers.parameters)


class AdamStepper(TrainingStepper):
    """Adam (Kingma & Ba, 2015) with bias-corrected moments.

    ``M = beta1 * M + (1 - beta1) * G;  V = beta2 * V + (1 - beta2) * G**2;
    P -= lr * (M / (1 - beta1**t)) / (sqrt(V / (1 - beta2**t)) + epsilon)``

    Args:
        learning_rate (float or Schedule): step size.
        beta1 (float or Schedule): decay of the first-moment estimate ``M``.
        beta2 (float or Schedule): decay of the second-moment estimate ``V``.
        epsilon (float or Schedule): added to the root of the second moment.
    """

    hyperparameters = ('learning_rate', 'beta1', 'beta2', 'epsilon')
    hyperparameter_ranges = {'learning_rate': STEP_SIZE, 'beta1': DECAY, 'beta2': DECAY,
                             'epsilon': CONDITIONING}
    state_arrays = ('first_moment', 'second_moment')
    scratch_arrays = ('_scratch',)
    __undescribed__ = {'first_moment': None, 'second_moment': None, '_scratch': None}

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.first_moment = self.second_moment = self._scratch = None
        self._check_hyperparameters()

    def _update(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        gradients, scratch = buffers.gradients, self._scratch
        beta1, beta2, step = values['beta1'], values['beta2'], self.steps_taken
        handler.mult_st(beta1, self.first_moment, self.first_moment)
        handler.mult_add_st(1.0 - beta1, gradients, self.first_moment)
        handler.mult_st(beta2, self.second_moment, self.second_moment)
        handler.mult_tt(gradients, gradients, scratch)
        handler.mult_add_st(1.0 - beta2, scratch, self.second_moment)
        # scratch = sqrt(V / (1 - beta2**t)) + epsilon
        handler.mult_st(1.0 / (1.0 - beta2 ** step), self.second_moment, scratch)
        handler.sqrt_t(scratch, scratch)
        handler.add_st(values['epsilon'], scratch, scratch)
        handler.divide_tt(self.first_moment, scratch, scratch)
        handler.mult_add_st(-values['learning_rate'] / (1.0 - beta1 ** step), scratch,
                            buffers.parameters)


class AdaDeltaStepper(TrainingStepper):
    """AdaDelta (Zeiler, 2012).

    ``A = rho * A + (1 - rho) * G**2;  D = sqrt(B + epsilon) / sqrt(A + epsilon) * G;
    B = rho * B + (1 - rho) * D**2;  P -= learning_rate * D``

    Args:
        learning_rate (float or Schedule): scales the step (1.0 in the paper).
        rho (float or Schedule): decay of the running averages ``A`` (squared
            gradients) and ``B`` (squared steps).
        epsilon (float or Schedule): conditioning constant inside both roots.
    """

    hyperparameters = ('learning_rate', 'rho', 'epsilon')
    hyperparameter_ranges = {'learning_rate': STEP_SIZE, 'rho': DECAY,
                             'epsilon': CONDITIONING}
    state_arrays = ('mean_square_gradients', 'mean_square_steps')
    scratch_arrays = ('_scratch', '_step')
    __undescribed__ = {'mean_square_gradients': None, 'mean_square_steps': None,
                       '_scratch': None, '_step': None}

    def __init__(self, learning_rate=1.0, rho=0.95, epsilon=1e-6):
        super().__init__()
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.mean_square_gradients = self.mean_square_steps = None
        self._scratch = self._step = None
        self._check_hyperparameters()

    def _update(self, values):
        handler, buffers = self.net.handler, self.net.buffer
        gradients, scratch, step = buffers.gradients, self._scratch, self._step
        rho, epsilon = values['rho'], values['epsilon']
        handler.mult_st(rho, self.mean_square_gradients, self.mean_square_gradients)
        handler.mult_tt(gradients, gradients, scratch)
        handler.mult_add_st(1.0 - rho, scratch, self.mean_square_gradients)
        # step = sqrt(B + epsilon) / sqrt(A + epsilon) * G
        handler.add_st(epsilon, self.mean_square_steps, step)
        handler.sqrt_t(step, step)
        handler.add_st(epsilon, self.mean_square_gradients, scratch)
        handler.sqrt_t(scratch, scratch)
        handler.divide_tt(step, scratch, step)
        handler.mult_tt(step, gradients, step)
        handler.mult_st(rho, self.mean_square_steps, self.mean_square_steps)
        handler.mult_tt(step, step, scratch)
        handler.mult_add_st(1.0 - rho, scratch, self.mean_square_steps)
        handler.mult_add_st(-values['learning_rate'], step, buffers.parameters)


__all__ = ['TrainingStepper', 'SgdStepper', 'MomentumStepper', 'NesterovStepper',
           'RMSPropStepper', 'AdamStepper', 'AdaDeltaStepper']
