"""The CUDA emulator catches what it claims to catch, and computes what CUDA would.

Its value to the GPU tests rests on these: a barrier makes other threads' shared
memory writes visible, a divergent barrier, a write past an array, a launch with
wrong argument types or out-of-range values, and a pointer to nothing all fail
loudly; fresh memory is NaN; views lay out memory as numpy's do; the emulated
cuBLAS computes column-major gemm and refuses bad leading dimensions.
"""

import numpy as np
import pytest

from tests.cuda_emulator import fake_pycuda
from tests.cuda_emulator.marks import needs_emulator

pytestmark = needs_emulator

SOURCE = r"""
typedef float real;

// each block sums its 64 inputs through shared memory, in log2(64) barrier rounds
extern "C" __global__ void block_sums(const real* values, real* sums)
{
    __shared__ real partial[64];
    partial[threadIdx.x] = values[blockIdx.x * 64 + threadIdx.x];
    __syncthreads();
    for (int half = 32; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[blockIdx.x] = partial[0];
}

// only the lower half of the block reaches the barrier: undefined on a GPU
extern "C" __global__ void divergent(real* out)
{
    if (threadIdx.x < blockDim.x / 2) __syncthreads();
    out[threadIdx.x] = 1;
}

// writes n + 1 elements
extern "C" __global__ void overrun(const int n, real* out)
{
    for (int i = threadIdx.x; i <= n; i += blockDim.x) out[i] = 2;
}
"""


@pytest.fixture(scope='module')
def runtime():
    modules = fake_pycuda.build_modules()
    module = modules['pycuda.compiler'].SourceModule(SOURCE, no_extern_c=True)
    return modules, module


def device_array(modules, values):
    gpuarray = modules['pycuda.gpuarray']
    values = np.ascontiguousarray(values, dtype=np.float32)
    array = gpuarray.GPUArray(values.shape, np.float32)
    modules['pycuda.driver'].memcpy_htod(int(array.gpudata), values)
    return array


def test_barriers_make_shared_memory_writes_visible(runtime):
    modules, module = runtime
    values = np.random.default_rng(0).standard_normal(3 * 64)
    inputs, sums = device_array(modules, values), device_array(modules, np.zeros(3))
    kernel = module.get_function('block_sums').prepare([np.uintp, np.uintp])
    kernel.prepared_call((3, 1), (64, 1, 1), int(inputs.gpudata), int(sums.gpudata))
    np.testing.assert_allclose(sums.get(), values.reshape(3, 64).sum(axis=1), rtol=1e-5)


def test_a_barrier_only_some_threads_reach_fails(runtime):
    modules, module = runtime
    out = device_array(modules, np.zeros(8))
    kernel = module.get_function('divergent').prepare([np.uintp])
    with pytest.raises(fake_pycuda.EmulatorError, match='only some threads'):
        kernel.prepared_call((1, 1), (8, 1, 1), int(out.gpudata))


def test_writing_past_an_array_fails(runtime):
    modules, module = runtime
    out = modules['pycuda.gpuarray'].GPUArray((10,), np.float32)
    kernel = module.get_function('overrun').prepare([np.int32, np.uintp])
    with pytest.raises(fake_pycuda.EmulatorError, match='wrote outside'):
        kernel.prepared_call((1, 1), (32, 1, 1), 10, int(out.gpudata))
    # the guard is restored so that later tests see intact allocations
    allocation = out.gpudata
    allocation._buffer[:allocation._offset] = fake_pycuda.GUARD_VALUE
    allocation._buffer[allocation._offset + allocation.nbytes:] = fake_pycuda.GUARD_VALUE


def test_fresh_memory_holds_nan(runtime):
    modules, _ = runtime
    assert np.isnan(modules['pycuda.gpuarray'].GPUArray((4, 3), np.float64).get()).all()


@pytest.mark.parametrize('types, arguments, message', [
    ([np.uintp, np.uintp], (1, 0), 'takes'),            # overrun wants (int, pointer)
    ([np.int32, np.uintp], (2 ** 31, 0), '32-bit int'),
    ([np.int32, np.uintp], (1.5, 0), 'not an integer'),
    ([np.int32, np.uintp], (1, 12345), 'no live allocation'),
])
def test_launch_arguments_are_checked(runtime, types, arguments, message):
    _, module = runtime
    with pytest.raises(fake_pycuda.EmulatorError, match=message):
        kernel = module.get_function('overrun').prepare(types)
        kernel.prepared_call((1, 1), (32, 1, 1), *arguments)


@pytest.mark.parametrize('grid, block, message', [
    ((1, 1), (2048, 1, 1), 'invalid block'), ((0, 1), (32, 1, 1), 'invalid grid'),
    ((1, 70000), (32, 1, 1), 'invalid grid'), ((1, 1), [32, 1, 1], 'must be tuples')])
def test_launch_shapes_beyond_cuda_limits_fail(runtime, grid, block, message):
    modules, module = runtime
    out = device_array(modules, np.zeros(8))
    kernel = module.get_function('overrun').prepare([np.int32, np.uintp])
    with pytest.raises(fake_pycuda.EmulatorError, match=message):
        kernel.prepared_call(grid, block, 0, int(out.gpudata))


def test_an_unknown_kernel_is_a_named_error(runtime):
    _, module = runtime
    with pytest.raises(fake_pycuda.EmulatorError, match='no_such_kernel'):
        module.get_function('no_such_kernel')


@pytest.mark.parametrize('index', [np.s_[1:3], np.s_[:, ::2], np.s_[2, 1:], np.s_[..., 3],
                                   np.s_[::-1], np.s_[1:4, None]])
def test_views_address_the_elements_numpy_views_address(runtime, index):
    modules, _ = runtime
    host = np.arange(20, dtype=np.float32).reshape(4, 5)
    array = device_array(modules, host)
    view, expected = array[index], host[index]
    assert view.shape == expected.shape and view.strides == expected.strides
    offset = int(view.gpudata) - int(array.gpudata)
    assert offset == expected.__array_interface__['data'][0] - host.ctypes.data


def test_only_contiguous_arrays_reshape_like_pycuda(runtime):
    modules, _ = runtime
    array = device_array(modules, np.zeros((4, 6)))
    assert array[1:3].reshape((12,)).shape == (12,)
    with pytest.raises(RuntimeError, match='contiguous'):
        array[:, :3].reshape((12,))


def test_emulated_cublas_computes_column_major_gemm_and_checks_leading_dimensions(monkeypatch):
    from brainstorm.errors import BrainstormError
    from brainstorm.handlers._cublas import OP_N, OP_T, Cublas, GemmPlan

    monkeypatch.setenv('BRAINSTORM_CUBLAS_LIBRARY', fake_pycuda.build_cublas())
    cublas = Cublas()  # brainstorm's own binding, loading the emulation
    rng = np.random.default_rng(1)
    a = np.asfortranarray(rng.standard_normal((4, 3)))   # op_a = T: A^T is (3, 4)
    b = np.asfortranarray(rng.standard_normal((4, 5)))   # (k=4, n=5)
    c = np.asfortranarray(rng.standard_normal((3, 5)))
    expected = a.T @ b + c
    plan = GemmPlan(OP_T, OP_N, 3, 5, 4, a.ctypes.data, 4, b.ctypes.data, 4, c.ctypes.data, 3)
    cublas.gemm(8, plan, accumulate=True)
    np.testing.assert_allclose(c, expected, rtol=1e-12)
    bad = GemmPlan(OP_T, OP_N, 3, 5, 4, a.ctypes.data, 3, b.ctypes.data, 4, c.ctypes.data, 3)
    with pytest.raises(BrainstormError, match='CUBLAS_STATUS_INVALID_VALUE'):
        cublas.gemm(8, bad, accumulate=False)
    cublas.destroy()


ORDER_SOURCE = r"""
typedef float real;

// every thread writes its own index into out[0]: the last thread to run wins
extern "C" __global__ void last_writer(real* out)
{
    out[0] = (real)(blockIdx.x * blockDim.x + threadIdx.x);
}
"""


def test_reverse_order_runs_the_last_thread_first():
    modules = fake_pycuda.build_modules()
    module = modules['pycuda.compiler'].SourceModule(ORDER_SOURCE, no_extern_c=True)
    out = device_array(modules, np.zeros(1))
    kernel = module.get_function('last_writer').prepare([np.uintp])
    winners = []
    for reverse in (False, True):
        fake_pycuda.set_reverse_order(reverse)
        try:
            kernel.prepared_call((3, 1), (8, 1, 1), int(out.gpudata))
        finally:
            fake_pycuda.set_reverse_order(False)
        winners.append(out.get()[0])
    assert winners == [23.0, 0.0]


def test_reverse_order_keeps_barrier_semantics(runtime):
    fake_pycuda.set_reverse_order(True)
    try:
        test_barriers_make_shared_memory_writes_visible(runtime)
    finally:
        fake_pycuda.set_reverse_order(False)
