"""Every LayerCase x float64 handler: input deltas and parameter gradients vs finite differences."""

import numpy as np
import pytest

from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.testing import LayerHarness, check_layer_gradients
from tests.layers.cases import ALL_CASES, LayerCase

FLOAT64_HANDLERS = {
    'numpy': lambda: NumpyHandler(np.float64),
    'debug-numpy': lambda: DebugHandler(NumpyHandler(np.float64)),
}


@pytest.mark.parametrize('handler_id', list(FLOAT64_HANDLERS))
@pytest.mark.parametrize('case', ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_gradients_match_finite_differences(case, handler_id):
    failures = check_layer_gradients(case, FLOAT64_HANDLERS[handler_id]())
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize('factor', [-0.7, 0.0, 2.5])
def test_deltas_scaling_scales_the_true_gradient(factor):
    # DeltasScaling's backward pass is deliberately not the gradient of its forward pass
    case = LayerCase('deltas_scaling', 'DeltasScaling', {'factor': factor}, {'default': (3,)})
    harness = LayerHarness(case, DebugHandler(NumpyHandler(np.float64)))
    harness.forward()
    harness.backward()
    deltas = harness.handler.get_numpy_copy(harness.input_delta_view('default'))
    np.testing.assert_allclose(deltas, factor * harness.output_deltas['default'], rtol=1e-12)
    np.testing.assert_allclose(harness.output('default'), harness.data['default'], rtol=0)
