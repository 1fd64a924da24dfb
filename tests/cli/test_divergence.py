"""A run whose parameters or loss stop being finite ends 'diverged' with its own exit
status and keeps its last finite checkpoint; NaN/inf are shown as such; best is never
a non-finite value."""

import json
import math
import pathlib

import h5py
import numpy as np
import pytest

from bstorm_cli.exit_codes import ExitStatus

TINY = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'
#: a sane learning rate for two epochs, then one that makes every parameter overflow
JUMP = "trainer.stepper.learning_rate={type: MultiStep, initial_value: 0.1, steps: [2], " \
       "values: [1e30]}"


def _run_folder(out):
    (run,) = list(pathlib.Path(out).iterdir())
    return run


def _parameters(path, name='parameters'):
    with h5py.File(path, 'r') as h5file:
        return h5file[name][()]


def test_a_rate_that_jumps_keeps_the_last_finite_checkpoint(bstorm, tmp_path):
    result = bstorm('train', TINY, '--set', JUMP, '--out', tmp_path)
    assert result.exit_code == ExitStatus.DIVERGED == 3, result.stderr
    run = _run_folder(tmp_path)
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'diverged'
    assert 'diverged in epoch 3' in status['message'] and status['epochs'] == 2
    last, best = _parameters(run / 'last.h5'), _parameters(run / 'best.h5')
    assert np.isfinite(last).all() and np.isfinite(best).all()
    np.testing.assert_array_equal(last, _parameters(run / 'checkpoint.h5'))
    assert not np.isfinite(_parameters(run / 'diverged.h5')).all()
    assert math.isfinite(status['best_value']) and status['best_epoch'] <= 2
    assert 'nan' in result.stderr  # the table shows the loss as nan, not '-'
    assert 'final ' not in result.stdout


def test_a_diverged_run_resumes_from_its_last_finite_checkpoint(bstorm, tmp_path):
    assert bstorm('train', TINY, '--set', JUMP, '--out', tmp_path).exit_code == 3
    run = _run_folder(tmp_path)
    last = _parameters(run / 'last.h5')
    again = bstorm('train', '--resume', run)
    assert again.exit_code == 3, again.stderr  # the same epoch diverges again
    np.testing.assert_array_equal(_parameters(run / 'last.h5'), last)


def test_stop_on_nan_inside_an_epoch_is_divergence(bstorm, tmp_path):
    hooks = ("trainer.hooks=[{type: StopOnNan, timescale: update}, "
             "{type: StopAfterEpoch, max_epochs: 3}]")
    result = bstorm('train', TINY, '--set', JUMP, '--set', hooks, '--out', tmp_path)
    assert result.exit_code == 3, result.stderr
    run = _run_folder(tmp_path)
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'diverged' and 'StopOnNan' in status['message']
    assert np.isfinite(_parameters(run / 'checkpoint.h5')).all()


def test_non_finite_values_print_as_nan_and_inf():
    from bstorm_cli.progress import format_value
    assert [format_value(value) for value in (float('nan'), float('inf'), -float('inf'))] == \
        ['nan', 'inf', '-inf']
    assert format_value(None) == '-'


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf')])
def test_best_never_picks_a_non_finite_value(value):
    from bstorm_cli.experiment.training_run import _latest
    assert _latest({'validation': {'Accuracy': [0.5, value]}}, 'validation.Accuracy') is None
    assert _latest({'validation': {'Accuracy': [0.5]}}, 'validation.Accuracy') == 0.5
