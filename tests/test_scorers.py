"""Tests of brainstorm.scorers against straightforward numpy references."""

import math

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import DataError, NetworkValidationError, ValidationError
from brainstorm.scorers import (Accuracy, Hamming, MeanSquaredError, Scorer,
                                aggregate_losses_and_scores, gather_losses_and_scores,
                                score_batch)

rng = np.random.RandomState(0)


def random_batch(time_steps, batch_size, classes, masked):
    probabilities = rng.rand(time_steps, batch_size, classes)
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    indices = rng.randint(classes, size=(time_steps, batch_size, 1))
    mask = (rng.rand(time_steps, batch_size, 1) < 0.6).astype(np.float64) if masked else None
    return indices, probabilities, mask


def reference_accuracy(indices, probabilities, mask):
    correct = (probabilities.argmax(axis=2) == indices[:, :, 0]).astype(float)
    weights = np.ones_like(correct) if mask is None else mask[:, :, 0]
    return (correct * weights).sum(), weights.sum()


@pytest.mark.parametrize('masked', [False, True], ids=['unmasked', 'masked'])
@pytest.mark.parametrize('one_hot', [False, True], ids=['indices', 'one-hot'])
def test_accuracy_returns_the_sum_of_correct_samples(masked, one_hot):
    indices, probabilities, mask = random_batch(3, 7, 4, masked)
    targets = np.eye(4)[indices[:, :, 0]] if one_hot else indices
    expected_sum, expected_weight = reference_accuracy(indices, probabilities, mask)
    assert Accuracy()(targets, probabilities, mask) == pytest.approx(expected_sum)
    assert score_batch(Accuracy(), targets, probabilities, mask) == \
        (expected_weight, pytest.approx(expected_sum))


def test_accuracy_of_a_single_column_is_exact_equality_as_in_0_5():
    predicted = np.array([[1.0], [0.0], [0.6], [2.0]])
    targets = np.array([[1], [0], [1], [2]])
    assert Accuracy()(targets, predicted) == 3.0


@pytest.mark.parametrize('threshold', [0.5, 0.3])
@pytest.mark.parametrize('masked', [False, True], ids=['unmasked', 'masked'])
def test_hamming_sums_the_fraction_of_correct_bits(masked, threshold):
    _, probabilities, mask = random_batch(2, 5, 6, masked)
    probabilities[0, 0, 0] = threshold    # at the threshold a bit is on
    targets = (rng.rand(2, 5, 6) < 0.5).astype(np.float64)
    targets[0, 0, 0] = 1.0
    weights = np.ones((2, 5)) if mask is None else mask[:, :, 0]
    per_sample = ((probabilities >= threshold) == (targets > 0.5)).mean(axis=2)
    scorer = Hamming(threshold=threshold)
    assert scorer(targets, probabilities, mask) == pytest.approx((per_sample * weights).sum())
    assert score_batch(scorer, targets, probabilities, mask)[0] == weights.sum()
    assert scorer.name == scorer.__name__ == 'Hamming'


@pytest.mark.parametrize('masked', [False, True], ids=['unmasked', 'masked'])
def test_mean_squared_error_is_half_the_sum_of_squares(masked):
    _, predicted, mask = random_batch(2, 5, 3, masked)
    targets = rng.randn(2, 5, 3)
    weights = np.ones((2, 5)) if mask is None else mask[:, :, 0]
    per_sample = 0.5 * ((predicted - targets) ** 2).sum(axis=2)
    scorer = MeanSquaredError()
    weight, value = score_batch(scorer, targets, predicted, mask)
    assert weight == weights.sum()
    assert value == pytest.approx((per_sample * weights).sum())
    assert Scorer.aggregate([(weight, value)]) == pytest.approx(
        (per_sample * weights).sum() / weights.sum())


@pytest.mark.parametrize('scorer', [Accuracy(), Hamming(), MeanSquaredError()],
                         ids=['accuracy', 'hamming', 'mse'])
def test_aggregating_unequal_batches_equals_scoring_all_data_at_once(scorer):
    classes = 3
    _, predicted, mask = random_batch(4, 11, classes, masked=True)
    if isinstance(scorer, Accuracy):
        targets = rng.randint(classes, size=(4, 11, 1))
    else:
        targets = (rng.rand(4, 11, classes) < 0.5).astype(np.float64)
    whole = scorer.aggregate([score_batch(scorer, targets, predicted, mask)])
    pieces = [score_batch(scorer, targets[:, batch], predicted[:, batch], mask[:, batch])
              for batch in (slice(0, 2), slice(2, 9), slice(9, 11))]
    assert type(scorer).aggregate(pieces) == pytest.approx(whole)
    # a plain mean of per-batch scores would differ: the weighting is what makes it equal
    plain_mean = np.mean([value / weight for weight, value in pieces if weight])
    assert not math.isclose(plain_mean, whole)


def test_aggregate_is_a_staticmethod_over_weight_value_pairs():
    assert Scorer.aggregate([(2, 1.0), (3, 2.0)]) == pytest.approx(3.0 / 5)
    assert Accuracy.aggregate([(4, 4.0)]) == 1.0


def test_aggregate_without_weight_is_nan():
    assert math.isnan(Accuracy().aggregate([]))
    assert math.isnan(Accuracy().aggregate([(0.0, 0.0)]))


@pytest.mark.parametrize('scorer, targets, predicted, mask, message', [
    (Accuracy(), np.zeros((1, 3, 1)), np.zeros((1, 4, 2)), None, r'targets of shape \(1, 3, 1\)'),
    (Accuracy(), np.zeros((1, 3, 3)), np.zeros((1, 3, 2)), None, 'class indices'),
    (Hamming(), np.zeros((1, 3, 3)), np.zeros((1, 3, 2)), None, '3 bits for 2 outputs'),
    (MeanSquaredError(), np.zeros((1, 3, 1)), np.zeros((1, 3, 2)), None, '1 target features'),
    (Accuracy(), np.zeros((1, 3, 1)), np.zeros((1, 3, 2)), np.ones((1, 3, 2)),
     r'mask of shape \(1, 3, 2\)'),
])
def test_scorers_reject_data_that_does_not_fit(scorer, targets, predicted, mask, message):
    with pytest.raises(DataError, match=message):
        scorer(targets, predicted, mask)


def test_scorer_names_and_descriptions():
    scorer = Accuracy(out_name='Output.outputs.probabilities', name='acc')
    assert (scorer.name, scorer.__name__, Accuracy().name) == ('acc', 'acc', 'Accuracy')
    description = get_description(scorer)
    assert description['@type'] == 'Accuracy' and 'targets_name' not in description
    copy = create_from_description(description)
    assert isinstance(copy, Accuracy)
    assert (copy.out_name, copy.targets_name, copy.mask_name, copy.name) == \
        ('Output.outputs.probabilities', 'targets', '', 'acc')
    with pytest.raises(NotImplementedError):
        Scorer()(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)))


def test_a_scorer_description_sets_its_name_but_not_dunder_attributes():
    from brainstorm.errors import DescriptionError
    with pytest.raises(DescriptionError, match="'name' must be a string"):
        create_from_description({'@type': 'Accuracy', 'name': {'x': 1}})
    with pytest.raises(DescriptionError, match="__name__"):
        create_from_description({'@type': 'Accuracy', '__name__': 'acc'})


# ---- gathering from a network -------------------------------------------------------------

class FakeNet:
    """The three Network methods the scorers use, over fixed arrays."""

    def __init__(self, inputs, buffers, losses):
        self.inputs, self.buffers, self.losses = inputs, buffers, losses

    def get(self, path):
        return self.buffers[path].copy()

    def get_input(self, name):
        return self.inputs[name].copy()

    def get_loss_values(self):
        return dict(self.losses)


def fake_batches():
    batches = []
    for batch_size, losses in ((2, {'total_loss': 1.0, 'Out': 0.5}),
                               (5, {'total_loss': 3.0, 'Out': 1.0})):
        indices, probabilities, mask = random_batch(3, batch_size, 4, masked=True)
        net = FakeNet({'targets': indices, 'mask': mask, 'labels': indices},
                      {'Output.outputs.probabilities': probabilities}, losses)
        batches.append((net, indices, probabilities, mask))
    return batches


def test_gather_and_aggregate_weight_losses_by_batch_size_and_scores_by_mask():
    scorers = [Accuracy(out_name='Output.outputs.probabilities'),
               Accuracy(name='MaskedAccuracy', mask_name='mask'),
               Accuracy(name='OtherTargets', targets_name='labels')]
    scores = {}
    batches = fake_batches()
    for net, *_ in batches:
        gather_losses_and_scores(net, scorers, scores, out_name='Output.outputs.probabilities')
    results = aggregate_losses_and_scores(scores, batches[0][0], scorers)
    assert list(results) == ['total_loss', 'Out', 'Accuracy', 'MaskedAccuracy', 'OtherTargets']
    assert results['total_loss'] == pytest.approx((2 * 1.0 + 5 * 3.0) / 7)
    assert results['Out'] == pytest.approx((2 * 0.5 + 5 * 1.0) / 7)
    unmasked = [reference_accuracy(i, p, None) for _, i, p, _ in batches]
    masked = [reference_accuracy(i, p, m) for _, i, p, m in batches]
    expected_unmasked = sum(s for s, _ in unmasked) / sum(w for _, w in unmasked)
    expected_masked = sum(s for s, _ in masked) / sum(w for _, w in masked)
    assert results['Accuracy'] == pytest.approx(expected_unmasked)
    assert results['OtherTargets'] == pytest.approx(expected_unmasked)
    assert results['MaskedAccuracy'] == pytest.approx(expected_masked)


def test_gather_uses_the_default_mask_name_for_scorers_without_one():
    scores = {}
    batches = fake_batches()
    for net, *_ in batches:
        gather_losses_and_scores(net, [Accuracy()], scores,
                                 out_name='Output.outputs.probabilities', mask_name='mask')
    masked = [reference_accuracy(i, p, m) for _, i, p, m in batches]
    assert aggregate_losses_and_scores(scores, batches[0][0], [Accuracy()])['Accuracy'] == \
        pytest.approx(sum(s for s, _ in masked) / sum(w for _, w in masked))


def test_gather_takes_the_batch_size_from_default_without_targets():
    net = FakeNet({'default': np.zeros((1, 4, 2))}, {}, {'total_loss': 2.0})
    scores = {}
    gather_losses_and_scores(net, [], scores)
    assert scores == {'total_loss': [(4, 8.0)]}
    with pytest.raises(NetworkValidationError, match='batch size'):
        gather_losses_and_scores(FakeNet({}, {}, {'total_loss': 2.0}), [], {})


@pytest.mark.parametrize('scorer, message', [
    (Accuracy(), 'no out_name'),
    (Accuracy(out_name='Output.outputs.probabilities', name='total_loss'), 'name of a loss'),
])
def test_gather_rejects_unusable_scorers(scorer, message):
    net = fake_batches()[0][0]
    with pytest.raises(ValidationError, match=message):
        gather_losses_and_scores(net, [scorer], {})


class ErrorRate(Scorer):
    """A user's scorer written for brainstorm 0.5: only __call__, returns a sum."""

    def __call__(self, true_labels, predicted, mask=None):
        assert true_labels.ndim == predicted.ndim == 2     # 0.5 passes (N, F) rows
        wrong = (predicted.argmax(axis=1)[:, None] != true_labels).astype(float)
        if mask is not None:
            wrong *= mask
        return wrong.sum()


def test_a_0_5_user_scorer_defining_only_call_is_gathered_and_aggregated():
    scores = {}
    batches = fake_batches()
    for net, *_ in batches:
        gather_losses_and_scores(net, [ErrorRate(name='err'), ErrorRate()], scores,
                                 out_name='Output.outputs.probabilities', mask_name='mask')
    masked = [reference_accuracy(i, p, m) for _, i, p, m in batches]
    results = aggregate_losses_and_scores(scores, batches[0][0],
                                          [ErrorRate(name='err'), ErrorRate()])
    expected = 1 - sum(s for s, _ in masked) / sum(w for _, w in masked)
    assert results['err'] == pytest.approx(expected)
    assert results['ErrorRate'] == pytest.approx(expected)
