"""evaluate, extract and extract_and_save against direct per-batch computations."""

import os

import h5py
import numpy as np
import pytest

from brainstorm.data_iterators import Minibatches
from brainstorm.errors import NetworkValidationError
from brainstorm.scorers import Accuracy, Scorer
from brainstorm.tools import create_net_from_spec, evaluate, extract, extract_and_save

SEQUENCES, CLASSES, FEATURES = 7, 3, 4


@pytest.fixture
def net():
    return create_net_from_spec('classification', FEATURES, CLASSES, 'Ft5')


@pytest.fixture
def data():
    rnd = np.random.RandomState(42)
    return {'default': rnd.randn(2, SEQUENCES, FEATURES),
            'targets': rnd.randint(0, CLASSES, (2, SEQUENCES, 1))}


def _batches(data, batch_size=3):
    return Minibatches(batch_size, shuffle=False, **data)


def _forward(net, batch):
    net.provide_external_data(batch)
    net.forward_pass(training_pass=False)


def test_evaluate_weights_unequal_batches_like_one_pass_over_all_data(net, data):
    results = evaluate(net, _batches(data), scorers=[Accuracy()])
    # batches of 3, 3 and 1 sequences must average to what one pass over all 7 gives
    _forward(net, data)
    predictions = net.get('Output.outputs.predictions')
    targets = data['targets'][..., 0]
    chosen = np.take_along_axis(predictions, data['targets'], axis=2)[..., 0]
    expected_loss = -np.log(chosen).sum() / SEQUENCES   # Loss: sum over T, mean over B
    expected_accuracy = np.mean(np.argmax(predictions, axis=2) == targets)
    assert set(results) == {'total_loss', 'Accuracy'}
    assert results['total_loss'] == pytest.approx(expected_loss, rel=1e-5)
    assert results['Accuracy'] == pytest.approx(expected_accuracy)


def test_evaluate_ignores_data_the_network_does_not_take(net, data):
    extra = dict(data, unused=np.zeros((2, SEQUENCES, 1)))
    assert evaluate(net, _batches(extra)) == pytest.approx(evaluate(net, _batches(data)))


def masked_net_and_data(seed):
    """A classifier with a 'mask' input, and 3-step data with some steps masked out."""
    net = create_net_from_spec('classification', FEATURES, CLASSES, 'F5', mask_name='mask')
    rnd = np.random.RandomState(seed)
    data = {'default': rnd.randn(3, SEQUENCES, FEATURES),
            'targets': rnd.randint(0, CLASSES, (3, SEQUENCES, 1)),
            'mask': (rnd.rand(3, SEQUENCES, 1) > 0.4).astype(float)}
    return net, data


def test_evaluate_uses_the_mask_for_scorers():
    net, data = masked_net_and_data(1)
    results = evaluate(net, _batches(data), scorers=[Accuracy()], mask_name='mask')
    _forward(net, data)
    correct = np.argmax(net.get('Output.outputs.predictions'), axis=2) == data['targets'][..., 0]
    weights = data['mask'][..., 0]
    assert results['Accuracy'] == pytest.approx((correct * weights).sum() / weights.sum())


class CountWrong(Scorer):
    """A scorer as a brainstorm 0.5 user writes it: only __call__, returns the batch's sum."""

    def __call__(self, true_labels, predicted, mask=None):
        wrong = (predicted.argmax(axis=1)[:, None] != true_labels).astype(float)
        return (wrong if mask is None else wrong * mask).sum()


def test_evaluate_runs_a_0_5_user_scorer_with_and_without_mask():
    net, data = masked_net_and_data(3)
    results = evaluate(net, _batches(data), scorers=[CountWrong(), CountWrong(
        name='masked', mask_name='mask')])
    _forward(net, data)
    wrong = np.argmax(net.get('Output.outputs.predictions'), axis=2) != data['targets'][..., 0]
    weights = data['mask'][..., 0]
    assert results['CountWrong'] == pytest.approx(wrong.mean())
    assert results['masked'] == pytest.approx((wrong * weights).sum() / weights.sum())


BUFFERS = ['Output.outputs.predictions', 'FullyConnected.outputs.default',
           'Output.inputs.targets', 'Output.outputs.probabilities']


def _per_batch(net, data, buffer_names, batch_size=3):
    parts = {name: [] for name in buffer_names}
    for batch in _batches(data, batch_size)():
        _forward(net, batch)
        for name in buffer_names:
            parts[name].append(net.get(name))
    return parts


def test_extract_concatenates_per_batch_values_along_b(net, data):
    results = extract(net, _batches(data), BUFFERS)
    reference = _per_batch(net, data, BUFFERS)
    assert set(results) == set(BUFFERS)
    for name in BUFFERS:
        assert [part.shape[1] for part in reference[name]] == [3, 3, 1]
        np.testing.assert_array_equal(results[name], np.concatenate(reference[name], axis=1))
    assert results['FullyConnected.outputs.default'].shape == (2, SEQUENCES, 5)


def test_extract_accepts_a_single_name(net, data):
    results = extract(net, _batches(data), 'Output.outputs.predictions')
    assert list(results) == ['Output.outputs.predictions']


def _uneven_time_iterator(rnd):
    batches = [{'default': rnd.randn(3, 2, FEATURES), 'targets': np.zeros((3, 2, 1))},
               {'default': rnd.randn(1, 2, FEATURES), 'targets': np.ones((1, 2, 1))}]

    def iterator(handler=None):
        yield from batches
    return iterator, batches


def test_extract_pads_shorter_batches_along_t_with_zeros(net):
    iterator, batches = _uneven_time_iterator(np.random.RandomState(3))
    result = extract(net, iterator, ['Output.inputs.targets'])['Output.inputs.targets']
    assert result.shape == (3, 4, 1)
    np.testing.assert_array_equal(result[:, :2], batches[0]['targets'])
    np.testing.assert_array_equal(result[:1, 2:], batches[1]['targets'])
    np.testing.assert_array_equal(result[1:, 2:], 0)


def _never_called(handler=None):
    raise AssertionError("the iterator must not run when a buffer name is bad")


@pytest.mark.parametrize('name, fragment', [
    ('Output.outputs', "expected a dotted path 'Layer.field.name'"),
    ('Nope.outputs.default', "no layer 'Nope'"),
    ('Output.outputz.loss', "unknown field 'outputz'"),
    ('Output.outputs.nope', "layer 'Output' has no outputs 'nope'"),
    ('FullyConnected.parameters.W', 'does not depend on the data'),
    (3, 'expected a dotted path'),
])
@pytest.mark.parametrize('tool', ['extract', 'extract_and_save'])
def test_bad_buffer_names_fail_before_running(net, tmp_path, tool, name, fragment):
    target = tmp_path / 'out.h5'
    with pytest.raises(NetworkValidationError) as info:
        if tool == 'extract':
            extract(net, _never_called, [name])
        else:
            extract_and_save(net, _never_called, [name], target)
    assert fragment in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_extract_and_save_writes_what_extract_returns(net, data, tmp_path):
    target = tmp_path / 'features.h5'
    extract_and_save(net, _batches(data), BUFFERS, target)
    expected = extract(net, _batches(data), BUFFERS)
    with h5py.File(target, 'r') as f:
        assert set(f) == set(BUFFERS)
        for name in BUFFERS:
            np.testing.assert_array_equal(f[name][()], expected[name])
            assert f[name].maxshape[:2] == (None, None)   # grown batch by batch
    assert os.listdir(tmp_path) == ['features.h5']


def test_extract_and_save_grows_along_t_for_longer_batches(net, tmp_path):
    iterator, _ = _uneven_time_iterator(np.random.RandomState(3))
    iterator_reversed = lambda handler=None: reversed(list(iterator()))  # noqa: E731
    target = tmp_path / 'features.h5'
    extract_and_save(net, iterator_reversed, ['Output.inputs.targets'], target)
    expected = extract(net, iterator_reversed, ['Output.inputs.targets'])
    with h5py.File(target, 'r') as f:
        np.testing.assert_array_equal(f['Output.inputs.targets'][()],
                                      expected['Output.inputs.targets'])
        assert f['Output.inputs.targets'].shape == (3, 4, 1)


def test_extract_and_save_keeps_an_existing_file_when_interrupted(net, data, tmp_path):
    target = tmp_path / 'features.h5'
    target.write_bytes(b'old content')

    def failing_iterator(handler=None):
        yield from _batches(data)()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_and_save(net, failing_iterator, BUFFERS, target)
    assert target.read_bytes() == b'old content'
    assert os.listdir(tmp_path) == ['features.h5']
