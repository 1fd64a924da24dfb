"""Finding the MPI world this process was started in, without importing MPI needlessly.

MPI launchers tell each process its rank and the number of processes through the
environment: MPICH's and Intel MPI's Hydra set ``PMI_RANK``/``PMI_SIZE``, Open MPI
sets ``OMPI_COMM_WORLD_RANK``/``OMPI_COMM_WORLD_SIZE`` and PMIx launchers (Slurm's
``srun --mpi=pmix``) set ``PMIX_RANK``.
:func:`launcher_world_size` reads those variables only, so ``bstorm`` run without a
launcher (or with one process) never imports mpi4py.

Two mistakes would otherwise give K independent trainings writing one run directory:
mpi4py missing (each process would run alone) and an mpi4py built against another
MPI than the launcher's (each process sees a world of size 1).
:func:`world_communicator` turns both into a :class:`ParallelSetupError`.
"""

import importlib.util
import os

from brainstorm.errors import ParallelSetupError

#: environment variables that carry the number of processes, by launcher
SIZE_VARIABLES = ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE')
#: environment variables that carry the rank (PMIx sets no size variable of its own)
RANK_VARIABLES = ('PMI_RANK', 'OMPI_COMM_WORLD_RANK', 'PMIX_RANK')

INSTALL_HINT = ("install the MPI extra, pip install '.[mpi]' (on a cluster: "
                "pip install mpi4py built against the cluster's MPI, see docs/mpi.md)")


def launcher_world_size(environ=None):
    """The number of processes an MPI launcher says it started (1 without a launcher).

    Args:
        environ (Optional[Mapping[str, str]]): the environment (default ``os.environ``).

    Returns:
        int: the size the launcher set, 1 if none is set; 0 if only a rank is set
        (a PMIx launcher: the size must be asked from MPI itself).
    """
    environ = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        value = environ.get(name, '')
        if value.strip().isdigit():
            return int(value)
    if any(name in environ for name in RANK_VARIABLES):
        return 0
    return 1


def world_communicator(environ=None):
    """Return ``mpi4py.MPI.COMM_WORLD`` if this process is one of several, else None.

    Args:
        environ (Optional[Mapping[str, str]]): the environment (default ``os.environ``).

    Returns:
        Optional[mpi4py.MPI.Comm]: the world communicator when a launcher started
        more than one process (or a PMIx launcher started any), None otherwise.

    Raises:
        ParallelSetupError: started by a launcher but mpi4py is not installed, or the
            processes do not form one MPI world.
    """
    expected = launcher_world_size(environ)
    if expected == 1:
        return None
    if importlib.util.find_spec('mpi4py') is None:
        raise ParallelSetupError(
            f"this process was started by an MPI launcher ({expected or 'several'} "
            f"processes) but mpi4py is not installed, so each process would train alone; "
            f"{INSTALL_HINT}")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    if expected and comm.Get_size() != expected:
        raise ParallelSetupError(
            f"the MPI launcher started {expected} processes, but mpi4py sees a world of "
            f"{comm.Get_size()}: mpi4py was built against another MPI than the launcher's "
            f"(use the mpiexec of the MPI that mpi4py uses; mpi4py.get_config() names it)")
    if comm.Get_size() == 1:
        return None
    return comm


__all__ = ['launcher_world_size', 'world_communicator', 'INSTALL_HINT']
