"""CIFAR converter on archives generated here: layout, pixel order, hostile and broken files."""

import io
import os
import pickle
import struct
import tarfile

import h5py
import numpy as np
import pytest

from brainstorm.datasets import cifar, prepare_cifar10, prepare_cifar100
from brainstorm.errors import DataError, FileFormatError

PER_BATCH = 4


def _known_images(count, offset):
    """uint8 (count, 3072) rows whose value encodes (image, channel, row, column)."""
    n, channel, row, column = np.meshgrid(np.arange(count), np.arange(3), np.arange(32),
                                          np.arange(32), indexing='ij')
    values = (offset + n * 7 + channel * 50 + row * 3 + column) % 256
    return values.reshape(count, 3072).astype(np.uint8)


def _pickled(obj):
    # Protocol 4 stores bytes natively; the real files are Python 2 pickles (protocol 2).
    return pickle.dumps(obj, protocol=4)


def py2_batch_pickle(images, labels):
    """A batch pickled as Python 2 wrote the real files: protocol 2, str as byte strings,
    arrays through numpy.core.multiarray._reconstruct (written opcode by opcode)."""
    def string(data):
        if len(data) < 256:
            return b'U' + bytes([len(data)]) + data  # SHORT_BINSTRING
        return b'T' + struct.pack('<i', len(data)) + data  # BINSTRING

    def integer(value):
        return b'J' + struct.pack('<i', value)  # BININT

    dtype = (b'cnumpy\ndtype\n' + string(b'u1') + integer(0) + integer(1) + b'\x87R'
             + b'(' + integer(3) + string(b'|') + b'NNN' + integer(-1) + integer(-1)
             + integer(0) + b'tb')
    shape = b'(' + b''.join(integer(size) for size in images.shape) + b't'
    array = (b'cnumpy.core.multiarray\n_reconstruct\n' + b'cnumpy\nndarray\n' + integer(0)
             + b'\x85' + string(b'b') + b'\x87R' + b'(' + integer(1) + shape + dtype + b'\x89'
             + string(images.tobytes()) + b'tb')
    label_list = b']' + b'(' + b''.join(integer(label) for label in labels) + b'e'
    return (b'\x80\x02}(' + string(b'data') + array + string(b'labels') + label_list
            + b'u.')


def make_archive(path, kind='cifar10', keys=str, replace=None, skip=None):
    """Write a small CIFAR python-version archive; returns {member: batch dict}.

    ``replace`` maps a member name to raw bytes to store instead of its pickle;
    ``skip`` names a member to leave out.
    """
    key = (lambda name: name.encode()) if keys is bytes else (lambda name: name)
    batches = {}
    if kind == 'cifar10':
        folder = 'cifar-10-batches-py'
        members = [f'data_batch_{index}' for index in range(1, 6)] + ['test_batch']
        for number, member in enumerate(members):
            batches[member] = {key('batch_label'): f'batch {number}',
                               key('labels'): [(number + i) % 10 for i in range(PER_BATCH)],
                               key('data'): _known_images(PER_BATCH, number * PER_BATCH),
                               key('filenames'): [f'{i}.png' for i in range(PER_BATCH)]}
        meta = ('batches.meta', {key('label_names'): [f'class{i}' for i in range(10)],
                                 key('num_cases_per_batch'): PER_BATCH})
    else:
        folder = 'cifar-100-python'
        for number, (member, count) in enumerate([('train', 5 * PER_BATCH), ('test', PER_BATCH)]):
            batches[member] = {key('fine_labels'): [(3 * i + number) % 100 for i in range(count)],
                               key('coarse_labels'): [(i + number) % 20 for i in range(count)],
                               key('data'): _known_images(count, number * 100)}
        meta = ('meta', {key('fine_label_names'): [f'fine{i}' for i in range(100)],
                         key('coarse_label_names'): [f'coarse{i}' for i in range(20)]})
    contents = {name: _pickled(batch) for name, batch in batches.items()}
    contents[meta[0]] = _pickled(meta[1])
    contents.update(replace or {})
    with tarfile.open(path, 'w:gz') as archive:
        for name, data in contents.items():
            if name == skip:
                continue
            info = tarfile.TarInfo(f'{folder}/{name}')
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return batches


def no_output_left(folder, output):
    return not output.exists() and not any(p.name.endswith('.partial') for p in folder.iterdir())


@pytest.mark.parametrize('keys', [str, bytes], ids=['str-keys', 'bytes-keys'])
def test_cifar10_layout_and_pixel_order(tmp_path, keys):
    archive = tmp_path / 'cifar-10-python.tar.gz'
    batches = make_archive(archive, keys=keys)
    output = prepare_cifar10(tmp_path, tmp_path / 'out.hdf5', normalization='scale',
                             validation_size=PER_BATCH, verify_checksums=False)
    key = (lambda name: name.encode()) if keys is bytes else (lambda name: name)
    training = [batches[f'data_batch_{index}'] for index in range(1, 5)]
    expected = {'training': training, 'validation': [batches['data_batch_5']],
                'test': [batches['test_batch']]}
    with h5py.File(output, 'r') as h5file:
        for split, parts in expected.items():
            group = h5file['normalized_split'][split]
            rows = np.concatenate([part[key('data')] for part in parts])
            labels = np.concatenate([part[key('labels')] for part in parts])
            assert group['default'].shape == (1, len(rows), 32, 32, 3)
            assert group['default'].dtype == np.float32
            # Row layout: channel-major planes of row-major pixels -> TNHWC.
            images = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            np.testing.assert_allclose(group['default'][0] * 255, images, atol=1e-3)
            np.testing.assert_array_equal(group['targets'][()], labels[None, :, None])
            assert group['targets'].dtype == np.int32
        assert list(h5file.attrs['label_names']) == [f'class{i}' for i in range(10)]
        assert h5file.attrs['layout'] == 'TNHWC'
    # One spot check against the encoding: image 1 of batch 1, channel 2, row 5, column 9.
    with h5py.File(output, 'r') as h5file:
        value = h5file['normalized_split/training/default'][0, 1, 5, 9, 2] * 255
    assert round(float(value)) == (0 + 1 * 7 + 2 * 50 + 5 * 3 + 9) % 256


def test_cifar10_standardize_uses_training_channels(tmp_path):
    make_archive(tmp_path / 'cifar-10-python.tar.gz')
    output = prepare_cifar10(tmp_path / 'cifar-10-python.tar.gz', tmp_path / 'out.hdf5',
                             validation_size=PER_BATCH, verify_checksums=False)
    with h5py.File(output, 'r') as h5file:
        training = h5file['normalized_split/training/default'][()].astype(np.float64)
        np.testing.assert_allclose(training.mean(axis=(0, 1, 2, 3)), 0, atol=1e-5)
        np.testing.assert_allclose(training.std(axis=(0, 1, 2, 3)), 1, atol=1e-5)
        assert h5file.attrs['normalization'] == 'standardize'
        assert h5file.attrs['mean'].shape == (3,) and h5file.attrs['std'].shape == (3,)


@pytest.mark.parametrize('label_kind, classes', [('fine', 100), ('coarse', 20)])
def test_cifar100_labels(tmp_path, label_kind, classes):
    batches = make_archive(tmp_path / 'cifar-100-python.tar.gz', kind='cifar100')
    output = prepare_cifar100(tmp_path, tmp_path / 'out.hdf5', label_kind=label_kind,
                              validation_size=PER_BATCH, verify_checksums=False)
    labels = batches['train'][f'{label_kind}_labels']
    with h5py.File(output, 'r') as h5file:
        assert h5file['normalized_split/training/targets'][0, :, 0].tolist() == labels[:-PER_BATCH]
        assert h5file['normalized_split/validation/targets'][0, :, 0].tolist() == labels[-PER_BATCH:]
        assert h5file['normalized_split/test/default'].shape == (1, PER_BATCH, 32, 32, 3)
        assert len(h5file.attrs['label_names']) == classes
        assert h5file.attrs['label_kind'] == label_kind


def test_python2_pickles_like_the_real_files_convert(tmp_path):
    images = _known_images(PER_BATCH, 200)
    labels = [9, 8, 7, 6]
    make_archive(tmp_path / 'cifar-10-python.tar.gz',
                 replace={'data_batch_1': py2_batch_pickle(images, labels)})
    output = prepare_cifar10(tmp_path, tmp_path / 'out.hdf5', normalization='scale',
                             validation_size=PER_BATCH, verify_checksums=False)
    with h5py.File(output, 'r') as h5file:
        first = h5file['normalized_split/training/default'][0, :PER_BATCH] * 255
        np.testing.assert_allclose(first, images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1),
                                   atol=1e-3)
        assert h5file['normalized_split/training/targets'][0, :PER_BATCH, 0].tolist() == labels


class _CallsSystem:
    """Pickles as a call of os.system: loading it unrestricted would run a command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').system('true')",)


@pytest.mark.parametrize('payload', ['system', 'eval', 'system-inside-batch'])
def test_hostile_pickle_is_refused_without_running_code(tmp_path, payload):
    marker = tmp_path / 'marker'
    command = f'touch {marker}'
    if payload == 'system':
        data = pickle.dumps(_CallsSystem(command), protocol=2)
    elif payload == 'eval':
        data = pickle.dumps(_CallsEval(), protocol=2)
    else:
        data = pickle.dumps({'data': _known_images(2, 0), 'labels': [0, 1],
                             'extra': _CallsSystem(command)}, protocol=4)
    make_archive(tmp_path / 'cifar-10-python.tar.gz', replace={'data_batch_3': data})
    output = tmp_path / 'out.hdf5'
    with pytest.raises(FileFormatError, match=r'data_batch_3: refused to load the global '
                                              r'(posix|builtins|__builtin__)\.(system|eval)'):
        prepare_cifar10(tmp_path, output, verify_checksums=False)
    assert not marker.exists()
    assert no_output_left(tmp_path, output)


def test_the_unpickler_admits_exactly_the_numpy_globals():
    assert set(cifar.ALLOWED_GLOBALS) == {
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy', 'ndarray'), ('numpy', 'dtype')}
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(cifar.restricted_loads(pickle.dumps(array, protocol=4), 'x'),
                                  array)
    with pytest.raises(FileFormatError, match='x: refused a persistent id'):
        cifar.restricted_loads(b'\x80\x02X\x01\x00\x00\x00aQ.', 'x')


def _truncate(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


@pytest.mark.parametrize('damage, error, message', [
    ('truncated', FileFormatError, 'corrupt or truncated archive'),
    ('not-gzip', FileFormatError, 'corrupt or truncated archive'),
    ('missing-member', FileFormatError, 'cifar-10-batches-py/test_batch: missing from the archive'),
    ('not-a-pickle', FileFormatError, 'data_batch_2: not a readable CIFAR pickle'),
    ('float-data', FileFormatError, "data_batch_2: 'data' must be a uint8 array"),
    ('bad-label', FileFormatError, "data_batch_2: 'labels' must be in 0..9, found 0..12"),
    ('label-count', FileFormatError, 'data_batch_2: 2 images but 1 labels'),
    ('not-a-dict', FileFormatError, 'data_batch_2: expected a dict, found list'),
    ('missing-file', DataError, 'no CIFAR python-version archive found'),
])
def test_broken_archives(tmp_path, damage, error, message):
    archive = tmp_path / 'cifar-10-python.tar.gz'
    batch = {'data': _known_images(2, 0), 'labels': [0, 1]}
    replacements = {'not-a-pickle': b'not a pickle at all',
                    'float-data': dict(batch, data=batch['data'].astype(np.float32)),
                    'bad-label': dict(batch, labels=[0, 12]),
                    'label-count': dict(batch, labels=[0]),
                    'not-a-dict': [1, 2]}
    replace = None
    if damage in replacements:
        value = replacements[damage]
        replace = {'data_batch_2': value if isinstance(value, bytes) else _pickled(value)}
    if damage != 'missing-file':
        make_archive(archive, replace=replace,
                     skip='test_batch' if damage == 'missing-member' else None)
    if damage == 'truncated':
        _truncate(archive)
    elif damage == 'not-gzip':
        archive.write_bytes(b'plain text, not an archive')
    output = tmp_path / 'out.hdf5'
    with pytest.raises(error, match=message):
        prepare_cifar10(tmp_path, output, verify_checksums=False)
    assert no_output_left(tmp_path, output)


def test_archive_differing_from_the_published_one_is_refused(tmp_path):
    make_archive(tmp_path / 'cifar-10-python.tar.gz')
    with pytest.raises(DataError, match='differs from the published '
                                        'c58f30108f718f92721af3b95e74349a'):
        prepare_cifar10(tmp_path, tmp_path / 'out.hdf5')


def test_bad_label_kind(tmp_path):
    make_archive(tmp_path / 'cifar-100-python.tar.gz', kind='cifar100')
    with pytest.raises(DataError, match="label_kind must be 'fine' or 'coarse'"):
        prepare_cifar100(tmp_path, tmp_path / 'out.hdf5', label_kind='medium')
