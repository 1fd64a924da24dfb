"""Hostile files for every reader: network, checkpoint, logs, data, converters. Each
declares sizes far beyond memory (a few KB on disk, terabytes if read) or is damaged
in its structure; each gets exit 2 with one located line, fast, never an 'internal
error' (reading any of them would end in a MemoryError or take hours)."""

import gzip
import json
import shutil
import struct
import time

import h5py
import pytest

#: values a hostile dataset declares: 4 TB of float32
HUGE = 10 ** 12


def _declare_huge(group, name, shape=(HUGE,), dtype='f4', compression=None):
    """A dataset that declares ``shape`` but stores (almost) nothing."""
    if name in group:
        del group[name]
    return group.create_dataset(name, shape=shape, dtype=dtype, chunks=True,
                                compression=compression)


def _bad_input(result, *fragments):
    assert result.exit_code == 2, result.stderr
    assert 'internal error' not in result.stderr and 'Traceback' not in result.stderr
    assert len(result.error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope='module')
def network_file(tmp_path_factory):
    from brainstorm.tools import create_net_from_spec
    path = tmp_path_factory.mktemp('network') / 'good.h5'
    create_net_from_spec('classification', 4, 3, 'F5').save_as_hdf5(str(path))
    return path


def _network_variant(network_file, tmp_path, change):
    path = tmp_path / 'hostile.h5'
    shutil.copy(network_file, path)
    with h5py.File(path, 'r+') as h5file:
        change(h5file)
    return path


def _set_description(h5file, change):
    description = json.loads(h5file.attrs['description'])
    change(description)
    h5file.attrs['description'] = json.dumps(description)


NETWORK_CASES = {
    'huge-parameters': (lambda f: _declare_huge(f, 'parameters'),
                        '1,000,000,000,000 parameters stored, but the architecture needs 43'),
    'huge-compressed-parameters': (
        lambda f: _declare_huge(f, 'parameters', compression='gzip'),
        '1,000,000,000,000 parameters stored'),
    'string-parameters': (lambda f: (f.__delitem__('parameters'),
                                     f.create_dataset('parameters', data=[b'x'] * 43)),
                          "'parameters' must be a 1-D float dataset"),
    'deep-description': (lambda f: f.attrs.__setitem__('description',
                                                       '[' * 100_000 + ']' * 100_000),
                         'nested too deeply'),
    'dunder-initializer': (lambda f: _set_description(f, lambda d: d.__setitem__(
        'initializers', {'default': {'@type': 'Gaussian', '__class__': 'x'}})),
        "the key '__class__' is not an attribute a description may set"),
    'huge-layer': (lambda f: _set_description(f, lambda d: d['architecture'][
        'FullyConnected'].__setitem__('size', 10 ** 12)), 'parameters'),
}


@pytest.mark.parametrize('case', NETWORK_CASES)
@pytest.mark.parametrize('command', ['info', 'evaluate'])
def test_hostile_network_files(bstorm, network_file, tmp_path, case, command):
    change, message = NETWORK_CASES[case]
    path = _network_variant(network_file, tmp_path, change)
    started = time.monotonic()
    arguments = ('info', path) if command == 'info' else ('evaluate', path, 'builtin:digits')
    result = bstorm(*arguments)
    _bad_input(result, 'hostile.h5', message)
    assert time.monotonic() - started < 20


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    import pathlib
    import subprocess
    import sys
    tiny = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'
    folder = tmp_path_factory.mktemp('runs')
    completed = subprocess.run([sys.executable, '-m', 'bstorm_cli', 'train', str(tiny),
                                '--set', 'trainer.hooks[1].max_epochs=1', '--out',
                                str(folder)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    (run,) = folder.iterdir()
    return run


def _state_value(h5file, path, value):
    group = h5file['state']
    for key in path[:-1]:
        group = group[key]
    name = '@json:' + path[-1]
    assert name in group.attrs, (path, list(group.attrs))
    group.attrs[name] = json.dumps(value)


def _replace(group, name, data):
    del group[name]
    group.create_dataset(name, data=data)


def _unfinished(h5file):
    """Make the checkpoint of the finished run one taken before its end."""
    h5file.attrs['info'] = json.dumps({'reason': 'epoch'})
    h5file['state/trainer'].attrs['@json:finished'] = 'false'


CHECKPOINT_CASES = {
    'huge-parameters': (lambda f: _declare_huge(f, 'parameters'),
                        'declares 1,000,000,000,000 values'),
    'compressed-parameters': (lambda f: _declare_huge(f, 'parameters', compression='gzip'),
                              'compressed datasets are not part of a checkpoint'),
    'huge-log': (lambda f: _declare_huge(f['state/trainer/logs/rolling_training'],
                                         'total_loss', dtype='f8'),
                 'declares 1,000,000,000,000 values'),
    'epoch-a-string': (lambda f: _state_value(f, ('trainer', 'epoch_nr'), 'three'),
                       "state/trainer/epoch_nr must be an integer, got 'three'"),
    'best-value-a-dict': (lambda f: _state_value(f, ('run', 'best_value'), {'a': 1}),
                          'state/run/best_value must be a number or null, got dict'),
    'info-not-json': (lambda f: f.attrs.__setitem__('info', '{'), 'cannot be read'),
    'parameters-a-column': (lambda f: _replace(f, 'parameters', f['parameters'][()][:, None]),
                            "'parameters' must be a 1-D float dataset"),
    'parameters-strings': (lambda f: _replace(f, 'parameters', [b'x'] * 3),
                           "'parameters' must be a 1-D float dataset"),
    'parameters-too-few': (lambda f: (_unfinished(f),
                                      _replace(f, 'parameters', f['parameters'][()][:-1])),
                           "the checkpoint's parameters have the shape (1209,), the "
                           "experiment's network needs (1210,)"),
    'deep-state': (lambda f: f['state'].create_group('/'.join(['x'] * 40)),
                   'nested too deeply'),
}


@pytest.mark.parametrize('case', CHECKPOINT_CASES)
def test_hostile_checkpoints(bstorm, finished_run, tmp_path, case):
    run = tmp_path / 'run'
    shutil.copytree(finished_run, run)
    (run / 'status.json').write_text('{"status": "interrupted"}')
    change, message = CHECKPOINT_CASES[case]
    with h5py.File(run / 'checkpoint.h5', 'r+') as h5file:
        change(h5file)
    result = bstorm('train', '--resume', run)
    _bad_input(result, 'checkpoint.h5', message)


def test_hostile_logs(bstorm, finished_run, tmp_path):
    run = tmp_path / 'run'
    shutil.copytree(finished_run, run)
    with h5py.File(run / 'logs.h5', 'r+') as h5file:
        _declare_huge(h5file['validation'], 'Accuracy', dtype='f8')
    result = bstorm('plot', run, '-o', tmp_path / 'curves.csv')
    _bad_input(result, 'logs.h5', 'declares 1,000,000,000,000 values')


@pytest.mark.parametrize('compression', [None, 'gzip'])
def test_hostile_data_files(bstorm, network_file, tmp_path, compression):
    with h5py.File(tmp_path / 'data.h5', 'w') as h5file:
        split = h5file.create_group('test')
        _declare_huge(split, 'default', shape=(1, HUGE // 4, 4), compression=compression)
        _declare_huge(split, 'targets', shape=(1, HUGE // 4, 1), compression=compression)
    result = bstorm('evaluate', network_file, tmp_path / 'data.h5')
    _bad_input(result, "data item 'default' declares 1,000,000,000,000 values")
    experiment = tmp_path / 'e.yaml'
    experiment.write_text("name: e\nseed: 1\ndata:\n  file: data.h5\n  group: ''\n"
                          "  iterators:\n    test: {chain: [{type: Minibatches, "
                          "batch_size: 10}]}\nnetwork: {spec: F4, out_shape: 3}\n"
                          "trainer:\n  training_iterator: test\n  stepper: {type: SgdStepper}\n"
                          "  hooks: [{type: StopAfterEpoch, max_epochs: 1}]\n")
    result = bstorm('validate', experiment)
    assert result.exit_code == 2 and 'declares 1,000,000,000,000 values' in result.stderr, \
        result.stderr
    assert 'internal error' not in result.stderr


def test_idx_header_beyond_int64(bstorm, tmp_path):
    from brainstorm.datasets import idx
    from brainstorm.errors import FileFormatError
    header = b'\x00\x00\x08\x03' + struct.pack('>III', 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1)
    with pytest.raises(FileFormatError, match='truncated: 16 bytes, expected'):
        idx.parse_idx(header, 'images')
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        (tmp_path / name).write_bytes(header)
    result = bstorm('data', 'prepare', 'mnist', '--source', tmp_path, '-o',
                    tmp_path / 'mnist.h5')
    _bad_input(result, 'truncated')


@pytest.mark.parametrize('converter', ['text', 'idx'])
def test_compression_bombs_are_refused(bstorm, tmp_path, monkeypatch, converter):
    from brainstorm.datasets import _writer
    monkeypatch.setattr(_writer, 'MAX_DECOMPRESSED_BYTES', 1_000_000)
    bomb = tmp_path / ('enwik8.gz' if converter == 'text' else 'train-images-idx3-ubyte.gz')
    with gzip.open(bomb, 'wb') as stream:
        stream.write(b'\0' * 5_000_000)
    if converter == 'text':
        result = bstorm('data', 'prepare', 'text', '--source', bomb, '-o', tmp_path / 'o.h5')
    else:
        for name in ('train-labels-idx1-ubyte', 't10k-images-idx3-ubyte',
                     't10k-labels-idx1-ubyte'):
            (tmp_path / name).write_bytes(b'\x00\x00\x08\x01\x00\x00\x00\x00')
        result = bstorm('data', 'prepare', 'mnist', '--source', tmp_path, '-o',
                        tmp_path / 'o.h5', '--option', 'verify_checksums=false')
    _bad_input(result, 'decompresses to more than 1,000,000 bytes')


def test_evaluate_refuses_an_input_that_is_a_group(bstorm, network_file, tmp_path):
    with h5py.File(tmp_path / 'data.h5', 'w') as h5file:
        split = h5file.create_group('test')
        split.create_group('default')
        split['targets'] = [[[0.0]]]
    result = bstorm('evaluate', network_file, tmp_path / 'data.h5')
    _bad_input(result, 'default must be numeric datasets')
