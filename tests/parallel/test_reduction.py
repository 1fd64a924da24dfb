"""DataParallel and DataParallelTrainer against a fake communicator (no mpiexec).

The fake plays K processes that hold the same numbers as this one: a SUM Allreduce
multiplies by K; it can add another process's stop flag. It records every
collective call, so the tests count what crosses processes per update, see which
object reaches Allreduce (a host array, or the device array itself on a CUDA-aware
MPI) and check that the host path allocates its host buffer once.
"""

import ctypes
import tracemalloc
import types

import numpy as np
import pytest

pytest.importorskip('mpi4py', reason="needs mpi4py: pip install '.[mpi]'")

import brainstorm as bs  # noqa: E402
from brainstorm.data_iterators import Minibatches  # noqa: E402
from brainstorm.errors import ParallelSetupError, TrainingError  # noqa: E402
from brainstorm.handlers import NumpyHandler  # noqa: E402
from brainstorm.hooks import MonitorScores, StopAfterEpoch  # noqa: E402
from brainstorm.hooks.base import Hook  # noqa: E402
from brainstorm.parallel.cuda_aware import cuda_aware_mpi  # noqa: E402
from brainstorm.parallel.reduction import DataParallel  # noqa: E402
from brainstorm.parallel.trainer import DataParallelTrainer  # noqa: E402
from brainstorm.scorers import Accuracy  # noqa: E402
from brainstorm.tools import create_net_from_spec  # noqa: E402
from tests.cuda_emulator.marks import needs_emulator  # noqa: E402


def as_numpy(buffer):
    """The memory of a numpy array or of an array with ``__cuda_array_interface__``
    (emulated device memory is host memory)."""
    if isinstance(buffer, np.ndarray):
        return buffer
    interface = buffer.__cuda_array_interface__
    dtype = np.dtype(interface['typestr'])
    count = int(np.prod(interface['shape']))
    raw = (ctypes.c_uint8 * (count * dtype.itemsize)).from_address(interface['data'][0])
    return np.frombuffer(raw, dtype=dtype).reshape(interface['shape'])


class FakeComm:
    """``size`` processes that all hold this process's numbers; records the calls."""

    def __init__(self, size=1, stop_elsewhere_at=None):
        from mpi4py import MPI
        self.mpi = MPI
        self.size = size
        self.calls = []  # (name, buffer or object, update number)
        self.trainer = None
        self.stop_elsewhere_at = stop_elsewhere_at  # another rank's flag at this update
        self.gradient_reductions = 0

    def Get_rank(self):  # noqa: N802 (mpi4py's names)
        return 0

    def Get_size(self):  # noqa: N802
        return self.size

    def _update(self):
        return None if self.trainer is None else self.trainer.current_update_nr

    def Allreduce(self, sendbuf, recvbuf, op):  # noqa: N802
        assert sendbuf is self.mpi.IN_PLACE
        self.calls.append(('Allreduce', recvbuf, self._update()))
        memory = as_numpy(recvbuf)
        if op is self.mpi.SUM:
            memory *= self.size
            self.gradient_reductions += 1
            if self.stop_elsewhere_at == self._update():
                memory[-1] += 1
        else:
            assert op is self.mpi.MAX

    def Bcast(self, buffer, root=0):  # noqa: N802
        self.calls.append(('Bcast', buffer, self._update()))

    def allgather(self, obj):
        self.calls.append(('allgather', obj, self._update()))
        return [obj] * self.size


class Share:
    """A training shard stand-in: this process's share of the batch."""

    weight = 0.5


def network(handler, seed=3):
    bs.global_rnd.set_seed(seed)
    net = create_net_from_spec('classification', 100, 3, 'F200')
    net.set_handler(handler)
    net.initialize(bs.initializers.Gaussian(0.1), seed=seed)
    return net


def batches(count, seed=4):
    rnd = np.random.RandomState(seed)
    return [{'default': rnd.randn(1, 6, 100).astype(np.float32),
             'targets': rnd.randint(0, 3, (1, 6, 1)).astype(np.float32)}
            for _ in range(count)]


def reduced_gradients(net, parallel, data, measure=None):
    """Each batch: forward, backward, reduce; the gradients after each reduction."""
    parallel.prepare(net)
    results = []
    for batch in data:
        net.provide_external_data(batch)
        net.forward_pass(training_pass=True)
        net.backward_pass()
        if measure is None:
            parallel.reduce_gradients(net)
        else:
            measure(lambda: parallel.reduce_gradients(net))
        results.append(net.get('gradients'))
    return results


def numpy_reference(data):
    """The reduced gradients of the NumpyHandler path, which the device paths must equal."""
    return reduced_gradients(network(NumpyHandler(np.float32)),
                             DataParallel(FakeComm(2), Share(), cuda_aware=False), data)


def peak_bytes(call):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


# ---- the host path of device memory ---------------------------------------------------------

@needs_emulator
def test_device_gradients_go_through_one_host_buffer_and_equal_the_numpy_path():
    from tests.cuda_emulator import emulated_pycuda_handler, fake_pycuda
    data = batches(4)
    reference = numpy_reference(data)
    comm = FakeComm(2)
    parallel = DataParallel(comm, Share(), cuda_aware=False)
    net = network(emulated_pycuda_handler(np.float32))
    pinned_before = fake_pycuda.PAGELOCKED_COUNT
    peaks = []
    results = reduced_gradients(net, parallel, data,
                                measure=lambda call: peaks.append(peak_bytes(call)))
    for result, expected in zip(results, reference):
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7)
    assert np.any(reference[-1] != 0)
    # one page-locked host buffer for all four updates, and it is what MPI reduced
    assert fake_pycuda.PAGELOCKED_COUNT == pinned_before + 1
    buffers = [buffer for name, buffer, _ in comm.calls if name == 'Allreduce']
    assert len(buffers) == 4 and all(buffer is parallel._host for buffer in buffers)
    assert isinstance(parallel._host, np.ndarray)
    assert parallel._host.shape == (net.buffer_manager.parameter_size + 1,)
    # after the first update nothing of the gradients' size is allocated on the host
    gradient_bytes = net.buffer.gradients.nbytes
    assert gradient_bytes > 50_000
    assert max(peaks[1:]) < gradient_bytes / 4, (peaks, gradient_bytes)


@needs_emulator
def test_parameters_are_broadcast_through_the_same_host_buffer():
    from tests.cuda_emulator import emulated_pycuda_handler
    comm = FakeComm(2)
    parallel = DataParallel(comm, Share(), cuda_aware=False)
    net = network(emulated_pycuda_handler(np.float32))
    parameters = net.get('parameters')
    parallel.prepare(net)
    parallel.broadcast_parameters(net)
    name, buffer, _ = comm.calls[-1]
    assert name == 'Bcast' and np.shares_memory(buffer, parallel._host)
    np.testing.assert_array_equal(buffer, parameters)
    np.testing.assert_array_equal(net.get('parameters'), parameters)
    host = parallel._host
    reduced_gradients(net, parallel, batches(1))
    assert parallel._host is host


# ---- CUDA-aware MPI: device memory goes to MPI itself ---------------------------------------

@needs_emulator
def test_cuda_aware_mpi_reduces_the_device_array_itself():
    from tests.cuda_emulator import emulated_pycuda_handler, fake_pycuda
    data = batches(3)
    reference = numpy_reference(data)
    comm = FakeComm(2)
    parallel = DataParallel(comm, Share(), cuda_aware=True)
    handler = emulated_pycuda_handler(np.float32)
    net = network(handler)
    pinned_before = fake_pycuda.PAGELOCKED_COUNT
    results = reduced_gradients(net, parallel, data)
    for result, expected in zip(results, reference):
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7)
    buffers = [buffer for name, buffer, _ in comm.calls if name == 'Allreduce']
    assert len(buffers) == 3
    gradients = net.buffer.gradients
    for buffer in buffers:
        assert isinstance(buffer, handler.array_type)  # not a host copy
        assert buffer.__cuda_array_interface__['data'][0] == int(gradients.gpudata)
        assert buffer.shape == (gradients.shape[0] + 1,)  # the gradients and the flag
    assert parallel._host is None
    assert fake_pycuda.PAGELOCKED_COUNT == pinned_before + 1  # the 1-element flag only


@needs_emulator
def test_cuda_aware_mpi_broadcasts_the_device_parameters():
    from tests.cuda_emulator import emulated_pycuda_handler
    comm = FakeComm(2)
    parallel = DataParallel(comm, Share(), cuda_aware=True)
    handler = emulated_pycuda_handler(np.float32)
    net = network(handler)
    parallel.prepare(net)
    parallel.broadcast_parameters(net)
    name, buffer, _ = comm.calls[-1]
    assert name == 'Bcast' and buffer is net.buffer.parameters


def fake_library(**functions):
    return types.SimpleNamespace(**functions)


def mpix_gpu_query_support(answer):
    def query(gpu_type, supported):
        assert gpu_type == 0  # MPIX_GPU_SUPPORT_CUDA
        supported._obj.value = answer
        return 0
    return query


@pytest.mark.parametrize('value, library, expected', [
    ('1', fake_library(), True),
    ('0', fake_library(MPIX_Query_cuda_support=lambda: 1), False),
    ('auto', fake_library(MPIX_Query_cuda_support=lambda: 1), True),
    ('', fake_library(MPIX_Query_cuda_support=lambda: 0), False),
    (None, fake_library(MPIX_Query_cuda_support=lambda: 1), True),
    (' AUTO ', fake_library(MPIX_GPU_query_support=mpix_gpu_query_support(1)), True),
    ('auto', fake_library(MPIX_GPU_query_support=mpix_gpu_query_support(0)), False),
    ('auto', fake_library(), False),
], ids=['forced-on', 'forced-off', 'open-mpi-yes', 'open-mpi-no', 'unset-asks',
        'mpich-yes', 'mpich-no', 'no-query'])
def test_cuda_aware_choice(value, library, expected):
    environ = {} if value is None else {'BRAINSTORM_MPI_CUDA_AWARE': value}
    mpi = types.SimpleNamespace()  # an mpi4py without Query_cuda_support
    assert cuda_aware_mpi(mpi, environ, library) is expected


def test_mpi4py_query_wins_over_the_library_and_the_variable_over_both():
    mpi = types.SimpleNamespace(Query_cuda_support=lambda: True)
    library = fake_library(MPIX_Query_cuda_support=lambda: 0)
    assert cuda_aware_mpi(mpi, {}, library) is True
    assert cuda_aware_mpi(mpi, {'BRAINSTORM_MPI_CUDA_AWARE': '0'}, library) is False


def test_a_bad_cuda_aware_value_is_a_clear_error():
    with pytest.raises(ParallelSetupError, match=r"BRAINSTORM_MPI_CUDA_AWARE='yes'.*auto, 1 or 0"):
        cuda_aware_mpi(types.SimpleNamespace(), {'BRAINSTORM_MPI_CUDA_AWARE': 'yes'})


def test_this_mpi_answers_the_query():
    """The installed MPI (the mpich wheel here) is asked without error."""
    from mpi4py import MPI
    assert cuda_aware_mpi(MPI, {}) in (True, False)


# ---- the stop flag rides in the gradient Allreduce -----------------------------------------

@pytest.mark.parametrize('here, elsewhere, expected', [
    (False, None, False), (True, None, True), (False, 0, True)],
    ids=['nobody', 'this-process', 'another-process'])
def test_the_stop_flag_travels_with_the_gradients(here, elsewhere, expected):
    comm = FakeComm(2, stop_elsewhere_at=elsewhere)
    comm.trainer = types.SimpleNamespace(current_update_nr=0)
    parallel = DataParallel(comm, Share(), stop_requested=lambda: here, cuda_aware=False)
    plain = reduced_gradients(network(NumpyHandler(np.float32)),
                              DataParallel(FakeComm(2), Share(), cuda_aware=False), batches(1))
    result = reduced_gradients(network(NumpyHandler(np.float32)), parallel, batches(1))
    assert parallel.stop_agreed is expected
    np.testing.assert_array_equal(result[0], plain[0])  # the flag changes no gradient
    assert len(comm.calls) == 1


class EveryUpdate(Hook):
    """Called after every update; cannot stop, may ask for a stop (as a signal would)."""

    can_stop = False

    def __init__(self, trainer=None, request_at=None, raise_at=None):
        super().__init__(name='every_update', timescale='update', interval=1)
        self.trainer, self.request_at, self.raise_at = trainer, request_at, raise_at

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if update_nr == self.request_at:
            self.trainer.request_stop('signal on this process')
        if update_nr == self.raise_at:
            raise StopIteration('stopped anyway')


class MayStop(Hook):
    """A hook that can stop (the default), every two updates; never does."""

    def __init__(self):
        super().__init__(name='may_stop', timescale='update', interval=2)


def train(comm, *hooks_for, epochs=2):
    """A DataParallelTrainer on ``comm``: 12 samples in batches of 3 (4 updates an epoch)."""
    bs.global_rnd.set_seed(1)
    rnd = np.random.RandomState(1)
    net = create_net_from_spec('classification', 4, 3, 'F5')
    net.set_handler(NumpyHandler(np.float64))
    net.initialize(bs.initializers.Gaussian(0.3), seed=1)
    trainer = DataParallelTrainer(bs.training.SgdStepper(0.1), verbose=False, comm=comm)
    comm.trainer = trainer
    trainer.train_scorers = [Accuracy(name='train_accuracy')]
    trainer.add_hook(MonitorScores('valid', [Accuracy()], name='validation'))
    trainer.add_hook(StopAfterEpoch(epochs))
    for make_hook in hooks_for:
        trainer.add_hook(make_hook(trainer))
    data = {'default': rnd.randn(1, 12, 4), 'targets': rnd.randint(0, 3, (1, 12, 1)) * 1.0}
    trainer.train(net, Minibatches(3, shuffle=False, **data),
                  valid=Minibatches(6, shuffle=False, **data))
    return trainer


def calls_by_update(comm):
    counts = {}
    for name, _, update_nr in comm.calls:
        counts.setdefault(update_nr, []).append(name)
    return counts


def test_one_allreduce_per_update_and_nothing_else():
    comm = FakeComm(1)
    trainer = train(comm, lambda trainer: EveryUpdate())
    assert trainer.current_update_nr == 8 and not trainer.interrupted
    counts = calls_by_update(comm)
    for update_nr in (1, 2, 3, 5, 6, 7):  # within an epoch: the gradient Allreduce only
        assert counts[update_nr] == ['Allreduce'], (update_nr, counts[update_nr])
    # the epochs' ends gather the scores and agree (StopAfterEpoch can stop) once
    for update_nr in (4, 8):
        assert counts[update_nr].count('Allreduce') == 2, counts[update_nr]
    assert comm.gradient_reductions == 8


def test_rounds_with_a_hook_that_can_stop_are_agreed_on():
    comm = FakeComm(1)
    train(comm, lambda trainer: MayStop())
    counts = calls_by_update(comm)
    assert counts[1] == ['Allreduce'] and counts[3] == ['Allreduce']
    assert counts[2] == ['Allreduce', 'Allreduce'] and counts[6] == ['Allreduce', 'Allreduce']
    agreements = [buffer for name, buffer, _ in comm.calls
                  if name == 'Allreduce' and buffer.dtype == np.int64]
    assert all(buffer.shape == (2,) for buffer in agreements)


def test_a_stop_request_stops_after_the_next_reduction():
    comm = FakeComm(1)
    trainer = train(comm, lambda trainer: EveryUpdate(trainer, request_at=2))
    assert trainer.interrupted and trainer.current_update_nr == 3
    assert trainer.stop_reason == 'signal on this process'
    assert calls_by_update(comm)[3] == ['Allreduce']  # no agreement of its own


def test_a_stop_requested_elsewhere_stops_here_after_the_same_update():
    comm = FakeComm(1, stop_elsewhere_at=2)
    trainer = train(comm, lambda trainer: EveryUpdate())
    assert trainer.interrupted and trainer.current_update_nr == 2
    assert trainer.stop_reason == 'another process asked to stop'


def test_a_hook_that_said_it_cannot_stop_but_stops_is_an_error():
    with pytest.raises(TrainingError, match='can_stop = False'):
        train(FakeComm(1), lambda trainer: EveryUpdate(raise_at=3))
