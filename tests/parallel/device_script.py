"""Under ``mpiexec``: which CUDA device each rank picks, and a training on the
emulated PyCudaHandler whose gradients are reduced through host memory.

``python -m tests.parallel.device_script OUT_DIR [--train]``: every rank writes
``OUT_DIR/rank<r>.npz`` with ``device`` (what ``select_cuda_device`` chose),
``local_rank`` and, with ``--train``, the final parameters of a few updates of a
small MLP in float32 (alone: on NumpyHandler, the reference) and which path the
reduction took (``host_path``; ``device_path``: the device arrays went to MPI, as on a
CUDA-aware MPI; ``BRAINSTORM_MPI_CUDA_AWARE=1`` forces it, and works on the emulator,
whose device memory is host memory).
"""

import argparse
import os
import pathlib
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out', type=pathlib.Path)
    parser.add_argument('--train', action='store_true')
    arguments = parser.parse_args()
    from brainstorm.parallel import abort_on_error, local_rank, select_cuda_device
    from brainstorm.parallel import world_communicator
    comm = world_communicator()
    if comm is None:
        np.savez(arguments.out / 'rank0.npz', **_train(None))
        return 0
    with abort_on_error(comm):
        device = select_cuda_device(comm)
        rank_on_node, _ = local_rank(comm)
        results = {'device': device, 'local_rank': rank_on_node}
        if arguments.train:
            os.environ['BRAINSTORM_CUDA_DEVICE'] = '0'  # the emulator has one device
            from tests.cuda_emulator import every_pycuda_handler_emulated
            with every_pycuda_handler_emulated():
                results.update(_train(comm))
        np.savez(arguments.out / f"rank{comm.Get_rank()}.npz", **results)
    return 0


def _train(comm):
    import brainstorm as bs
    from brainstorm.data_iterators import Minibatches
    from brainstorm.handlers import NumpyHandler
    from brainstorm.hooks import StopAfterEpoch
    from brainstorm.tools import create_net_from_spec
    bs.global_rnd.set_seed(3)
    rnd = np.random.RandomState(3)
    data = {'default': rnd.randn(1, 15, 4).astype(np.float32),
            'targets': rnd.randint(0, 3, size=(1, 15, 1)).astype(np.float32)}
    net = create_net_from_spec('classification', 4, 3, 'F6')
    if comm is None:
        net.set_handler(NumpyHandler(np.float32))
    else:
        from brainstorm.handlers import PyCudaHandler
        net.set_handler(PyCudaHandler(np.float32))
    net.initialize(bs.initializers.Gaussian(0.3), seed=3)
    initial = net.get('parameters')
    stepper = bs.training.SgdStepper(learning_rate=0.1)
    if comm is None:
        trainer = bs.Trainer(stepper, verbose=False)
    else:
        from brainstorm.parallel import DataParallelTrainer
        trainer = DataParallelTrainer(stepper, verbose=False, comm=comm)
    trainer.add_hook(StopAfterEpoch(2))
    trainer.train(net, Minibatches(5, **data))
    host_path = comm is not None and trainer.parallel._host is not None
    device_path = comm is not None and trainer.parallel.cuda_aware
    return {'parameters': net.get('parameters'), 'initial': initial, 'host_path': host_path,
            'device_path': device_path}


if __name__ == '__main__':
    sys.exit(main())
