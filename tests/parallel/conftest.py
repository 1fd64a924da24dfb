"""Running processes under ``mpiexec`` in the MPI tests; they skip without the extra."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPERIMENT = pathlib.Path(__file__).resolve().parent / 'experiments' / 'digits.yaml'

MPIEXEC = shutil.which('mpiexec')
MPI_MISSING = ("needs mpi4py and mpiexec: pip install '.[mpi]'"
               if importlib.util.find_spec('mpi4py') is None or MPIEXEC is None else None)
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=str(MPI_MISSING))


def environment(tmp_path, **extra):
    """The test environment for a subprocess: this checkout first, a private TMPDIR."""
    env = dict(os.environ)
    env.pop('COLUMNS', None)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
    scratch = tmp_path / 'tmp'
    scratch.mkdir(exist_ok=True)
    env['TMPDIR'] = str(scratch)
    env.update(extra)
    return env


def bstorm_command(*arguments):
    return [sys.executable, '-m', 'bstorm_cli', *map(str, arguments)]


def mpiexec_command(processes, command):
    return [MPIEXEC, '-n', str(processes), *command]


def run(command, tmp_path, timeout=240, **extra_env):
    """Run ``command`` in ``tmp_path``; a CompletedProcess with text output."""
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout, env=environment(tmp_path, **extra_env))
