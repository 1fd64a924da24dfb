"""One GPU per rank (the local rank on the node) and the host path of the reduction."""

import subprocess
import sys

import numpy as np
import pytest

from tests.cuda_emulator.marks import needs_emulator
from tests.parallel.conftest import environment, mpiexec_command, needs_mpi

pytestmark = [needs_mpi, pytest.mark.slow]

SCRIPT = [sys.executable, '-m', 'tests.parallel.device_script']


def _run(tmp_path, name, processes, *options, **extra_env):
    out = tmp_path / name
    out.mkdir()
    env = environment(tmp_path, **extra_env)
    if 'BRAINSTORM_CUDA_DEVICE' not in extra_env:
        env.pop('BRAINSTORM_CUDA_DEVICE', None)
    command = SCRIPT + [str(out), *options]
    if processes:
        command = mpiexec_command(processes, command)
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                               timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr
    return out


def _load(folder, rank):
    with np.load(folder / f"rank{rank}.npz") as data:
        return {key: data[key] for key in data.files}


def test_each_rank_takes_the_device_of_its_local_rank(tmp_path):
    out = _run(tmp_path, 'chosen', 3)
    for rank in range(3):
        result = _load(out, rank)
        assert int(result['local_rank']) == rank  # one node: local rank = rank
        assert int(result['device']) == rank


def test_brainstorm_cuda_device_wins(tmp_path):
    out = _run(tmp_path, 'preset', 2, BRAINSTORM_CUDA_DEVICE='1')
    assert [int(_load(out, rank)['device']) for rank in range(2)] == [1, 1]


@needs_emulator
def test_device_memory_is_reduced_through_the_host(tmp_path):
    reference = _load(_run(tmp_path, 'alone', 0), 0)['parameters']
    out = _run(tmp_path, 'emulated', 2, '--train')
    first = _load(out, 0)
    assert bool(first['host_path'])  # device memory: reduced through the host buffer
    assert not bool(first['device_path'])
    assert np.array_equal(first['parameters'], _load(out, 1)['parameters'])
    np.testing.assert_allclose(first['parameters'], reference, rtol=1e-4, atol=1e-5)
    assert not np.allclose(first['parameters'], _load(out, 0)['initial'])  # it trained


@needs_emulator
def test_a_cuda_aware_mpi_reduces_device_memory_itself(tmp_path):
    """Forced CUDA-aware, the emulated device arrays go to MPI's Allreduce and Bcast
    through ``__cuda_array_interface__`` (real MPI, emulated device memory)."""
    reference = _load(_run(tmp_path, 'alone', 0), 0)['parameters']
    out = _run(tmp_path, 'cuda-aware', 2, '--train', BRAINSTORM_MPI_CUDA_AWARE='1')
    first = _load(out, 0)
    assert bool(first['device_path']) and not bool(first['host_path'])
    assert np.array_equal(first['parameters'], _load(out, 1)['parameters'])
    np.testing.assert_allclose(first['parameters'], reference, rtol=1e-4, atol=1e-5)
    assert not np.allclose(first['parameters'], first['initial'])
