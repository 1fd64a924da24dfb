"""Forward values of the feed-forward layers against plain-numpy formulas, and their
argument checks. (Gradients: test_finite_differences.py.)"""

from types import SimpleNamespace

import numpy as np
import pytest

from brainstorm.errors import LayerValidationError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.structure.network import Network
from brainstorm.testing import LayerHarness, build_architecture


def run(layer_type, kwargs, in_shapes, input_data=None, training_pass=True, seed=0,
        time_steps=3, batch_size=4):
    case = SimpleNamespace(layer_type=layer_type, kwargs=kwargs, in_shapes=in_shapes,
                           input_data=input_data or {}, training_pass=training_pass,
                           time_steps=time_steps, batch_size=batch_size)
    harness = LayerHarness(case, DebugHandler(NumpyHandler(np.float64)), seed=seed)
    harness.forward()
    return harness


def uniform(low, high):
    return lambda shape, rnd: rnd.uniform(low, high, size=shape)


def binary(shape, rnd):
    return (rnd.uniform(size=shape) < 0.5).astype(float)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_no_op_and_deltas_scaling_copy_their_input():
    for layer_type, kwargs in (('NoOp', {}), ('DeltasScaling', {'factor': 3.0})):
        harness = run(layer_type, kwargs, {'default': (2, 3)})
        np.testing.assert_array_equal(harness.output('default'), harness.data['default'])


def test_dropout_drops_the_given_fraction_and_rescales():
    harness = run('Dropout', {'drop_prob': 0.3}, {'default': (50, 40)})
    x, y = harness.data['default'], harness.output('default')
    dropped = y == 0
    assert abs(dropped.mean() - 0.3) < 0.02
    np.testing.assert_allclose(y[~dropped], x[~dropped] / 0.7)


def test_dropout_is_the_identity_at_test_time():
    harness = run('Dropout', {'drop_prob': 0.5}, {'default': (3,)}, training_pass=False)
    np.testing.assert_array_equal(harness.output('default'), harness.data['default'])


def test_dropout_after_a_test_pass_passes_deltas_through_and_keeps_the_mask():
    harness = run('Dropout', {'drop_prob': 0.5}, {'default': (6,)})
    mask = harness.net.buffer[harness.layer_name].internals.mask.copy()
    harness.case.training_pass = False
    harness.forward()
    harness.backward()
    np.testing.assert_array_equal(harness.net.buffer[harness.layer_name].internals.mask, mask)
    np.testing.assert_array_equal(harness.input_delta_view('default'),
                                  harness.output_deltas['default'])
    harness.case.training_pass = True  # and a training pass masks the deltas again
    harness.forward()
    harness.backward()
    np.testing.assert_array_equal(harness.input_delta_view('default'),
                                  harness.output_deltas['default'] * mask)


def test_dropout_masks_follow_the_handler_seed():
    masks = [run('Dropout', {}, {'default': (20,)}, seed=seed).output('default') != 0
             for seed in (1, 1, 2)]
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


@pytest.mark.parametrize('activation, function', [
    ('linear', lambda x: x), ('rel', lambda x: np.maximum(x, 0)), ('sigmoid', sigmoid),
    ('tanh', np.tanh), ('el', lambda x: np.where(x > 0, x, np.exp(x) - 1))])
def test_elementwise(activation, function):
    harness = run('Elementwise', {'activation': activation}, {'default': (2, 2)})
    np.testing.assert_allclose(harness.output('default'), function(harness.data['default']))


def test_highway():
    harness = run('Highway', {}, {'H': (3,), 'T': (3,), 'x': (3,)},
                  input_data={'T': uniform(0, 1)})
    H, T, x = (harness.data[name] for name in ('H', 'T', 'x'))
    np.testing.assert_allclose(harness.output('default'), H * T + x * (1 - T))


def test_merge_concatenates_along_the_last_axis():
    harness = run('Merge', {}, {'inputs_1': (2, 2), 'inputs_2': (2, 3)})
    np.testing.assert_array_equal(harness.output('default'), np.concatenate(
        [harness.data['inputs_1'], harness.data['inputs_2']], axis=-1))


@pytest.mark.parametrize('mask_shape', [(1,), (2, 3)], ids=['steps', 'features'])
def test_mask(mask_shape):
    harness = run('Mask', {}, {'default': (2, 3), 'mask': mask_shape},
                  input_data={'mask': binary})
    mask = harness.data['mask']
    expected = harness.data['default'] * (mask[..., None] if mask_shape == (1,) else mask)
    np.testing.assert_array_equal(harness.output('default'), expected)


def test_l1_and_l2_decay():
    l1 = run('L1Decay', {'factor': 0.5}, {'default': (2, 3)})
    x = l1.data['default']
    np.testing.assert_allclose(l1.output('default')[..., 0], 0.5 * np.abs(x).sum(axis=(2, 3)))
    l2 = run('L2Decay', {'factor': 0.5}, {'default': (2, 3)})
    x = l2.data['default']
    np.testing.assert_allclose(l2.output('default')[..., 0],
                               0.5 * 0.5 * (x ** 2).sum(axis=(2, 3)))


def test_sigmoid_ce_outputs_predictions_and_loss_per_dimension():
    harness = run('SigmoidCE', {}, {'default': (2, 2), 'targets': (2, 2)},
                  input_data={'targets': binary})
    x, t = harness.data['default'], harness.data['targets']
    p = sigmoid(x)
    np.testing.assert_allclose(harness.output('predictions'), p)
    np.testing.assert_allclose(harness.output('loss'),
                               -(t * np.log(p) + (1 - t) * np.log(1 - p)))


def test_sigmoid_ce_loss_is_finite_for_huge_logits():
    harness = run('SigmoidCE', {}, {'default': (4,), 'targets': (4,)},
                  input_data={'default': lambda shape, rnd: rnd.choice([-800.0, 800.0], shape),
                              'targets': binary})
    x, t = harness.data['default'], harness.data['targets']
    expected = np.where((x > 0) == (t > 0), 0.0, 800.0)
    np.testing.assert_allclose(harness.output('loss'), expected)


def test_binomial_cross_entropy_per_dimension():
    harness = run('BinomialCrossEntropy', {}, {'default': (3,), 'targets': (3,)},
                  input_data={'default': uniform(0.01, 0.99), 'targets': uniform(0, 1)})
    p, t = harness.data['default'], harness.data['targets']
    np.testing.assert_allclose(harness.output('default'),
                               -(t * np.log(p) + (1 - t) * np.log(1 - p)))


def test_binomial_cross_entropy_is_finite_at_0_and_1():
    harness = run('BinomialCrossEntropy', {}, {'default': (4,), 'targets': (4,)},
                  input_data={'default': lambda shape, rnd: rnd.choice([0.0, 1.0], shape),
                              'targets': binary})
    assert np.all(np.isfinite(harness.output('default')))
    harness.backward()
    assert np.all(np.isfinite(harness.handler.get_numpy_copy(
        harness.input_delta_view('default'))))


def test_squared_difference_has_no_factor_one_half():
    harness = run('SquaredDifference', {}, {'inputs_1': (3,), 'inputs_2': (3,)})
    np.testing.assert_allclose(harness.output('default'),
                               (harness.data['inputs_1'] - harness.data['inputs_2']) ** 2)


def test_squared_error_has_factor_one_half_and_passes_predictions_on():
    harness = run('SquaredError', {}, {'default': (3,), 'targets': (3,)})
    x, t = harness.data['default'], harness.data['targets']
    np.testing.assert_array_equal(harness.output('predictions'), x)
    np.testing.assert_allclose(harness.output('loss'), 0.5 * (x - t) ** 2)


BAD_SETUPS = [
    ('Dropout', {'drop_prob': 1.0}, {'default': (3,)}, r"drop_prob must be in \[0, 1\)"),
    ('Dropout', {'drop_prob': '0.5'}, {'default': (3,)}, "drop_prob must be"),
    ('Elementwise', {'activation': 'relu'}, {'default': (3,)}, "did you mean 'rel'"),
    ('DeltasScaling', {}, {'default': (3,)}, "factor must be"),
    ('L2Decay', {'factor': None}, {'default': (3,)}, "factor must be"),
    ('Highway', {}, {'H': (3,), 'T': (3,), 'x': (2,)}, "same shape"),
    ('Merge', {}, {'inputs_1': (2, 3), 'inputs_2': (3, 3)}, "except in the last axis"),
    ('Mask', {}, {'default': (3,), 'mask': (2,)}, r"expected \(1,\)"),
    ('SigmoidCE', {}, {'default': (3,), 'targets': (1,)}, "targets have shape"),
    ('BinomialCrossEntropy', {}, {'default': (3,), 'targets': (2,)}, "targets have shape"),
    ('SquaredError', {}, {'default': (3,), 'targets': (3, 1)}, "targets have shape"),
    ('SquaredDifference', {}, {'inputs_1': (3,), 'inputs_2': (4,)}, "inputs_2 has shape"),
]


@pytest.mark.parametrize('layer_type, kwargs, in_shapes, message', BAD_SETUPS,
                         ids=[f"{setup[0]}-{index}" for index, setup in enumerate(BAD_SETUPS)])
def test_bad_arguments_and_shapes_are_layer_validation_errors(layer_type, kwargs, in_shapes,
                                                              message):
    with pytest.raises(LayerValidationError, match=message):
        Network.from_architecture(build_architecture(layer_type, kwargs, in_shapes))
