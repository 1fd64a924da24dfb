"""bstorm tune: studies of tiny trials on the shipped digits (1-3 epochs of a 20-unit net)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('optuna', reason="bstorm tune needs the extra: pip install '.[tune]'")

ROOT = pathlib.Path(__file__).resolve().parents[3]

EXPERIMENT = """\
name: tiny
seed: 1
data:
  file: builtin:digits
  group: normalized_split
  iterators:
    training: {{chain: [{{type: Minibatches, batch_size: 64}}]}}
    validation: {{chain: [{{type: Minibatches, batch_size: 250, shuffle: false}}]}}
network: {{spec: F20}}
trainer:
  stepper: {{type: MomentumStepper, learning_rate: 0.1, momentum: 0.9}}
  hooks:
    - {{type: MonitorScores, iter_name: validation, scorers: [{{type: Accuracy}}],
       name: validation}}
    - {{type: StopAfterEpoch, max_epochs: {epochs}}}
{search}
"""
LEARNING_RATE = "  trainer.stepper.learning_rate: {type: float, low: 0.001, high: 0.5, log: true}"


def write_experiment(folder, search=LEARNING_RATE, epochs=2):
    path = pathlib.Path(folder) / 'tiny.yaml'
    path.write_text(EXPERIMENT.format(search='' if search is None else 'search:\n' + search,
                                      epochs=epochs))
    return path


def run_tune(*arguments, timeout=300):
    completed = subprocess.run([sys.executable, '-m', 'bstorm_cli', 'tune',
                                *map(str, arguments)], cwd=ROOT, capture_output=True,
                               text=True, timeout=timeout)
    return completed


def study_folder(out):
    (folder,) = [path for path in pathlib.Path(out).iterdir() if '-study-' in path.name]
    return folder


def status_of(trial):
    return json.loads((pathlib.Path(trial['run_dir']) / 'status.json').read_text())


def test_one_worker_runs_every_trial_into_its_run_directory(tmp_path, bstorm):
    experiment = write_experiment(tmp_path)
    result = bstorm('tune', experiment, '--trials', 3, '--seed', 4, '--pruner', 'none',
                    '--out', tmp_path / 'runs', '--json')
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [trial['state'] for trial in summary['trials']] == ['complete'] * 3
    assert summary['objective'] == 'validation.Accuracy'
    assert summary['direction'] == 'maximize'
    for trial in summary['trials']:
        assert 0.001 <= trial['params']['trainer.stepper.learning_rate'] <= 0.5
        status = status_of(trial)
        assert status['status'] == 'finished'
        assert status['best_value'] == pytest.approx(trial['value'])
        resolved = (pathlib.Path(trial['run_dir']) / 'experiment.yaml').read_text()
        assert f"learning_rate: {trial['params']['trainer.stepper.learning_rate']}" in resolved
    assert summary['best']['value'] == max(trial['value'] for trial in summary['trials'])
    shown = bstorm('tune', '--show', summary['study'])
    assert shown.exit_code == 0
    assert f"best trial {summary['best']['number']}:" in shown.stdout
    assert f"best run directory: {summary['best']['run_dir']}" in shown.stdout
    assert 'learning_rate' in shown.stdout and 'complete' in shown.stdout
    listed = bstorm('runs', tmp_path / 'runs')
    assert f"studies in {tmp_path / 'runs'} (bstorm runs STUDY lists their trials): " \
           f"{pathlib.Path(summary['study']).name}" in listed.stderr
    trials = json.loads(bstorm('runs', summary['study'], '--json').stdout)
    assert sorted(row['path'] for row in trials) == sorted(
        trial['run_dir'] for trial in summary['trials'])


def test_the_same_seed_suggests_the_same_values(tmp_path, bstorm):
    experiment = write_experiment(tmp_path, epochs=1)
    suggested = []
    for seed in (7, 7, 8):
        result = bstorm('tune', experiment, '--trials', 3, '--seed', seed, '--out',
                        tmp_path / f'runs-{len(suggested)}', '--json', '--pruner', 'none')
        assert result.exit_code == 0, result.stderr
        suggested.append([trial['params'] for trial in json.loads(result.stdout)['trials']])
    assert suggested[0] == suggested[1]
    assert suggested[0] != suggested[2]


def test_two_workers_share_one_study(tmp_path):
    experiment = write_experiment(tmp_path)
    completed = run_tune(experiment, '--trials', 4, '--jobs', 2, '--seed', 1, '--pruner',
                         'none', '--out', tmp_path, '--json')
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    trials = summary['trials']
    assert [trial['number'] for trial in trials] == [0, 1, 2, 3]
    assert {trial['state'] for trial in trials} == {'complete'}
    assert {trial['worker'] for trial in trials} == {0, 1}
    assert len({trial['run_dir'] for trial in trials}) == 4
    assert all(status_of(trial)['status'] == 'finished' for trial in trials)


def test_the_median_pruner_stops_bad_trials_after_an_epoch(tmp_path, bstorm):
    search = "  trainer.stepper.learning_rate: {type: categorical, choices: [0.3, 0.00001]}"
    experiment = write_experiment(tmp_path, search=search, epochs=3)
    result = bstorm('tune', experiment, '--trials', 6, '--seed', 0, '--pruner-startup', 1,
                    '--out', tmp_path, '--json')
    assert result.exit_code == 0, result.stderr
    trials = json.loads(result.stdout)['trials']
    pruned = [trial for trial in trials if trial['state'] == 'pruned']
    assert pruned, trials
    for trial in pruned:
        assert trial['params']['trainer.stepper.learning_rate'] == 0.00001
        status = status_of(trial)
        assert status['status'] == 'pruned'
        assert status['epochs'] < 3
    assert any(trial['state'] == 'complete' for trial in trials)


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path, bstorm):
    search = '  network.spec: {type: categorical, choices: ["F20", "F20 Q7"]}'
    experiment = write_experiment(tmp_path, search=search, epochs=1)
    result = bstorm('tune', experiment, '--trials', 4, '--seed', 2, '--pruner', 'none',
                    '--out', tmp_path, '--json')
    assert result.exit_code == 0, result.stderr
    trials = json.loads(result.stdout)['trials']
    assert len(trials) == 4
    failed = [trial for trial in trials if trial['state'] == 'fail']
    assert failed and all(trial['params']['network.spec'] == 'F20 Q7' for trial in failed)
    assert all('network.spec' in trial['error'] for trial in failed)
    assert any(trial['state'] == 'complete' for trial in trials)


def trial_2_trains(tmp_path, log):
    """Whether trial 2's run has finished its first epoch (and is in the next)."""
    for status in tmp_path.glob('*-study-*/tiny-trial-0002-*/status.json'):
        try:
            return json.loads(status.read_text())['epochs'] >= 1
        except (ValueError, KeyError):
            return False
    return False


def start_and_stop(tmp_path, experiment, stop_signal, ready=lambda tmp_path, log: True):
    """Start a study, send ``stop_signal`` to it once trial 1 ended and ``ready`` says
    so; return its exit code."""
    log = tmp_path / 'stderr.txt'
    with open(log, 'w') as stderr:
        process = subprocess.Popen(
            [sys.executable, '-m', 'bstorm_cli', 'tune', str(experiment), '--trials', '4',
             '--seed', '5', '--pruner', 'none', '--out', str(tmp_path)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ('trial 1:' in log.read_text() and ready(tmp_path, log)) and \
                time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, stop_signal)
        code = process.wait(timeout=120)
    return code


@pytest.mark.slow
def test_a_diverging_trial_is_recorded_as_failed(tmp_path, bstorm):
    search = "  trainer.stepper.learning_rate: {type: categorical, choices: [0.1, 1.0e+30]}"
    experiment = write_experiment(tmp_path, search=search, epochs=2)
    result = bstorm('tune', experiment, '--trials', 4, '--seed', 0, '--pruner', 'none',
                    '--out', tmp_path, '--json')
    assert result.exit_code == 0, result.stderr
    trials = json.loads(result.stdout)['trials']
    diverged = [trial for trial in trials
                if trial['params']['trainer.stepper.learning_rate'] == 1e30]
    assert diverged and all(trial['state'] == 'fail' for trial in diverged), trials
    assert all('diverged' in trial['error'] for trial in diverged)
    assert all(status_of(trial)['status'] == 'diverged' for trial in diverged)
    assert any(trial['state'] == 'complete' for trial in trials)


def test_a_killed_study_resumes(tmp_path):
    experiment = write_experiment(tmp_path, epochs=3)
    assert start_and_stop(tmp_path, experiment, signal.SIGKILL, trial_2_trains) == \
        -signal.SIGKILL
    folder = study_folder(tmp_path)
    resumed = run_tune('--resume', folder, '--json')
    assert resumed.returncode == 0, resumed.stderr
    trials = json.loads(resumed.stdout)['trials']
    finished = [trial for trial in trials if trial['state'] == 'complete']
    assert len(finished) == 4
    killed = [trial for trial in trials if trial['state'] == 'fail']
    for trial in killed:  # the trial the kill cut short ran again with its parameters
        (retry,) = [other for other in trials if other['retry_of'] == trial['number']]
        assert retry['params'] == trial['params'] and retry['state'] == 'complete'
    # a second resume has nothing left to do
    again = run_tune('--resume', folder, '--json')
    assert again.returncode == 0, again.stderr
    assert len(json.loads(again.stdout)['trials']) == len(trials)


@pytest.mark.slow
def test_ctrl_c_stops_a_study_that_resume_finishes(tmp_path):
    experiment = write_experiment(tmp_path, epochs=30)  # trial 2 trains for seconds
    assert start_and_stop(tmp_path, experiment, signal.SIGINT, trial_2_trains) == 130
    folder = study_folder(tmp_path)
    shown = json.loads(run_tune('--show', folder, '--json').stdout)['trials']
    assert [trial['state'] for trial in shown] == ['complete', 'complete', 'fail']
    assert status_of(shown[2])['status'] == 'interrupted'
    resumed = run_tune('--resume', folder, '--json', '--trials', 3)
    assert resumed.returncode == 0, resumed.stderr
    trials = json.loads(resumed.stdout)['trials']
    assert [trial['state'] for trial in trials] == ['complete', 'complete', 'fail', 'complete']
    assert trials[3]['retry_of'] == 2 and trials[3]['params'] == trials[2]['params']


def test_timeout_starts_no_trial_after_it(tmp_path, bstorm):
    experiment = write_experiment(tmp_path, epochs=1)
    started = time.monotonic()
    result = bstorm('tune', experiment, '--trials', 100, '--timeout', 0.5, '--out', tmp_path,
                    '--json')
    assert result.exit_code == 0, result.stderr
    assert 1 <= len(json.loads(result.stdout)['trials']) < 100
    assert time.monotonic() - started < 60


def test_bad_search_entries_are_located(tmp_path, bstorm):
    search = ("  trainer.stepper.learnin_rate: {type: float, low: 0.1, high: 0.5}\n"
              "  data.iterators.training.chain[0].batch_size: {type: int, low: 0, high: 3}\n"
              "  network.spec: {type: float, low: 1, high: 0.5, log: true}")
    experiment = write_experiment(tmp_path, search=search)
    result = bstorm('tune', experiment, '--out', tmp_path)
    assert result.exit_code == 2
    assert f"error: {experiment}:19:36: search.network.spec.low: low (1) is above high " \
           f"(0.5)" in result.stderr
    result = bstorm('tune', write_experiment(tmp_path, search=search.split('\n')[0]),
                    '--out', tmp_path)
    assert result.exit_code == 2
    assert f"{experiment}:17:33: search.trainer.stepper.learnin_rate = 0.1: " in result.stderr
    assert "unknown key 'learnin_rate'" in result.stderr
    assert "did you mean 'learning_rate'" in result.stderr
    result = bstorm('tune', write_experiment(tmp_path, search=search.split('\n')[1]),
                    '--out', tmp_path)
    assert result.exit_code == 2
    assert "search.data.iterators.training.chain[0].batch_size = 0: " in result.stderr
    assert not [path for path in tmp_path.iterdir() if '-study-' in path.name]


def test_a_space_file_and_its_errors(tmp_path, bstorm):
    experiment = write_experiment(tmp_path, search=None)
    space = tmp_path / 'space.yaml'
    space.write_text("trainer.stepper.momentum: {type: float, low: 0.5, hihg: 0.9}\n")
    result = bstorm('tune', experiment, '--space', space, '--out', tmp_path)
    assert result.exit_code == 2
    assert f"{space}:1:27: search.trainer.stepper.momentum" in result.stderr
    assert "did you mean 'high'" in result.stderr
    space.write_text("trainer.stepper.momentum: {type: float, low: 0.5, high: 0.9}\n")
    result = bstorm('tune', experiment, '--space', space, '--out', tmp_path, '--trials', 1,
                    '--json')
    assert result.exit_code == 0, result.stderr
    (trial,) = json.loads(result.stdout)['trials']
    assert 0.5 <= trial['params']['trainer.stepper.momentum'] <= 0.9


def test_an_experiment_without_a_space(tmp_path, bstorm):
    experiment = write_experiment(tmp_path, search=None)
    result = bstorm('tune', experiment, '--out', tmp_path)
    assert result.exit_code == 2
    assert 'no search: section' in result.stderr
    assert bstorm('tune', '--show', tmp_path).exit_code == 2
    assert bstorm('tune').exit_code == 2


def test_without_optuna_the_error_names_the_extra(tmp_path, bstorm, monkeypatch):
    monkeypatch.setitem(sys.modules, 'optuna', None)  # as if it were not installed
    result = bstorm('tune', write_experiment(tmp_path), '--out', tmp_path)
    assert result.exit_code == 2
    assert "bstorm tune needs Optuna" in result.stderr
    assert "pip install '.[tune]'" in result.stderr
    assert not list(tmp_path.glob('*-study-*'))


def test_the_hyperband_pruner_runs_a_study(tmp_path, bstorm):
    experiment = write_experiment(tmp_path, epochs=2)
    result = bstorm('tune', experiment, '--trials', 3, '--seed', 1, '--pruner', 'hyperband',
                    '--out', tmp_path, '--json')
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert len(summary['trials']) == 3
    assert {trial['state'] for trial in summary['trials']} <= {'complete', 'pruned'}
    settings = json.loads((pathlib.Path(summary['study']) / 'study.json').read_text())
    assert settings['pruner']['type'] == 'hyperband'
