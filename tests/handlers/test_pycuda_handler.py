"""PyCudaHandler: what runs everywhere, and what needs a GPU.

Everywhere: creating the handler without pycuda or a GPU raises one clear
HandlerUnavailableError; importing brainstorm never imports pycuda; the pure
layout planning the handler relies on (collapsing strided views for the
elementwise kernels, reduction plans, row-major cuBLAS calls) is checked
against numpy models of the kernels and of column-major gemm.

With a GPU (id ``gpu``, marker ``gpu``, skipped with the reason otherwise) and on
the CPU emulation of CUDA (ids ``emulated`` and ``emulated-reverse-order``,
``tests/cuda_emulator``, wherever g++ is): the conv and pool ops against NumpyHandler(float64) (the generic op tests in
``test_ops_against_reference.py`` cover every other op through conftest's
``available_handlers()``), every op case in float64, sizes that need several
blocks and grid-stride loops, seeding, and views the kernels cannot take.
"""

import subprocess
import sys

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import HandlerContractError, HandlerUnavailableError
from brainstorm.handlers import NumpyHandler, _cuda_kernels
from brainstorm.handlers._cublas import (OP_N, Operand, describe_operand,
                                         emulate_column_major_gemm, library_candidates,
                                         plan_product)
from brainstorm.handlers.pycuda_handler import (broadcast_strides, collapse_dimensions,
                                                is_c_contiguous, reduction_plan)
from tests.cuda_emulator.marks import needs_emulator
from tests.handlers.test_conv_ops import CONV_CASES, POOL_CASES
from tests.handlers.test_ops_against_reference import _op_case_params, run_case


def _gpu_status():
    from brainstorm.handlers import PyCudaHandler
    try:
        PyCudaHandler(np.float32)
    except HandlerUnavailableError as error:
        return False, str(error)
    return True, ''


GPU_PRESENT, GPU_MISSING_REASON = _gpu_status()
needs_gpu = [pytest.mark.gpu,
             pytest.mark.skipif(not GPU_PRESENT, reason=f"no GPU here: {GPU_MISSING_REASON}")]


def gpu_only(function):
    """Mark a test ``gpu`` and skip it, saying why, where PyCudaHandler is unavailable."""
    for mark in reversed(needs_gpu):
        function = mark(function)
    return function


# ============================================================== everywhere: availability

@pytest.mark.skipif(GPU_PRESENT, reason="a GPU is present, so the handler can be created")
def test_creating_the_handler_without_a_gpu_gives_one_clear_error():
    from brainstorm.handlers import PyCudaHandler
    with pytest.raises(HandlerUnavailableError) as raised:
        PyCudaHandler()
    message = str(raised.value)
    assert message.startswith("PyCudaHandler needs pycuda and an NVIDIA GPU: ")
    assert len(message.splitlines()) == 1


def test_importing_brainstorm_never_imports_pycuda():
    code = ("import sys, brainstorm, brainstorm.handlers; "
            "from brainstorm.handlers import PyCudaHandler; "
            "import brainstorm.handlers.pycuda_handler; "
            "loaded = [m for m in sys.modules if m.startswith('pycuda')]; "
            "assert not loaded, loaded")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_cublas_library_override_comes_first(monkeypatch):
    monkeypatch.setenv('BRAINSTORM_CUBLAS_LIBRARY', '/somewhere/libcublas.so.99')
    candidates = library_candidates()
    assert candidates[0] == '/somewhere/libcublas.so.99'
    assert not any('cublasLt' in candidate for candidate in candidates)


# ================================================== everywhere: layout planning vs numpy

def _element_offsets(view, base):
    """Offsets (in elements, from the view's first element) of a view's elements, row-major."""
    item = base.itemsize
    grids = np.indices(view.shape).reshape(view.ndim, -1)
    return sum(grid * (stride // item) for grid, stride in zip(grids, view.strides)) \
        if view.ndim else np.zeros(1, dtype=int)


def _kernel_offsets(sizes, strides, count):
    """What the strided elementwise kernel computes for logical indices 0..count-1."""
    rest = np.arange(count)
    indices = []
    for size in reversed(sizes[1:]):
        indices.append(rest % size)
        rest = rest // size
    indices.append(rest)
    indices.reverse()
    return sum(index * stride for index, stride in zip(indices, strides))


BASE = np.arange(4 * 5 * 6 * 7, dtype=np.float64).reshape(4, 5, 6, 7)

VIEWS = {
    'contiguous': lambda: BASE,
    'last-axis-slice': lambda: BASE[..., 2:5],
    'every-axis-sliced': lambda: BASE[1:3, ::2, 1:, ::3],
    'integer-index': lambda: BASE[2, :, 1:4],
    'transposed': lambda: BASE[0, 0].T,
    'reversed-axes': lambda: BASE.transpose(3, 2, 1, 0)[:, :, :2],
    'size-one-axes': lambda: BASE[:1, 1:2, :, 3:4],
}


@pytest.mark.parametrize('name', sorted(VIEWS))
def test_collapsed_strides_address_the_same_elements_as_the_view(name):
    view = VIEWS[name]()
    second = np.ascontiguousarray(view)  # a contiguous companion, as in add_tt(view, c, out)
    strides = [tuple(s // 8 for s in view.strides), tuple(s // 8 for s in second.strides)]
    collapsed = collapse_dimensions(view.shape, strides)
    assert collapsed is not None
    sizes, (view_strides, second_strides) = collapsed
    assert len(sizes) == _cuda_kernels.MAX_DIMS
    np.testing.assert_array_equal(_kernel_offsets(sizes, view_strides, view.size),
                                  _element_offsets(view, BASE))
    np.testing.assert_array_equal(_kernel_offsets(sizes, second_strides, view.size),
                                  np.arange(view.size))


def test_collapse_merges_a_contiguous_array_into_one_dimension():
    sizes, (strides,) = collapse_dimensions((4, 5, 6), [(30, 6, 1)])
    assert sizes == (1, 1, 1, 120) and strides == (0, 0, 0, 1)


def test_collapse_gives_up_beyond_the_kernel_dimensions():
    view = np.zeros((3,) * 6)[::2, :, ::2, :, ::2, :]
    strides = [tuple(s // 8 for s in view.strides)]
    assert collapse_dimensions(view.shape, strides) is None


@pytest.mark.parametrize('shape, target, expected', [
    ((1, 4), (3, 4), (0, 1)), ((3, 1), (3, 4), (1, 0)), ((3, 4), (3, 4), (4, 1)),
    ((2, 3, 1), (2, 3, 5), (3, 1, 0)), ((1, 1), (1, 1), (0, 0))])
def test_broadcast_strides_repeat_with_zero_steps(shape, target, expected):
    strides = tuple(s // 8 for s in np.zeros(shape).strides)
    assert broadcast_strides(shape, strides, target) == expected


def test_broadcast_strides_reject_incompatible_shapes():
    with pytest.raises(HandlerContractError, match='cannot broadcast'):
        broadcast_strides((2, 4), (4, 1), (3, 4))


def test_contiguity_ignores_size_one_axes():
    assert is_c_contiguous((3, 1, 4), (4, 99, 1))
    assert not is_c_contiguous((3, 4), (1, 3))


def _emulate_reduction(flat, start, plan):
    sums = []
    for output in range(plan['outputs']):
        k = np.arange(plan['count'])
        offsets = (start + output * plan['outer'] + (k // plan['inner_cols']) * plan['row']
                   + (k % plan['inner_cols']) * plan['col'])
        sums.append(flat[offsets].sum())
    return np.array(sums)


@pytest.mark.parametrize('layout, axis', [(layout, axis) for layout in
                                          ('contiguous', 'strided', 'transposed', 'vector')
                                          for axis in (None, 0, 1)
                                          if not (layout == 'vector' and axis == 1)])
def test_reduction_plans_sum_what_numpy_sums(layout, axis):
    flat = np.random.default_rng(3).standard_normal(400)
    base = flat[:72].reshape(6, 12)
    view = {'contiguous': base[:, :5].copy(), 'strided': base[:, 3:8], 'transposed': base[:5, :4].T,
            'vector': base[2, 1:9]}[layout]
    if layout == 'contiguous':
        flat, base = view.reshape(-1), view
    start = (view.__array_interface__['data'][0] - flat.__array_interface__['data'][0]) // 8
    plan = reduction_plan(view.shape, tuple(s // 8 for s in view.strides), axis)
    expected = np.sum(view, axis=axis).reshape(-1)
    np.testing.assert_allclose(_emulate_reduction(flat, start, plan), expected)


def test_reduction_lanes_suit_column_sums_and_rows_suit_row_sums():
    assert reduction_plan((100, 30), (30, 1), 0)['lanes']
    assert not reduction_plan((100, 30), (30, 1), 1)['lanes']
    assert not reduction_plan((100, 30), (30, 1), None)['lanes']


def _operand_of(view, memory):
    pointer = (view.__array_interface__['data'][0] - memory.__array_interface__['data'][0]) // 8
    return describe_operand(pointer, view.shape, tuple(s // 8 for s in view.strides))


def _place(memory, offset, shape, layout):
    """A view of ``shape`` inside the flat ``memory`` at ``offset``, laid out as asked."""
    rows, cols = shape
    if layout == 'contiguous':
        return memory[offset:offset + rows * cols].reshape(rows, cols)
    if layout == 'strided':  # a slice of a wider row-major buffer
        return memory[offset:offset + rows * (cols + 3)].reshape(rows, cols + 3)[:, 1:1 + cols]
    # transposed: the .T of a row-major (cols, rows) matrix with a row stride rows + 2
    return memory[offset:offset + cols * (rows + 2)].reshape(cols, rows + 2)[:, :rows].T


@pytest.mark.parametrize('sizes', [(3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (1, 1, 1)],
                         ids=lambda sizes: 'x'.join(map(str, sizes)))
@pytest.mark.parametrize('transa', [False, True])
@pytest.mark.parametrize('transb', [False, True])
@pytest.mark.parametrize('layouts', [('contiguous',) * 3, ('strided',) * 3,
                                     ('transposed',) * 3, ('transposed', 'strided', 'contiguous'),
                                     ('contiguous', 'transposed', 'strided')],
                         ids=lambda layouts: '-'.join(layouts))
@pytest.mark.parametrize('accumulate', [False, True])
def test_row_major_gemm_plans_compute_the_product(sizes, transa, transb, layouts, accumulate):
    rows, cols, inner = sizes
    rng = np.random.default_rng(5)
    memory = rng.standard_normal(600)
    a = _place(memory, 0, (inner, rows) if transa else (rows, inner), layouts[0])
    b = _place(memory, 200, (cols, inner) if transb else (inner, cols), layouts[1])
    out = _place(memory, 400, (rows, cols), layouts[2])
    before = out.copy()
    expected = (a.T if transa else a) @ (b.T if transb else b) + (before if accumulate else 0)
    operands = [_operand_of(view, memory) for view in (a, b, out)]
    assert None not in operands
    plan = plan_product(*operands, transa, transb, (rows, cols, inner))
    emulate_column_major_gemm(memory, plan, 1.0, 1.0 if accumulate else 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_views_without_a_unit_stride_are_not_given_to_cublas():
    matrix = np.zeros((6, 6))[::2, ::2]
    assert _operand_of(matrix, matrix.base.reshape(-1)) is None


def test_a_plain_row_major_product_swaps_the_operands():
    first, second, out = Operand(0, 5, False), Operand(100, 7, False), Operand(200, 7, False)
    plan = plan_product(first, second, out, False, False, (3, 7, 5))
    assert (plan.op_a, plan.op_b, plan.m, plan.n, plan.k) == (OP_N, OP_N, 7, 3, 5)
    assert (plan.a, plan.b, plan.c) == (100, 0, 200)


# ======================================= with a GPU, and on the CPU emulation of CUDA

def _gpu_handler(dtype):
    from brainstorm.handlers import PyCudaHandler
    return PyCudaHandler(dtype)


def _emulated_handler(dtype):
    from tests.cuda_emulator import emulated_pycuda_handler
    return emulated_pycuda_handler(dtype)


@pytest.fixture(params=[
    pytest.param('gpu', marks=needs_gpu),
    pytest.param('emulated', marks=needs_emulator),
    pytest.param('emulated-reverse-order', marks=needs_emulator),
])
def make_handler(request):
    """``dtype -> PyCudaHandler``: on the GPU, and on the CPU emulation (tests/cuda_emulator).

    The emulation also runs every kernel's blocks and threads last first
    (``emulated-reverse-order``): a kernel whose result depends on the order of its
    threads fails there.
    """
    if request.param == 'gpu':
        yield _gpu_handler
        return
    from tests.cuda_emulator import fake_pycuda
    fake_pycuda.set_reverse_order(request.param == 'emulated-reverse-order')
    try:
        yield _emulated_handler
    finally:
        fake_pycuda.set_reverse_order(False)


def _tolerance(dtype):
    return {'rtol': 1e-9, 'atol': 1e-10} if dtype == np.float64 else {'rtol': 2e-4,
                                                                      'atol': 2e-4}


def _on_gpu(handler, array, contiguous):
    """A handler copy of ``array``, as a slice of a wider buffer unless contiguous."""
    if contiguous:
        return handler.create_from_numpy(array)
    wider = np.random.default_rng(0).standard_normal(array.shape[:-1] + (array.shape[-1] + 3,))
    wider[..., 1:1 + array.shape[-1]] = array
    return handler.create_from_numpy(wider)[..., 1:1 + array.shape[-1]]


def _run_conv(handler, case, data, contiguous):
    _, _, _, padding, stride = case
    inputs, weights, bias, out_shape, in_deltas, weight_deltas, bias_deltas, out_deltas = data
    arrays = {name: _on_gpu(handler, value, contiguous) if handler_is_gpu(handler) else
              value.copy() for name, value in
              dict(inputs=inputs, weights=weights, bias=bias, in_deltas=in_deltas,
                   weight_deltas=weight_deltas, bias_deltas=bias_deltas,
                   out_deltas=out_deltas, outputs=np.full(out_shape, np.nan)).items()}
    handler.conv2d_forward_batch(arrays['inputs'], arrays['weights'], arrays['bias'],
                                 arrays['outputs'], padding, stride)
    handler.conv2d_backward_batch(arrays['inputs'], arrays['weights'], padding, stride,
                                  arrays['in_deltas'], arrays['out_deltas'],
                                  arrays['weight_deltas'], arrays['bias_deltas'])
    return {name: handler.get_numpy_copy(arrays[name]).astype(np.float64)
            for name in ('outputs', 'in_deltas', 'weight_deltas', 'bias_deltas')}


def handler_is_gpu(handler):
    return type(handler).__name__ == 'PyCudaHandler'


@pytest.mark.parametrize('dtype', [np.float32, np.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('case', CONV_CASES, ids=[case[0] for case in CONV_CASES])
def test_conv_ops_match_numpy(case, contiguous, dtype, make_handler):
    _, in_shape, (filters, kh, kw), padding, stride = case
    rng = np.random.default_rng(len(case[0]))
    n, height, width, channels = in_shape
    out_shape = (n, (height + 2 * padding - kh) // stride[0] + 1,
                 (width + 2 * padding - kw) // stride[1] + 1, filters)
    data = (rng.standard_normal(in_shape), rng.standard_normal((filters, kh, kw, channels)),
            rng.standard_normal(filters), out_shape, rng.standard_normal(in_shape),
            rng.standard_normal((filters, kh, kw, channels)), rng.standard_normal(filters),
            rng.standard_normal(out_shape))
    expected = _run_conv(NumpyHandler(np.float64), case, data, True)
    got = _run_conv(make_handler(dtype), case, data, contiguous)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], err_msg=f"{case[0]}: {name}",
                                   **_tolerance(dtype))



@pytest.mark.parametrize('case', CONV_CASES, ids=[case[0] for case in CONV_CASES])
def test_conv_backward_without_input_deltas_matches_numpy(case, make_handler):
    """in_deltas=None: only the weight and bias gradients are computed."""
    _, in_shape, (filters, kh, kw), padding, stride = case
    rng = np.random.default_rng(len(case[0]))
    inputs = rng.standard_normal(in_shape)
    weights = rng.standard_normal((filters, kh, kw, in_shape[3]))
    out_shape = (in_shape[0], (in_shape[1] + 2 * padding - kh) // stride[0] + 1,
                 (in_shape[2] + 2 * padding - kw) // stride[1] + 1, filters)
    out_deltas = rng.standard_normal(out_shape)
    results = []
    for handler in (NumpyHandler(np.float64), make_handler(np.float64)):
        arrays = [handler.create_from_numpy(value) for value in
                  (inputs, weights, out_deltas, np.zeros_like(weights), np.zeros(filters))]
        handler.conv2d_backward_batch(arrays[0], arrays[1], padding, stride, None,
                                      *arrays[2:])
        results.append([handler.get_numpy_copy(array) for array in arrays[3:]])
    for name, expected, got in zip(('weight_deltas', 'bias_deltas'), *results):
        np.testing.assert_allclose(got, expected, err_msg=f"{case[0]}: {name}",
                                   **_tolerance(np.float64))


def _run_pool(handler, kind, case, data, contiguous):
    _, _, window, padding, stride = case
    inputs, out_shape, in_deltas, out_deltas = data
    gpu = handler_is_gpu(handler)

    def place(value):
        return _on_gpu(handler, value, contiguous) if gpu else value.copy()
    inputs_h, in_deltas_h, out_deltas_h = place(inputs), place(in_deltas), place(out_deltas)
    outputs_h = place(np.full(out_shape, np.nan))
    result = {}
    if kind == 'max':
        argmax_h = place(np.full(out_shape, np.nan))
        handler.maxpool2d_forward_batch(inputs_h, window, outputs_h, padding, stride, argmax_h)
        handler.maxpool2d_backward_batch(inputs_h, window, outputs_h, padding, stride, argmax_h,
                                         in_deltas_h, out_deltas_h)
        result['argmax'] = handler.get_numpy_copy(argmax_h)
    else:
        handler.avgpool2d_forward_batch(inputs_h, window, outputs_h, padding, stride)
        handler.avgpool2d_backward_batch(inputs_h, window, outputs_h, padding, stride,
                                         in_deltas_h, out_deltas_h)
    result['outputs'] = handler.get_numpy_copy(outputs_h)
    result['in_deltas'] = handler.get_numpy_copy(in_deltas_h)
    return {name: value.astype(np.float64) for name, value in result.items()}


def _pool_problem(case):
    """(rng, outputs' shape, inputs) of a POOL_CASES case; rng goes on after the inputs."""
    _, in_shape, window, padding, stride = case
    rng = np.random.default_rng(len(case[0]))
    n, height, width, channels = in_shape
    out_shape = (n, (height + 2 * padding - window[0]) // stride[0] + 1,
                 (width + 2 * padding - window[1]) // stride[1] + 1, channels)
    # values on a coarse grid in float32 and float64 alike, so ties stay ties
    inputs = rng.integers(-3, 4, size=in_shape).astype(np.float64)
    return rng, out_shape, inputs


@pytest.mark.parametrize('dtype', [np.float32, np.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('kind', ['max', 'avg'])
@pytest.mark.parametrize('case', POOL_CASES, ids=[case[0] for case in POOL_CASES])
def test_pool_ops_match_numpy(case, kind, contiguous, dtype, make_handler):
    rng, out_shape, inputs = _pool_problem(case)
    data = (inputs, out_shape, rng.standard_normal(inputs.shape),
            rng.standard_normal(out_shape))
    expected = _run_pool(NumpyHandler(np.float64), kind, case, data, True)
    got = _run_pool(make_handler(dtype), kind, case, data, contiguous)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], err_msg=f"{case[0]}: {name}",
                                   **_tolerance(dtype))


@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
@pytest.mark.parametrize('case', POOL_CASES, ids=[case[0] for case in POOL_CASES])
def test_maxpool_without_argmax_matches_numpy(case, contiguous, make_handler):
    """argmax=None: the same outputs; a later call with an argmax still fills it."""
    _, _, window, padding, stride = case
    _, out_shape, inputs = _pool_problem(case)
    reference = NumpyHandler(np.float64)
    expected_outputs, expected_argmax = np.zeros(out_shape), np.zeros(out_shape)
    reference.maxpool2d_forward_batch(inputs, window, expected_outputs, padding, stride,
                                      expected_argmax)
    handler = make_handler(np.float64)
    inputs_h = _on_gpu(handler, inputs, contiguous)
    outputs_h = _on_gpu(handler, np.full(out_shape, np.nan), contiguous)
    handler.maxpool2d_forward_batch(inputs_h, window, outputs_h, padding, stride, None)
    np.testing.assert_array_equal(handler.get_numpy_copy(outputs_h), expected_outputs)
    argmax_h = _on_gpu(handler, np.full(out_shape, np.nan), contiguous)
    handler.maxpool2d_forward_batch(inputs_h, window, outputs_h, padding, stride, argmax_h)
    np.testing.assert_array_equal(handler.get_numpy_copy(argmax_h), expected_argmax)


@pytest.mark.parametrize('op_name, case', _op_case_params())
def test_every_op_case_in_float64(op_name, case, make_handler):
    run_case(make_handler(np.float64), op_name, case)


@pytest.mark.parametrize('dtype', [np.float32, np.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('transa, transb', [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_large_products_match_numpy(dtype, transa, transb, make_handler):
    handler, rng = make_handler(dtype), np.random.default_rng(1)
    a = rng.standard_normal((257, 300) if transa else (300, 257))
    b = rng.standard_normal((129, 257) if transb else (257, 129))
    out = handler.create_from_numpy(rng.standard_normal((300, 129)))
    before = handler.get_numpy_copy(out).astype(np.float64)
    handler.dot_add_mm(handler.create_from_numpy(a), handler.create_from_numpy(b), out,
                       transa, transb)
    expected = before + (a.T if transa else a) @ (b.T if transb else b)
    scale = {'rtol': 1e-9, 'atol': 1e-9} if dtype == np.float64 else {'rtol': 1e-3,
                                                                      'atol': 1e-3}
    np.testing.assert_allclose(handler.get_numpy_copy(out), expected, **scale)


def test_products_of_views_without_a_unit_stride(make_handler):
    handler, rng = make_handler(np.float64), np.random.default_rng(2)
    a, b = rng.standard_normal((8, 10)), rng.standard_normal((10, 6))
    a_gpu = handler.create_from_numpy(a)[::2, ::2]
    b_gpu = handler.create_from_numpy(b)[::2, ::2]
    out = handler.create_from_numpy(np.zeros((8, 6)))[::2, ::2]
    handler.dot_mm(a_gpu, b_gpu, out)
    np.testing.assert_allclose(handler.get_numpy_copy(out), a[::2, ::2] @ b[::2, ::2],
                               rtol=1e-12)


@pytest.mark.parametrize('dtype', [np.float32, np.float64], ids=['float32', 'float64'])
def test_many_blocks_grid_stride_loops_and_long_rows(dtype, make_handler):
    handler, rng = make_handler(dtype), np.random.default_rng(3)
    tolerance = _tolerance(dtype)
    big = rng.standard_normal(3_000_001)  # more elements than one launch has threads
    result = handler.zeros(big.shape)
    handler.add_st(1.5, handler.create_from_numpy(big), result)
    np.testing.assert_allclose(handler.get_numpy_copy(result), big + 1.5, **tolerance)
    matrix = rng.standard_normal((70, 3000))  # rows longer than a block
    total = handler.zeros((1, 3000))
    handler.sum_t(handler.create_from_numpy(matrix), 0, total)
    np.testing.assert_allclose(handler.get_numpy_copy(total)[0], matrix.sum(axis=0),
                               **tolerance)
    row_sums = handler.zeros((70, 1))
    handler.sum_t(handler.create_from_numpy(matrix), 1, row_sums)
    np.testing.assert_allclose(handler.get_numpy_copy(row_sums)[:, 0], matrix.sum(axis=1),
                               rtol=tolerance['rtol'], atol=1e-2)
    probabilities = handler.zeros(matrix.shape)
    handler.softmax_m(handler.create_from_numpy(matrix), probabilities)
    expected = np.exp(matrix - matrix.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(handler.get_numpy_copy(probabilities), expected, **tolerance)
    assert handler.is_fully_finite(handler.create_from_numpy(big))
    big[2_999_999] = np.inf
    assert not handler.is_fully_finite(handler.create_from_numpy(big))


def test_seeds_fix_random_arrays_and_calls_differ(make_handler):
    handler = make_handler(np.float32)
    mask, gauss = handler.zeros((50, 40)), handler.zeros((50, 40))
    results = []
    for _ in range(2):
        handler.set_seed(11)
        handler.generate_probability_mask(mask, 0.5)
        first_mask = handler.get_numpy_copy(mask)
        handler.generate_probability_mask(mask, 0.5)
        second_mask = handler.get_numpy_copy(mask)
        handler.fill_gaussian(0.0, 1.0, gauss)
        results.append((first_mask, second_mask, handler.get_numpy_copy(gauss)))
    for first, second in zip(*results):
        np.testing.assert_array_equal(first, second)
    assert not np.array_equal(results[0][0], results[0][1])  # a new key for every call


def test_views_beyond_the_kernel_dimensions_raise(make_handler):
    handler = make_handler(np.float32)
    view = handler.zeros((3,) * 6)[::2, :, ::2, :, ::2, :]
    with pytest.raises(HandlerContractError, match='strided dimensions'):
        handler.add_st(1.0, view, view)


def test_empty_arrays_slice_and_reshape_like_the_engine_does(make_handler):
    handler = make_handler(np.float32)
    empty = handler.zeros((0,))
    assert tuple(empty[:0].reshape((0, 3)).shape) == (0, 3)
    assert handler.get_numpy_copy(empty).shape == (0,)
    assert handler.is_fully_finite(empty)


@gpu_only
def test_description_round_trip():
    handler = _gpu_handler(np.float64)
    copy = create_from_description(get_description(handler))
    assert type(copy) is type(handler) and copy.dtype == np.float64

