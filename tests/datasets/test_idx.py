"""MNIST / Fashion-MNIST idx converter: generated idx files, error cases, the real data."""

import gzip
import hashlib
import json
import subprocess
import sys
import pathlib

import h5py
import numpy as np
import pytest

from brainstorm.datasets import idx, prepare_fashion_mnist, prepare_mnist
from brainstorm.errors import DataError, FileFormatError

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
TRAIN_COUNT, TEST_COUNT = 12, 5


def idx_bytes(array, element_type=0x08):
    """An idx file: magic 00 00 type ndim, big-endian sizes, the data."""
    header = bytes([0, 0, element_type, array.ndim]) + np.array(array.shape, '>u4').tobytes()
    return header + array.tobytes()


def write_mnist_folder(folder, compress=False, rnd=None):
    """Four small idx files in ``folder``; returns the arrays written."""
    rnd = rnd or np.random.RandomState(0)
    arrays = {
        'train-images-idx3-ubyte': rnd.randint(0, 256, (TRAIN_COUNT, 28, 28)).astype(np.uint8),
        'train-labels-idx1-ubyte': (np.arange(TRAIN_COUNT) % 10).astype(np.uint8),
        't10k-images-idx3-ubyte': rnd.randint(0, 256, (TEST_COUNT, 28, 28)).astype(np.uint8),
        't10k-labels-idx1-ubyte': (np.arange(TEST_COUNT)[::-1] % 10).astype(np.uint8),
    }
    folder.mkdir(exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (folder / f'{name}.gz').write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def no_output_left(folder, output):
    return not output.exists() and not any(p.name.endswith('.partial') for p in folder.iterdir())


@pytest.mark.parametrize('compress', [False, True], ids=['plain', 'gz'])
@pytest.mark.parametrize('flatten', [True, False], ids=['flat', 'images'])
def test_generated_files_convert_to_the_documented_layout(tmp_path, compress, flatten):
    arrays = write_mnist_folder(tmp_path / 'src', compress)
    calls = []
    output = prepare_mnist(tmp_path / 'src', tmp_path / 'out.hdf5', lambda *a: calls.append(a),
                           flatten=flatten, validation_size=3, verify_checksums=False)
    feature_shape = (784,) if flatten else (28, 28, 1)
    train_images = arrays['train-images-idx3-ubyte'].reshape((TRAIN_COUNT,) + feature_shape)
    test_images = arrays['t10k-images-idx3-ubyte'].reshape((TEST_COUNT,) + feature_shape)
    expected = {'training': (train_images[:9], arrays['train-labels-idx1-ubyte'][:9]),
                'validation': (train_images[9:], arrays['train-labels-idx1-ubyte'][9:]),
                'test': (test_images, arrays['t10k-labels-idx1-ubyte'])}
    with h5py.File(output, 'r') as h5file:
        for split, (images, labels) in expected.items():
            group = h5file['normalized_split'][split]
            assert group['default'].dtype == np.float32
            assert group['default'].shape == (1, len(labels)) + feature_shape
            np.testing.assert_allclose(group['default'][0] * 255, images, atol=1e-3)
            assert group['targets'].dtype == np.int32
            np.testing.assert_array_equal(group['targets'][()], labels[None, :, None])
        assert h5file.attrs['normalization'] == 'scale'
        assert h5file.attrs['layout'] == ('flat' if flatten else 'TNHWC')
        statuses = {entry['status'].split(' md5')[0]
                    for entry in json.loads(h5file.attrs['checksums'])}
        assert statuses == ({'differs from the published'} if compress
                            else {'no published checksum'})
    assert calls[-1][0] == calls[-1][1] and [call[0] for call in calls] == sorted(c[0] for c in calls)


def test_standardize_uses_training_statistics(tmp_path):
    write_mnist_folder(tmp_path / 'src')
    output = prepare_mnist(tmp_path / 'src', tmp_path / 'out.hdf5', normalization='standardize',
                           validation_size=2)
    with h5py.File(output, 'r') as h5file:
        training = h5file['normalized_split/training/default'][()].astype(np.float64)
        assert abs(training.mean()) < 1e-5 and abs(training.std() - 1) < 1e-5
        assert h5file.attrs['normalization'] == 'standardize'


def _damage(folder, name, how):
    path = folder / name
    data = path.read_bytes()
    if how == 'magic':
        path.write_bytes(b'\x08\x03\x00\x00' + data[4:])
    elif how == 'type':
        path.write_bytes(data[:2] + b'\x07' + data[3:])
    elif how == 'truncated':
        path.write_bytes(data[:-7])
    elif how == 'header':
        path.write_bytes(data[:6])
    elif how == 'longer':
        path.write_bytes(data + b'\x00')
    elif how == 'missing':
        path.unlink()
    elif how == 'wrong-ndim':
        path.write_bytes(idx_bytes(np.zeros((TRAIN_COUNT, 2), np.uint8)))
    elif how == 'bad-label':
        path.write_bytes(idx_bytes(np.full(TRAIN_COUNT, 10, np.uint8)))
    elif how == 'count':
        path.write_bytes(idx_bytes(np.zeros(TRAIN_COUNT - 1, np.uint8)))


@pytest.mark.parametrize('name, how, error, message', [
    ('train-images-idx3-ubyte', 'magic', FileFormatError, 'not an idx file .magic number 08030000'),
    ('t10k-images-idx3-ubyte', 'type', FileFormatError, 'not an idx file'),
    ('train-images-idx3-ubyte', 'truncated', FileFormatError, 'truncated: 9417 bytes, expected 9424'),
    ('t10k-labels-idx1-ubyte', 'header', FileFormatError, 'truncated idx header'),
    ('t10k-labels-idx1-ubyte', 'longer', FileFormatError, 'longer than its header says'),
    ('train-labels-idx1-ubyte', 'missing', DataError, 'no train labels idx file found'),
    ('train-images-idx3-ubyte', 'wrong-ndim', FileFormatError, 'expected 3-d unsigned bytes'),
    ('train-labels-idx1-ubyte', 'bad-label', FileFormatError, 'labels must be 0..9, found 10'),
    ('train-labels-idx1-ubyte', 'count', DataError, '12 train images but 11 labels'),
], ids=lambda value: value if isinstance(value, str) and ' ' not in value else None)
def test_broken_files_name_the_file_and_leave_no_output(tmp_path, name, how, error, message):
    source = tmp_path / 'src'
    write_mnist_folder(source)
    _damage(source, name, how)
    output = tmp_path / 'out.hdf5'
    with pytest.raises(error, match=message) as raised:
        prepare_mnist(source, output)
    assert str(source) in str(raised.value)
    assert no_output_left(tmp_path, output)


def test_published_checksum_mismatch_is_refused_unless_disabled(tmp_path):
    source = tmp_path / 'src'
    write_mnist_folder(source, compress=True)  # standard .gz names, not the published bytes
    with pytest.raises(DataError, match='train-images-idx3-ubyte.gz: md5 .* differs from the '
                                        'published f68b3c2dcbeaaa9fbdd348bbdeb94873'):
        prepare_mnist(source, tmp_path / 'out.hdf5')
    assert no_output_left(tmp_path, tmp_path / 'out.hdf5')
    output = prepare_mnist(source, tmp_path / 'out.hdf5', verify_checksums=False,
                           validation_size=2)
    with h5py.File(output, 'r') as h5file:
        checksums = json.loads(h5file.attrs['checksums'])
    images = source / 'train-images-idx3-ubyte.gz'
    assert checksums[0] == {'file': images.name,
                            'md5': hashlib.md5(images.read_bytes()).hexdigest(),
                            'status': 'differs from the published md5 '
                                      'f68b3c2dcbeaaa9fbdd348bbdeb94873 (not verified on request)'}


@pytest.mark.parametrize('validation_size', [-1, TRAIN_COUNT, 2.5])
def test_bad_validation_size(tmp_path, validation_size):
    write_mnist_folder(tmp_path / 'src')
    with pytest.raises(DataError, match='validation_size'):
        prepare_mnist(tmp_path / 'src', tmp_path / 'out.hdf5', validation_size=validation_size)


def test_script_reports_one_error_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / 'data' / 'create_mnist.py'), '--source',
         str(tmp_path / 'nowhere'), '-o', str(tmp_path / 'out.hdf5')],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: not a folder (expected the folder holding the "
        "train images idx file)"]
    assert 'Traceback' not in result.stderr


def test_script_converts(tmp_path):
    write_mnist_folder(tmp_path / 'src')
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / 'data' / 'create_mnist.py'), '--source',
         str(tmp_path / 'src'), '-o', str(tmp_path / 'out.hdf5'), '--images',
         '--validation-size', '2'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / 'out.hdf5', 'r') as h5file:
        assert h5file['normalized_split/test/default'].shape == (1, TEST_COUNT, 28, 28, 1)


# Class counts of the whole MNIST training and test sets, as published with the data.
MNIST_TRAINING_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _split_arrays(path):
    with h5py.File(path, 'r') as h5file:
        return {split: (h5file['normalized_split'][split]['default'][()],
                        h5file['normalized_split'][split]['targets'][()])
                for split in ('training', 'validation', 'test')}, dict(h5file.attrs)


@pytest.mark.realdata
def test_real_mnist(mnist_hdf5):
    splits, attributes = _split_arrays(mnist_hdf5)
    for split, count in [('training', 50000), ('validation', 10000), ('test', 10000)]:
        images, targets = splits[split]
        assert images.shape == (1, count, 784) and images.dtype == np.float32
        assert targets.shape == (1, count, 1) and targets.dtype == np.int32
        assert images.min() == 0 and images.max() == 1
    training_labels = np.concatenate([splits['training'][1], splits['validation'][1]], axis=1)
    assert np.bincount(training_labels.ravel()).tolist() == MNIST_TRAINING_CLASS_COUNTS
    assert np.bincount(splits['test'][1].ravel()).tolist() == MNIST_TEST_CLASS_COUNTS
    assert splits['training'][1][0, :10, 0].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert splits['test'][1][0, :10, 0].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # Pixel sums of the first image of each split (a 5, a 3 and a 7), in 0..255 units.
    first_sums = [int(np.rint(splits[split][0][0, 0] * 255).sum())
                  for split in ('training', 'validation', 'test')]
    assert first_sums == [27525, 22386, 18454]
    assert attributes['license'].startswith('CC BY-SA 3.0')
    assert list(attributes['label_names']) == [str(digit) for digit in range(10)]


@pytest.mark.realdata
def test_real_fashion_mnist(fashion_mnist_hdf5):
    splits, attributes = _split_arrays(fashion_mnist_hdf5)
    assert splits['training'][0].shape == (1, 50000, 784)
    assert splits['test'][0].shape == (1, 10000, 784)
    training_labels = np.concatenate([splits['training'][1], splits['validation'][1]], axis=1)
    assert np.bincount(training_labels.ravel()).tolist() == [6000] * 10
    assert np.bincount(splits['test'][1].ravel()).tolist() == [1000] * 10
    assert splits['training'][1][0, :10, 0].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert int(np.rint(splits['training'][0][0, 0] * 255).sum()) == 76247
    assert attributes['license'] == 'MIT'
    assert list(attributes['label_names'])[9] == 'Ankle boot'
    statuses = [entry['status'] for entry in json.loads(attributes['checksums'])]
    assert all(status.startswith('re-compressed copy') for status in statuses), statuses


def test_a_recompressed_copy_is_accepted_by_its_data_and_a_changed_one_is_not(tmp_path,
                                                                             monkeypatch):
    arrays = write_mnist_folder(tmp_path / 'src', compress=True)
    published = {f'{name}.gz': hashlib.sha256(idx_bytes(array)).hexdigest()
                 for name, array in arrays.items()}
    # what the authors published: another compression of the same data
    monkeypatch.setitem(idx.PUBLISHED_MD5, 'fashion-mnist', {
        name: hashlib.md5(gzip.compress(idx_bytes(arrays[name[:-3]]), compresslevel=1,
                                        mtime=1)).hexdigest() for name in published})
    monkeypatch.setitem(idx.PUBLISHED_CONTENT_SHA256, 'fashion-mnist', published)
    output = prepare_fashion_mnist(tmp_path / 'src', tmp_path / 'out.hdf5', validation_size=3)
    with h5py.File(output, 'r') as h5file:
        statuses = [entry['status'] for entry in json.loads(h5file.attrs['checksums'])]
    assert all(status.startswith('re-compressed copy') for status in statuses), statuses
    changed = arrays['t10k-labels-idx1-ubyte'].copy()
    changed[0] = (changed[0] + 1) % 10
    (tmp_path / 'src' / 't10k-labels-idx1-ubyte.gz').write_bytes(
        gzip.compress(idx_bytes(changed)))
    with pytest.raises(DataError, match='t10k-labels-idx1-ubyte.gz: md5 .* differs from the '
                                        'published'):
        prepare_fashion_mnist(tmp_path / 'src', tmp_path / 'other.hdf5', validation_size=3)
    assert no_output_left(tmp_path, tmp_path / 'other.hdf5')


@pytest.mark.realdata
def test_real_fashion_mnist_debian_copies_are_accepted_by_their_data(fashion_mnist_source,
                                                                    tmp_path):
    output = prepare_fashion_mnist(fashion_mnist_source, tmp_path / 'out.hdf5')
    with h5py.File(output, 'r') as h5file:
        statuses = [entry['status'] for entry in json.loads(h5file.attrs['checksums'])]
    assert len(statuses) == 4
    assert all(status.startswith('re-compressed copy') for status in statuses), statuses


@pytest.mark.realdata
def test_real_mnist_as_images_matches_flat(mnist_source, mnist_hdf5, tmp_path):
    output = prepare_mnist(mnist_source, tmp_path / 'images.hdf5', flatten=False,
                           validation_size=0)
    with h5py.File(output, 'r') as images_file, h5py.File(mnist_hdf5, 'r') as flat_file:
        images = images_file['normalized_split/training/default']
        assert images.shape == (1, 60000, 28, 28, 1)
        np.testing.assert_array_equal(
            images[0, :5].reshape(5, 784), flat_file['normalized_split/training/default'][0, :5])
        assert images_file['normalized_split/validation/default'].shape == (1, 0, 28, 28, 1)


def test_parse_idx_other_element_types():
    values = np.arange(6, dtype='>i4').reshape(2, 3)
    np.testing.assert_array_equal(idx.parse_idx(idx_bytes(values, 0x0C), 'x'), values)
