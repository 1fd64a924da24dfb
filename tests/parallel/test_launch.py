"""Finding the MPI world from the launcher's environment, and never touching MPI without one."""

import subprocess
import sys

import pytest

from brainstorm.errors import ParallelSetupError
from brainstorm.parallel.launch import launcher_world_size, world_communicator
from tests.parallel.conftest import EXPERIMENT, environment


@pytest.mark.parametrize('environ, size', [
    ({}, 1),
    ({'PMI_RANK': '1', 'PMI_SIZE': '4'}, 4),                         # MPICH, Intel MPI
    ({'OMPI_COMM_WORLD_RANK': '0', 'OMPI_COMM_WORLD_SIZE': '2'}, 2),  # Open MPI
    ({'PMIX_RANK': '0'}, 0),                                          # PMIx: ask MPI
    ({'PMI_SIZE': '1', 'PMI_RANK': '0'}, 1),                          # mpiexec -n 1
])
def test_launcher_world_size(environ, size):
    assert launcher_world_size(environ) == size


def test_no_launcher_no_world():
    assert world_communicator({}) is None


def test_launched_without_mpi4py_is_an_error(monkeypatch):
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *args: None
                        if name == 'mpi4py' else real_find_spec(name, *args))
    with pytest.raises(ParallelSetupError, match=r"started by an MPI launcher \(3 processes\) "
                                                 r"but mpi4py is not installed"):
        world_communicator({'PMI_SIZE': '3'})


def test_training_without_a_launcher_never_imports_mpi4py(tmp_path):
    code = ("import sys\n"
            "from bstorm_cli.main import main\n"
            "try:\n"
            f"    main(['train', {str(EXPERIMENT)!r}, '--out', 'runs',\n"
            "          '--set', 'trainer.hooks.2.max_epochs=1'])\n"
            "except SystemExit as stop:\n"
            "    assert stop.code == 0, stop.code\n"
            "print('mpi4py' in sys.modules)\n")
    env = environment(tmp_path)
    for name in ('PMI_SIZE', 'PMI_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK',
                 'PMIX_RANK'):
        env.pop(name, None)
    completed = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True,
                               text=True, timeout=120, env=env)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == 'False'
