"""The embedded digits dataset, its rebuild from the CSV, and the converter registry."""

import gzip
import inspect
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from brainstorm import datasets
from brainstorm.datasets import digits_path, prepare_digits
from brainstorm.errors import DataError, FileFormatError

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
SPLIT_SIZES = {'training': 1297, 'validation': 250, 'test': 250}


def _contents(path):
    """Every dataset (name -> array) and every root attribute of an HDF5 file."""
    arrays = {}
    with h5py.File(path, 'r') as h5file:
        h5file.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
        attributes = {key: value.tolist() if isinstance(value, np.ndarray) else value
                      for key, value in h5file.attrs.items()}
    return arrays, attributes


def test_embedded_file_layout_and_attribution():
    path = digits_path()
    assert path.name == 'digits.hdf5' and path.parent == pathlib.Path(datasets.__file__).parent
    arrays, attributes = _contents(path)
    all_targets = []
    for split, count in SPLIT_SIZES.items():
        default = arrays[f'normalized_split/{split}/default']
        targets = arrays[f'normalized_split/{split}/targets']
        assert default.shape == (1, count, 64) and default.dtype == np.float32
        assert targets.shape == (1, count, 1) and targets.dtype == np.int32
        assert default.min() >= 0 and default.max() <= 1
        np.testing.assert_array_equal(default * 16, np.rint(default * 16))  # counts / 16
        images = arrays[f'image_split/{split}/default']
        assert images.shape == (1, count, 8, 8, 1)
        np.testing.assert_array_equal(images.reshape(1, count, 64), default)
        np.testing.assert_array_equal(arrays[f'image_split/{split}/targets'], targets)
        all_targets.append(targets.ravel())
    # Every class shows up in every split; 1,797 samples in all.
    assert all(set(labels) == set(range(10)) for labels in all_targets)
    assert sum(len(labels) for labels in all_targets) == 1797
    assert 'CC BY 4.0' in attributes['license']
    assert 'Alpaydin' in attributes['authors'] and 'Kaynak' in attributes['authors']
    assert 'archive.ics.uci.edu' in attributes['source']
    notice = (path.parent / 'DIGITS_LICENSE.txt').read_text()
    assert 'CC BY 4.0' in notice and 'Alpaydin' in notice


def _write_csv(path, rows):
    path.write_bytes(gzip.compress('\n'.join(','.join(map(str, row)) for row in rows).encode()))
    return path


def test_prepare_digits_from_a_generated_csv(tmp_path):
    rnd = np.random.RandomState(0)
    rows = np.concatenate([rnd.randint(0, 17, (1797, 64)), np.arange(1797)[:, None] % 10], axis=1)
    source = _write_csv(tmp_path / 'digits.csv.gz', rows)
    arrays, _ = _contents(prepare_digits(tmp_path, tmp_path / 'out.hdf5'))
    order = np.random.RandomState(1998).permutation(1797)
    np.testing.assert_array_equal(arrays['normalized_split/training/default'][0] * 16,
                                  rows[order[:1297], :64])
    np.testing.assert_array_equal(arrays['normalized_split/test/targets'][0, :, 0],
                                  rows[order[1547:], 64])
    assert source.exists()


@pytest.mark.parametrize('rows, message', [
    ([[0] * 65] * 10, 'expected 1797 samples, found 10'),
    ([[17] + [0] * 64] * 1797, 'pixels must be 0..16 and labels 0..9'),
    ([[0] * 64] * 1797, 'expected rows of 64 pixels and a label'),
])
def test_bad_csv(tmp_path, rows, message):
    _write_csv(tmp_path / 'digits.csv.gz', rows)
    with pytest.raises(FileFormatError, match=message):
        prepare_digits(tmp_path / 'digits.csv.gz', tmp_path / 'out.hdf5')
    assert not (tmp_path / 'out.hdf5').exists()


def test_folder_without_the_csv(tmp_path):
    with pytest.raises(DataError, match='no digits CSV found; looked for digits.csv.gz'):
        prepare_digits(tmp_path, tmp_path / 'out.hdf5')


@pytest.mark.realdata
def test_embedded_file_is_what_create_digits_makes_from_the_csv(digits_csv, tmp_path):
    output = tmp_path / 'digits.hdf5'
    result = subprocess.run([sys.executable, str(REPOSITORY / 'data' / 'create_digits.py'),
                             '--source', str(digits_csv), '-o', str(output)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rebuilt_arrays, rebuilt_attributes = _contents(output)
    embedded_arrays, embedded_attributes = _contents(digits_path())
    assert rebuilt_attributes == embedded_attributes
    assert rebuilt_arrays.keys() == embedded_arrays.keys()
    for name, array in embedded_arrays.items():
        np.testing.assert_array_equal(rebuilt_arrays[name], array, err_msg=name)
        assert rebuilt_arrays[name].dtype == array.dtype


def test_registry_has_one_uniform_converter_per_dataset():
    assert set(datasets.DATASETS) == {'mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'text',
                                      'ucr', 'digits'}
    for name, converter in datasets.DATASETS.items():
        parameters = list(inspect.signature(converter).parameters.values())
        assert [p.name for p in parameters[:3]] == ['source', 'output', 'progress'], name
        assert parameters[2].default is None, name
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters[3:]), name
        assert 'overwrite' in inspect.signature(converter).parameters, name
        assert converter.__doc__, name
