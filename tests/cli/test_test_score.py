"""The test score at the end of training: best network, test split, experiment's scorers."""

import json

import h5py

EXPERIMENT = """\
name: tiny
data:
  file: {data}
  group: normalized_split
  iterators:
    training: {{chain: [{{type: Minibatches, batch_size: 100}}]}}
    validation: {{chain: [{{type: Minibatches, batch_size: 250, shuffle: false}}]}}
network: {{spec: F10}}
trainer:
  stepper: {{type: SgdStepper, learning_rate: 0.3}}
  hooks:
    - {{type: MonitorScores, iter_name: validation, scorers: [{{type: Accuracy}}],
       name: valid}}
    - {{type: StopAfterEpoch, max_epochs: 2}}
"""

def _train(bstorm, folder, data='builtin:digits', *options):
    experiment = folder / 'tiny.yaml'
    experiment.write_text(EXPERIMENT.format(data=data))
    result = bstorm('train', experiment, '--out', folder / 'runs', *options)
    assert result.exit_code == 0, result.stderr
    (run,) = (folder / 'runs').iterdir()
    return result, run, json.loads((run / 'status.json').read_text())

def test_the_best_network_is_scored_on_the_test_split(tmp_path, bstorm):
    result, run, status = _train(bstorm, tmp_path)
    test = status['test']
    assert test['split'] == 'normalized_split/test'
    evaluated = bstorm('evaluate', run / 'best.h5', 'builtin:digits', '--split', 'test',
                       '--json')
    assert json.loads(evaluated.stdout)['results'] == {
        'total_loss': test['total_loss'], 'Accuracy': test['Accuracy']}
    line = f"test (normalized_split/test): total_loss {test['total_loss']:.4f}, " \
           f"Accuracy {test['Accuracy']:.4f}"
    assert line in result.stdout and line in result.stderr
    rows = json.loads(bstorm('runs', tmp_path / 'runs', '--json').stdout)
    assert rows[0]['test'] == test
    assert f"Accuracy={test['Accuracy']:.4f}" in bstorm('runs', tmp_path / 'runs').stdout

def test_test_false_skips_it(tmp_path, bstorm):
    result, _, status = _train(bstorm, tmp_path, 'builtin:digits', '--set', 'test=false')
    assert status['test'] is None
    assert 'test (' not in result.stdout

def test_data_without_a_test_split(tmp_path, bstorm):
    from brainstorm.datasets.digits import digits_path
    data = tmp_path / 'no_test.h5'
    with h5py.File(digits_path(), 'r') as source, h5py.File(data, 'w') as target:
        for split in ('training', 'validation'):
            source.copy(f'normalized_split/{split}', target.require_group('normalized_split'))
    _, _, status = _train(bstorm, tmp_path, str(data))
    assert status['status'] == 'finished' and status['test'] is None


def test_a_test_split_that_does_not_fit_is_reported_not_raised(tmp_path, bstorm):
    from brainstorm.datasets.digits import digits_path
    data = tmp_path / 'odd_test.h5'
    with h5py.File(digits_path(), 'r') as source, h5py.File(data, 'w') as target:
        group = target.require_group('normalized_split')
        for split in ('training', 'validation'):
            source.copy(f'normalized_split/{split}', group)
        test = group.require_group('test')
        test['default'] = source['normalized_split/test/default'][:, :, :32]
        test['targets'] = source['normalized_split/test/targets'][()]
    result, _, status = _train(bstorm, tmp_path, str(data))
    assert status['status'] == 'finished'
    assert status['test']['split'] == 'normalized_split/test'
    assert 'feature shape (32,)' in status['test']['error']
    assert 'test (normalized_split/test): not scored: ' in result.stdout
