"""SIGKILL at chosen moments of real trainings (during and right after checkpoint writes,
after the last epoch), then ``--resume``: the result is bit-identical to a run that was
never killed, no temporary file is left, and the run ends 'finished'.

The kill is injected by a small wrapper around ``bstorm`` (fault injection lives in the
test, not in the product): it counts the checkpoint writes and sends itself SIGKILL
either after the temporary file is complete but before it is renamed ('during') or
right after the rename ('after').
"""

import json
import pathlib
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

EXPERIMENT = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'
ROOT = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

#: the wrapper: KILL_AT = (checkpoint write number, 'during' | 'after')
WRAPPER = textwrap.dedent('''
    import os, signal, sys
    from bstorm_cli.experiment import run_dir
    number, moment = int(sys.argv[1]), sys.argv[2]
    original_write, original_save = run_dir.write_hdf5, run_dir.save_checkpoint
    count = [0]

    def write_hdf5(path, fill):
        if str(path).endswith(run_dir.CHECKPOINT_FILE) and moment == 'during' and \\
                count[0] == number:
            def fill_then_die(h5file):
                fill(h5file)
                h5file.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return original_write(path, fill_then_die)
        return original_write(path, fill)

    def save_checkpoint(*arguments):
        count[0] += 1
        original_save(*arguments)
        if moment == 'after' and count[0] == number:
            os.kill(os.getpid(), signal.SIGKILL)

    run_dir.write_hdf5, run_dir.save_checkpoint = write_hdf5, save_checkpoint
    from bstorm_cli.main import main
    main(sys.argv[3:])
''')


def _train(folder, *kill_at):
    command = [sys.executable, '-c', WRAPPER, *(kill_at or ('0', 'never')), 'train',
               str(EXPERIMENT), '--out', str(folder)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _resume(run):
    return subprocess.run([sys.executable, '-m', 'bstorm_cli', 'train', '--resume', str(run)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def _result(run):
    with h5py.File(run / 'last.h5', 'r') as h5file:
        parameters = h5file['parameters'][()]
    with h5py.File(run / 'logs.h5', 'r') as h5file:
        accuracy = h5file['validation/Accuracy'][()]
    return parameters, accuracy


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp('uninterrupted')
    completed = _train(folder)
    assert completed.returncode == 0, completed.stderr
    return _result(next(folder.iterdir()))


# tiny.yaml trains 3 epochs: checkpoints are written at epochs 0, 1, 2, 3 and at the end
@pytest.mark.parametrize('number, moment', [
    (2, 'during'), (2, 'after'),       # in the middle of training
    (4, 'during'), (4, 'after'),       # the last epoch's checkpoint, before 'finished'
    (5, 'during'), (5, 'after'),       # the final checkpoint, before status.json says so
], ids=lambda value: str(value))
def test_killed_and_resumed_run_is_bit_identical(tmp_path, uninterrupted, number, moment):
    killed = _train(tmp_path, str(number), moment)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = next(tmp_path.iterdir())
    resumed = _resume(run)
    assert resumed.returncode == 0, resumed.stderr
    assert 'Traceback' not in resumed.stderr
    parameters, accuracy = _result(run)
    np.testing.assert_array_equal(parameters, uninterrupted[0])
    np.testing.assert_array_equal(accuracy, uninterrupted[1])
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'finished' and status['epochs'] == 3
    assert not list(run.glob('.*.tmp')), list(run.iterdir())
    again = _resume(run)
    assert again.returncode == 0 and 'already finished' in again.stderr
    np.testing.assert_array_equal(_result(run)[0], uninterrupted[0])
