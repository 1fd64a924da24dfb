"""One GPU per process: the local rank on a node picks the CUDA device.

Processes on the same node share memory; ``comm.Split_type(COMM_TYPE_SHARED)``
groups them, and a process's rank in that group (its *local rank*) is the device
it takes, so ``mpiexec -n 8`` on two nodes of four GPUs uses every GPU once.
``BRAINSTORM_CUDA_DEVICE``, when set, wins (a scheduler may have chosen already).
"""

import os

DEVICE_VARIABLE = 'BRAINSTORM_CUDA_DEVICE'


def local_rank(comm):
    """This process's rank among the processes of ``comm`` on its node.

    Args:
        comm (mpi4py.MPI.Comm): the communicator.

    Returns:
        tuple[int, int]: ``(local rank, processes on this node)``.
    """
    from mpi4py import MPI
    node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    try:
        return node.Get_rank(), node.Get_size()
    finally:
        node.Free()


def select_cuda_device(comm, environ=None):
    """Set ``BRAINSTORM_CUDA_DEVICE`` to the local rank unless it is set; return the device.

    Call it before the first ``PyCudaHandler`` is created (the device is chosen
    when the CUDA runtime starts). A collective call: every process of ``comm``
    must make it.

    Args:
        comm (mpi4py.MPI.Comm): the processes that train together.
        environ (Optional[MutableMapping[str, str]]): default ``os.environ``.

    Returns:
        int: the device index this process will use.
    """
    environ = os.environ if environ is None else environ
    rank_on_node, _ = local_rank(comm)
    if environ.get(DEVICE_VARIABLE, '').strip():
        return int(environ[DEVICE_VARIABLE])
    environ[DEVICE_VARIABLE] = str(rank_on_node)
    return rank_on_node


__all__ = ['local_rank', 'select_cuda_device', 'DEVICE_VARIABLE']
