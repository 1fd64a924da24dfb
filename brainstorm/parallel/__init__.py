"""Data-parallel training over MPI processes (mpi4py), in the design of Horovod.

Every process holds the whole network and reads its part of every global batch;
after each backward pass one in-place ``Allreduce`` of the contiguous gradient
buffer gives every process the gradient of the whole batch, so all processes make
the same update and the result equals one process's to float tolerance.
See ``docs/mpi.md``.

Entry points (importing this package never imports mpi4py; they do):

* :class:`DataParallelTrainer` (``brainstorm.parallel.trainer``): a ``Trainer`` over
  a communicator (default ``mpi4py.MPI.COMM_WORLD``); :func:`data_parallel` turns a
  set-up ``Trainer`` into one;
* :func:`world_communicator` (``launch``): the world when an MPI launcher started
  several processes, None otherwise, a clear error when mpi4py is missing or the
  processes do not form one world;
* :func:`select_cuda_device` (``devices``): the local rank picks the GPU;
* :func:`abort_on_error` (``faults``): one failing process ends the job.

Example (``mpiexec -n 4 python train.py``)::

    from brainstorm.parallel import DataParallelTrainer
    trainer = DataParallelTrainer(bs.training.MomentumStepper(0.01, 0.9))
    ...
    trainer.train(net, getter_tr, valid_getter=getter_va)
"""

_LAZY = {'DataParallelTrainer': 'trainer', 'data_parallel': 'trainer',
         'DataParallel': 'reduction', 'world_communicator': 'launch',
         'launcher_world_size': 'launch', 'select_cuda_device': 'devices',
         'local_rank': 'devices', 'abort_on_error': 'faults'}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'brainstorm.parallel' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"brainstorm.parallel.{_LAZY[name]}"), name)


__all__ = sorted(_LAZY)
