"""Savers: what is written when, that it loads back, and that writing is atomic."""

import os

import h5py
import numpy as np
import pytest

import brainstorm as bs
from brainstorm.errors import ValidationError
from brainstorm.hooks import Hook, SaveBestNetwork, SaveLogs, SaveNetwork, StopAfterEpoch
from brainstorm.hooks.savers import write_logs_hdf5
from brainstorm.training import SgdStepper, Trainer
from brainstorm.training.utils import write_atomically
from tests.hooks.scripted import ScriptedMonitor
from tests.training.nets import regression_data, regression_net


class ParameterRecorder(Hook):
    """Keeps a copy of the parameters at every call (to compare with saved files)."""

    def __init__(self):
        super().__init__('recorder')
        self.snapshots = []

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        self.snapshots.append(net.get('parameters'))


def train(*hooks, epochs=4):
    trainer = Trainer(SgdStepper(0.1), verbose=False)
    for hook in hooks:
        trainer.add_hook(hook)
    trainer.add_hook(StopAfterEpoch(epochs))
    inputs, targets = regression_data(8)
    net = regression_net()
    trainer.train(net, bs.Minibatches(4, default=inputs, targets=targets))
    return net, trainer


def test_save_network_writes_a_loadable_network_of_the_latest_parameters(tmp_path):
    filename = str(tmp_path / 'net.h5')
    net, _ = train(SaveNetwork(filename), epochs=2)
    loaded = bs.Network.from_hdf5(filename)
    np.testing.assert_array_equal(loaded.get('parameters'),
                                  net.get('parameters').astype(loaded.handler.dtype))
    assert os.listdir(tmp_path) == ['net.h5']  # no temporary files left


@pytest.mark.parametrize('criterion, values, best_epoch', [
    ('max', [0.1, 0.5, 0.3, 0.7, 0.6], 3),
    ('min', [0.9, 0.5, 0.7, 0.2, 0.2], 3),  # a tie does not replace the best
    ('min', [float('nan'), 0.5, 0.7, 0.8, 0.9], 1),
], ids=['max', 'min-tie', 'nan-first'])
def test_save_best_network_keeps_the_parameters_of_the_best_entry(tmp_path, criterion, values,
                                                                  best_epoch):
    recorder = ParameterRecorder()
    filename = str(tmp_path / 'best.h5')
    in_memory = SaveBestNetwork('monitor.value', criterion=criterion, name='memory')
    net, _ = train(recorder, ScriptedMonitor(values),
                   SaveBestNetwork('monitor.value', filename=filename, criterion=criterion),
                   in_memory)
    expected = recorder.snapshots[best_epoch]
    np.testing.assert_array_equal(in_memory.best_parameters, expected)
    assert in_memory.best_value == values[best_epoch]
    loaded = bs.Network.from_hdf5(filename).get('parameters')
    np.testing.assert_array_equal(loaded, expected.astype(loaded.dtype))


def test_save_best_network_default_criterion_is_max_as_in_the_spec_signature():
    assert SaveBestNetwork('validation.Accuracy').criterion == 'max'


def test_save_best_network_on_the_rolling_training_loss_skips_epoch_zero():
    # brainstorm 0.5 crashed here: the rolling log does not exist before training
    hook = SaveBestNetwork('rolling_training.total_loss', criterion='min')
    net, trainer = train(hook, epochs=3)
    assert hook.best_value == min(trainer.logs['rolling_training']['total_loss'])


def test_save_best_network_state_round_trip():
    hook = SaveBestNetwork('m.value')
    hook(1, 1, regression_net(), None, {'m': {'value': [0.5]}})
    other = SaveBestNetwork('m.value')
    other.set_state(hook.get_state())
    assert other.best_value == 0.5
    np.testing.assert_array_equal(other.best_parameters, hook.best_parameters)
    other(2, 2, regression_net(), None, {'m': {'value': [0.5, 0.4]}})
    assert other.best_value == 0.5  # 0.4 is worse for 'max'


def test_save_logs_writes_the_nested_logs(tmp_path):
    filename = str(tmp_path / 'logs.h5')
    _, trainer = train(ScriptedMonitor([1.0, 2.0, 3.0]), SaveLogs(filename), epochs=2)
    with h5py.File(filename, 'r') as f:
        np.testing.assert_array_equal(f['monitor/value'][()], [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(f['rolling_training/total_loss'][()],
                                      trainer.logs['rolling_training']['total_loss'])


def test_write_logs_keeps_text_and_nested_groups(tmp_path):
    filename = str(tmp_path / 'logs.h5')
    write_logs_hdf5(filename, {'a': {'b': {'c': [1, 2]}}, 'notes': ['x', 'yz']})
    with h5py.File(filename, 'r') as f:
        np.testing.assert_array_equal(f['a/b/c'][()], [1, 2])
        assert [item.decode() for item in f['notes'][()]] == ['x', 'yz']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    filename = tmp_path / 'logs.h5'
    filename.write_text('old content')

    def failing_writer(path):
        with open(path, 'w') as f:
            f.write('half')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        write_atomically(str(filename), failing_writer)
    assert filename.read_text() == 'old content'
    assert os.listdir(tmp_path) == ['logs.h5']


@pytest.mark.parametrize('make', [lambda: SaveNetwork(''), lambda: SaveLogs(None),
                                  lambda: SaveBestNetwork('a.b', filename=3)],
                         ids=['network', 'logs', 'best'])
def test_filenames_are_checked(make):
    with pytest.raises(ValidationError, match="filename must be a non-empty string"):
        make()


def test_load_network_returns_what_save_network_wrote(tmp_path):
    hook = SaveNetwork(str(tmp_path / 'net.h5'))
    net, _ = train(hook, epochs=2)
    loaded = hook.load_network()
    assert isinstance(loaded, bs.Network) and list(loaded.layers) == list(net.layers)
    np.testing.assert_allclose(loaded.get('parameters'), net.get('parameters'), rtol=1e-6)


@pytest.mark.parametrize('in_memory', [False, True], ids=['file', 'memory'])
def test_load_best_network_returns_the_best_parameters(tmp_path, in_memory):
    recorder = ParameterRecorder()
    hook = SaveBestNetwork('monitor.value', filename=None if in_memory
                           else str(tmp_path / 'best.h5'), criterion='min')
    with pytest.raises(bs.errors.TrainingError, match="no best network saved yet"):
        hook.load_best_network()
    net, _ = train(ScriptedMonitor([5, 3, 1, 2, 4]), recorder, hook)
    best = hook.load_best_network()
    assert best is not net and list(best.layers) == list(net.layers)
    np.testing.assert_allclose(best.get('parameters'), recorder.snapshots[2], rtol=1e-6)
    assert not np.allclose(best.get('parameters'), net.get('parameters'))
