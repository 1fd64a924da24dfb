"""Network files saved by bstorm train carry their experiment; bstorm info shows it."""

import json

import h5py
import pytest

from bstorm_cli.network_summary import ATTRIBUTE, read_summary


@pytest.fixture
def run(tiny_run):
    return tiny_run


def test_last_and_best_hold_name_seed_epoch_and_best_value(run):
    status = json.loads((run / 'status.json').read_text())
    last, best = read_summary(run / 'last.h5'), read_summary(run / 'best.h5')
    assert (last['name'], last['seed'], last['epoch'], last['update']) == ('tiny', 3, 3, 39)
    assert last['best_log'] == 'validation.Accuracy'
    assert last['best_value'] == pytest.approx(status['best_value'])
    assert best['epoch'] == best['best_epoch'] == status['best_epoch']


def test_info_shows_where_a_network_came_from(bstorm, run):
    result = bstorm('info', run / 'best.h5')
    assert result.exit_code == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith('from: ')]
    assert 'experiment tiny (seed 3)' in line and 'best validation.Accuracy = ' in line
    as_json = json.loads(bstorm('info', run / 'last.h5', '--json').stdout)
    assert as_json['experiment']['epoch'] == 3


def test_files_without_a_summary_or_with_a_broken_one(bstorm, tmp_path):
    from brainstorm.tools import create_net_from_spec
    network = create_net_from_spec('classification', (4,), 3, 'F5')
    network.save_as_hdf5(str(tmp_path / 'plain.h5'))
    result = bstorm('info', tmp_path / 'plain.h5')
    assert result.exit_code == 0 and 'from: ' not in result.stdout
    network.save_as_hdf5(str(tmp_path / 'broken.h5'), attributes={ATTRIBUTE: '{not json'})
    with h5py.File(tmp_path / 'broken.h5', 'r') as h5file:
        assert h5file.attrs[ATTRIBUTE] == '{not json'
    result = bstorm('info', tmp_path / 'broken.h5')
    assert result.exit_code == 0 and 'from: ' not in result.stdout
