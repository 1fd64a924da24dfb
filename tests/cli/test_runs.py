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
    # the best run first: accuracy is maximized, so the highest value leads
    by_best = json.loads(bstorm('runs', 'runs', '--sort', 'best', '--json').stdout)
    assert [row['best_criterion'] for row in by_best] == ['max', 'max']
    values = [row['best_value'] for row in by_best]
    assert values == sorted(values, reverse=True) and values[0] > values[1]
    reversed_rows = json.loads(bstorm('runs', 'runs', '--sort', 'best', '--reverse',
                                      '--json').stdout)
    assert [row['best_value'] for row in reversed_rows] == values[::-1]
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


def test_sort_best_puts_the_best_first_whatever_each_runs_criterion(tmp_path):
    from bstorm_cli.experiment.run_listing import list_runs
    runs = {'loss-low': ('valid.total_loss', 'min', 0.2), 'loss-high': ('valid.total_loss',
                                                                         'min', 0.9),
            'accuracy-high': ('valid.Accuracy', 'max', 0.97),
            'accuracy-old': ('valid.Accuracy', None, 0.5)}  # status.json before criteria
    for name, (log, criterion, value) in runs.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / 'experiment.yaml').write_text('seed: 1\n')
        status = {'status': 'finished', 'best_log': log, 'best_value': value}
        if criterion is not None:
            status['best_criterion'] = criterion
        (folder / 'status.json').write_text(json.dumps(status))
    rows = list_runs(tmp_path, 'best')
    # goodness: accuracy 0.97 (-0.97), loss 0.2, accuracy 0.5 (-0.5), loss 0.9
    assert [row['name'] for row in rows] == ['accuracy-high', 'accuracy-old', 'loss-low',
                                             'loss-high']
    assert rows[1]['best_criterion'] == 'max'
