"""bstorm runs, and naming a run directory as 'latest' or by a prefix of its name."""

import json
import os

import pytest

EXPERIMENT = """\
name: tiny
data:
  file: builtin:digits
  group: normalized_split
  iterators:
    training: {chain: [{type: Minibatches, batch_size: 100}]}
    validation: {chain: [{type: Minibatches, batch_size: 250, shuffle: false}]}
network: {spec: F10}
trainer:
  stepper: {type: SgdStepper, learning_rate: 0.1}
  hooks:
    - {type: MonitorScores, iter_name: validation, scorers: [{type: Accuracy}], name: valid}
    - {type: StopAfterEpoch, max_epochs: 1}
"""


@pytest.fixture
def two_runs(tmp_path, bstorm, monkeypatch):
    """./runs with two finished runs that differ in the learning rate (the second newer)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'tiny.yaml').write_text(EXPERIMENT)
    for rate in (0.3, 0.01):
        result = bstorm('train', 'tiny.yaml', '--set', f'trainer.stepper.learning_rate={rate}')
        assert result.exit_code == 0, result.stderr
    runs = sorted((tmp_path / 'runs').iterdir())
    # the second run started later, whatever the clock's resolution
    os.utime(runs[0] / 'experiment.yaml', (1_000_000_000, 1_000_000_000))
    return runs


def test_runs_lists_runs_with_what_sets_them_apart(two_runs, bstorm):
    result = bstorm('runs', '--json')
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row['name'] for row in rows] == [run.name for run in two_runs]
    assert [row['differs'] for row in rows] == [
        {'trainer.stepper.learning_rate': 0.3}, {'trainer.stepper.learning_rate': 0.01}]
    for row in rows:
        assert row['status'] == 'finished' and row['epochs'] == 1 and row['seed'] == 42
        status = json.loads((two_runs[0].parent / row['name'] / 'status.json').read_text())
        assert row['best_value'] == status['best_value']
    by_best = json.loads(bstorm('runs', 'runs', '--sort', 'best', '--reverse', '--json').stdout)
    values = [row['best_value'] for row in by_best]
    assert values == sorted(values, reverse=True)
    table = bstorm('runs')
    assert table.exit_code == 0
    assert two_runs[0].name in table.stdout and 'trainer.stepper.learning_rate=0.3' in \
        table.stdout


def test_latest_and_a_prefix_name_a_run(two_runs, bstorm, tmp_path):
    newest = two_runs[1]
    result = bstorm('plot', 'latest', '-o', tmp_path / 'latest.csv')
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / 'latest.csv').exists()
    result = bstorm('train', '--resume', 'latest')
    assert result.exit_code == 0, result.stderr  # a finished run resumes to 'already finished'
    assert 'this run already finished' in result.stderr and newest.name in result.stderr
    result = bstorm('evaluate', 'tiny', 'builtin:digits', '--json')
    assert result.exit_code == 0, result.stderr
    assert 'matches 2 runs; using the newest' in result.stderr
    assert json.loads(result.stdout)['results']['Accuracy'] > 0
    result = bstorm('info', two_runs[0].name[:-2], '--json')
    assert result.exit_code == 0, result.stderr
    result = bstorm('plot', 'runs/nothing-like-it')
    assert result.exit_code == 2
    assert "no run in runs/ is named nothing-like-it..." in result.stderr
    assert f"newest runs: {two_runs[0].name}, {newest.name}" in result.stderr


def test_runs_in_a_folder_without_runs(tmp_path, bstorm):
    result = bstorm('runs', tmp_path)
    assert result.exit_code == 0
    assert 'no run directories' in result.stdout
    assert bstorm('runs', tmp_path / 'missing').exit_code == 2
