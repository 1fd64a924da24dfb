"""`bstorm generate`: sampling from a character model, end to end in a subprocess.

A tiny configs/hutter_lstm.yaml run (SequenceWindows, carry_state) on text made by
`bstorm data prepare text` stores the alphabet with its networks; generate then
streams reproducible samples for a seed.
"""

import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from brainstorm.tools import create_net_from_spec, sample_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXT = (b"the cat sat on the mat. the dog sat on the log. " * 80)


def bstorm(*arguments, cwd=ROOT):
    return subprocess.run([sys.executable, '-m', 'bstorm_cli', *map(str, arguments)],
                          cwd=cwd, capture_output=True, timeout=300)


@pytest.fixture(scope='module')
def trained_network(tmp_path_factory):
    folder = tmp_path_factory.mktemp('text')
    (folder / 'text.txt').write_bytes(TEXT)
    data = folder / 'text.hdf5'
    result = bstorm('data', 'prepare', 'text', '--source', folder / 'text.txt', '-o', data,
                    '--option', 'sequence_length=20')
    assert result.returncode == 0, result.stderr
    alphabet_size = len(set(TEXT))
    overrides = ['network.spec=L8', 'trainer.hooks[0].timescale=epoch',
                 'trainer.hooks[0].interval=1', 'trainer.hooks[1].max_epochs=1',
                 f'data.file={data}']
    for split in ('training', 'validation'):
        overrides += [f'data.iterators.{split}.chain[0].window_size=10',
                      f'data.iterators.{split}.chain[0].columns=2',
                      f'data.iterators.{split}.chain[1].vocab_size_dict.default={alphabet_size}']
    arguments = ['train', ROOT / 'configs' / 'hutter_lstm.yaml', '--out', folder / 'runs']
    for override in overrides:
        arguments += ['--set', override]
    result = bstorm(*arguments, cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    (run,) = (folder / 'runs').iterdir()
    return run / 'best.h5'


def test_training_stores_the_alphabet_with_the_network(trained_network):
    from brainstorm.structure.network import Network
    net = Network.from_hdf5(trained_network)
    assert bytes(net.data_description['alphabet']) == bytes(sorted(set(TEXT)))


def test_generate_is_reproducible_with_a_seed(trained_network):
    runs = [bstorm('generate', trained_network, '--length', '60', '--prime', 'the ',
                   '--seed', seed, '--temperature', '1.5') for seed in (3, 3, 4)]
    for result in runs:
        assert result.returncode == 0, result.stderr
    first, again, other = (result.stdout for result in runs)
    assert first == again
    assert first != other
    assert first.startswith(b'the ') and len(first) == len('the ') + 60 + 1
    assert set(first[4:-1]) <= set(TEXT)


def test_prime_outside_the_alphabet_is_refused(trained_network):
    result = bstorm('generate', trained_network, '--prime', 'the Z')
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and '--prime' in lines[0] and "b'Z'" in lines[0], lines


def test_network_without_alphabet_is_refused(tmp_path):
    net = create_net_from_spec('classification', 5, 5, 'L3')
    net.save_as_hdf5(tmp_path / 'plain.h5')
    result = bstorm('generate', tmp_path / 'plain.h5')
    assert result.returncode == 2
    assert b'has no alphabet' in result.stderr and b'Traceback' not in result.stderr


def test_sampling_carries_the_state_from_byte_to_byte():
    # sampling byte by byte == the predictions of one pass over the whole text
    net = create_net_from_spec('classification', 4, 4, 'G5 L3')
    net.data_description = {'alphabet': [97, 98, 99, 100]}
    generated = list(sample_text(net, 6, prime=b'ab', seed=0))
    text = [0, 1] + [value - 97 for value in generated]
    one_hot = np.eye(4)[text][:, None, :]
    net.provide_external_data({'default': one_hot, 'targets': np.zeros((len(text), 1, 1))})
    net.forward_pass()
    predictions = net.get(net.output_name)[:, 0]
    rnd = np.random.RandomState(0)
    for step in range(1, len(text) - 1):
        expected = rnd.choice(4, p=predictions[step] / predictions[step].sum())
        assert expected == text[step + 1]


def test_file_with_a_bad_data_description_is_refused(tmp_path):
    net = create_net_from_spec('classification', 5, 5, 'L3')
    net.save_as_hdf5(tmp_path / 'net.h5')
    with h5py.File(tmp_path / 'net.h5', 'r+') as f:
        f.attrs['description'] = f.attrs['description'].replace(
            '"output_name"', '"data_description": [1, 2], "output_name"')
    result = bstorm('generate', tmp_path / 'net.h5')
    assert result.returncode == 2 and b'data_description is not a mapping' in result.stderr
