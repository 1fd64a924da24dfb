"""DataParallel: what crosses processes while a network trains on several of them.

Per update (the hot path) exactly one message holds data: the in-place ``Allreduce``
(sum) of the network's gradient buffer, which :meth:`DataParallel.reduce_gradients`
runs at the end of ``backward_pass``, before the gradient modifiers and the stepper.
Each process first scales its gradients by its share of the global batch
(``B_rank / B``): the Loss layer divides by the batch size it sees, so
``sum_rank (B_rank / B) * dL_rank = d(sum of all samples' losses / B)``, the gradient
of one process on the whole batch, even when ``B`` does not divide by the number of
processes.

BatchNorm's running averages (``mu``, ``sigma``) change in the forward pass and have
no gradient; their gradient slots carry ``(B_rank / B) * value`` through the same
Allreduce, so every process holds the same (batch-weighted) average afterwards.

Not on the hot path: the parameters are broadcast from rank 0 when training starts
(also after a resume); the scorers' ``(weight, value_sum)`` pairs are gathered when a
monitor or the epoch's training log aggregates them; two flags (stop requested,
a hook stopped) are agreed on after every round of hooks, so all processes stop
after the same update.

Device memory (PyCudaHandler) is reduced through a host buffer allocated once:
copied to the host (``get_numpy_copy`` makes one temporary host array per update;
the handler contract has no copy into an existing host array), reduced, copied back
(the host path; a CUDA-aware MPI could reduce device memory directly, which is not
used here).
"""

from collections import OrderedDict

import numpy as np

#: parameters that change in the forward pass, by layer type: averaged over processes
RUNNING_STATISTICS = {'BatchNorm': ('mu', 'sigma')}


class DataParallel:
    """The collective operations of data-parallel training over one communicator.

    Args:
        comm (mpi4py.MPI.Comm): the processes that train together.
        shard (brainstorm.data_iterators.sharding.BatchShard): the training
            iterator's shard; its ``weight`` scales this process's gradients.

    Attributes:
        rank (int): this process's rank in ``comm``.
        size (int): number of processes.
        allreduce_seconds (float): time spent in the gradient Allreduce so far.
        allreduce_count (int): number of gradient Allreduces so far.
    """

    def __init__(self, comm, shard):
        from mpi4py import MPI
        self._mpi = MPI
        self.comm = comm
        self.shard = shard
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.allreduce_seconds = 0.0
        self.allreduce_count = 0
        self._host = None
        self._flags = np.zeros(2, dtype=np.int64)
        self._statistics = None

    # ---- the hot path ---------------------------------------------------------------------------
    def reduce_gradients(self, net):
        """Replace this process's gradients by the global batch's (one Allreduce)."""
        handler = net.handler
        gradients = net.buffer.gradients
        handler.mult_st(self.shard.weight, gradients, gradients)
        statistics = self._running_statistics(net)
        for parameter, gradient in statistics:
            handler.mult_st(self.shard.weight, parameter, gradient)
        started = self._mpi.Wtime()
        if isinstance(gradients, np.ndarray):
            self.comm.Allreduce(self._mpi.IN_PLACE, gradients, op=self._mpi.SUM)
        else:  # device memory: through the host buffer
            host = self._host_buffer(gradients.shape, handler.dtype)
            host[...] = handler.get_numpy_copy(gradients)
            self.comm.Allreduce(self._mpi.IN_PLACE, host, op=self._mpi.SUM)
            handler.set_from_numpy(gradients, host)
        self.allreduce_seconds += self._mpi.Wtime() - started
        self.allreduce_count += 1
        for parameter, gradient in statistics:
            handler.copy_to(gradient, parameter)
            handler.fill(gradient, 0.0)

    def _host_buffer(self, shape, dtype):
        if self._host is None or self._host.shape != tuple(shape):
            self._host = np.empty(tuple(shape), dtype=dtype)
        return self._host

    def _running_statistics(self, net):
        """(parameter view, gradient view) of every running average in ``net``."""
        if self._statistics is None:
            self._statistics = [
                (net.buffer[name].parameters[key], net.buffer[name].gradients[key])
                for name, layer in net.layers.items()
                for key in RUNNING_STATISTICS.get(layer.layer_type, ())]
        return self._statistics

    # ---- start, scores, decisions ------------------------------------------------------------
    def broadcast_parameters(self, net):
        """Give every process rank 0's parameters."""
        parameters = net.buffer.parameters
        if isinstance(parameters, np.ndarray):
            self.comm.Bcast(parameters, root=0)
        else:
            host = np.ascontiguousarray(net.handler.get_numpy_copy(parameters))
            self.comm.Bcast(host, root=0)
            net.handler.set_from_numpy(parameters, host)

    def gather_scores(self, scores):
        """All processes' ``(weight, value_sum)`` pairs per name, in rank order.

        Args:
            scores (dict[str, list[tuple[float, float]]]): this process's pairs.

        Returns:
            OrderedDict[str, list]: every process's pairs, concatenated by rank
            (the same on every process).
        """
        everyone = self.comm.allgather({name: list(pairs) for name, pairs in scores.items()})
        combined = OrderedDict((name, []) for name in scores)
        for part in everyone:
            for name, pairs in part.items():
                combined.setdefault(name, []).extend(pairs)
        return combined

    def agree(self, stop_requested, hook_stopped):
        """Return ``(any process asked to stop, a hook stopped on any process)``."""
        self._flags[0] = bool(stop_requested)
        self._flags[1] = bool(hook_stopped)
        self.comm.Allreduce(self._mpi.IN_PLACE, self._flags, op=self._mpi.MAX)
        return bool(self._flags[0]), bool(self._flags[1])


__all__ = ['DataParallel', 'RUNNING_STATISTICS']
