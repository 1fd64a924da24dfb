"""The ready experiments in configs/ are valid, on data files of the layouts the
converters write (small generated stand-ins with the real shapes), and quickstart
trains to its stated accuracy."""

import pathlib
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs'


def _write(path, group, splits, attributes=None):
    with h5py.File(path, 'w') as h5file:
        for key, value in (attributes or {}).items():
            h5file.attrs[key] = value
        for split, arrays in splits.items():
            for name, array in arrays.items():
                h5file[f"{group}/{split}/{name}"] = array


def _classification(feature_shape, classes, count=20, time_steps=1, mask=False):
    rng = np.random.RandomState(0)
    arrays = {'default': rng.rand(time_steps, count, *feature_shape).astype(np.float32),
              'targets': rng.randint(0, classes, (time_steps, count, 1)).astype(np.int32)}
    if mask:
        arrays['mask'] = np.ones((time_steps, count, 1), np.float32)
    return arrays


def _stand_in(name, folder):
    path = folder / f"{name}.hdf5"
    labels = {'label_names': [str(i) for i in range(10)]}
    if name == 'mnist_pi':
        _write(path, 'normalized_split', {s: _classification((784,), 10)
                                          for s in ('training', 'validation', 'test')}, labels)
    elif name == 'cifar10_cnn':
        _write(path, 'normalized_split', {s: _classification((32, 32, 3), 10)
                                          for s in ('training', 'validation', 'test')}, labels)
    elif name == 'hutter_lstm':
        rng = np.random.RandomState(0)
        # SequenceWindows re-cuts the pieces into 100 columns: at least 100 pieces
        splits = {s: {'default': rng.randint(0, 205, (100, 100, 1)).astype(np.uint8),
                      'targets': rng.randint(0, 205, (100, 100, 1)).astype(np.uint8)}
                  for s in ('training', 'validation', 'test')}
        _write(path, 'split', splits, {'alphabet_size': 205})
    elif name == 'japanese_vowels':
        _write(path, 'normalized_split',
               {s: _classification((12,), 9, time_steps=7, mask=True)
                for s in ('training', 'validation', 'test')},
               {'label_names': [str(i + 1) for i in range(9)]})
    return path


def _bstorm(*arguments, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, '-m', 'bstorm_cli', *map(str, arguments)],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


EXPECTED = ['quickstart', 'mnist_pi', 'cifar10_cnn', 'hutter_lstm', 'japanese_vowels']


def test_the_expected_configs_are_there():
    assert sorted(path.stem for path in CONFIGS.glob('*.yaml')) == sorted(EXPECTED)


@pytest.mark.parametrize('name', EXPECTED[1:])
def test_config_says_how_to_make_its_data(name):
    text = (CONFIGS / f"{name}.yaml").read_text()
    assert re.search(r'^# +bstorm data prepare \S+ --source \S+ -o data/\S+\.hdf5$', text,
                     re.MULTILINE), name
    data_file = re.search(r'-o (data/\S+\.hdf5)$', text, re.MULTILINE).group(1)
    assert f"file: ../{data_file}" in text


@pytest.mark.parametrize('name', EXPECTED[1:])
def test_config_is_valid_on_data_of_its_layout(tmp_path, name):
    data = _stand_in(name, tmp_path)
    result = _bstorm('validate', CONFIGS / f"{name}.yaml", '--set', f"data.file={data}")
    assert result.returncode == 0, result.stderr
    assert 'valid' in result.stdout


def test_sequence_config_trains_on_masked_sequences(tmp_path):
    data = _stand_in('japanese_vowels', tmp_path)
    result = _bstorm('train', CONFIGS / 'japanese_vowels.yaml', '--set', f"data.file={data}",
                     '--set', 'trainer.hooks[3].max_epochs=2', '--out', tmp_path / 'runs')
    assert result.returncode == 0, result.stderr
    assert 'best validation.Accuracy' in result.stdout


def test_sequence_config_trains_a_bidirectional_gru_from_the_spec(tmp_path):
    data = _stand_in('japanese_vowels', tmp_path)
    result = _bstorm('train', CONFIGS / 'japanese_vowels.yaml', '--set', f"data.file={data}",
                     '--set', 'network.spec=G6<>', '--set', 'trainer.hooks[3].max_epochs=1',
                     '--out', tmp_path / 'runs')
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / 'runs').iterdir()
    from brainstorm.structure.network import Network
    net = Network.from_hdf5(run / 'best.h5')
    assert net.architecture['Gru_reverse']['reverse'] is True
    assert 'Gru_reverse.mask' in net.architecture['Input']['@outgoing_connections']['mask']


@pytest.mark.slow
def test_quickstart_reaches_the_accuracy_the_readme_states(tmp_path):
    result = _bstorm('train', CONFIGS / 'quickstart.yaml', '--out', tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = float(re.search(r'final validation\.Accuracy: ([0-9.]+)', result.stdout).group(1))
    best = float(re.search(r'best validation\.Accuracy: ([0-9.]+)', result.stdout).group(1))
    assert final >= 0.95 and best >= 0.95
    readme = (ROOT / 'README.md').read_text()
    stated = re.search(r'validation accuracy \(about (\d+)%', readme)
    assert stated and abs(int(stated.group(1)) / 100 - final) <= 0.015, (final, stated)
