"""``mpiexec -n K bstorm train``: the run of one process, written once, stopped together.

One float64 experiment (tests/parallel/experiments/digits.yaml) trained alone is the
reference for: a run on 2 processes; a run on 2 processes stopped by SIGTERM and
resumed on 3; a run on 3 processes one of which is killed. Plus the errors of a
wrong launch.
"""

import json
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from tests.cli.conftest import COMPONENTS, signalling_experiment
from tests.parallel.conftest import (EXPERIMENT, bstorm_command, environment,
                                     mpiexec_command, needs_mpi, run)

pytestmark = [needs_mpi, pytest.mark.slow]


def _single_run(folder):
    runs = list(folder.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def _parameters(run_folder):
    with h5py.File(run_folder / 'last.h5', 'r') as h5file:
        return h5file['parameters'][()]


def _logs(run_folder):
    with h5py.File(run_folder / 'logs.h5', 'r') as h5file:
        values = {}
        h5file.visititems(lambda name, item: values.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return values


def _assert_same_run(alone, parallel):
    reference = _parameters(alone)
    assert np.max(np.abs(_parameters(parallel) - reference)) <= 1e-5 * np.max(np.abs(reference))
    expected, logs = _logs(alone), _logs(parallel)
    assert sorted(logs) == sorted(expected)
    assert 'validation/Accuracy' in logs and 'rolling_training/train_accuracy' in logs
    for name, values in expected.items():
        if values.dtype.kind == 'f':
            np.testing.assert_allclose(logs[name], values, rtol=1e-9, err_msg=name)


@pytest.fixture(scope='module')
def alone(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('alone')
    completed = run(bstorm_command('train', EXPERIMENT, '--out', 'runs'), tmp_path)
    assert completed.returncode == 0, completed.stderr
    return _single_run(tmp_path / 'runs')


@pytest.fixture(scope='module')
def two_ranks(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('two')
    completed = run(mpiexec_command(2, bstorm_command('train', EXPERIMENT, '--out', 'runs')),
                    tmp_path)
    assert completed.returncode == 0, completed.stderr
    return tmp_path, completed


def test_two_processes_train_the_network_of_one_and_rank0_alone_writes(alone, two_ranks):
    tmp_path, completed = two_ranks
    parallel = _single_run(tmp_path / 'runs')
    _assert_same_run(alone, parallel)
    assert sorted(path.name for path in parallel.iterdir()) == sorted(
        path.name for path in alone.iterdir())
    assert json.loads((parallel / 'status.json').read_text())['status'] == 'finished'
    # one process prints: one result block, one table, no scratch folder left behind
    assert completed.stdout.count('run directory:') == 1
    assert completed.stderr.count('finished 3 epochs') == 1
    assert list((tmp_path / 'tmp').iterdir()) == []


#: the update after which the stopped run gets SIGTERM: in epoch 2 (65 updates an epoch)
STOP_UPDATE = 80


@pytest.fixture(scope='module')
def stopped_on_two_ranks(tmp_path_factory):
    """A run on 2 ranks stopped by SIGTERM to mpiexec, which passes it on to every rank.

    The experiment's own hook sends it after update STOP_UPDATE and waits until it has
    arrived (tests/cli/signal_moments.py), so the run never ends before it comes.
    """
    tmp_path = tmp_path_factory.mktemp('stopped')
    experiment = signalling_experiment(tmp_path, 'update', 'SIGTERM', at=STOP_UPDATE)
    completed = run(mpiexec_command(2, bstorm_command('train', experiment, '--out', 'runs')),
                    tmp_path)
    assert completed.returncode == 130, completed.stderr
    folder = _single_run(tmp_path / 'runs')
    status = json.loads((folder / 'status.json').read_text())
    assert status['status'] == 'interrupted'
    assert (status['epochs'], status['updates']) == (1, STOP_UPDATE)
    assert 'interrupted by SIGTERM in epoch 2 (1 complete)' in completed.stderr
    return folder


def _resumed_copy(stopped, tmp_path, processes):
    folder = tmp_path / stopped.name
    shutil.copytree(stopped, folder)
    shutil.copy(COMPONENTS, tmp_path / COMPONENTS.name)  # the experiment imports it
    command = bstorm_command('train', '--resume', folder)
    if processes > 1:
        command = mpiexec_command(processes, command)
    completed = run(command, tmp_path)
    assert completed.returncode == 0, completed.stderr
    return folder


def test_resumed_on_the_same_ranks_continues_bit_identically(stopped_on_two_ranks, two_ranks,
                                                              tmp_path):
    resumed = _resumed_copy(stopped_on_two_ranks, tmp_path, 2)
    uninterrupted = _single_run(two_ranks[0] / 'runs')
    assert np.array_equal(_parameters(resumed), _parameters(uninterrupted))
    for name, values in _logs(uninterrupted).items():
        np.testing.assert_array_equal(_logs(resumed)[name], values, err_msg=name)


@pytest.mark.parametrize('processes', [3, 1])
def test_resumed_on_other_ranks_gives_the_network_of_one(stopped_on_two_ranks, alone,
                                                         processes, tmp_path):
    _assert_same_run(alone, _resumed_copy(stopped_on_two_ranks, tmp_path, processes))


def test_a_killed_rank_ends_the_job_and_the_checkpoint_stays_readable(tmp_path):
    command = mpiexec_command(3, bstorm_command('train', EXPERIMENT, '--out', 'runs',
                                                '--set', 'trainer.hooks.2.max_epochs=50'))
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=environment(tmp_path))
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / 'runs').glob('*/checkpoint.h5')):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        victim = _a_rank_of(process.pid)
        os.kill(victim, signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0, stderr
    folder = _single_run(tmp_path / 'runs')
    with h5py.File(folder / 'checkpoint.h5', 'r') as h5file:
        assert len(h5file.keys()) > 0


def _a_rank_of(mpiexec_pid):
    """The pid of a ``bstorm`` process started by the mpiexec ``mpiexec_pid``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = _descendants(mpiexec_pid)
        ranks = [pid for pid in children if b'bstorm_cli' in _command_line(pid)]
        if ranks:
            return ranks[-1]
        time.sleep(0.05)
    raise AssertionError('no rank process found')


def _command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", 'rb') as file:
            return file.read()
    except OSError:
        return b''


def _descendants(pid):
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    parents[int(entry)] = int(file.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        found += children
        frontier += children
    return found


def test_a_setup_error_on_one_rank_is_reported_once_and_nothing_trains(tmp_path):
    good = bstorm_command('train', EXPERIMENT, '--out', 'runs')
    bad = good + ['--set', 'data.file=missing.h5']
    command = ['mpiexec', '-n', '1', *good, ':', '-n', '1', *bad]
    completed = run(command, tmp_path)
    assert completed.returncode == 2, completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and errors[0].startswith('error: rank 1 of 2: ')
    assert 'missing.h5' in errors[0]
    assert not (tmp_path / 'runs').exists()  # neither a run directory nor its parent


def test_processes_that_do_not_form_one_world_are_refused(tmp_path):
    """What an mpi4py built for another MPI than the launcher's sees: a world of 1."""
    completed = run(bstorm_command('train', EXPERIMENT, '--out', 'runs'), tmp_path,
                    OMPI_COMM_WORLD_SIZE='2', OMPI_COMM_WORLD_RANK='0')
    assert completed.returncode == 2, completed.stderr
    assert 'the MPI launcher started 2 processes, but mpi4py sees a world of 1' in \
        completed.stderr
    assert not (tmp_path / 'runs').exists()


def test_an_unknown_cuda_aware_setting_is_refused_before_the_run_starts(tmp_path):
    completed = run(mpiexec_command(2, bstorm_command('train', EXPERIMENT, '--out', 'runs')),
                    tmp_path, BRAINSTORM_MPI_CUDA_AWARE='yes')
    assert completed.returncode == 2, completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, completed.stderr
    assert "BRAINSTORM_MPI_CUDA_AWARE='yes': expected auto, 1 or 0" in errors[0]
    assert not (tmp_path / 'runs').exists()


def test_a_launch_without_mpi4py_is_refused(bstorm, monkeypatch, tmp_path):
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *args: None if name == 'mpi4py'
                        else real_find_spec(name, *args))
    monkeypatch.setenv('PMI_SIZE', '2')
    monkeypatch.setenv('PMI_RANK', '0')
    result = bstorm('train', EXPERIMENT, '--out', tmp_path / 'runs')
    assert result.exit_code == 2
    assert len(result.error_lines) == 1
    assert 'mpi4py is not installed' in result.error_lines[0]
    assert "pip install '.[mpi]'" in result.error_lines[0]
    assert not (tmp_path / 'runs').exists()
