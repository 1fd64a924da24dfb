"""brainstorm.tools.prediction: inputs a prediction needs, batched outputs, masks, top-k."""

import numpy as np
import pytest

from brainstorm.errors import DataError
from brainstorm.tools import create_net_from_spec
from brainstorm.tools.prediction import (predict_batches, prediction_inputs, top_classes)


def _network(spec='F5', in_shape=(4,), mask_name=None):
    from brainstorm.initializers import Gaussian
    network = create_net_from_spec('classification', in_shape, 3, spec, mask_name=mask_name)
    network.initialize(Gaussian(0.5), seed=1)
    return network


def test_targets_and_a_loss_mask_are_not_prediction_inputs():
    assert prediction_inputs(_network()) == ['default']
    assert prediction_inputs(_network('L3', mask_name='mask')) == ['default']


def test_batched_predictions_equal_one_forward_pass_with_targets():
    network = _network()
    data = np.random.RandomState(0).randn(1, 23, 4).astype(np.float32)
    network.provide_external_data({'default': data, 'targets': np.zeros((1, 23, 1))})
    network.forward_pass()
    whole = network.get('Output.outputs.probabilities')
    batches = ({'default': data[:, start:start + 5]} for start in range(0, 23, 5))
    parts = list(predict_batches(network, batches))
    assert [part.start for part in parts] == [0, 5, 10, 15, 20]
    np.testing.assert_allclose(np.concatenate([p.outputs for p in parts], axis=1), whole,
                               rtol=1e-6)


def test_masked_steps_give_nan_and_class_minus_one():
    network = _network('L3', mask_name='mask')
    data = np.random.RandomState(1).randn(4, 2, 4).astype(np.float32)
    mask = np.ones((4, 2, 1), dtype=np.float32)
    mask[2:, 1] = 0
    (batch,) = predict_batches(network, [{'default': data, 'mask': mask}], mask_name='mask')
    assert np.isnan(batch.outputs[2:, 1]).all() and np.isfinite(batch.outputs[:, 0]).all()
    classes, scores = top_classes(batch.outputs, 2)
    assert (classes[2:, 1] == -1).all() and (classes[:, 0] >= 0).all()


def test_a_shape_that_does_not_fit_names_both_shapes():
    with pytest.raises(DataError, match=r"\(1, 3, 5\).*\(4,\)"):
        list(predict_batches(_network(), [{'default': np.zeros((1, 3, 5))}]))


def test_top_classes_are_sorted_by_probability():
    outputs = np.array([[[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]])
    classes, scores = top_classes(outputs, 2)
    assert classes.tolist() == [[[1, 2], [0, 2]]]
    np.testing.assert_allclose(scores, [[[0.6, 0.3], [0.5, 0.3]]])
    with pytest.raises(DataError, match='between 1 and the number of classes'):
        top_classes(outputs, 4)


def test_one_sigmoid_unit_gives_class_one_above_a_half():
    classes, scores = top_classes(np.array([[[0.8], [0.3]]]), 1)
    assert classes.ravel().tolist() == [1, 0]
    np.testing.assert_allclose(scores.ravel(), [0.8, 0.7])
