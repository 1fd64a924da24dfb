"""DataParallelTrainer: a Trainer whose every update uses the batches of all processes.

Every process runs the same script (or ``bstorm train``) under ``mpiexec``, builds
the same network, iterators and hooks with the same seed, and trains with a
``DataParallelTrainer``. What differs between the processes:

* the data: every iterator given to ``train()`` gets a
  :class:`~brainstorm.data_iterators.sharding.BatchShard`, so each process reads
  its part of every global batch (the experiment's batch size stays the global one);
* the gradients before their reduction (:class:`~brainstorm.parallel.reduction.DataParallel`);
* the random numbers of layers that draw them (Dropout): each process's handler
  random state is derived from rank 0's and the rank, so the masks are independent
  and training is equal *in distribution* to one process's, not equal;
* file writing: hooks with ``writes_files`` (the savers) run on rank 0 only, and
  only rank 0 reports (``reporter``); the CLI writes its run directory from rank 0.

Everything else is the same on all processes: parameters (broadcast from rank 0
at the start, then updated with the same reduced gradients), logs (scorer pairs
are gathered before they are aggregated), and every decision to stop, so no
process waits alone in a collective:

* a stop request (a signal, :meth:`request_stop`) on any process travels in the
  gradient Allreduce of the next update (one spare element after the gradients),
  so all processes stop after that update, without a message of its own;
* a hook that stops training (``StopIteration``) may decide on values of its own
  process (``StopOnSigQuit``, a user's hook), so after each round of hooks in
  which a hook that can stop (``Hook.can_stop``) was called, the processes agree
  (a 2-integer Allreduce, which also carries the stop requests). Which rounds
  those are depends only on the hooks' schedules, the same everywhere; rounds of
  hooks that cannot stop (monitors, savers, progress) agree on nothing.
"""

from collections import OrderedDict

from brainstorm.data_iterators.sharding import BatchShard
from brainstorm.errors import TrainingError
from brainstorm.parallel.reduction import DataParallel
from brainstorm.training.trainer import TRAINING_ITERATOR, Trainer

_STOPPED_ELSEWHERE = 'another process asked to stop'


class DataParallelTrainer(Trainer):
    """A :class:`~brainstorm.training.trainer.Trainer` over the processes of ``comm``.

    Args:
        stepper (brainstorm.training.steppers.TrainingStepper): makes the updates.
        verbose (bool): as for ``Trainer`` (only rank 0 reports).
        carry_state (bool): as for ``Trainer``: each process carries the state of
            its own columns (its part of every batch).
        comm (Optional[mpi4py.MPI.Comm]): the processes that train together;
            default ``mpi4py.MPI.COMM_WORLD``.

    Attributes:
        comm (mpi4py.MPI.Comm): as above.
        rank (int): this process's rank (0 writes and reports).
        size (int): number of processes.
        parallel (Optional[DataParallel]): the collectives of the current
            ``train()`` call (its ``allreduce_seconds`` measure the reduction).

    Example:
        Run with ``mpiexec -n 4 python train.py``::

            trainer = DataParallelTrainer(MomentumStepper(0.01, 0.9))
            trainer.add_hook(MonitorScores('valid_getter', [Accuracy()], name='validation'))
            trainer.add_hook(StopAfterEpoch(10))
            trainer.train(net, getter_tr, valid_getter=getter_va)
    """

    __undescribed__ = {'comm': None, 'rank': 0, 'size': 1, 'parallel': None,
                       '_agreed_stop': None}

    def __init__(self, stepper, verbose=True, carry_state=False, comm=None):
        super().__init__(stepper, verbose, carry_state)
        if comm is None:
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.parallel = None
        self._agreed_stop = None
        if self.rank != 0:
            self.reporter = None

    def train(self, net, training_data_iter, **named_data_iters):
        """Train ``net`` on all processes; see :meth:`Trainer.train`.

        Every process must call it with iterators built alike (same data, same
        seed): each reads its part of every batch.
        """
        iterators = dict(named_data_iters, **{TRAINING_ITERATOR: training_data_iter})
        shards = {name: BatchShard(self.rank, self.size) for name in iterators}
        for name, iterator in iterators.items():
            iterator.set_shard(shards[name])
        self.parallel = DataParallel(self.comm, shards[TRAINING_ITERATOR],
                                     stop_requested=lambda: self._stop_requested is not None)
        self._agreed_stop = None
        self.parallel.prepare(net)
        self.parallel.broadcast_parameters(net)
        self._decorrelate_random_state(net)
        net.data_parallel = self.parallel
        try:
            super().train(net, training_data_iter, **named_data_iters)
        finally:
            net.data_parallel = None
            for iterator in iterators.values():
                iterator.set_shard(None)

    def _decorrelate_random_state(self, net):
        """Give each process its own stream for the layers' random numbers (Dropout)."""
        rnd = getattr(net.handler, 'rnd', None)
        if rnd is None or self.rank == 0:
            return
        seed = int(rnd.randint(0, 2 ** 31 - 1))
        rnd.seed((seed + 1000003 * self.rank) % (2 ** 32))

    def _restore_pending_state(self, net, iterators):
        super()._restore_pending_state(net, iterators)
        self._decorrelate_random_state(net)

    # ---- decisions taken together -------------------------------------------------------------
    def _skips(self, hook):
        return self.rank != 0 and getattr(hook, 'writes_files', False)

    def _call_hooks(self, net, timescale):
        hook_stopped = super()._call_hooks(net, timescale)
        if not self._a_stopping_hook_was_due(timescale):
            if hook_stopped:  # it said it cannot stop: the others are not listening
                raise TrainingError(f"a hook declared can_stop = False but stopped the "
                                    f"training ({self.stop_reason}); under data-parallel "
                                    f"training it must declare can_stop = True")
            return False
        stop_requested, any_hook_stopped = self.parallel.agree(
            self._stop_requested is not None, hook_stopped)
        if stop_requested:
            self._agree_on_stop()
        if any_hook_stopped and not hook_stopped:
            self.stop_reason = 'a hook stopped the training on another process'
        return any_hook_stopped

    def _a_stopping_hook_was_due(self, timescale):
        """Whether a hook that can stop was called in this round (the same on every process)."""
        count = self.current_epoch_nr if timescale == 'epoch' else self.current_update_nr
        return any(getattr(hook, 'can_stop', True) and self._is_due(hook, timescale, count)
                   for hook in self.hooks.values())

    def _agree_on_stop(self):
        if self._agreed_stop is None:
            self._agreed_stop = self._stop_requested or _STOPPED_ELSEWHERE

    def _stop_if_requested(self):
        # only an agreed request counts: a signal that reached one process after the
        # last reduction (or agreement) waits for the next one
        if self.parallel is not None and self.parallel.stop_agreed:
            self._agree_on_stop()
        if self._agreed_stop is None:
            return False
        self._stop_requested = self._agreed_stop
        return super()._stop_if_requested()

    # ---- resuming -------------------------------------------------------------------------------
    def get_state(self):
        """As :meth:`Trainer.get_state`, with the epoch's training pairs of all processes.

        A collective call: every process must call it (the CLI's checkpoints do).
        """
        state = super().get_state()
        if self.parallel is not None:
            import numpy as np
            gathered = self.parallel.gather_scores(self._rolling_scores)
            state['rolling_scores'] = {
                name: np.array(pairs, dtype=np.float64).reshape(-1, 2)
                for name, pairs in gathered.items()}
        return state

    def set_state(self, state):
        """As :meth:`Trainer.set_state`; works for a state saved under any number of processes.

        The saved training pairs of the current epoch stay with rank 0 only, so they
        are counted once when the epoch's log is gathered.
        """
        super().set_state(state)
        if self.rank != 0:
            self._rolling_scores = OrderedDict()


def data_parallel(trainer, comm=None):
    """Return a :class:`DataParallelTrainer` with ``trainer``'s stepper, hooks and scorers.

    Args:
        trainer (brainstorm.training.trainer.Trainer): a trainer set up as for one
            process (hooks added, ``train_scorers`` set).
        comm (Optional[mpi4py.MPI.Comm]): default ``mpi4py.MPI.COMM_WORLD``.

    Returns:
        DataParallelTrainer: trains the same way over the processes of ``comm``.
    """
    parallel = DataParallelTrainer(trainer.stepper, trainer.verbose,
                                   getattr(trainer, 'carry_state', False), comm)
    for hook in trainer.hooks.values():
        parallel.add_hook(hook)
    parallel.train_scorers = list(trainer.train_scorers)
    if parallel.rank == 0:
        parallel.reporter = trainer.reporter
    return parallel


__all__ = ['DataParallelTrainer', 'data_parallel']
