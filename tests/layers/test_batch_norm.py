"""BatchNorm: training and inference passes against numpy references, running statistics.

Gradients (training and inference mode) are checked for the LayerCases in
cases_conv.py by test_finite_differences.py; here the inference-mode gradient is
also checked after the running statistics have moved away from their initial values.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from brainstorm.errors import LayerValidationError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.layers import BatchNorm
from brainstorm.structure.network import Network
from brainstorm.testing import LayerHarness, build_architecture, check_layer_gradients

FEATURE_SHAPES = {'vector': (3,), 'image': (2, 2, 3)}
EPSILON = 1e-5


def make_case(feature_shape, training_pass=True, **kwargs):
    return SimpleNamespace(id='batch_norm', layer_type='BatchNorm', kwargs=kwargs,
                           in_shapes={'default': feature_shape}, time_steps=2, batch_size=3,
                           training_pass=training_pass,
                           inits={'sigma': lambda shape, rnd: rnd.uniform(0.5, 1.5, shape)})


def values_of(harness, name):
    return harness.handler.get_numpy_copy(harness.parameter_view(name))


def batch_statistics(data, epsilon=EPSILON):
    """Per last-axis feature mean and sqrt(variance + epsilon) over all other axes."""
    rows = data.reshape(-1, data.shape[-1])
    return rows.mean(axis=0), np.sqrt(rows.var(axis=0) + epsilon)


def run_training_passes(harness, batches):
    for data in batches:
        harness.net.provide_external_data({'default': data})
        harness.net.forward_pass(training_pass=True)


@pytest.mark.parametrize('feature_kind', list(FEATURE_SHAPES))
def test_training_pass_normalises_each_feature_over_the_batch(feature_kind):
    harness = LayerHarness(make_case(FEATURE_SHAPES[feature_kind]), NumpyHandler(np.float64))
    harness.forward()
    data = harness.data['default'] * 3.0 + 1.5  # far from mean 0, std 1
    run_training_passes(harness, [data])
    mean, std = batch_statistics(data)
    expected = values_of(harness, 'gamma') * (data - mean) / std + values_of(harness, 'beta')
    np.testing.assert_allclose(harness.output('default'), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('feature_kind', list(FEATURE_SHAPES))
def test_running_statistics_follow_the_decay_rule(feature_kind):
    decay = 0.7
    harness = LayerHarness(make_case(FEATURE_SHAPES[feature_kind], decay=decay),
                           NumpyHandler(np.float64))
    mu, sigma = values_of(harness, 'mu'), values_of(harness, 'sigma')
    rnd = np.random.RandomState(5)
    batches = [rnd.standard_normal(harness.data['default'].shape) * scale + shift
               for scale, shift in ((1.0, 0.0), (2.0, -1.0), (0.5, 3.0))]
    for data in batches:
        mean, std = batch_statistics(data)
        mu = decay * mu + (1 - decay) * mean
        sigma = decay * sigma + (1 - decay) * std
    run_training_passes(harness, batches)
    np.testing.assert_allclose(values_of(harness, 'mu'), mu, rtol=1e-12)
    np.testing.assert_allclose(values_of(harness, 'sigma'), sigma, rtol=1e-12)


@pytest.mark.parametrize('feature_kind', list(FEATURE_SHAPES))
def test_inference_pass_uses_the_running_statistics(feature_kind):
    harness = LayerHarness(make_case(FEATURE_SHAPES[feature_kind], decay=0.5),
                           NumpyHandler(np.float64))
    rnd = np.random.RandomState(7)
    shape = harness.data['default'].shape
    run_training_passes(harness, [rnd.standard_normal(shape) * 2.0 + 1.0 for _ in range(4)])
    mu, sigma = values_of(harness, 'mu'), values_of(harness, 'sigma')
    test_data = rnd.standard_normal(shape)
    harness.net.provide_external_data({'default': test_data})
    harness.net.forward_pass(training_pass=False)
    expected = values_of(harness, 'gamma') * (test_data - mu) / sigma + values_of(harness,
                                                                                  'beta')
    np.testing.assert_allclose(harness.output('default'), expected, rtol=1e-12, atol=1e-12)
    # an inference pass leaves the running statistics alone
    np.testing.assert_array_equal(values_of(harness, 'mu'), mu)
    np.testing.assert_array_equal(values_of(harness, 'sigma'), sigma)


def test_training_output_does_not_depend_on_the_running_statistics():
    harness = LayerHarness(make_case((3,)), NumpyHandler(np.float64))
    harness.forward()
    first = harness.output('default')
    harness.handler.set_from_numpy(harness.parameter_view('mu'), np.array([9.0, -9.0, 4.0]))
    harness.forward()  # the running statistics changed in between, twice
    np.testing.assert_array_equal(harness.output('default'), first)


def test_inference_gradients_after_training_passes():
    harness_case = make_case((2, 3), training_pass=False)
    harness = LayerHarness(harness_case, NumpyHandler(np.float64))
    run_training_passes(harness, [harness.data['default'] * 2.0 + 1.0])
    # the gradient check builds its own harness: give it the moved statistics as inits
    moved = {name: values_of(harness, name) for name in ('mu', 'sigma')}
    harness_case.inits = {name: (lambda values: lambda shape, rnd: values)(values)
                          for name, values in moved.items()}
    failures = check_layer_gradients(harness_case, DebugHandler(NumpyHandler(np.float64)))
    assert not failures, "\n".join(failures)


def test_mu_and_sigma_get_no_gradients():
    harness = LayerHarness(make_case((3,)), NumpyHandler(np.float64))
    harness.forward()
    harness.backward()
    assert harness.checked_parameters() == ['gamma', 'beta']
    for name in ('mu', 'sigma'):
        gradient = harness.handler.get_numpy_copy(harness.gradient_view(name))
        np.testing.assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize('kwargs, message', [
    ({'decay': 1.5}, 'decay must be in [0, 1]'),
    ({'decay': -0.1}, 'decay must be in [0, 1]'),
    ({'decay': 'fast'}, 'decay must be'),
    ({'epsilon': 0.0}, 'epsilon must be > 0'),
    ({'epsilon': -1e-3}, 'epsilon must be > 0'),
], ids=['decay-above-1', 'decay-negative', 'decay-string', 'epsilon-zero',
        'epsilon-negative'])
def test_invalid_kwargs_raise_layer_validation_errors(kwargs, message):
    architecture = build_architecture('BatchNorm', kwargs, {'default': (3,)})
    with pytest.raises(LayerValidationError) as error:
        Network.from_architecture(architecture)
    assert message in str(error.value)


def test_factory_passes_spec_defaults():
    wrapper = BatchNorm(name='BN')
    assert (wrapper.layer_type, wrapper.name) == ('BatchNorm', 'BN')
    assert wrapper.layer_kwargs == {'decay': 0.9, 'epsilon': 1e-5}
