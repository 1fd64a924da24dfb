"""Every LayerCase on every non-reference handler against NumpyHandler(float64).

For each case, the layer runs forward and backward on the tested handler and on
the reference, on the same inputs, parameters, context and output deltas (the
harness draws them from its own seed, not from the handler). Random ops (the
dropout mask) cannot agree across generators, so the tested handler's draws
are recorded and replayed into the reference: the comparison is about the
arithmetic, not the random streams.

Tested handlers: ``DebugHandler(NumpyHandler(float32))`` everywhere (so this test
itself always runs); ``PyCudaHandler`` in float32 and float64 and
``DebugHandler(PyCudaHandler)`` on the CPU emulation of CUDA (``tests/cuda_emulator``,
wherever g++ is) and, where pycuda and a GPU are present (marker ``gpu``), on the GPU.
"""

import numpy as np
import pytest

from brainstorm.errors import HandlerUnavailableError
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.testing import LayerHarness
from tests.cuda_emulator import emulated_pycuda_handler
from tests.cuda_emulator.marks import needs_emulator
from tests.layers.cases import ALL_CASES

RANDOM_OPS = ('generate_probability_mask', 'fill_gaussian')


def _pycuda(dtype):
    from brainstorm.handlers import PyCudaHandler
    return PyCudaHandler(dtype)


#: handler id -> (factory, what it needs: None, 'gpu' or 'emulator')
TESTED_HANDLERS = {
    'debug-numpy-float32': (lambda: DebugHandler(NumpyHandler(np.float32)), None),
    'pycuda-float32': (lambda: _pycuda(np.float32), 'gpu'),
    'pycuda-float64': (lambda: _pycuda(np.float64), 'gpu'),
    'debug-pycuda-float32': (lambda: DebugHandler(_pycuda(np.float32)), 'gpu'),
    'pycuda-emulated-float32': (lambda: emulated_pycuda_handler(np.float32), 'emulator'),
    'pycuda-emulated-float64': (lambda: emulated_pycuda_handler(np.float64), 'emulator'),
    'debug-pycuda-emulated-float32':
        (lambda: DebugHandler(emulated_pycuda_handler(np.float32)), 'emulator'),
}


def _gpu_reason():
    try:
        _pycuda(np.float32)
    except HandlerUnavailableError as error:
        return str(error)
    return None


GPU_MISSING_REASON = _gpu_reason()


def _handler_params():
    params = []
    for handler_id, (_, needs) in TESTED_HANDLERS.items():
        marks = []
        if needs == 'gpu':
            marks = [pytest.mark.gpu,
                     pytest.mark.skipif(GPU_MISSING_REASON is not None,
                                        reason=f"no GPU here: {GPU_MISSING_REASON}")]
        elif needs == 'emulator':
            marks = [needs_emulator]
        params.append(pytest.param(handler_id, id=handler_id, marks=marks))
    return params


def tolerances(dtype):
    if np.dtype(dtype) == np.float64:
        return 1e-9, 1e-10
    return 2e-3, 2e-4


def record_random_draws(handler):
    """Make ``handler``'s random ops keep a float64 copy of every array they fill."""
    records = []
    for op_name in RANDOM_OPS:
        original = getattr(handler, op_name)

        def recording(*args, _original=original, _op=op_name):
            _original(*args)
            filled = args[0] if _op == 'generate_probability_mask' else args[2]
            records.append((_op, handler.get_numpy_copy(filled).astype(np.float64)))
        setattr(handler, op_name, recording)
    return records


def replay_random_draws(handler, records):
    """Make ``handler``'s random ops write the recorded arrays, in order."""
    queue = list(records)

    def replaying(op_name, filled):
        recorded_op, values = queue.pop(0)
        assert recorded_op == op_name, f"the reference drew {op_name}, the tested handler " \
                                       f"drew {recorded_op}"
        handler.set_from_numpy(filled, values)
    handler.generate_probability_mask = lambda mask, probability: replaying(
        'generate_probability_mask', mask)
    handler.fill_gaussian = lambda mean, std, out: replaying('fill_gaussian', out)
    return queue


def run_layer(case, handler):
    """Forward and backward once; float64 numpy copies of every result of the layer."""
    harness = LayerHarness(case, handler, seed=0)
    harness.forward()
    results = {f"outputs.{name}": harness.output(name) for name in harness.layer.out_shapes}
    harness.backward()
    views = harness.net.buffer[harness.layer_name]
    if harness.layer_name != 'Input':
        for name in harness.checked_inputs():
            results[f"input_deltas.{name}"] = handler.get_numpy_copy(
                harness.input_delta_view(name)).astype(np.float64)
    for name, array in views.gradients.items():
        results[f"gradients.{name}"] = handler.get_numpy_copy(array).astype(np.float64)
    return results


@pytest.mark.parametrize('handler_id', _handler_params())
@pytest.mark.parametrize('case', ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_layer_matches_the_float64_reference(case, handler_id):
    tested = TESTED_HANDLERS[handler_id][0]()
    records = record_random_draws(tested)
    got = run_layer(case, tested)
    reference = NumpyHandler(np.float64)
    left_over = replay_random_draws(reference, records)
    expected = run_layer(case, reference)
    assert not left_over, f"the tested handler drew {len(left_over)} more random arrays"
    assert got.keys() == expected.keys()
    rtol, atol = tolerances(tested.dtype)
    for name, wanted in expected.items():
        scale = max(1.0, float(np.max(np.abs(wanted)))) if wanted.size else 1.0
        np.testing.assert_allclose(got[name], wanted, rtol=rtol, atol=atol * scale,
                                   err_msg=f"{case.id} on {handler_id}: {name}")


def test_replay_decides_the_reference_draws():
    # the record/replay device itself: the reference's dropout follows the replayed
    # masks, not its own generator (the harness reseeds every handler alike, so a
    # flipped recording must flip the reference's result)
    from tests.layers.cases import LayerCase
    case = LayerCase('dropout', 'Dropout', {'drop_prob': 0.5}, {'default': (6,)},
                     time_steps=2, batch_size=3)
    tested = NumpyHandler(np.float32)
    records = record_random_draws(tested)
    got = run_layer(case, tested)
    assert [op for op, _ in records] == ['generate_probability_mask']
    reference = NumpyHandler(np.float64)
    replay_random_draws(reference, records)
    np.testing.assert_allclose(run_layer(case, reference)['outputs.default'],
                               got['outputs.default'], rtol=1e-6)
    flipped = [(op, 1.0 - mask) for op, mask in records]
    reference = NumpyHandler(np.float64)
    replay_random_draws(reference, flipped)
    flipped_outputs = run_layer(case, reference)['outputs.default']
    kept = got['outputs.default'] != 0
    assert np.all(flipped_outputs[kept] == 0) and np.any(flipped_outputs[~kept] != 0)
