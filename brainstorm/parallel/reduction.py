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

The same message carries one more number: a flag, 1 on a process that was asked to
stop (a signal, :meth:`~brainstorm.training.trainer.Trainer.request_stop`), in a
spare element right after the gradients (``BufferManager.set_gradient_tail``), so
after the reduction every process knows whether any was asked, after the same
update, at no extra message.

Not on the hot path: the parameters are broadcast from rank 0 when training starts
(also after a resume); the scorers' ``(weight, value_sum)`` pairs are gathered when a
monitor or the epoch's training log aggregates them; two flags (stop requested,
a hook stopped) are agreed on after rounds of hooks in which a hook that can stop
was called (:meth:`DataParallel.agree`), so all processes stop after the same update.

Device memory (PyCudaHandler) is reduced in one of two ways:

* where the MPI library is CUDA-aware (:mod:`brainstorm.parallel.cuda_aware`), the
  device array itself goes to ``Allreduce`` (mpi4py reads its
  ``__cuda_array_interface__``): no copy;
* otherwise through one host buffer allocated once (``handler.allocate_host``:
  page-locked memory): ``copy_to_numpy`` into it, reduce, ``set_from_numpy`` back;
  nothing is allocated per update.
"""

from collections import OrderedDict

import numpy as np

from brainstorm.errors import ParallelSetupError
from brainstorm.parallel.cuda_aware import cuda_aware_mpi

#: parameters that change in the forward pass, by layer type: averaged over processes
RUNNING_STATISTICS = {'BatchNorm': ('mu', 'sigma')}


class DataParallel:
    """The collective operations of data-parallel training over one communicator.

    Args:
        comm (mpi4py.MPI.Comm): the processes that train together.
        shard (brainstorm.data_iterators.sharding.BatchShard): the training
            iterator's shard; its ``weight`` scales this process's gradients.
        stop_requested (Optional[callable]): returns True when this process was
            asked to stop (read before every gradient reduction); default never.
        cuda_aware (Optional[bool]): pass device memory to MPI directly; None asks
            :func:`~brainstorm.parallel.cuda_aware.cuda_aware_mpi`.

    Attributes:
        rank (int): this process's rank in ``comm``.
        size (int): number of processes.
        allreduce_seconds (float): time spent in the gradient Allreduce so far.
        allreduce_count (int): number of gradient Allreduces so far.
        stop_agreed (bool): a process was asked to stop before one of the
            reductions so far (the same on every process).
        cuda_aware (bool): device memory goes to MPI directly.
    """

    def __init__(self, comm, shard, stop_requested=None, cuda_aware=None):
        from mpi4py import MPI
        self._mpi = MPI
        self.comm = comm
        self.shard = shard
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.allreduce_seconds = 0.0
        self.allreduce_count = 0
        self.stop_agreed = False
        self._stop_requested = stop_requested or (lambda: False)
        self.cuda_aware = cuda_aware_mpi(MPI) if cuda_aware is None else bool(cuda_aware)
        self._host = self._host_head = None
        self._tail = None
        self._flag = None
        self._flags = np.zeros(2, dtype=np.int64)
        self._statistics = None

    def prepare(self, net):
        """Give ``net``'s gradients the spare element that carries the stop flag."""
        if net.buffer_manager.gradient_tail != 1:
            net.buffer_manager.set_gradient_tail(1)
            self._tail = self._statistics = None  # views of the memory just replaced

    # ---- the hot path ---------------------------------------------------------------------------
    def reduce_gradients(self, net):
        """Replace this process's gradients by the global batch's (one Allreduce).

        The Allreduce also sums the processes' stop flags: afterwards
        :attr:`stop_agreed` is True on every process if any was asked to stop.
        """
        handler = net.handler
        gradients = net.buffer.gradients
        handler.mult_st(self.shard.weight, gradients, gradients)
        statistics = self._running_statistics(net)
        for parameter, gradient in statistics:
            handler.mult_st(self.shard.weight, parameter, gradient)
        flag = 1.0 if self._stop_requested() else 0.0
        with_tail = net.buffer_manager.gradients_with_tail
        if with_tail is None:
            raise ParallelSetupError("DataParallel.reduce_gradients: the network has no "
                                     "gradient tail; call prepare(net) before training")
        started = self._mpi.Wtime()
        if isinstance(gradients, np.ndarray):
            with_tail[-1] = flag
            self.comm.Allreduce(self._mpi.IN_PLACE, with_tail, op=self._mpi.SUM)
            stop = with_tail[-1] > 0
        elif self.cuda_aware:  # device memory, reduced where it is
            handler.fill(self._device_tail(with_tail), flag)
            self._synchronize(handler)  # the kernels that wrote the gradients have ended
            self.comm.Allreduce(self._mpi.IN_PLACE, with_tail, op=self._mpi.SUM)
            flags = self._flag_buffer(handler)
            handler.copy_to_numpy(self._device_tail(with_tail), flags)
            stop = flags[0] > 0
        else:  # device memory, through the host buffer
            host = self._host_buffer(handler, with_tail.shape)
            handler.copy_to_numpy(gradients, self._host_head)
            host[-1] = flag
            self.comm.Allreduce(self._mpi.IN_PLACE, host, op=self._mpi.SUM)
            handler.set_from_numpy(gradients, self._host_head)
            stop = host[-1] > 0
        self.allreduce_seconds += self._mpi.Wtime() - started
        self.allreduce_count += 1
        self.stop_agreed = self.stop_agreed or bool(stop)
        for parameter, gradient in statistics:
            handler.copy_to(gradient, parameter)
            handler.fill(gradient, 0.0)

    def _host_buffer(self, handler, shape):
        """The one host buffer of the gradients and their tail (parameters use its head)."""
        if self._host is None or self._host.shape != tuple(shape):
            self._host = handler.allocate_host(tuple(shape))
            self._host_head = self._host[:-1]
        return self._host

    def _device_tail(self, with_tail):
        if self._tail is None:
            self._tail = with_tail[with_tail.shape[0] - 1:]
        return self._tail

    def _flag_buffer(self, handler):
        if self._flag is None:
            self._flag = handler.allocate_host((1,))
        return self._flag

    @staticmethod
    def _synchronize(handler):
        context = getattr(handler, 'context', None)
        if context is not None:
            context.synchronize()

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
        handler = net.handler
        parameters = net.buffer.parameters
        if isinstance(parameters, np.ndarray):
            self.comm.Bcast(parameters, root=0)
        elif self.cuda_aware:
            self._synchronize(handler)
            self.comm.Bcast(parameters, root=0)
        else:  # the head of the gradients' host buffer has the parameters' size
            self._host_buffer(handler, (parameters.shape[0] + 1,))
            host = self._host_head
            handler.copy_to_numpy(parameters, host)
            self.comm.Bcast(host, root=0)
            handler.set_from_numpy(parameters, host)

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
        """Return ``(any process asked to stop, a hook stopped on any process)``.

        One 2-integer Allreduce: called only after rounds of hooks in which a hook
        that can stop was called (every process calls it in the same rounds).
        """
        self._flags[0] = bool(stop_requested)
        self._flags[1] = bool(hook_stopped)
        self.comm.Allreduce(self._mpi.IN_PLACE, self._flags, op=self._mpi.MAX)
        return bool(self._flags[0]), bool(self._flags[1])


__all__ = ['DataParallel', 'RUNNING_STATISTICS']
