"""The converters' shared output rules: atomic files, no silent overwrite, attributes."""

import gzip
import hashlib
import json
import os

import h5py
import numpy as np
import pytest

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError

ATTRIBUTES = {'source': 'a test', 'license': 'CC0', 'description': 'tiny'}


def _leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if path.name.endswith('.partial'))


def test_dataset_file_writes_arrays_and_attributes(tmp_path):
    output = tmp_path / 'out.hdf5'
    attributes = dict(ATTRIBUTES, label_names=['cat', 'dog'], checksums=[{'file': 'a'}],
                      mean=np.array([0.5], dtype=np.float32), counts=[1, 2])
    with _writer.dataset_file(output, attributes) as h5file:
        _writer.write_split(h5file, 'normalized_split', 'training',
                            {'default': np.ones((1, 3, 2), np.float32)})
    with h5py.File(output, 'r') as h5file:
        assert h5file['normalized_split/training/default'].shape == (1, 3, 2)
        assert h5file.attrs['source'] == 'a test'
        assert list(h5file.attrs['label_names']) == ['cat', 'dog']
        assert json.loads(h5file.attrs['checksums']) == [{'file': 'a'}]
        assert h5file.attrs['mean'].dtype == np.float32
        assert list(h5file.attrs['counts']) == [1, 2]
    assert _leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failure_inside_the_block_leaves_nothing(tmp_path):
    output = tmp_path / 'out.hdf5'
    with pytest.raises(RuntimeError, match='half way'):
        with _writer.dataset_file(output, ATTRIBUTES) as h5file:
            h5file['x'] = np.zeros(3)
            raise RuntimeError('half way')
    assert not output.exists()
    assert _leftovers(tmp_path) == []


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    output = tmp_path / 'out.hdf5'
    output.write_bytes(b'precious')
    with pytest.raises(DataError, match='exists already'):
        with _writer.dataset_file(output, ATTRIBUTES):
            pass
    assert output.read_bytes() == b'precious'
    with _writer.dataset_file(output, ATTRIBUTES, overwrite=True) as h5file:
        h5file['x'] = np.zeros(3)
    assert h5py.is_hdf5(output)


def test_output_appearing_during_conversion_is_not_clobbered(tmp_path):
    output = tmp_path / 'out.hdf5'
    with pytest.raises(DataError, match='appeared while converting'):
        with _writer.dataset_file(output, ATTRIBUTES) as h5file:
            h5file['x'] = np.zeros(3)
            output.write_bytes(b'written by someone else')
    assert output.read_bytes() == b'written by someone else'
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize('name', ['missing-folder/out.hdf5', '.'], ids=['no-folder', 'a-folder'])
def test_bad_output_names_are_data_errors(tmp_path, name):
    with pytest.raises(DataError, match='folder'):
        _writer.check_output(tmp_path / name, overwrite=True)


def test_verify_checksum_statuses(tmp_path):
    path = tmp_path / 'file.gz'
    path.write_bytes(b'content')
    md5 = hashlib.md5(b'content').hexdigest()
    assert _writer.verify_checksum(path, md5, True)['status'] == 'matches the published md5'
    assert _writer.verify_checksum(path, None, True)['status'] == 'no published checksum'
    with pytest.raises(DataError, match=f'{path}: md5 {md5} differs from the published 0+'):
        _writer.verify_checksum(path, '0' * 32, True)
    assert _writer.verify_checksum(path, '0' * 32, False)['status'].startswith('differs')


def test_read_maybe_compressed(tmp_path):
    plain, packed, broken = tmp_path / 'a', tmp_path / 'a.gz', tmp_path / 'b.gz'
    plain.write_bytes(b'abc' * 100)
    packed.write_bytes(gzip.compress(b'abc' * 100))
    broken.write_bytes(gzip.compress(b'abc' * 100)[:-10])
    assert _writer.read_maybe_compressed(plain) == _writer.read_maybe_compressed(packed)
    with pytest.raises(FileFormatError, match='b.gz: corrupt or truncated gzip'):
        _writer.read_maybe_compressed(broken)
    with pytest.raises(DataError, match='missing.gz: file not found'):
        _writer.read_maybe_compressed(tmp_path / 'missing.gz')


def test_scale_and_standardize():
    rnd = np.random.RandomState(0)
    images = rnd.randint(0, 256, size=(10, 4, 4, 3)).astype(np.uint8)
    scaled, attributes = _writer.scale_or_standardize(images, 6, 'scale', -1, 'x')
    assert scaled.dtype == np.float32 and attributes['normalization'] == 'scale'
    np.testing.assert_allclose(scaled * 255, images, atol=1e-4)

    standardized, attributes = _writer.scale_or_standardize(images, 6, 'standardize', -1, 'x')
    training = standardized[:6].astype(np.float64)
    np.testing.assert_allclose(training.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(training.std(axis=(0, 1, 2)), 1, atol=1e-5)
    expected_mean = (images[:6] / 255.0).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(attributes['mean'], expected_mean, rtol=1e-5)
    with pytest.raises(DataError, match="normalization must be 'scale' or 'standardize'"):
        _writer.scale_or_standardize(images, 6, 'whiten', -1, 'x')
