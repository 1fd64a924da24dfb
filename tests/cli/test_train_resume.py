"""Interrupting training (SIGTERM, SIGINT, SIGKILL at random moments) and resuming gives
parameters bit-identical to an uninterrupted run on the CPU."""

import csv
import json
import pathlib
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
EXPERIMENT = EXPERIMENTS / 'valid' / 'resumable.yaml'
MAX_EPOCHS = 8  # StopAfterEpoch in the experiment
ROOT = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _bstorm(*arguments, cwd):
    return subprocess.run([sys.executable, '-m', 'bstorm_cli', *map(str, arguments)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def _parameters(run_folder):
    with h5py.File(run_folder / 'last.h5', 'r') as h5file:
        return h5file['parameters'][()]


def _single_run(folder):
    runs = list(folder.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """Parameters and accuracies of an uninterrupted run, and how long it trained
    after its first checkpoint (the window the interruptions are placed in)."""
    folder = tmp_path_factory.mktemp('uninterrupted')
    code, _, stderr, run, training_time = _run_and_signal(folder, None, 0.0)
    assert code == 0, stderr
    with h5py.File(run / 'logs.h5', 'r') as h5file:
        accuracy = h5file['validation/Accuracy'][()]
    return _parameters(run), accuracy, training_time


def _logged_epochs(runs):
    """Rows in the run's logs.csv so far (one per epoch), 0 before it exists."""
    logs = list(runs.glob('*/logs.csv'))
    if not logs:
        return 0
    with open(logs[0], newline='') as stream:
        return max(0, sum(1 for _ in stream) - 1)


def _run_and_signal(tmp_path, signal_number, delay, epochs=0):
    """Start training; once the first checkpoint is written and ``epochs`` more epochs
    are logged, wait ``delay`` s and send ``signal_number`` (None: let it finish).
    Returns exit code, stdout, stderr, the run folder and the seconds from the first
    checkpoint to the end."""
    runs = tmp_path / 'runs'
    process = subprocess.Popen([sys.executable, '-m', 'bstorm_cli', 'train', str(EXPERIMENT),
                                '--out', str(runs)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(runs.glob('*/checkpoint.h5')):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    if signal_number is not None:
        target = _logged_epochs(runs) + epochs
        while _logged_epochs(runs) < target:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=120)
    return (process.returncode, stdout, stderr, _single_run(tmp_path / 'runs'),
            time.monotonic() - started)


@pytest.mark.parametrize('signal_name, seed', [('SIGTERM', 1), ('SIGTERM', 2), ('SIGINT', 3),
                                               ('SIGKILL', 4), ('SIGKILL', 5)])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, uninterrupted,
                                                          signal_name, seed):
    signal_number = getattr(signal, signal_name)
    parameters, accuracy, training_time = uninterrupted
    # at a random moment of epochs 1 to 6 of 8: after 0-5 epochs of this run's own
    # log, then a random part of an epoch as long as the uninterrupted run's. A delay
    # in seconds alone could land late in the run, or after it, where this run trained
    # faster than the reference (one failure seen in a full-suite run)
    rnd = random.Random(seed)
    epochs, delay = rnd.randint(0, 5), rnd.random() * training_time / MAX_EPOCHS
    code, _, stderr, run, _ = _run_and_signal(tmp_path, signal_number, delay, epochs)
    assert code != 0, f"training finished within {delay:.2f} s, before the {signal_name}"
    assert 'Traceback' not in stderr
    if signal_name == 'SIGKILL':
        assert code == -signal.SIGKILL
    else:
        assert code == 130, stderr
        status = json.loads((run / 'status.json').read_text())
        assert status['status'] == 'interrupted'
        assert f"bstorm train --resume {run}" in stderr or 'resume' in stderr
    resumed = _bstorm('train', '--resume', run, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'resuming' in resumed.stderr
    np.testing.assert_array_equal(_parameters(run), parameters)
    with h5py.File(run / 'logs.h5', 'r') as h5file:
        np.testing.assert_array_equal(h5file['validation/Accuracy'][()], accuracy)
    # logs.csv was cut back to the checkpoint and continued: every value exactly once
    with open(run / 'logs.csv', newline='') as stream:
        logged = [row['validation.Accuracy'] for row in csv.DictReader(stream)]
    np.testing.assert_allclose([float(value) for value in logged if value], accuracy, rtol=1e-6)
    assert json.loads((run / 'status.json').read_text())['status'] == 'finished'


def test_a_finished_run_resumes_to_already_finished(tmp_path):
    result = _bstorm('train', EXPERIMENTS / 'valid' / 'tiny.yaml', '--out', tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = _single_run(tmp_path)
    last = (run / 'last.h5').read_bytes()
    # status.json is not what counts: the checkpoint says the training ended
    (run / 'status.json').write_text('{"status": "running"}')
    again = _bstorm('train', '--resume', run, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert 'already finished (3 epochs' in again.stderr
    assert (run / 'last.h5').read_bytes() == last
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'finished' and status['epochs'] == 3
