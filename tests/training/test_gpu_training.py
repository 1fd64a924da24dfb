"""A short mnist_pi-like training run on the GPU follows the CPU's loss curve.

The network is the spec's ``mnist_pi`` shape scaled to the embedded digits data
(64 inputs, ``'D.2 F100 D F100 D'``, softmax over 10 classes), trained with
momentum SGD on minibatches of 100 for 24 updates. The run on the tested
handler records its dropout masks; the float64 CPU run replays them, so both
runs compute the same function and the loss curves must agree within float32
tolerance. ``DebugHandler(NumpyHandler(float32))`` runs everywhere (it keeps the
test itself working); ``PyCudaHandler(float32)`` on the CPU emulation of CUDA
(``tests/cuda_emulator``, wherever g++ is) and where a GPU is (marker ``gpu``).
"""

import h5py
import numpy as np
import pytest

from brainstorm.datasets.digits import digits_path
from brainstorm.errors import HandlerUnavailableError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.randomness import global_rnd
from brainstorm.tools import create_net_from_spec
from brainstorm.training.steppers import MomentumStepper
from tests.cuda_emulator import emulated_pycuda_handler
from tests.cuda_emulator.marks import needs_emulator
from tests.layers.test_against_reference import record_random_draws, replay_random_draws

SPEC = 'D.2 F100 D F100 D'
BATCH_SIZE = 100
UPDATES = 24


def _pycuda():
    from brainstorm.handlers import PyCudaHandler
    return PyCudaHandler(np.float32)


def _gpu_reason():
    try:
        _pycuda()
    except HandlerUnavailableError as error:
        return str(error)
    return None


GPU_MISSING_REASON = _gpu_reason()

TESTED = {
    'debug-numpy-float32': (lambda: DebugHandler(NumpyHandler(np.float32)), []),
    'pycuda-float32': (_pycuda, [pytest.mark.gpu, pytest.mark.skipif(
        GPU_MISSING_REASON is not None, reason=f"no GPU here: {GPU_MISSING_REASON}")]),
    'pycuda-emulated-float32': (lambda: emulated_pycuda_handler(np.float32), [needs_emulator]),
}


def digits_batches():
    """(inputs (1, 100, 64), targets (1, 100, 1)) minibatches of the digits training split."""
    with h5py.File(digits_path(), 'r') as file:
        inputs = file['normalized_split/training/default'][()]
        targets = file['normalized_split/training/targets'][()].astype(np.float64)
    count = inputs.shape[1] // BATCH_SIZE
    return [(inputs[:, k * BATCH_SIZE:(k + 1) * BATCH_SIZE],
             targets[:, k * BATCH_SIZE:(k + 1) * BATCH_SIZE]) for k in range(count)]


def loss_curve(handler, batches):
    """Training losses of UPDATES momentum-SGD updates of the mnist_pi-like net on ``handler``."""
    global_rnd.set_seed(7)  # create_net_from_spec initialises from global_rnd
    net = create_net_from_spec('classification', 64, 10, SPEC)
    net.set_handler(handler)
    stepper = MomentumStepper(learning_rate=1.0, momentum=0.9)
    stepper.start(net)
    losses = []
    for update in range(UPDATES):
        inputs, targets = batches[update % len(batches)]
        net.provide_external_data({'default': inputs, 'targets': targets})
        stepper.run()
        losses.append(net.get_loss_values()['total_loss'])
    return np.array(losses)


@pytest.mark.parametrize('handler_id', [pytest.param(name, marks=marks, id=name)
                                        for name, (_, marks) in TESTED.items()])
def test_loss_curve_matches_the_cpu(handler_id):
    batches = digits_batches()
    tested = TESTED[handler_id][0]()
    records = record_random_draws(tested)
    got = loss_curve(tested, batches)
    reference = NumpyHandler(np.float64)
    left_over = replay_random_draws(reference, records)
    expected = loss_curve(reference, batches)
    assert not left_over
    assert expected[-4:].mean() < 0.75 * expected[:4].mean(), \
        f"the reference did not learn: {expected}"
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-4,
                               err_msg=f"loss curves of {handler_id} and the float64 CPU")
