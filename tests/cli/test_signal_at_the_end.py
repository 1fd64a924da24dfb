"""A signal at the end of a run: after the stopper ended the training, while the end is
written (final test score) or while the process exits, alone and on 2 MPI ranks.

The training was complete, so the run ends ``finished`` (exit 0) with the files of a
run that got no signal, and ``--resume`` finds it finished; a double Ctrl-C stops at
once (``interrupted``, exit 130) with a checkpoint that resumes to "already finished".
The signal comes from the experiment's own components (``signal_moments.py``), at a
chosen moment, and every process waits until it has arrived: no timing luck.
"""

import json

import h5py
import numpy as np
import pytest

from bstorm_cli.experiment import run_dir
from tests.cli.conftest import signalling_experiment
from tests.parallel.conftest import bstorm_command, mpiexec_command, needs_mpi, run

pytestmark = pytest.mark.slow


def train(tmp_path, processes, *arguments):
    command = bstorm_command('train', *arguments)
    return run(mpiexec_command(processes, command) if processes > 1 else command, tmp_path)


def single_run(folder):
    (found,) = [path for path in folder.iterdir() if path.is_dir()]
    return found


def parameters(path):
    with h5py.File(path, 'r') as h5file:
        return h5file['parameters'][()]


def status_of(folder):
    return json.loads((folder / run_dir.STATUS_FILE).read_text())


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The same run without a signal (the hook's moment never comes)."""
    tmp_path = tmp_path_factory.mktemp('reference')
    experiment = signalling_experiment(tmp_path, 'never')
    completed = train(tmp_path, 1, experiment, '--out', 'runs')
    assert completed.returncode == 0, completed.stderr
    folder = single_run(tmp_path / 'runs')
    assert status_of(folder)['test']['Accuracy'] > 0.5
    return folder


def assert_complete(folder, reference, exact=True):
    """The files of a whole run: the reference's networks, a final checkpoint, no temporaries."""
    for name in (run_dir.LAST_NETWORK, run_dir.BEST_NETWORK):
        if exact:
            np.testing.assert_array_equal(parameters(folder / name),
                                          parameters(reference / name), err_msg=name)
        else:  # another number of processes sums the gradients in another order
            np.testing.assert_allclose(parameters(folder / name),
                                       parameters(reference / name), rtol=1e-6, atol=1e-9)
    checkpoint = run_dir.load_checkpoint(folder / run_dir.CHECKPOINT_FILE)
    assert run_dir.checkpoint_is_finished(checkpoint)
    assert checkpoint[1]['run']['epochs_done'] == 3
    assert not list(folder.glob('.*.tmp'))


def assert_resumes_to_already_finished(tmp_path, folder, processes=1):
    last = (folder / run_dir.LAST_NETWORK).read_bytes()
    resumed = train(tmp_path, processes, '--resume', folder)
    assert resumed.returncode == 0, resumed.stderr
    assert 'this run already finished (3 epochs' in resumed.stderr
    assert (folder / run_dir.LAST_NETWORK).read_bytes() == last
    assert status_of(folder)['status'] == 'finished'


MOMENTS = [('last_round', 'SIGTERM', 3), ('end', 'SIGTERM', 0), ('test', 'SIGTERM', 0),
           ('test', 'SIGINT', 0), ('exit', 'SIGTERM', 0)]


def finished_run(tmp_path, processes, moment, signal, at):
    """Train the signalling experiment; it must end finished after its 3 epochs.

    Returns:
        tuple: the completed process, the run folder and its status.
    """
    experiment = signalling_experiment(tmp_path, moment, signal, at)
    completed = train(tmp_path, processes, experiment, '--out', 'runs')
    assert completed.returncode == 0, completed.stderr
    folder = single_run(tmp_path / 'runs')
    status = status_of(folder)
    assert status['status'] == 'finished' and status['epochs'] == 3
    return completed, folder, status


def _moment_id(case):
    return f"{case[1]}-{case[0]}"


@pytest.mark.parametrize('moment, signal, at', MOMENTS, ids=map(_moment_id, MOMENTS))
def test_one_signal_after_the_training_ended_completes_the_run(reference, tmp_path, moment,
                                                                signal, at):
    completed, folder, status = finished_run(tmp_path, 1, moment, signal, at)
    assert status['test'] == status_of(reference)['test']
    if moment != 'exit':  # at exit the status was written before the signal came
        assert f"{signal} arrived after the training had ended" in status['message']
        assert 'finished 3 epochs' in completed.stderr
    assert 'interrupted' not in completed.stderr
    assert 'final validation.Accuracy' in completed.stdout
    assert_complete(folder, reference)
    assert_resumes_to_already_finished(tmp_path, folder)


def test_a_double_ctrl_c_during_the_test_score_stops_at_once_and_resumes_finished(
        reference, tmp_path):
    experiment = signalling_experiment(tmp_path, 'test', 'SIGINT', count=2)
    completed = train(tmp_path, 1, experiment, '--out', 'runs')
    assert completed.returncode == 130, completed.stderr
    assert 'error: interrupted' in completed.stderr
    folder = single_run(tmp_path / 'runs')
    status = status_of(folder)
    assert status['status'] == 'interrupted' and status['epochs'] == 3
    assert 'the training was complete' in status['message']
    assert_complete(folder, reference)
    assert_resumes_to_already_finished(tmp_path, folder)


MPI_MOMENTS = [('last_round', 'SIGTERM', 3), ('test', 'SIGTERM', 0), ('exit', 'SIGTERM', 0)]


@needs_mpi
@pytest.mark.parametrize('moment, signal, at', MPI_MOMENTS, ids=map(_moment_id, MPI_MOMENTS))
def test_on_two_ranks_a_signal_after_the_training_ended_completes_the_run(
        reference, tmp_path, moment, signal, at):
    # 'exit': each rank gets SIGTERM while it exits, rank 1 typically while rank 0 still
    # writes the end of the run (the launcher ended the job with exit 15 and left
    # status.json at 'running' when SIGTERM killed a rank there)
    completed, folder, status = finished_run(tmp_path, 2, moment, signal, at)
    assert completed.stdout.count('run directory:') == 1
    assert 'error' not in completed.stderr
    assert_complete(folder, reference, exact=False)
    assert list((tmp_path / 'tmp').iterdir()) == []  # no rank's scratch folder left
    assert_resumes_to_already_finished(tmp_path, folder, processes=2)


@needs_mpi
def test_on_two_ranks_a_double_ctrl_c_during_the_test_score_stops_all_at_once(reference,
                                                                              tmp_path):
    # every rank gets both (mpiexec itself ends the job at once on a second Ctrl-C)
    experiment = signalling_experiment(tmp_path, 'test', 'SIGINT', count=2, to='self')
    completed = train(tmp_path, 2, experiment, '--out', 'runs')
    assert completed.returncode == 130, completed.stderr
    assert completed.stderr.count('error: rank 0 of 2:') == 1
    assert 'error: rank 1' not in completed.stderr
    folder = single_run(tmp_path / 'runs')
    status = status_of(folder)
    assert status['status'] == 'interrupted' and status['epochs'] == 3
    assert_complete(folder, reference, exact=False)
    assert_resumes_to_already_finished(tmp_path, folder)
