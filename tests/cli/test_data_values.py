"""Class labels out of range, negative, fractional or NaN, and inputs with NaN or
infinities are refused when the data is opened (validate, train, evaluate): exit 2
with one line naming the item."""

import h5py
import numpy as np
import pytest

from bstorm_cli.experiment import data_values

EXPERIMENT = """\
name: labels
seed: 1
data:
  file: data.h5
  iterators:
    training: {{chain: [{{type: Minibatches, batch_size: 10}}]}}
network: {{spec: F4, out_shape: 3}}
trainer:
  stepper: {{type: SgdStepper, learning_rate: 0.1}}
  hooks: [{{type: StopAfterEpoch, max_epochs: 1}}]
"""


def _write_data(folder, inputs, labels):
    with h5py.File(folder / 'data.h5', 'w') as h5file:
        for split in ('training', 'test'):
            group = h5file.create_group(split)
            group['default'] = inputs
            group['targets'] = labels


def _good(count=20):
    rnd = np.random.RandomState(0)
    return (rnd.randn(1, count, 2).astype(np.float32),
            rnd.randint(0, 3, size=(1, count, 1)).astype(np.float32))


@pytest.mark.parametrize('change, message', [
    (lambda inputs, labels: labels.__setitem__((0, 4, 0), 3), 'labels from 0 to 3, but the '
                                                              'network has 3 classes'),
    (lambda inputs, labels: labels.__setitem__((0, 4, 0), -1), 'labels from -1 to 2'),
    (lambda inputs, labels: labels.__setitem__((0, 4, 0), 1.5), 'not whole numbers'),
    (lambda inputs, labels: labels.__setitem__((0, 4, 0), np.nan), "'targets' holds NaN"),
    (lambda inputs, labels: inputs.__setitem__((0, 7, 1), np.inf), "'default' holds NaN or "
                                                                   "infinite"),
], ids=['too-large', 'negative', 'fractional', 'nan-label', 'inf-input'])
def test_bad_values_are_refused_by_validate_train_and_evaluate(bstorm, tmp_path, change,
                                                               message):
    inputs, labels = _good()
    change(inputs, labels)
    _write_data(tmp_path, inputs, labels)
    experiment = tmp_path / 'labels.yaml'
    experiment.write_text(EXPERIMENT.format())
    for command in (('validate', experiment), ('train', experiment, '--out', tmp_path / 'r')):
        result = bstorm(*command)
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and 'labels.yaml' in result.stderr
    assert not (tmp_path / 'r').exists() or not list((tmp_path / 'r').iterdir())
    # a network trained on good data, evaluated on the bad split
    good_inputs, good_labels = _good()
    _write_data(tmp_path, good_inputs, good_labels)
    assert bstorm('train', experiment, '--out', tmp_path / 'good').exit_code == 0
    (run,) = (tmp_path / 'good').iterdir()
    _write_data(tmp_path, inputs, labels)
    result = bstorm('evaluate', run / 'last.h5', tmp_path / 'data.h5')
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_values_are_read_in_chunks(monkeypatch):
    monkeypatch.setattr(data_values, 'CHUNK_VALUES', 10)
    labels = np.zeros((2, 50, 1))
    labels[1, 49, 0] = 7  # in the last chunk
    assert 'labels from 0 to 7' in data_values.value_problems('targets', labels, 5)
    assert data_values.value_problems('targets', np.ones((2, 50, 1)), 5) is None
    chunks = list(data_values._chunks(np.zeros((2, 50, 3))))
    assert len(chunks) == 50 and sum(chunk.shape[1] for chunk in chunks) == 50
