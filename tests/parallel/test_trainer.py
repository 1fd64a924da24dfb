"""DataParallelTrainer under real ``mpiexec``: the same network as one process.

Each scenario of ``training_script`` trains its networks once alone and once under
``mpiexec -n 2`` and ``-n 3`` (batches of 10 of 23 samples: uneven splits and an
uneven last batch; 5 streams for the carried state), in float64.
"""

import subprocess
import sys

import numpy as np
import pytest

from tests.parallel.conftest import environment, mpiexec_command, needs_mpi

pytestmark = [needs_mpi, pytest.mark.slow]

SCRIPT = [sys.executable, '-m', 'tests.parallel.training_script']


def _train(tmp_path, scenario, processes, *options, expect_success=True):
    out = tmp_path / f"{scenario}-{processes}"
    out.mkdir()
    command = SCRIPT + [str(out), scenario, *options]
    if processes:
        command = mpiexec_command(processes, command)
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                               timeout=180, env=environment(tmp_path))
    if expect_success:
        assert completed.returncode == 0, completed.stderr
    return out, completed


def _load(folder, name):
    with np.load(folder / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


def _relative_difference(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


@pytest.fixture(scope='module')
def equal_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('equal')
    return {processes: _train(tmp_path, 'equal', processes)[0] for processes in (0, 2, 3)}


@pytest.mark.parametrize('net', ['mlp', 'lstm', 'cnn', 'carried'])
@pytest.mark.parametrize('processes', [2, 3])
def test_parameters_and_logs_equal_one_process(equal_runs, net, processes):
    alone = _load(equal_runs[0], f"equal-{net}-rank0")
    log_names = [key for key in alone if '/' in key]
    assert {'validation/Accuracy', 'validation/total_loss', 'rolling_training/total_loss',
            'rolling_training/train_accuracy'} <= set(log_names)
    for rank in range(processes):
        parallel = _load(equal_runs[processes], f"equal-{net}-rank{rank}")
        assert _relative_difference(alone['parameters'], parallel['parameters']) < 1e-12
        for name in log_names:
            np.testing.assert_allclose(parallel[name], alone[name], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{net} rank {rank}: log {name}")


def test_ranks_hold_bit_identical_parameters(equal_runs):
    for net in ('mlp', 'lstm', 'cnn', 'carried'):
        first = _load(equal_runs[3], f"equal-{net}-rank0")['parameters']
        for rank in (1, 2):
            assert np.array_equal(first, _load(equal_runs[3], f"equal-{net}-rank{rank}")[
                'parameters'])


@pytest.fixture(scope='module')
def random_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('random')
    # one update on the whole data set: the BatchNorm running mean after it is exact
    options = ('--epochs', '1', '--batch-size', '23')
    return {processes: _train(tmp_path, 'random', processes, *options)[0]
            for processes in (0, 2)}


def test_dropout_draws_per_rank_and_ranks_stay_equal(random_runs):
    """Dropout masks come from each rank's own stream: equal in distribution only."""
    alone = _load(random_runs[0], 'random-dropout-rank0')
    rank0 = _load(random_runs[2], 'random-dropout-rank0')
    rank1 = _load(random_runs[2], 'random-dropout-rank1')
    assert np.array_equal(rank0['parameters'], rank1['parameters'])
    assert not np.array_equal(rank0['handler_draw'], rank1['handler_draw'])
    # rank 0 keeps the seeded stream; the masks of rank 1's half differ from one process's
    assert np.array_equal(rank0['handler_draw'], alone['handler_draw'])
    assert not np.allclose(rank0['parameters'], alone['parameters'], rtol=1e-9)


def test_batch_norm_statistics_per_rank_running_mean_averaged(random_runs):
    """Per-rank batch statistics; the running mean is the batch-weighted average."""
    alone = _load(random_runs[0], 'random-batch_norm-rank0')
    rank0 = _load(random_runs[2], 'random-batch_norm-rank0')
    rank1 = _load(random_runs[2], 'random-batch_norm-rank1')
    assert np.array_equal(rank0['parameters'], rank1['parameters'])
    np.testing.assert_allclose(rank0['mu'], alone['mu'], rtol=1e-12)
    assert np.any(alone['mu'] != 0)
    # the gradients of gamma and beta use each rank's own statistics: not one process's
    assert not np.allclose(rank0['parameters'], alone['parameters'], rtol=1e-9)


def test_a_raising_rank_ends_the_job_with_one_message(tmp_path):
    _, completed = _train(tmp_path, 'raise', 2, expect_success=False)
    assert completed.returncode == 1, completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith('error:')]
    assert errors == ['error: rank 1 of 2: RuntimeError: deliberate failure at update 3']



@pytest.mark.parametrize('scenario, interrupted, update_nr', [
    ('request_stop', True, 3), ('hook_stop', False, 3),
    ('signal_stop', True, 5)])  # the request travels in update 5's gradient Allreduce
def test_a_stop_on_one_rank_stops_every_rank_after_the_same_update(tmp_path, scenario,
                                                                   interrupted, update_nr):
    out, _ = _train(tmp_path, scenario, 3)
    results = [_load(out, f"{scenario}-mlp-rank{rank}") for rank in range(3)]
    assert [int(result['update_nr']) for result in results] == [update_nr] * 3
    assert [bool(result['interrupted']) for result in results] == [interrupted] * 3
    assert all(np.array_equal(results[0]['parameters'], result['parameters'])
               for result in results)
