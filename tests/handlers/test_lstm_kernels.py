"""The compiled LSTM step kernels (brainstorm/handlers/_lstm_kernels.c).

They serve NumpyHandler(float32)'s lstm_step_forward and lstm_step_backward for tanh
units on C-contiguous arrays; everything else goes to Handler's composites. Checked
here: the op cases of test_ops_against_reference on a float32 handler with the
kernels (contiguous cases reach them, strided ones the composites), the kernels
against the composites at a layer's sizes, whole Lstm layers with and without them,
and arrays the kernels must decline. The switch BRAINSTORM_COMPILED_KERNELS is
tested in test_compiled_kernels.py.
"""

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler, _compiled_kernels
from brainstorm.structure.network import Network
from brainstorm.testing import LAYER_NAME, build_architecture
from tests.handlers.compiled_kernel_marks import needs_compiled
from tests.handlers.test_ops_against_reference import OP_CASES, run_case

LSTM_STEP_OPS = ('lstm_step_forward', 'lstm_step_backward')

needs_kernels = needs_compiled('lstm')


@pytest.fixture
def kernel_handler(monkeypatch):
    """A NumpyHandler(float32) with the compiled kernels, counting the calls they computed
    (they decline, returning False, arrays that are not contiguous float32 buffers)."""
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', '1')
    handler = NumpyHandler(np.float32)
    calls = {name: 0 for name in ('lstm_step_forward_tanh', 'lstm_step_backward_tanh')}

    class CountingKernels:
        def __getattr__(self, name):
            function = getattr(handler_kernels, name)

            def counted(*args):
                computed = function(*args)
                calls[name] += bool(computed)
                return computed
            return counted

    handler_kernels = handler._lstm_kernels
    handler._lstm_kernels = CountingKernels()
    handler.kernel_calls = calls
    return handler


@needs_kernels
@pytest.mark.parametrize('op_name, case', [
    pytest.param(op_name, case, id=f'{op_name}-{case.id}')
    for op_name in LSTM_STEP_OPS for case in OP_CASES[op_name]])
def test_op_cases_with_kernels(kernel_handler, op_name, case):
    run_case(kernel_handler, op_name, case)
    # a 1x1 view is C-contiguous wherever it is cut from
    contiguous = case.layout == 'contiguous' or case.id.startswith('1x1-')
    compiled = contiguous and case.args['activation'] == 'tanh'
    assert sum(kernel_handler.kernel_calls.values()) == (1 if compiled else 0)


def step_arrays(rnd, batch, size, names, wide=()):
    """float32 arrays: (batch, 4 size) for ``wide`` names, (1, size) peepholes, else (batch, size)."""
    arrays = {}
    for name in names:
        if name in wide:
            shape = (batch, 4 * size)
        elif name.startswith('peep_'):
            shape = (1, size)
        else:
            shape = (batch, size)
        low, high = (0.02, 0.98) if name in ('i', 'f', 'o', 'next_f') else (-2.0, 2.0)
        arrays[name] = rnd.uniform(low, high, shape).astype(np.float32)
    return arrays


FORWARD_NAMES = ('recurrent', 'peep_i', 'peep_f', 'peep_o', 'previous_cell', 'z', 'i', 'f', 'o',
                 'cell', 'cell_output', 'out')
BACKWARD_NAMES = ('deltas', 'z', 'i', 'f', 'o', 'cell_output', 'previous_cell', 'next_cell_deltas',
                  'next_f', 'next_i_deltas', 'next_f_deltas', 'peep_i', 'peep_f', 'peep_o',
                  'z_deltas', 'i_deltas', 'f_deltas', 'o_deltas', 'cell_deltas', 'gate_deltas')


@needs_kernels
@pytest.mark.parametrize('op_name, names, wide', [
    ('lstm_step_forward', FORWARD_NAMES, ('recurrent',)),
    ('lstm_step_backward', BACKWARD_NAMES, ('gate_deltas',))])
@pytest.mark.parametrize('batch, size', [(50, 256), (3, 1000), (7, 13)])
def test_kernels_equal_the_composites(kernel_handler, op_name, names, wide, batch, size):
    arrays = step_arrays(np.random.default_rng(size), batch, size, names, wide)
    if op_name == 'lstm_step_backward':  # z and cell_output are tanh outputs
        for name in ('z', 'cell_output'):
            np.tanh(arrays[name], out=arrays[name])
    composite = {name: array.copy() for name, array in arrays.items()}
    getattr(kernel_handler, op_name)(*arrays.values())
    assert kernel_handler.kernel_calls == {
        'lstm_step_forward_tanh': int(op_name == 'lstm_step_forward'),
        'lstm_step_backward_tanh': int(op_name == 'lstm_step_backward')}
    numpy_only = NumpyHandler(np.float32)
    numpy_only._lstm_kernels = None
    getattr(numpy_only, op_name)(*composite.values())
    for name in names:
        # every product and sum is rounded as numpy rounds it; expf and tanhf of glibc's
        # vector library differ from numpy's by an ulp or two
        np.testing.assert_allclose(arrays[name], composite[name], rtol=2e-6, atol=1e-6,
                                   err_msg=name)


def lstm_net(handler, size=40, in_size=7):
    architecture = build_architecture('Lstm', {'size': size}, {'default': (in_size,)})
    net = Network.from_architecture(architecture)
    net.set_handler(handler)
    rnd = np.random.RandomState(3)
    for name, structure in net.layers[LAYER_NAME].parameter_shapes.items():
        net.handler.set_from_numpy(net.buffer[LAYER_NAME].parameters[name],
                                   rnd.standard_normal(structure.shape) * 0.3)
    return net


@needs_kernels
def test_lstm_layer_with_kernels_equals_numpy(kernel_handler):
    """A whole layer, forward and backward over 6 steps, with and without the kernels."""
    numpy_only = NumpyHandler(np.float32)
    numpy_only._lstm_kernels = None
    rnd = np.random.RandomState(0)
    x = rnd.standard_normal((6, 5, 7))
    output_deltas = rnd.standard_normal((6, 5, 40))
    results = []
    for handler in (kernel_handler, numpy_only):
        net = lstm_net(handler)
        net.provide_external_data({'default': x})
        net.forward_pass(training_pass=True)
        views = net.buffer[LAYER_NAME]
        handler.set_from_numpy(views.output_deltas.default[:6], output_deltas)
        net.layers[LAYER_NAME].backward_pass(views)
        results.append({
            'y': handler.get_numpy_copy(views.outputs.default),
            'Ca': handler.get_numpy_copy(views.internals.Ca),
            'input deltas': handler.get_numpy_copy(net.buffer.Input.output_deltas.default),
            **{f'gradient {name}': handler.get_numpy_copy(array)
               for name, array in views.gradients.items()}})
    assert kernel_handler.kernel_calls == {'lstm_step_forward_tanh': 6,
                                           'lstm_step_backward_tanh': 6}
    for name, value in results[0].items():
        np.testing.assert_allclose(value, results[1][name], rtol=1e-5, atol=1e-5, err_msg=name)


@needs_kernels
@pytest.mark.parametrize('spoil', ['short', 'float64', 'strided', 'read-only output'])
def test_kernels_decline_arrays_they_cannot_take(spoil):
    """The module computes nothing and returns False for any array that is not a
    C-contiguous float32 buffer of its length: it never reads or writes past one."""
    kernels = _compiled_kernels.load('lstm')
    arrays = step_arrays(np.random.default_rng(0), 4, 6, FORWARD_NAMES, ('recurrent',))
    if spoil == 'short':
        arrays['recurrent'] = arrays['recurrent'][:3]
    elif spoil == 'float64':
        arrays['previous_cell'] = arrays['previous_cell'].astype(np.float64)
    elif spoil == 'strided':
        arrays['i'] = np.repeat(arrays['i'], 2, axis=1)[:, ::2]
    else:
        arrays['out'].flags.writeable = False
    before = {name: array.copy() for name, array in arrays.items()}
    assert kernels.lstm_step_forward_tanh(4, 6, *arrays.values()) is False
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


@needs_kernels
def test_kernels_check_their_argument_count():
    kernels = _compiled_kernels.load('lstm')
    with pytest.raises(TypeError, match='expected 2 sizes and 20 arrays'):
        kernels.lstm_step_backward_tanh(1, 1)
