"""bstorm validate --print (the resolved experiment, overrides commented) and
bstorm train --dry-run (one batch, nothing written)."""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / 'configs' / 'quickstart.yaml'


def test_print_shows_the_resolved_experiment_with_its_overrides(bstorm, tmp_path):
    from bstorm_cli.experiment.document import load_experiment
    result = bstorm('validate', QUICKSTART, '--print', '--set',
                    'trainer.stepper.learning_rate=0.3', '--set',
                    'trainer.hooks[1]={type: StopAfterEpoch, max_epochs: 2}')
    assert result.exit_code == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    expected = load_experiment(QUICKSTART, ['trainer.stepper.learning_rate=0.3',
                                            'trainer.hooks[1]={type: StopAfterEpoch, '
                                            'max_epochs: 2}']).resolved
    assert printed == expected
    lines = result.stdout.splitlines()
    assert '    learning_rate: 0.3  # --set trainer.stepper.learning_rate=0.3' in lines
    assert '    # --set trainer.hooks[1]={type: StopAfterEpoch, max_epochs: 2}' in lines
    assert '    momentum: 0.9' in lines  # from the file: no comment
    assert 'test: true' in lines  # a default filled in
    # what it prints is an experiment that validates as it is
    copy = tmp_path / 'resolved.yaml'
    copy.write_text(result.stdout)
    assert bstorm('validate', copy).exit_code == 0


def test_print_names_the_option_a_value_came_from(bstorm):
    result = bstorm('validate', QUICKSTART, '--print', '--set', 'seed=7')
    assert 'seed: 7  # --set seed=7' in result.stdout.splitlines()


def test_dry_run_runs_one_batch_and_writes_nothing(bstorm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = bstorm('train', QUICKSTART, '--dry-run')
    assert result.exit_code == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    info = bstorm('info', QUICKSTART, '--batch-size', 32)
    memory_line = [line for line in info.stdout.splitlines() if line.startswith('memory')][0]
    assert memory_line in result.stdout.splitlines()
    assert 'parameters: 17,610' in result.stdout
    assert 'one batch (T=1, B=32) forward and backward in' in result.stdout
    loss = float(result.stdout.split(', loss ')[1].split()[0])
    assert 2.0 < loss < 3.0  # about log(10) for an untrained 10-class softmax


def test_dry_run_reports_bad_input_like_validate(bstorm, tmp_path):
    result = bstorm('train', QUICKSTART, '--dry-run', '--set', 'network.spec=F100 Q')
    assert result.exit_code == 2
    assert 'network.spec' in result.stderr
    assert bstorm('train', '--resume', 'x', '--dry-run').exit_code == 2
