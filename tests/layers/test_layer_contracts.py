"""Contracts every layer keeps, over every LayerCase (through DebugHandler, float64).

- backward passes ADD into input deltas (several consumers share them) and into
  gradients, except layers that declare ``overwrites_gradients``: they SET them;
- forward and backward passes allocate nothing once warm;
- outputs and deltas do not depend on what the forward internals held before a pass
  (backward-only internals are zeroed with all backward buffers before every backward
  pass, so layers may accumulate into them);
- transient internals (shared by all layers, never zeroed) are written before they
  are read within the layer's backward pass;
- layers with a context: T steps in one go == the first steps, then the rest with
  the first part's ``get_context()`` (reversed layers: the last steps first).
"""

import numpy as np
import pytest

from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.testing import LayerHarness
from tests.layers.cases import ALL_CASES

CASE_IDS = [case.id for case in ALL_CASES]
PREFILL = 0.375


def make_harness(case, seed=0):
    return LayerHarness(case, DebugHandler(NumpyHandler(np.float64)), seed=seed)


def backward_results(harness):
    """Numpy copies of every input delta and gradient of the tested layer."""
    handler = harness.handler
    views = harness.net.buffer[harness.layer_name]
    results = {f"input_deltas.{name}": handler.get_numpy_copy(array)
               for name, array in views.input_deltas.items()}
    results.update({f"gradients.{name}": handler.get_numpy_copy(array)
                    for name, array in views.gradients.items()})
    return results


def outputs_of(harness):
    return {name: harness.output(name) for name in harness.layer.out_shapes}


def fill_forward_internals(harness, rnd):
    """Overwrite the layer's forward internals with large random values."""
    handler = harness.handler
    for name, structure in harness.layer.internal_shapes.items():
        if not structure.is_backward_only:
            view = harness.net.buffer[harness.layer_name].internals[name]
            handler.set_from_numpy(view, rnd.standard_normal(view.shape) * 100.0)


def backward_twice(case, prepare):
    """Backward results of a normal pass, and of a second one run on cleared buffers
    after ``prepare(harness, views)`` changed some of them."""
    harness = make_harness(case)
    harness.forward()
    harness.backward()
    fresh = backward_results(harness)
    harness.net.buffer_manager.clear_backward_buffers()
    harness.set_output_deltas()
    views = harness.net.buffer[harness.layer_name]
    prepare(harness, views)
    harness.layer.backward_pass(views)
    return harness, fresh, backward_results(harness)


def prefill_input_deltas_and_gradients(harness, views):
    for array in list(views.input_deltas.values()) + list(views.gradients.values()):
        harness.handler.fill(array, PREFILL)


def poison_transient_internals(harness, views):
    # NaN: DebugHandler refuses an op that reads one, and a result made from one
    # would not match (filled through the wrapped handler, past DebugHandler's checks)
    for name, structure in harness.layer.internal_shapes.items():
        if structure.is_transient:
            harness.handler.handler.fill(views.internals[name], np.nan)


@pytest.mark.parametrize('case', ALL_CASES, ids=CASE_IDS)
def test_backward_pass_adds_into_deltas_and_gradients(case):
    harness, fresh, again = backward_twice(case, prefill_input_deltas_and_gradients)
    for path, values in again.items():
        if path.startswith('gradients.') and harness.layer.overwrites_gradients:
            np.testing.assert_allclose(values, fresh[path], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{case.id}: {path} was not overwritten")
        else:
            np.testing.assert_allclose(values, fresh[path] + PREFILL, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{case.id}: {path} was overwritten, not "
                                               f"added to")


@pytest.mark.parametrize('case', ALL_CASES, ids=CASE_IDS)
def test_clearing_leaves_only_overwritten_gradients_alone(case):
    harness = make_harness(case)
    manager = harness.net.buffer_manager
    harness.handler.fill(manager.gradients, PREFILL)
    manager.clear_backward_buffers()
    for name, values in harness.net.buffer[harness.layer_name].gradients.items():
        values = harness.handler.get_numpy_copy(values)
        expected = PREFILL if harness.layer.overwrites_gradients else 0.0
        np.testing.assert_array_equal(values, np.full(values.shape, expected),
                                      err_msg=f"{case.id}: gradient {name}")


@pytest.mark.parametrize('case', ALL_CASES, ids=CASE_IDS)
def test_passes_allocate_nothing(case):
    harness = make_harness(case)
    handler = harness.handler
    harness.forward()
    harness.backward()  # the first passes may fill the handler's scratch cache
    before = (handler.allocation_count, handler.handler.scratch_allocation_count)
    for _ in range(2):
        harness.forward()
        harness.backward()
    after = (handler.allocation_count, handler.handler.scratch_allocation_count)
    assert after == before, (f"{case.id}: passes allocated (handler allocations, scratch "
                             f"allocations) went from {before} to {after}")


@pytest.mark.parametrize('case', ALL_CASES, ids=CASE_IDS)
def test_results_do_not_depend_on_old_internals(case):
    rnd = np.random.RandomState(3)
    clean = make_harness(case)
    clean.forward()
    clean.backward()
    dirty = make_harness(case)
    fill_forward_internals(dirty, rnd)
    dirty.forward()
    dirty.backward()
    for name, values in outputs_of(clean).items():
        np.testing.assert_allclose(dirty.output(name), values, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{case.id}: output {name!r} depends on the "
                                           f"internals' old content")
    dirty_results = backward_results(dirty)
    for path, values in backward_results(clean).items():
        np.testing.assert_allclose(dirty_results[path], values, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{case.id}: {path} depends on the internals' "
                                           f"old content")


@pytest.mark.parametrize('case', ALL_CASES, ids=CASE_IDS)
def test_transient_internals_are_written_before_they_are_read(case):
    _, clean, poisoned = backward_twice(case, poison_transient_internals)
    for path, values in poisoned.items():
        np.testing.assert_allclose(values, clean[path], rtol=1e-12, atol=1e-12,
                                   err_msg=f"{case.id}: {path}")


def _has_context(case):
    harness = LayerHarness(case, NumpyHandler(np.float64))
    return any(True for _ in harness.net.buffer_manager.slots_with_context())


CONTEXT_CASES = [case for case in ALL_CASES if case.time_steps >= 2 and _has_context(case)]


@pytest.mark.parametrize('case', CONTEXT_CASES, ids=[case.id for case in CONTEXT_CASES])
def test_sequence_in_two_parts_equals_one_go(case):
    harness = make_harness(case)
    net = harness.net
    harness.forward()
    whole = {name: harness.output(name) for name in harness.layer.out_shapes}
    split = harness.time_steps // 2
    parts = {name: [] for name in whole}
    context = harness.context
    windows = [(0, split), (split, harness.time_steps)]
    reverse = getattr(harness.layer, 'reverse', False)
    if reverse:
        windows.reverse()
    for start, stop in windows:
        net.provide_external_data({name: data[start:stop] for name, data
                                   in harness.data.items()})
        net.forward_pass(training_pass=case.training_pass, context=context)
        context = net.get_context()
        for name in parts:
            parts[name].append(net.get(f"{harness.layer_name}.outputs.{name}"))
    for name, values in whole.items():
        in_time_order = parts[name][::-1] if reverse else parts[name]
        np.testing.assert_allclose(np.concatenate(in_time_order), values, rtol=1e-12,
                                   atol=1e-12, err_msg=f"{case.id}: output {name!r}")
