"""Trains small networks on one process or, under mpiexec, data parallel; saves results.

Run as ``python -m tests.parallel.training_script OUT_DIR SCENARIO [options]``
(alone, or under ``mpiexec -n K``). Every process writes
``OUT_DIR/<scenario>-<net>-rank<r>.npz`` with the final parameters and the logs, so
the tests can compare processes with each other and with one process.

Scenarios:
    equal     MLP (with Gaussian noise on the inputs), LSTM (masked sequences of
              varying length), CNN (random crops and flips) and an LSTM carrying its
              state over the windows of long streams, float64, each with a validation
              monitor and a train scorer.
    random    a Dropout net and a BatchNorm net (float64), few updates.
    raise     the MLP, where rank 1 raises in a hook at update 3.
    request_stop / hook_stop   the MLP, where only rank 1 asks to stop at update 3
              (Trainer.request_stop, as a signal handler does) or a hook stops it there
              (StopIteration): every rank must stop after that update.
    signal_stop   the MLP, where only rank 1 asks to stop at update 4 from a hook that
              cannot stop (no agreement after that round): the request travels in
              the next gradient Allreduce, and every rank stops after update 5.
"""

import argparse
import pathlib
import sys

import numpy as np

import brainstorm as bs
from brainstorm.data_iterators import (AddGaussianNoise, Flip, Minibatches, Pad,
                                       RandomCrop)
from brainstorm.handlers import NumpyHandler
from brainstorm.hooks import MonitorScores, StopAfterEpoch
from brainstorm.hooks.base import Hook
from brainstorm.scorers import Accuracy
from brainstorm.tools import create_net_from_spec

SEED = 7


def _classes(rnd, time_steps, nr_sequences, classes):
    return rnd.randint(0, classes, size=(time_steps, nr_sequences, 1)).astype(np.float64)


def mlp(rnd, nr_training):
    data = {'default': rnd.randn(1, nr_training, 5), 'targets': _classes(rnd, 1, nr_training, 3)}
    valid = {'default': rnd.randn(1, 11, 5), 'targets': _classes(rnd, 1, 11, 3)}
    net = create_net_from_spec('classification', 5, 3, 'F7 F6')

    def training(batch_size):
        return AddGaussianNoise(Minibatches(batch_size, **data), {'default': 0.1})
    return net, training, Minibatches(4, shuffle=False, **valid)


def lstm(rnd, nr_training):
    def sequences(count):
        lengths = rnd.randint(2, 6, size=count)
        mask = (np.arange(6)[:, None] < lengths[None, :]).astype(np.float64)[:, :, None]
        return {'default': rnd.randn(6, count, 3) * mask, 'targets': _classes(rnd, 6, count, 2),
                'mask': mask}
    data, valid = sequences(nr_training), sequences(9)
    net = create_net_from_spec('classification', 3, 2, 'L5', mask_name='mask')

    def training(batch_size):
        return Minibatches(batch_size, **data)
    return net, training, Minibatches(5, shuffle=False, **valid)


def cnn(rnd, nr_training):
    data = {'default': rnd.randn(1, nr_training, 6, 6, 2), 'targets': _classes(rnd, 1, nr_training, 3)}
    valid = {'default': rnd.randn(1, 7, 6, 6, 2), 'targets': _classes(rnd, 1, 7, 3)}
    net = create_net_from_spec('classification', (6, 6, 2), 3, 'C3:3p1 P2s2 F5')

    def training(batch_size):
        return Flip(RandomCrop(Pad(Minibatches(batch_size, **data), {'default': 1}),
                               {'default': (6, 6)}))
    return net, training, Minibatches(7, shuffle=False, **valid)


def carried(rnd, nr_training):
    """An LSTM over 5 long streams in windows of 4 steps, its state carried over."""
    from brainstorm.data_iterators.windows import SequenceWindows
    streams = {'default': rnd.randn(16, 5, 3), 'targets': _classes(rnd, 16, 5, 2)}
    valid = {'default': rnd.randn(6, 7, 3), 'targets': _classes(rnd, 6, 7, 2)}
    net = create_net_from_spec('classification', 3, 2, 'L5')

    def training(batch_size):
        return SequenceWindows(4, **streams)
    return net, training, Minibatches(7, shuffle=False, **valid)


def dropout(rnd, nr_training):
    net, training, valid = mlp(rnd, nr_training)
    net = create_net_from_spec('classification', 5, 3, 'F7 D.5 F6')
    return net, training, valid


def batch_norm(rnd, nr_training):
    net, training, valid = mlp(rnd, nr_training)
    net = create_net_from_spec('classification', 5, 3, 'F7 B F6')
    return net, training, valid


NETS = {'mlp': mlp, 'lstm': lstm, 'cnn': cnn, 'carried': carried, 'dropout': dropout, 'batch_norm': batch_norm}
SCENARIOS = {'equal': ('mlp', 'lstm', 'cnn', 'carried'), 'random': ('dropout', 'batch_norm'),
             'raise': ('mlp',), 'request_stop': ('mlp',), 'hook_stop': ('mlp',),
             'signal_stop': ('mlp',)}


class RaiseOnRank(Hook):
    """Raises on one rank at one update (to test that the job ends, not hangs)."""

    def __init__(self, rank, update_nr):
        super().__init__(name='raiser', timescale='update', interval=1)
        self.rank, self.update_nr = rank, update_nr

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        from mpi4py import MPI
        if MPI.COMM_WORLD.Get_rank() == self.rank and update_nr == self.update_nr:
            raise RuntimeError(f"deliberate failure at update {update_nr}")


class StopOnRank(Hook):
    """On one rank only, at one update: request a stop, or stop as a stopper does."""

    def __init__(self, rank, update_nr, trainer, by_request):
        super().__init__(name='stopper_on_one_rank', timescale='update', interval=1)
        self.rank, self.update_nr = rank, update_nr
        self.trainer, self.by_request = trainer, by_request

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        from mpi4py import MPI
        if MPI.COMM_WORLD.Get_rank() != self.rank or update_nr != self.update_nr:
            return
        if self.by_request:
            self.trainer.request_stop('asked on rank 1')
        else:
            raise StopIteration('stopped on rank 1')


class RequestOnRank(StopOnRank):
    """Asks for a stop on one rank, as a signal handler would, from a hook that cannot stop."""

    can_stop = False


def train(kind, comm, epochs, batch_size, nr_training, scenario):
    bs.global_rnd.set_seed(SEED)
    rnd = np.random.RandomState(SEED)
    net, training, valid = NETS[kind](rnd, nr_training)
    net.set_handler(NumpyHandler(np.float64, seed=SEED))
    net.initialize(bs.initializers.Gaussian(0.3), seed=SEED)
    stepper = bs.training.MomentumStepper(learning_rate=0.05, momentum=0.5)
    carry_state = kind == 'carried'
    if comm is None:
        trainer = bs.Trainer(stepper, verbose=False, carry_state=carry_state)
    else:
        from brainstorm.parallel import DataParallelTrainer
        trainer = DataParallelTrainer(stepper, verbose=False, carry_state=carry_state,
                                      comm=comm)
    trainer.train_scorers = [Accuracy(name='train_accuracy')]
    trainer.add_hook(MonitorScores('valid', [Accuracy()], name='validation'))
    trainer.add_hook(StopAfterEpoch(epochs))
    if scenario == 'raise':
        trainer.add_hook(RaiseOnRank(1, 3))
    if scenario in ('request_stop', 'hook_stop'):
        trainer.add_hook(StopOnRank(1, 3, trainer, scenario == 'request_stop'))
    if scenario == 'signal_stop':
        trainer.add_hook(RequestOnRank(1, 4, trainer, by_request=True))
    trainer.train(net, training(batch_size), valid=valid)
    return net, trainer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out', type=pathlib.Path)
    parser.add_argument('scenario', choices=sorted(SCENARIOS))
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=10)
    parser.add_argument('--samples', type=int, default=23)
    arguments = parser.parse_args()
    from brainstorm.parallel import abort_on_error, world_communicator
    comm = world_communicator()
    rank = 0 if comm is None else comm.Get_rank()
    for kind in SCENARIOS[arguments.scenario]:
        if comm is None:
            net, trainer = train(kind, None, arguments.epochs, arguments.batch_size,
                                 arguments.samples, arguments.scenario)
        else:
            with abort_on_error(comm):
                net, trainer = train(kind, comm, arguments.epochs, arguments.batch_size,
                                     arguments.samples, arguments.scenario)
        logs = {f"{name}/{entry}": np.asarray(values, dtype=np.float64)
                for name, entries in trainer.logs.items() if isinstance(entries, dict)
                for entry, values in entries.items()}
        extra = {}
        if kind == 'batch_norm':
            extra['mu'] = net.get('BatchNorm.parameters.mu')
        np.savez(arguments.out / f"{arguments.scenario}-{kind}-rank{rank}.npz",
                 update_nr=trainer.current_update_nr, interrupted=trainer.interrupted,
                 parameters=net.get('parameters'), handler_draw=net.handler.rnd.random_sample(4),
                 **logs, **extra)
    return 0


if __name__ == '__main__':
    sys.exit(main())
