"""Steppers: update rules against numpy references, convergence, schedules, state, allocation."""

import numpy as np
import pytest

import brainstorm as bs
from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import TrainingError, ValidationError
from brainstorm.training.schedules import Exponential
from brainstorm.training.steppers import (AdaDeltaStepper, AdamStepper, MomentumStepper,
                                          NesterovStepper, RMSPropStepper, SgdStepper)
from tests.training.nets import QuadraticNet, xor_net, XOR_INPUTS, XOR_TARGETS


# ---- straightforward numpy references of each rule (one update) -----------------------------
def sgd_reference(parameters, gradient_at, state, learning_rate):
    return parameters - learning_rate * gradient_at(parameters)


def momentum_reference(parameters, gradient_at, state, learning_rate, momentum,
                       scale_learning_rate=True):
    step = learning_rate * (1 - momentum) if scale_learning_rate else learning_rate
    velocity = momentum * state.get('velocity', 0.0) - step * gradient_at(parameters)
    state['velocity'] = velocity
    return parameters + velocity


def nesterov_reference(parameters, gradient_at, state, learning_rate, momentum,
                       scale_learning_rate=True):
    step = learning_rate * (1 - momentum) if scale_learning_rate else learning_rate
    velocity = momentum * state.get('velocity', 0.0)
    look_ahead = parameters + velocity
    gradient = gradient_at(look_ahead)
    state['velocity'] = velocity - step * gradient
    return look_ahead - step * gradient


def rmsprop_reference(parameters, gradient_at, state, learning_rate, decay, epsilon):
    gradient = gradient_at(parameters)
    state['square'] = decay * state.get('square', 0.0) + (1 - decay) * gradient ** 2
    return parameters - learning_rate * gradient / (np.sqrt(state['square']) + epsilon)


def adam_reference(parameters, gradient_at, state, learning_rate, beta1, beta2, epsilon):
    gradient = gradient_at(parameters)
    t = state['t'] = state.get('t', 0) + 1
    state['m'] = beta1 * state.get('m', 0.0) + (1 - beta1) * gradient
    state['v'] = beta2 * state.get('v', 0.0) + (1 - beta2) * gradient ** 2
    m_hat = state['m'] / (1 - beta1 ** t)
    v_hat = state['v'] / (1 - beta2 ** t)
    return parameters - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)


def adadelta_reference(parameters, gradient_at, state, learning_rate, rho, epsilon):
    gradient = gradient_at(parameters)
    state['g2'] = rho * state.get('g2', 0.0) + (1 - rho) * gradient ** 2
    step = np.sqrt(state.get('d2', 0.0) + epsilon) / np.sqrt(state['g2'] + epsilon) * gradient
    state['d2'] = rho * state.get('d2', 0.0) + (1 - rho) * step ** 2
    return parameters - learning_rate * step


CASES = [
    ('sgd', SgdStepper, dict(learning_rate=0.3), sgd_reference),
    ('momentum', MomentumStepper, dict(learning_rate=0.5, momentum=0.8), momentum_reference),
    ('momentum-unscaled', MomentumStepper,
     dict(learning_rate=0.1, momentum=0.8, scale_learning_rate=False), momentum_reference),
    ('nesterov', NesterovStepper, dict(learning_rate=0.5, momentum=0.8), nesterov_reference),
    ('rmsprop', RMSPropStepper, dict(learning_rate=0.05, decay=0.9, epsilon=1e-8),
     rmsprop_reference),
    ('adam', AdamStepper, dict(learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=1e-8),
     adam_reference),
    ('adadelta', AdaDeltaStepper, dict(learning_rate=1.0, rho=0.9, epsilon=1e-2),
     adadelta_reference),
]
CASE_IDS = [case[0] for case in CASES]


@pytest.mark.parametrize('case_id, stepper_class, kwargs, reference', CASES, ids=CASE_IDS)
def test_update_rule_matches_numpy_reference(case_id, stepper_class, kwargs, reference):
    net = QuadraticNet(seed=1)
    stepper = stepper_class(**kwargs)
    stepper.start(net)
    expected = net.start_values.copy()
    state = {}

    def gradient_at(parameters):
        return net.curvature * (parameters - net.optimum)

    for _ in range(5):
        stepper.run()
        expected = reference(expected, gradient_at, state, **kwargs)
    np.testing.assert_allclose(net.parameters(), expected, rtol=1e-12, atol=1e-12)
    assert net.forward_passes == [True] * 5  # always a training pass
    assert net.weight_modifier_calls == 5


@pytest.mark.parametrize('case_id, stepper_class, kwargs, reference', CASES, ids=CASE_IDS)
def test_minimises_a_quadratic(case_id, stepper_class, kwargs, reference):
    net = QuadraticNet(seed=2)
    stepper = stepper_class(**kwargs)
    stepper.start(net)
    initial_loss = net.loss()
    for _ in range(400):
        stepper.run()
    assert net.loss() < 1e-3 * initial_loss
    np.testing.assert_allclose(net.parameters(), net.optimum, atol=0.05)


@pytest.mark.parametrize('case_id, stepper_class, kwargs, reference', CASES, ids=CASE_IDS)
def test_updates_allocate_nothing(case_id, stepper_class, kwargs, reference):
    net = QuadraticNet(debug=True)
    stepper = stepper_class(**kwargs)
    stepper.start(net)
    stepper.run()  # the first call may fill the handler's scratch cache
    before = net.handler.allocation_count
    for _ in range(3):
        stepper.run()
    assert net.handler.allocation_count == before


@pytest.mark.parametrize('case_id, stepper_class, kwargs, reference', CASES, ids=CASE_IDS)
def test_state_round_trip_continues_identically(case_id, stepper_class, kwargs, reference):
    uninterrupted = QuadraticNet(seed=4)
    stepper = stepper_class(**kwargs)
    stepper.start(uninterrupted)
    for _ in range(6):
        stepper.run()

    first = QuadraticNet(seed=4)
    stepper_a = stepper_class(**kwargs)
    stepper_a.start(first)
    for _ in range(3):
        stepper_a.run()
    state = stepper_a.get_state()
    resumed = QuadraticNet(seed=4)
    resumed.handler.set_from_numpy(resumed.buffer.parameters, first.parameters())
    stepper_b = stepper_class(**kwargs)
    stepper_b.start(resumed)
    stepper_b.set_state(state)
    for _ in range(3):
        stepper_b.run()
    np.testing.assert_array_equal(resumed.parameters(), uninterrupted.parameters())


def test_set_state_rejects_a_state_of_another_shape():
    stepper = MomentumStepper(0.1, 0.5)
    stepper.start(QuadraticNet(size=6))
    state = stepper.get_state()
    other = MomentumStepper(0.1, 0.5)
    other.start(QuadraticNet(size=4))
    with pytest.raises(TrainingError, match="velocity.*shape"):
        other.set_state(state)


def test_run_before_start_is_a_clear_error():
    with pytest.raises(TrainingError, match="before start"):
        SgdStepper().run()


def test_hyperparameters_may_be_schedules():
    net = QuadraticNet(seed=5, gradient_sequence=[np.ones(6)] * 4)
    stepper = SgdStepper(learning_rate=Exponential(0.1, 0.5, timescale='update'))
    stepper.start(net)
    for _ in range(3):
        stepper.run()
    # learning rates 0.1, 0.05, 0.025 with a gradient of ones
    np.testing.assert_allclose(net.parameters(), net.start_values - 0.175, rtol=1e-12)


def test_state_keeps_hyperparameters_set_during_training():
    stepper = MomentumStepper(0.1, 0.5)
    stepper.start(QuadraticNet())
    stepper.learning_rate = 0.025  # as ModifyStepperAttribute does
    other = MomentumStepper(0.1, 0.5)
    other.start(QuadraticNet())
    other.set_state(stepper.get_state())
    assert other.learning_rate == 0.025


@pytest.mark.parametrize('stepper_class', [SgdStepper, MomentumStepper, AdamStepper])
def test_rejects_a_non_number_hyperparameter(stepper_class):
    with pytest.raises(ValidationError, match="learning_rate must be a number or a schedule"):
        stepper_class(learning_rate='0.1')


def test_defaults_match_the_spec_and_brief():
    assert SgdStepper().learning_rate == 0.1
    momentum = MomentumStepper()
    assert (momentum.learning_rate, momentum.momentum, momentum.scale_learning_rate) == \
        (0.1, 0.0, True)
    adam = AdamStepper()
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon) == \
        (0.001, 0.9, 0.999, 1e-8)
    rmsprop = RMSPropStepper()
    assert (rmsprop.learning_rate, rmsprop.decay, rmsprop.epsilon) == (0.001, 0.9, 1e-8)
    adadelta = AdaDeltaStepper()
    assert (adadelta.learning_rate, adadelta.rho, adadelta.epsilon) == (1.0, 0.95, 1e-6)


def test_spec_paths_and_description_round_trip():
    stepper = bs.training.MomentumStepper(learning_rate=0.01, momentum=0.9)
    assert bs.training.steppers.MomentumStepper is MomentumStepper
    description = get_description(stepper)
    assert description == {'@type': 'MomentumStepper', 'learning_rate': 0.01, 'momentum': 0.9}
    copy = create_from_description(description)
    assert (copy.learning_rate, copy.momentum, copy.velocity) == (0.01, 0.9, None)
    scheduled = get_description(SgdStepper(Exponential(0.1, 0.9)))
    assert scheduled['learning_rate']['@type'] == 'Exponential'


@pytest.mark.parametrize('stepper', [SgdStepper(0.5), MomentumStepper(0.5, 0.9),
                                     NesterovStepper(0.5, 0.9), RMSPropStepper(0.02),
                                     AdamStepper(0.05), AdaDeltaStepper()],
                         ids=CASE_IDS[:2] + CASE_IDS[3:])
def test_every_stepper_learns_xor_with_the_trainer(stepper):
    bs.global_rnd.set_seed(7)
    net = xor_net(seed=11)
    trainer = bs.Trainer(stepper, verbose=False)
    data = bs.Minibatches(4, default=XOR_INPUTS, targets=XOR_TARGETS)
    trainer.add_hook(bs.hooks.MonitorScores(
        'xor', [bs.scorers.Accuracy(out_name='Output.outputs.probabilities')],
        name='check'))
    trainer.add_hook(bs.hooks.StopAfterThresholdReached('check.Accuracy', 1.0, criterion='max'))
    trainer.add_hook(bs.hooks.StopAfterEpoch(1500))
    trainer.train(net, data, xor=data)
    assert trainer.logs['check']['Accuracy'][-1] == 1.0, trainer.stop_reason


@pytest.mark.parametrize('stepper_type, name, value', [
    ('SgdStepper', 'learning_rate', -0.001), ('MomentumStepper', 'momentum', 1.5),
    ('MomentumStepper', 'momentum', -1.0), ('NesterovStepper', 'momentum', 1.0),
    ('MomentumStepper', 'learning_rate', float('nan')),
    ('AdamStepper', 'beta1', float('-inf')), ('AdamStepper', 'beta2', 1.0),
    ('AdamStepper', 'epsilon', 0.0), ('RMSPropStepper', 'decay', 2.0),
    ('AdaDeltaStepper', 'rho', -0.5), ('AdaDeltaStepper', 'learning_rate', float('inf'))])
def test_hyperparameters_out_of_their_range_are_refused(stepper_type, name, value):
    from brainstorm.errors import ValidationError
    from brainstorm.training import steppers
    with pytest.raises(ValidationError, match=f"{name} must be a finite number in"):
        getattr(steppers, stepper_type)(**{name: value})


def test_the_stepper_schema_carries_the_classes_ranges():
    import json
    import pathlib
    from brainstorm.training import steppers
    schema = json.loads((pathlib.Path(__file__).resolve().parents[2] / 'schemas' /
                         'stepper.schema.json').read_text())
    for type_name, definition in schema['$defs'].items():
        ranges = getattr(steppers, type_name).hyperparameter_ranges
        assert set(ranges) == {name for name, prop in definition['properties'].items()
                               if '$ref' in prop}, type_name
        for name, allowed in ranges.items():
            keywords = {key: value for key, value in definition['properties'][name].items()
                        if 'imum' in key}
            assert keywords == allowed.schema_keywords(), (type_name, name)
