"""logs.csv and TensorBoard event files: written as values are logged, equal to logs.h5."""

import csv
import io
import sys

import numpy as np
import pytest

from bstorm_cli.experiment import run_dir
from bstorm_cli.log_files import LogFiles
from tests.cli.conftest import EXPERIMENTS, run_subprocess

TINY = EXPERIMENTS / 'valid' / 'tiny.yaml'
UPDATE_MONITOR = ('trainer.hooks[2]={type: MonitorScores, iter_name: validation, '
                  'scorers: [{type: Accuracy}], name: every_5, timescale: update, interval: 5}')


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope='module')
def run_with_tensorboard(tmp_path_factory):
    pytest.importorskip('tensorboardX', reason="needs the [tensorboard] extra: "
                                               "pip install '.[tensorboard]'")
    folder = tmp_path_factory.mktemp('logs')
    result = run_subprocess('train', TINY, '--out', folder, '--set', 'logging.tensorboard=true',
                            '--set', UPDATE_MONITOR, cwd=folder)
    assert result.exit_code == 0, result.stderr
    (run,) = folder.iterdir()
    return run


def _column(rows, name):
    """(epoch, update, value) of the rows that logged ``name``."""
    return [(int(row['epoch']), int(row['update']), float(row[name])) for row in rows
            if row[name] != '']


def test_csv_rows_equal_the_logs_h5(run_with_tensorboard):
    run = run_with_tensorboard
    rows = _rows(run / 'logs.csv')
    assert list(rows[0])[:2] == ['epoch', 'update']
    truth = run_dir.read_logs(run / 'logs.h5')
    assert set(list(rows[0])[2:]) == set(truth)          # one column per log
    for name in truth:
        np.testing.assert_allclose([value for _, _, value in _column(rows, name)],
                                   truth[name], rtol=1e-12, err_msg=name)
    steps = [(epoch, update) for epoch, update, _ in _column(rows, 'validation.Accuracy')]
    assert steps == [(0, 0), (1, 13), (2, 26), (3, 39)]   # 1297 samples / 100 per batch
    updates = [update for _, update, _ in _column(rows, 'every_5.Accuracy')]
    assert updates == list(range(0, 40, 5))
    # one row per event: the epoch's row holds what the epoch hooks logged, together
    epoch_rows = [row for row in rows if row['validation.Accuracy'] != '']
    assert all(row['rolling_training.total_loss'] != '' for row in epoch_rows[1:])
    assert len(rows) == 4 + 7      # 4 epoch events, every_5 at updates 5 ... 35


def test_tensorboard_scalars_per_epoch_and_per_update(run_with_tensorboard):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = run_with_tensorboard
    truth = run_dir.read_logs(run / 'logs.h5')
    events = EventAccumulator(str(run))
    events.Reload()
    accuracy = events.Scalars('epoch/validation.Accuracy')
    assert [event.step for event in accuracy] == [0, 1, 2, 3]
    np.testing.assert_allclose([event.value for event in accuracy],
                               truth['validation.Accuracy'], rtol=1e-6)
    every_5 = events.Scalars('update/every_5.Accuracy')
    assert [event.step for event in every_5] == list(range(0, 40, 5))
    np.testing.assert_allclose([event.value for event in every_5], truth['every_5.Accuracy'],
                               rtol=1e-6)
    assert 'epoch/rolling_training.total_loss' in events.Tags()['scalars']


def test_rows_are_readable_before_the_run_ends(tmp_path):
    files = LogFiles(tmp_path, expected=['rolling_training.total_loss'])
    files.write_new({'validation': {'Accuracy': [0.5]}}, 0, 0, 'epoch')
    assert _rows(tmp_path / 'logs.csv') == [
        {'epoch': '0', 'update': '0', 'validation.Accuracy': '0.5',
         'rolling_training.total_loss': ''}]
    files.write_new({'validation': {'Accuracy': [0.5, 0.75], 'map': [np.ones(3)]},
                     'rolling_training': {'total_loss': [2.0]}}, 1, 10, 'epoch')
    assert [(row['validation.Accuracy'], row['rolling_training.total_loss'])
            for row in _rows(tmp_path / 'logs.csv')] == [('0.5', ''), ('0.75', '2.0')]
    files.close()


def test_a_new_log_widens_the_header_and_keeps_the_rows(tmp_path):
    files = LogFiles(tmp_path)
    files.write_new({'a': [1.0]}, 0, 0, 'epoch')
    files.write_new({'a': [1.0, 2.0], 'b': {'c': [3.0]}}, 1, 4, 'epoch')
    files.write_new({'a': [1.0, 2.0, 4.0]}, 2, 8, 'epoch')
    files.close()
    assert (tmp_path / 'logs.csv').read_text().splitlines() == [
        'epoch,update,a,b.c', '0,0,1.0,', '1,4,2.0,3.0', '2,8,4.0,']


def test_restore_forgets_rows_after_the_checkpoint(tmp_path):
    files = LogFiles(tmp_path)
    files.write_new({'loss': [1.0]}, 1, 5, 'epoch')
    state = (dict(files.seen), files.rows)
    files.write_new({'loss': [1.0, 2.0]}, 2, 10, 'epoch')   # lost with the interruption
    files.close()
    resumed = LogFiles(tmp_path)
    resumed.restore(*state)
    resumed.write_new({'loss': [1.0, 3.0]}, 2, 10, 'epoch')
    resumed.close()
    assert [row['loss'] for row in _rows(tmp_path / 'logs.csv')] == ['1.0', '3.0']


def test_csv_can_be_switched_off(tmp_path):
    result = run_subprocess('train', TINY, '--out', tmp_path, '--set', 'logging.csv=false',
                            cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    (run,) = tmp_path.iterdir()
    assert not (run / 'logs.csv').exists() and (run / 'logs.h5').exists()


def test_tensorboard_without_the_extra_is_one_clear_error(bstorm, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)   # import fails as if absent
    result = bstorm('validate', TINY, '--set', 'logging.tensorboard=true')
    assert result.exit_code == 2
    assert "logging.tensorboard needs tensorboardX" in result.stderr
    assert "pip install '.[tensorboard]'" in result.stderr
