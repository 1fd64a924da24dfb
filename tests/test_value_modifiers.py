"""Tests of brainstorm.value_modifiers against plain numpy references, on each handler."""

import json

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import NetworkValidationError, ValidationError
from brainstorm.value_modifiers import (ClipValues, ConstrainL2Norm, FreezeValues, L1Decay,
                                        L2Decay, MaskValues, ValueModifier)


# The ``handler`` fixture (tests/conftest.py) runs each test on every handler
# present: NumpyHandler(float64), DebugHandler around it, PyCudaHandler(float32)
# where a GPU is, and PyCudaHandler(float32) on the CPU emulation of CUDA.

def _tolerance(handler):
    return 1e-12 if np.dtype(handler.dtype) == np.float64 else 1e-5


def _assert_close(handler, actual, expected):
    np.testing.assert_allclose(handler.get_numpy_copy(actual), expected,
                               rtol=_tolerance(handler), atol=_tolerance(handler))


def _view(handler, values, offset=3):
    """Put ``values`` into the middle of a bigger handler buffer and return the view.

    Parameters live in one contiguous array; modifiers must touch only their view.
    """
    values = np.asarray(values, dtype=np.float64)
    padded = np.full(values.size + 2 * offset, 77.0)
    padded[offset:offset + values.size] = values.ravel()
    buffer = handler.create_from_numpy(padded)
    return buffer, buffer[offset:offset + values.size].reshape(values.shape)


def _check_outside_untouched(handler, buffer, size, offset=3):
    padded = handler.get_numpy_copy(buffer)
    np.testing.assert_array_equal(padded[:offset], 77.0)
    np.testing.assert_array_equal(padded[offset + size:], 77.0)


def _named(modifier, layer='Hid', view='W'):
    modifier.layer_name = layer
    modifier.view_name = view
    return modifier


RNG = np.random.RandomState(5)
SHAPES = {'vector': (7,), 'matrix': (4, 3), 'conv': (3, 2, 2, 2)}


# ---------------------------------------------------------------------------- ClipValues

@pytest.mark.parametrize('shape', SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize('low, high', [(-1.0, 1.0), (-0.2, 0.5), (0.3, 0.3)])
def test_clip_values_matches_numpy(handler, shape, low, high):
    values = RNG.uniform(-2, 2, shape)
    buffer, view = _view(handler, values)
    ClipValues(low, high)(handler, view)
    _assert_close(handler, view, np.clip(values, low, high))
    _check_outside_untouched(handler, buffer, values.size)


def test_clip_values_defaults():
    assert (ClipValues().low, ClipValues().high) == (-1.0, 1.0)


@pytest.mark.parametrize('low, high, fragment', [
    (1.0, -1.0, 'greater than high'), ('a', 1.0, 'low'), (0.0, float('nan'), 'high')])
def test_clip_values_rejects_bad_bounds(low, high, fragment):
    with pytest.raises(ValidationError, match=fragment):
        ClipValues(low, high)


# ---------------------------------------------------------------------------- ConstrainL2Norm

def _constrain_reference(values, limit):
    if values.ndim < 2:
        return values.copy()
    if values.ndim == 2:
        norms = np.sqrt((values ** 2).sum(axis=0, keepdims=True))
    else:
        axes = tuple(range(1, values.ndim))
        norms = np.sqrt((values ** 2).sum(axis=axes, keepdims=True))
    return values / np.maximum(norms / limit, 1.0)


@pytest.mark.parametrize('shape', SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize('limit', [0.5, 1.5, 100.0])
def test_constrain_l2_norm_matches_numpy(handler, shape, limit):
    values = RNG.uniform(-1, 1, shape)
    buffer, view = _view(handler, values)
    ConstrainL2Norm(limit)(handler, view)
    _assert_close(handler, view, _constrain_reference(values, limit))
    _check_outside_untouched(handler, buffer, values.size)


def test_constrain_l2_norm_rescales_only_units_above_the_limit(handler):
    # columns are units of an (in_size, size) weight: norms 5, 0.6, 0 and 2
    values = np.array([[3.0, 0.6, 0.0, 2.0],
                       [4.0, 0.0, 0.0, 0.0]])
    _, view = _view(handler, values)
    ConstrainL2Norm(2.0)(handler, view)
    expected = values.copy()
    expected[:, 0] = [1.2, 1.6]  # norm 5 -> 2; the others are within the limit
    _assert_close(handler, view, expected)


def test_constrain_l2_norm_conv_weights_per_filter(handler):
    values = np.zeros((2, 1, 2, 1))
    values[0] = 3.0           # filter norm 3*sqrt(2) > 1
    values[1] = 0.1           # filter norm 0.1*sqrt(2) < 1
    _, view = _view(handler, values)
    ConstrainL2Norm(1.0)(handler, view)
    expected = values.copy()
    expected[0] = 1.0 / np.sqrt(2)
    _assert_close(handler, view, expected)


@pytest.mark.parametrize('limit', [0, -1.0, 'big', None])
def test_constrain_l2_norm_rejects_bad_limit(limit):
    with pytest.raises(ValidationError, match='limit'):
        ConstrainL2Norm(limit)


# ---------------------------------------------------------------------------- FreezeValues

def test_freeze_values_remembers_first_values(handler):
    values = RNG.uniform(-1, 1, (3, 4))
    buffer, view = _view(handler, values)
    modifier = _named(FreezeValues())
    modifier(handler, view)
    _assert_close(handler, view, values)
    handler.fill(view, 5.0)
    modifier(handler, view)
    _assert_close(handler, view, values)
    _check_outside_untouched(handler, buffer, values.size)


def test_freeze_values_shared_by_parameters_keeps_each_apart(handler):
    first_values, second_values = np.ones((2, 2)), np.full((2, 2), 2.0)
    _, first = _view(handler, first_values)
    _, second = _view(handler, second_values)
    modifier = FreezeValues()
    for layer, view in [('A', first), ('B', second)]:
        _named(modifier, layer)(handler, view)
    handler.fill(first, 0.0)
    handler.fill(second, 0.0)
    for layer, view in [('A', first), ('B', second)]:
        _named(modifier, layer)(handler, view)
    _assert_close(handler, first, first_values)
    _assert_close(handler, second, second_values)


def test_freeze_values_with_given_weights(handler):
    weights = RNG.uniform(-1, 1, (2, 3))
    _, view = _view(handler, np.zeros((2, 3)))
    FreezeValues(weights)(handler, view)
    _assert_close(handler, view, weights)


def test_freeze_values_weight_shape_mismatch_names_the_parameter(handler):
    _, view = _view(handler, np.zeros((2, 3)))
    with pytest.raises(NetworkValidationError,
                       match=r"FreezeValues on parameter 'R' of layer 'Lstm'.*\(3, 2\).*\(2, 3\)"):
        _named(FreezeValues(np.zeros((3, 2))), 'Lstm', 'R')(handler, view)


# ---------------------------------------------------------------------------- decay

@pytest.mark.parametrize('modifier_type, reference', [
    (L1Decay, lambda gradients, parameters, factor: gradients + factor * np.sign(parameters)),
    (L2Decay, lambda gradients, parameters, factor: gradients + factor * parameters),
])
@pytest.mark.parametrize('shape', SHAPES.values(), ids=SHAPES.keys())
def test_decay_matches_numpy(handler, modifier_type, reference, shape):
    gradients = RNG.uniform(-1, 1, shape)
    parameters = RNG.uniform(-1, 1, shape)
    parameters.flat[0] = 0.0  # sign(0) = 0
    buffer, gradient_view = _view(handler, gradients)
    _, parameter_view = _view(handler, parameters)
    modifier_type(0.25)(handler, gradient_view, parameters=parameter_view)
    _assert_close(handler, gradient_view, reference(gradients, parameters, 0.25))
    _assert_close(handler, parameter_view, parameters)
    _check_outside_untouched(handler, buffer, gradients.size)


@pytest.mark.parametrize('modifier_type', [L1Decay, L2Decay])
def test_decay_without_parameters_says_it_is_a_gradient_modifier(handler, modifier_type):
    _, view = _view(handler, np.zeros((2, 2)))
    with pytest.raises(NetworkValidationError,
                       match=r"parameter 'W' of layer 'Hid'.*set_gradient_modifiers"):
        _named(modifier_type(0.1))(handler, view)


@pytest.mark.parametrize('modifier_type', [L1Decay, L2Decay])
def test_decay_rejects_parameters_of_other_shape(handler, modifier_type):
    _, view = _view(handler, np.zeros((2, 2)))
    _, parameters = _view(handler, np.zeros((4,)))
    with pytest.raises(NetworkValidationError, match='shape'):
        modifier_type(0.1)(handler, view, parameters=parameters)


# ---------------------------------------------------------------------------- MaskValues

@pytest.mark.parametrize('shape', SHAPES.values(), ids=SHAPES.keys())
def test_mask_values_matches_numpy(handler, shape):
    values = RNG.uniform(-1, 1, shape)
    mask = (RNG.uniform(0, 1, shape) > 0.5).astype(float)
    buffer, view = _view(handler, values)
    modifier = MaskValues(mask)
    modifier(handler, view)
    modifier(handler, view)  # idempotent for 0/1 masks; reuses the handler copy
    _assert_close(handler, view, values * mask)
    _check_outside_untouched(handler, buffer, values.size)


def test_mask_values_shape_mismatch_names_the_parameter(handler):
    _, view = _view(handler, np.zeros((2, 3)))
    with pytest.raises(NetworkValidationError, match=r"MaskValues on parameter 'W' of layer"):
        _named(MaskValues(np.ones(6)))(handler, view)


def test_mask_values_rejects_non_numeric_mask():
    with pytest.raises(ValidationError, match='numeric'):
        MaskValues('abc')


# ---------------------------------------------------------------------------- descriptions

DESCRIBED = [
    (lambda: ClipValues(-0.5, 2.0), {'@type': 'ClipValues', 'low': -0.5, 'high': 2.0}),
    (lambda: ConstrainL2Norm(3.0), {'@type': 'ConstrainL2Norm', 'limit': 3.0}),
    (lambda: FreezeValues(), {'@type': 'FreezeValues', 'weights': None}),
    (lambda: FreezeValues([[1.0, 2.0]]), {'@type': 'FreezeValues', 'weights': [[1.0, 2.0]]}),
    (lambda: L1Decay(0.01), {'@type': 'L1Decay', 'factor': 0.01}),
    (lambda: L2Decay(0.02), {'@type': 'L2Decay', 'factor': 0.02}),
    (lambda: MaskValues([[0.0, 1.0]]), {'@type': 'MaskValues', 'mask': [[0.0, 1.0]]}),
]


@pytest.mark.parametrize('make, expected', DESCRIBED,
                         ids=[expected['@type'] for _, expected in DESCRIBED])
def test_description_is_the_constructor_arguments(make, expected):
    modifier = _named(make())
    assert get_description(modifier) == expected
    recreated = create_from_description(json.loads(json.dumps(expected)))
    assert type(recreated) is type(modifier)
    assert recreated.layer_name is None and recreated.view_name is None
    assert get_description(recreated) == expected


@pytest.mark.parametrize('make, expected', DESCRIBED,
                         ids=[expected['@type'] for _, expected in DESCRIBED])
def test_recreated_modifier_acts_like_the_original(handler, make, expected):
    values = RNG.uniform(-3, 3, (1, 2))
    parameters = RNG.uniform(-1, 1, (1, 2))
    results = []
    for modifier in (make(), create_from_description(expected)):
        _, view = _view(handler, values)
        _, parameter_view = _view(handler, parameters)
        modifier(handler, view, parameters=parameter_view)
        results.append(handler.get_numpy_copy(view))
    np.testing.assert_array_equal(results[0], results[1])


def test_freeze_values_description_leaves_out_remembered_values(handler):
    modifier = FreezeValues()
    _, view = _view(handler, np.ones((2, 2)))
    modifier(handler, view)
    assert get_description(modifier) == {'@type': 'FreezeValues', 'weights': None}


def test_base_class_is_abstract(handler):
    _, view = _view(handler, np.zeros(2))
    with pytest.raises(NotImplementedError):
        ValueModifier()(handler, view)


@pytest.mark.parametrize('make', [make for make, _ in DESCRIBED],
                         ids=[expected['@type'] for _, expected in DESCRIBED])
def test_only_the_first_call_allocates(make):
    from brainstorm.handlers import DebugHandler, NumpyHandler
    handler = DebugHandler(NumpyHandler(np.float64))
    _, view = _view(handler, RNG.uniform(-3, 3, (1, 2)))
    _, parameters = _view(handler, RNG.uniform(-1, 1, (1, 2)))
    modifier = make()
    modifier(handler, view, parameters=parameters)
    counts = handler.allocation_count, handler.handler.scratch_allocation_count
    modifier(handler, view, parameters=parameters)
    assert (handler.allocation_count, handler.handler.scratch_allocation_count) == counts


@pytest.mark.parametrize('make', [lambda: ClipValues(-1, 1), lambda: ConstrainL2Norm(1.0),
                                  lambda: FreezeValues(), lambda: L2Decay(0.1),
                                  lambda: MaskValues(np.ones(3))],
                         ids=['clip', 'l2norm', 'freeze', 'l2decay', 'mask'])
def test_every_modifier_is_seedable_with_its_own_rnd(make):
    from brainstorm.randomness import RandomState, global_rnd
    global_rnd.set_seed(5)
    first = make()
    global_rnd.set_seed(5)
    second = make()
    assert isinstance(first.rnd, RandomState)
    assert first.rnd.generate_seed() == second.rnd.generate_seed()
    copy = create_from_description(get_description(first))
    assert isinstance(copy.rnd, RandomState) and 'rnd' not in get_description(first)


def test_0_5_gradient_modifiers_get_the_parameters_and_gradients():
    import brainstorm as bs
    from brainstorm.value_modifiers import GradientModifier

    class HalveGradients(GradientModifier):
        """Takes only the gradient view."""

        def __init__(self):
            super().__init__()
            self.calls = []

        def __call__(self, handler, view):
            self.calls.append(view.shape)
            handler.mult_st(0.5, view, view)

    class AddParameters(GradientModifier):
        """0.5's signature: the parameter and the gradient views."""

        def __call__(self, handler, parameters, gradients):
            handler.add_tt(gradients, parameters, gradients)

    inputs = bs.layers.Input(out_shapes={'default': ('T', 'B', 3), 'targets': ('T', 'B', 2)})
    out = inputs >> bs.layers.FullyConnected(2, activation='linear', name='Out') >> \
        'inputs_1' - bs.layers.SquaredDifference(name='diff')
    inputs - 'targets' >> 'inputs_2' - out
    net = bs.Network.from_layer(out >> bs.layers.Loss())
    net.set_handler(bs.handlers.NumpyHandler(np.float64))
    net.initialize(0.5)
    rnd = np.random.RandomState(0)
    net.provide_external_data({'default': rnd.randn(1, 4, 3), 'targets': rnd.randn(1, 4, 2)})

    def gradients_after_backward():
        net.forward_pass(training_pass=True)
        net.backward_pass()
        return net.get('Out.gradients.W')

    plain = gradients_after_backward()
    halve = HalveGradients()
    assert not HalveGradients.takes_parameters_and_gradients
    assert AddParameters.takes_parameters_and_gradients
    net.set_gradient_modifiers(Out={'W': [halve, L2Decay(0.0), AddParameters()]})
    modified = gradients_after_backward()
    assert halve.calls == [(3, 2)]
    np.testing.assert_allclose(modified, 0.5 * plain + net.get('Out.parameters.W'), rtol=1e-12)
