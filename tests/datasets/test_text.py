"""Byte-level text converter: generated files in every compression, errors, real Wikipedia XML."""

import bz2
import gzip
import lzma
import zipfile

import h5py
import numpy as np
import pytest

from brainstorm.datasets import prepare_text
from brainstorm.datasets.text import byte_sequences
from brainstorm.errors import DataError, FileFormatError

TEXT = ('<page><title>Zebra</title><text>The zebra (plural zebras) is an African equine '
        'with black-and-white stripes. Zürich ist schön.</text></page>\n' * 3).encode('utf-8')


def write_text(path, data, compression):
    if compression == 'gz':
        path.write_bytes(gzip.compress(data))
    elif compression == 'bz2':
        path.write_bytes(bz2.compress(data))
    elif compression == 'xz':
        path.write_bytes(lzma.compress(data))
    elif compression == 'zip':
        with zipfile.ZipFile(path, 'w') as archive:
            archive.writestr('enwik8', data)
    else:
        path.write_bytes(data)
    return path


def decode(h5file, split, alphabet):
    """The bytes each split holds, read back sequence by sequence (time-major)."""
    group = h5file['split'][split]
    inputs, targets = group['default'][()], group['targets'][()]
    return alphabet[inputs[:, :, 0].T.ravel()].tobytes(), alphabet[targets[:, :, 0].T.ravel()].tobytes()


@pytest.mark.parametrize('compression', ['plain', 'gz', 'bz2', 'xz', 'zip'])
def test_round_trip_of_every_split(tmp_path, compression):
    source = write_text(tmp_path / 'text.dat', TEXT, compression)
    output = prepare_text(source, tmp_path / 'out.hdf5', sequence_length=7,
                          split_fractions=(0.6, 0.2, 0.2))
    with h5py.File(output, 'r') as h5file:
        alphabet = h5file.attrs['alphabet']
        assert alphabet.dtype == np.uint8
        assert alphabet.tolist() == sorted(set(TEXT))
        assert h5file.attrs['alphabet_size'] == len(set(TEXT))
        assert h5file.attrs['sequence_length'] == 7
        starts = np.cumsum([0] + list(h5file.attrs['split_bytes']))
        assert starts[-1] == len(TEXT)
        for index, split in enumerate(('training', 'validation', 'test')):
            group = h5file['split'][split]
            part = TEXT[starts[index]:starts[index + 1]]
            count = (len(part) - 1) // 7
            assert group['default'].shape == group['targets'].shape == (7, count, 1)
            assert group['default'].dtype == group['targets'].dtype == np.uint8
            inputs, targets = decode(h5file, split, alphabet)
            assert inputs == part[:count * 7]
            assert targets == part[1:count * 7 + 1]


def test_byte_sequences_targets_are_the_next_bytes():
    indices = np.arange(11, dtype=np.uint8)
    inputs, targets = byte_sequences(indices, 3)
    assert inputs[:, :, 0].tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert targets[:, :, 0].tolist() == [[1, 4, 7], [2, 5, 8], [3, 6, 9]]


def test_enwik8_gets_its_attribution(tmp_path):
    source = write_text(tmp_path / 'enwik8.zip', TEXT * 4, 'zip')
    with h5py.File(prepare_text(source, tmp_path / 'out.hdf5', sequence_length=5), 'r') as h5file:
        assert 'Hutter Prize' in h5file.attrs['source']
        assert 'CC BY-SA' in h5file.attrs['license']


@pytest.mark.parametrize('case, error, message', [
    ('missing', DataError, 'nowhere.txt: file not found'),
    ('corrupt-bz2', FileFormatError, 'text.bz2: '),
    ('corrupt-gz', FileFormatError, 'text.gz: corrupt or truncated compressed data'),
    ('two-file-zip', FileFormatError, 'a zip archive must hold exactly one file, found 2'),
    ('too-short', DataError, 'the validation part has 3 bytes, too few for one sequence of '
                             'length 7'),
    ('length', DataError, 'sequence_length must be a positive integer, got 0'),
    ('fractions', DataError, 'split_fractions must be three numbers'),
])
def test_errors(tmp_path, case, error, message):
    source = tmp_path / 'text.txt'
    options = {'sequence_length': 7}
    if case == 'missing':
        source = tmp_path / 'nowhere.txt'
    elif case == 'corrupt-bz2':
        source = tmp_path / 'text.bz2'
        source.write_bytes(bz2.compress(TEXT)[:-20])
    elif case == 'corrupt-gz':
        source = tmp_path / 'text.gz'
        source.write_bytes(gzip.compress(TEXT)[:-20])
    elif case == 'two-file-zip':
        with zipfile.ZipFile(source, 'w') as archive:
            archive.writestr('a', TEXT)
            archive.writestr('b', TEXT)
    else:
        source.write_bytes(TEXT[:30] if case == 'too-short' else TEXT)
        options = {'too-short': dict(sequence_length=7, split_fractions=(0.8, 0.1, 0.1)),
                   'length': dict(sequence_length=0),
                   'fractions': dict(split_fractions=(0.5, 0.5, 0.0))}[case]
    output = tmp_path / 'out.hdf5'
    with pytest.raises(error, match=message):
        prepare_text(source, output, **options)
    assert not output.exists()


@pytest.mark.realdata
def test_real_wikipedia_xml(wikipedia_hdf5, wikipedia_file):
    text = bz2.decompress(wikipedia_file.read_bytes())
    with h5py.File(wikipedia_hdf5, 'r') as h5file:
        alphabet = h5file.attrs['alphabet']
        assert alphabet.tolist() == sorted(set(text))
        assert h5file.attrs['alphabet_size'] == len(alphabet) <= 256
        split_bytes = h5file.attrs['split_bytes']
        assert split_bytes.sum() == len(text)
        assert split_bytes[0] == int(len(text) * 0.9)
        for split, size in zip(('training', 'validation', 'test'), split_bytes):
            group = h5file['split'][split]
            assert group['default'].shape == (100, (size - 1) // 100, 1)
            assert group['default'].dtype == np.uint8
        training = h5file['split/training/default']
        first = alphabet[training[:, 0, 0]].tobytes()
        assert first == text[:100] and first.startswith(b'<mediawiki xmlns=')
        second_targets = alphabet[h5file['split/training/targets'][:, 1, 0]].tobytes()
        assert second_targets == text[101:201]
