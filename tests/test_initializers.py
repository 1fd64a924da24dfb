"""Tests of brainstorm.initializers: statistics, layout, seeding, descriptions, errors."""

import json
import math

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import InitializationError
from brainstorm.initializers import (ArrayInitializer, DenseSqrtFanIn, DenseSqrtFanInOut,
                                     EchoState, Gaussian, Identity, Initializer, LstmOptInit,
                                     Orthogonal, RandomWalk, SparseInputs, SparseOutputs,
                                     Uniform, evaluate_initializer, get_fans)
from brainstorm.randomness import global_rnd


@pytest.fixture(autouse=True)
def _fixed_global_seed():
    # Statistical checks below use tolerances chosen for draws of this size;
    # a fixed seed keeps them deterministic.
    global_rnd.set_seed(1234)


# One factory and one suitable shape per initializer type; factories (not
# instances) so every test gets fresh objects created under its own seed.
CASES = {
    'ArrayInitializer': (lambda: ArrayInitializer(np.arange(6.0).reshape(2, 3)), (2, 3)),
    'DenseSqrtFanIn': (lambda: DenseSqrtFanIn(), (4, 5)),
    'DenseSqrtFanInOut': (lambda: DenseSqrtFanInOut('tanh'), (2, 3, 3, 4)),
    'EchoState': (lambda: EchoState(0.9), (6, 6)),
    'Gaussian': (lambda: Gaussian(std=0.2, mean=1.0), (3, 4)),
    'Identity': (lambda: Identity(scale=2.0), (4, 4)),
    'LstmOptInit': (lambda: LstmOptInit(input_block=Gaussian(), forget_gate=Uniform(0.5)),
                    (3, 8)),
    'Orthogonal': (lambda: Orthogonal(scale=1.5), (3, 5)),
    'RandomWalk': (lambda: RandomWalk('rel'), (5, 5)),
    'SparseInputs': (lambda: SparseInputs(Gaussian(), connections=2), (6, 4)),
    'SparseOutputs': (lambda: SparseOutputs(Uniform(), connections=3), (6, 4)),
    'Uniform': (lambda: Uniform(-0.5, 2.0), (7,)),
}
RANDOM_CASES = [name for name in CASES if name not in ('ArrayInitializer',)]


def test_every_public_initializer_has_a_case():
    import brainstorm.initializers as module
    public = {name for name in module.__all__
              if isinstance(getattr(module, name), type) and name != 'Initializer'}
    assert public == set(CASES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_returns_float64_array_of_requested_shape(name):
    factory, shape = CASES[name]
    values = factory()(shape)
    assert isinstance(values, np.ndarray)
    assert values.dtype == np.float64
    assert values.shape == shape
    assert np.isfinite(values).all()


@pytest.mark.parametrize('name', sorted(RANDOM_CASES))
def test_same_global_seed_gives_same_values(name):
    factory, shape = CASES[name]
    global_rnd.set_seed(7)
    first = factory()(shape)
    global_rnd.set_seed(7)
    second = factory()(shape)
    global_rnd.set_seed(8)
    other = factory()(shape)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize('name', sorted(RANDOM_CASES))
def test_explicit_seed_is_honoured_whatever_the_global_state(name):
    factory, shape = CASES[name]
    global_rnd.set_seed(1)
    first = evaluate_initializer(factory(), shape, seed=99)
    global_rnd.set_seed(2)
    second = evaluate_initializer(factory(), shape, seed=99)
    third = evaluate_initializer(factory(), shape, seed=100)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


@pytest.mark.parametrize('name', sorted(CASES))
def test_description_round_trip_gives_same_values_under_same_seed(name):
    factory, shape = CASES[name]
    global_rnd.set_seed(21)
    original = factory()
    expected = original(shape)
    description = json.loads(json.dumps(get_description(original)))
    assert description['@type'] == name
    assert 'rnd' not in description
    global_rnd.set_seed(21)
    recreated = create_from_description(description)
    assert type(recreated) is type(original)
    np.testing.assert_array_equal(recreated(shape), expected)
    assert get_description(recreated) == description


def test_description_holds_constructor_arguments():
    assert get_description(Uniform(0.3, 0.7)) == {'@type': 'Uniform', 'low': 0.3, 'high': 0.7}
    assert get_description(SparseInputs(Gaussian(std=0.5), connections=4)) == {
        '@type': 'SparseInputs', 'connections': 4,
        'sub_initializer': {'@type': 'Gaussian', 'std': 0.5, 'mean': 0.0}}


# ---------------------------------------------------------------------------- get_fans

@pytest.mark.parametrize('shape, fans', [
    ((3, 5), (3, 5)),
    ((1, 1), (1, 1)),
    ((8, 3, 2, 4), (3 * 2 * 4, 8 * 3 * 2)),
    ((6, 5, 5, 1), (25, 150)),
])
def test_get_fans(shape, fans):
    assert get_fans(shape) == fans


@pytest.mark.parametrize('shape', [(5,), (), (0, 3), (4, 0, 2, 2)])
def test_get_fans_rejects_shapes_without_fans(shape):
    with pytest.raises(InitializationError, match='fan'):
        get_fans(shape)


# ---------------------------------------------------------------------------- statistics

def test_gaussian_statistics():
    values = Gaussian(std=0.5, mean=2.0)((200, 200))
    assert values.mean() == pytest.approx(2.0, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize('low, high, interval', [
    (0.3, None, (-0.3, 0.3)),
    (-0.3, None, (-0.3, 0.3)),
    (1.0, 3.0, (1.0, 3.0)),
])
def test_uniform_range_and_statistics(low, high, interval):
    values = Uniform(low, high)((200, 200))
    lower, upper = interval
    assert values.min() >= lower and values.max() <= upper
    assert values.min() == pytest.approx(lower, abs=0.01 * (upper - lower))
    assert values.max() == pytest.approx(upper, abs=0.01 * (upper - lower))
    assert values.mean() == pytest.approx((lower + upper) / 2, abs=0.01 * (upper - lower))


SQRT_FAN_IN_SCALES = [('rel', math.sqrt(6)), ('tanh', math.sqrt(3)),
                      ('sigmoid', 4 * math.sqrt(3)), ('linear', 1.0), (2.5, 2.5)]


@pytest.mark.parametrize('shape', [(50, 400), (40, 5, 5, 2)], ids=['dense', 'conv'])
@pytest.mark.parametrize('scale, factor', SQRT_FAN_IN_SCALES,
                         ids=[str(scale) for scale, _ in SQRT_FAN_IN_SCALES])
def test_dense_sqrt_fan_in_bounds(scale, factor, shape):
    fan_in, _ = get_fans(shape)
    bound = factor / math.sqrt(fan_in)
    values = DenseSqrtFanIn(scale)(shape)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() == pytest.approx(bound, rel=0.01)
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


SQRT_FAN_IN_OUT_SCALES = [('rel', math.sqrt(12)), ('tanh', math.sqrt(6)),
                          ('sigmoid', 4 * math.sqrt(6)), ('linear', 1.0), (0.5, 0.5)]


@pytest.mark.parametrize('shape', [(50, 400), (40, 5, 5, 2)], ids=['dense', 'conv'])
@pytest.mark.parametrize('scale, factor', SQRT_FAN_IN_OUT_SCALES,
                         ids=[str(scale) for scale, _ in SQRT_FAN_IN_OUT_SCALES])
def test_dense_sqrt_fan_in_out_bounds(scale, factor, shape):
    fan_in, fan_out = get_fans(shape)
    bound = factor / math.sqrt(fan_in + fan_out)
    values = DenseSqrtFanInOut(scale)(shape)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() == pytest.approx(bound, rel=0.01)
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


def test_fan_in_and_fan_in_out_agree_on_square_weights():
    # The spec: with as many inputs as outputs the two schemes are equivalent.
    square = (30, 30)
    np.testing.assert_allclose(
        evaluate_initializer(DenseSqrtFanIn('tanh'), square, seed=5),
        evaluate_initializer(DenseSqrtFanInOut('tanh'), square, seed=5))


@pytest.mark.parametrize('radius', [0.5, 1.0, 1.3])
@pytest.mark.parametrize('size', [1, 2, 20])
def test_echo_state_spectral_radius(radius, size):
    values = EchoState(radius)((size, size))
    assert np.abs(np.linalg.eigvals(values)).max() == pytest.approx(radius, rel=1e-10)


def test_identity_is_scaled_identity_plus_noise():
    values = Identity(scale=3.0, std=0.1)((150, 150))
    noise = values - 3.0 * np.eye(150)
    assert noise.mean() == pytest.approx(0.0, abs=0.003)
    assert noise.std() == pytest.approx(0.1, rel=0.02)


def test_identity_without_noise_is_exact():
    np.testing.assert_array_equal(Identity(scale=-2.0, std=0.0)((3, 3)), -2.0 * np.eye(3))


def test_identity_rectangular_when_not_enforced():
    values = Identity(scale=1.0, std=0.0, enforce_square=False)((2, 4))
    np.testing.assert_array_equal(values, np.eye(2, 4))


@pytest.mark.parametrize('shape', [(6, 6), (3, 7), (7, 3), (4, 2, 2, 3), (1, 1)])
@pytest.mark.parametrize('scale', [1.0, 0.5])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, scale):
    values = Orthogonal(scale)(shape)
    matrix = values.reshape(shape[0], -1) / scale
    rows, columns = matrix.shape
    gram = matrix @ matrix.T if rows <= columns else matrix.T @ matrix
    np.testing.assert_allclose(gram, np.eye(min(rows, columns)), atol=1e-12)


@pytest.mark.parametrize('act_func, gain', [
    ('linear', lambda n: math.exp(1 / (2 * n))),
    ('rel', lambda n: math.sqrt(2) * math.exp(1.2 / (max(n, 6) - 2.4))),
])
def test_random_walk_standard_deviation(act_func, gain):
    size = 200
    values = RandomWalk(act_func)((size, size))
    assert values.mean() == pytest.approx(0.0, abs=0.002)
    assert values.std() == pytest.approx(gain(size) / math.sqrt(size), rel=0.02)


def test_random_walk_explicit_scale_replaces_gain():
    values = RandomWalk(scale=3.0)((200, 200))
    assert values.std() == pytest.approx(3.0 / math.sqrt(200), rel=0.02)


@pytest.mark.parametrize('shape', [(3, 8), (8,), (2, 5, 12)])
def test_lstm_opt_init_fills_blocks_z_i_f_o_along_last_axis(shape):
    values = LstmOptInit(input_block=4.0, input_gate=3.0, forget_gate=2.0,
                         output_gate=1.0)(shape)
    size = shape[-1] // 4
    for index, expected in enumerate([4.0, 3.0, 2.0, 1.0]):
        block = values[..., index * size:(index + 1) * size]
        np.testing.assert_array_equal(block, expected)


def test_lstm_opt_init_accepts_initializers_and_arrays_per_block():
    forget_bias = np.arange(3.0)
    values = LstmOptInit(input_block=Gaussian(std=1.0), input_gate=Uniform(0.1),
                         forget_gate=forget_bias, output_gate=0.0)((12,))
    assert np.abs(values[3:6]).max() <= 0.1
    np.testing.assert_array_equal(values[6:9], forget_bias)
    np.testing.assert_array_equal(values[9:], 0.0)
    assert len(set(values[:3])) == 3


def test_lstm_opt_init_default_block_values():
    np.testing.assert_array_equal(LstmOptInit()((4,)), [4.0, 3.0, 2.0, 1.0])


@pytest.mark.parametrize('shape, connections', [((20, 7), 3), ((5, 4), 5), ((6, 3, 3, 2), 4)])
def test_sparse_inputs_keeps_connections_per_unit(shape, connections):
    values = SparseInputs(1.0, connections=connections)(shape)
    assert set(np.unique(values)) <= {0.0, 1.0}
    # units: columns of dense weights, filters (axis 0) of convolution weights
    per_unit = values.sum(axis=0) if len(shape) == 2 else values.reshape(shape[0], -1).sum(1)
    np.testing.assert_array_equal(per_unit, connections)


def test_sparse_inputs_keeps_sub_initializer_values():
    global_rnd.set_seed(3)
    sparse = evaluate_initializer(SparseInputs(Gaussian(), connections=2), (10, 6), seed=11)
    kept = sparse != 0
    assert kept.sum() == 12
    # the kept entries are the sub-initializer's values, not rescaled copies
    assert np.abs(sparse[kept]).max() < 1.0
    assert len(np.unique(sparse[kept])) == 12


def test_sparse_inputs_picks_uniformly():
    values = SparseInputs(1.0, connections=2)((4, 3000))
    frequencies = values.mean(axis=1)
    np.testing.assert_allclose(frequencies, 0.5, atol=0.03)


@pytest.mark.parametrize('shape, connections', [((7, 20), 3), ((4, 5), 5)])
def test_sparse_outputs_keeps_connections_per_input(shape, connections):
    values = SparseOutputs(1.0, connections=connections)(shape)
    np.testing.assert_array_equal(values.sum(axis=1), connections)


def test_array_initializer_returns_independent_copy():
    source = np.arange(6.0).reshape(2, 3)
    initializer = ArrayInitializer(source)
    values = initializer((2, 3))
    np.testing.assert_array_equal(values, source)
    values[0, 0] = 100.0
    source[0, 1] = 200.0
    np.testing.assert_array_equal(initializer((2, 3)), np.arange(6.0).reshape(2, 3))


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize('initializer, shape, fragment', [
    (EchoState(), (3, 4), 'square'),
    (EchoState(), (3, 3, 3), 'square'),
    (RandomWalk(), (4, 3), 'square'),
    (RandomWalk(), (4,), 'square'),
    (Identity(), (3, 4), 'square'),
    (Identity(enforce_square=False), (3,), '2-D'),
    (DenseSqrtFanIn(), (5,), 'fan-in'),
    (DenseSqrtFanInOut(), (5,), 'fan-in'),
    (Orthogonal(), (5,), 'at least 2 axes'),
    (SparseInputs(Gaussian(), connections=5), (4, 10), 'only 4 inputs'),
    (SparseOutputs(Gaussian(), connections=5), (10, 4), 'only 4 units'),
    (SparseInputs(Gaussian()), (20,), 'at least 2 axes'),
    (LstmOptInit(), (3, 7), '4 \\* size'),
    (ArrayInitializer(np.ones((2, 2))), (2, 3), r'\(2, 2\)'),
], ids=lambda value: type(value).__name__ if isinstance(value, Initializer) else None)
def test_unsuitable_shape_raises_initialization_error(initializer, shape, fragment):
    with pytest.raises(InitializationError, match=fragment) as error:
        initializer(shape)
    assert type(initializer).__name__ in str(error.value)


@pytest.mark.parametrize('make, fragment', [
    (lambda: Uniform(1.0, 0.0), 'greater than high'),
    (lambda: Gaussian(std=-1.0), 'std'),
    (lambda: DenseSqrtFanIn('relu'), "unknown scale 'relu'"),
    (lambda: DenseSqrtFanInOut(-1.0), 'positive'),
    (lambda: RandomWalk('tanh'), "unknown act_func 'tanh'"),
    (lambda: SparseInputs(Gaussian(), connections=0), 'positive int'),
    (lambda: SparseOutputs(Gaussian(), connections=2.5), 'positive int'),
    (lambda: ArrayInitializer('abc'), 'numeric'),
])
def test_bad_constructor_arguments_raise_initialization_error(make, fragment):
    with pytest.raises(InitializationError, match=fragment):
        make()


def test_bad_arguments_from_a_description_are_caught_on_use():
    initializer = create_from_description({'@type': 'DenseSqrtFanIn', 'scale': 'relu'})
    with pytest.raises(InitializationError, match="unknown scale 'relu'"):
        initializer((3, 3))


@pytest.mark.parametrize('shape', [(3, -1), (2.5, 3), 'ab', 7])
def test_malformed_shape_raises_initialization_error(shape):
    with pytest.raises(InitializationError, match='shape'):
        Gaussian()(shape)


# ---------------------------------------------------------------------------- evaluate_initializer

@pytest.mark.parametrize('value', [0, 1.5, -2, np.float32(0.25)])
def test_evaluate_fills_scalars(value):
    result = evaluate_initializer(value, (2, 3))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, np.full((2, 3), float(value)))


def test_evaluate_takes_array_likes_of_the_right_shape():
    result = evaluate_initializer([[1, 2, 3], [4, 5, 6]], (2, 3))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [[1, 2, 3], [4, 5, 6]])


def test_evaluate_copies_arrays():
    source = np.zeros((2, 2))
    evaluate_initializer(source, (2, 2))[0, 0] = 1.0
    assert source[0, 0] == 0.0


@pytest.mark.parametrize('value, fragment', [
    ([1.0, 2.0], r'shape \(2,\), but the parameter has shape \(3,\)'),
    ('zeros', 'expected a number'),
    (float('nan'), 'non-finite'),
    ([1.0, float('inf'), 0.0], 'non-finite'),
    ({'a': 1}, 'expected a number'),
])
def test_evaluate_rejects_unusable_values(value, fragment):
    with pytest.raises(InitializationError, match=fragment):
        evaluate_initializer(value, (3,))


def test_evaluate_checks_what_custom_initializers_return():
    class WrongShape(Initializer):
        def __call__(self, shape):
            return np.zeros(3)

    with pytest.raises(InitializationError, match='WrongShape has shape'):
        evaluate_initializer(WrongShape(), (2, 2))


def test_evaluate_uses_fallback_only_when_initializer_fails():
    np.testing.assert_array_equal(
        evaluate_initializer(EchoState(), (2, 3), fallback=0.5), np.full((2, 3), 0.5))
    result = evaluate_initializer(Identity(std=0.0), (2, 2), fallback=0.5)
    np.testing.assert_array_equal(result, np.eye(2))


def test_evaluate_fallback_gets_the_same_seed():
    expected = evaluate_initializer(Gaussian(), (2, 3), seed=4)
    np.testing.assert_array_equal(
        evaluate_initializer(EchoState(), (2, 3), seed=4, fallback=Gaussian()), expected)


def test_evaluate_without_fallback_reraises():
    with pytest.raises(InitializationError, match='EchoState'):
        evaluate_initializer(EchoState(), (2, 3))
