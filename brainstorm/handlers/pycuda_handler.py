"""PyCudaHandler: the whole handler op set on an NVIDIA GPU, through pycuda.

Memory is pycuda ``GPUArray``; every op runs on the GPU:

* elementwise ops, broadcasting (``*_mv``, ``broadcast_t``), copies, random
  numbers: kernels generated from the expression templates in
  :mod:`brainstorm.handlers._cuda_kernels`, in a contiguous variant and a
  strided one (per-array strides over up to four collapsed dimensions, a zero
  stride broadcasting);
* matrix products: cuBLAS gemm through :mod:`brainstorm.handlers._cublas`
  (row-major by operand swap; ``dot_add_mm`` is one gemm with beta = 1);
* reductions, softmax, one-hot rows, per-row indexing: their own kernels;
* convolution: im2col kernel + one gemm (forward, weight gradient, column
  deltas) + a gathering col2im kernel; pooling: one kernel per direction;
* random numbers: Philox4x32-10 keyed by two words drawn from ``self.rnd``
  per call, so ``set_seed`` fixes every mask and sample.

All kernels of a dtype form one CUDA module, compiled by pycuda (nvcc) the
first time any op of that dtype runs in the process, and cached for every
handler of that dtype. The CUDA context (the device's primary context) and the
cuBLAS handle are created once per process, by the first ``PyCudaHandler()``.
Importing this module touches neither pycuda nor CUDA; only ``__init__`` does,
and it raises :class:`~brainstorm.errors.HandlerUnavailableError` with one clear
message where pycuda, a driver, a GPU or cuBLAS is missing.

Views: ops accept any view of a handler array whose dimensions collapse to at
most four strided ones (slices along any axis, ``.T`` of matrices, integer
indexing); the conv and pool ops copy non-contiguous arguments through
scratch memory. ``reshape`` needs a contiguous array (pycuda's rule).
"""

import atexit
import importlib.util
import math
import os
import warnings

import numpy as np

from brainstorm.errors import HandlerContractError, HandlerUnavailableError, ValidationError
from brainstorm.handlers import _cuda_kernels as kernels
from brainstorm.handlers._cublas import describe_operand, plan_product
from brainstorm.handlers.base_handler import Handler

#: The most blocks a grid-stride kernel is launched with.
MAX_BLOCKS = 8192

_UNAVAILABLE = "PyCudaHandler needs pycuda and an NVIDIA GPU: "


# ------------------------------------------------------------------ layout planning
# Pure functions of shapes and strides (in elements), tested on the CPU.

def c_contiguous_strides(shape):
    """Element strides of a C-contiguous array of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def is_c_contiguous(shape, strides):
    """Whether element ``strides`` lay ``shape`` out C-contiguously (size-1 axes ignored)."""
    step = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if stride != step:
            return False
        step *= size
    return True


def broadcast_strides(shape, strides, target_shape):
    """Strides that read an array of ``shape`` broadcast to ``target_shape`` (0 on repeats).

    Raises:
        HandlerContractError: when the shapes do not broadcast.
    """
    if len(shape) != len(target_shape):
        raise HandlerContractError(f"cannot broadcast shape {tuple(shape)} to "
                                   f"{tuple(target_shape)}: ranks differ")
    result = []
    for size, stride, target in zip(shape, strides, target_shape):
        if size == target:
            result.append(stride if size != 1 else 0)
        elif size == 1:
            result.append(0)
        else:
            raise HandlerContractError(f"cannot broadcast shape {tuple(shape)} to "
                                       f"{tuple(target_shape)}")
    return tuple(result)


def collapse_dimensions(shape, strides_per_array, max_dims=kernels.MAX_DIMS):
    """Merge axes that every array steps through uniformly; drop size-1 axes.

    Args:
        shape (tuple[int]): the logical shape shared by all arrays.
        strides_per_array (list[tuple[int]]): each array's element strides.
        max_dims (int): the most dimensions the result may have.

    Returns:
        (sizes, strides_per_array): exactly ``max_dims`` sizes (leading ones
        padded with size 1, stride 0) and each array's strides over them;
        None when more than ``max_dims`` dimensions remain.
    """
    merged = []  # [size, [stride per array]], outermost first
    for axis, size in enumerate(shape):
        if size == 1:
            continue
        strides = [array_strides[axis] for array_strides in strides_per_array]
        if merged and all(outer == inner * size
                          for outer, inner in zip(merged[-1][1], strides)):
            merged[-1] = [merged[-1][0] * size, strides]
        else:
            merged.append([size, strides])
    if len(merged) > max_dims:
        return None
    while len(merged) < max_dims:
        merged.insert(0, [1, [0] * len(strides_per_array)])
    sizes = tuple(size for size, _ in merged)
    per_array = [tuple(strides[index] for _, strides in merged)
                 for index in range(len(strides_per_array))]
    return sizes, per_array


def vector_stride(shape, strides):
    """The element stride between consecutive elements of an array with one non-1 axis."""
    for size, stride in zip(shape, strides):
        if size != 1:
            return stride
    return 1


def reduction_plan(shape, strides, axis):
    """How the reduction kernels sum a 1D or 2D array over ``axis``.

    Returns:
        dict with ``outputs`` (number of sums), ``count`` (elements per sum),
        ``inner_cols``, ``outer``, ``row``, ``col`` (see the kernels in
        :mod:`brainstorm.handlers._cuda_kernels`) and ``lanes`` (whether the
        32-outputs-side-by-side kernel suits the layout better).
    """
    if len(shape) == 1:
        shape, strides = (1, shape[0]), (0, strides[0])
        axis = None if axis in (None, 0) else axis
    rows, cols = shape
    row_stride, col_stride = strides
    if axis is None:
        plan = dict(outputs=1, count=rows * cols, inner_cols=max(cols, 1), outer=0,
                    row=row_stride, col=col_stride)
    elif axis == 0:
        plan = dict(outputs=cols, count=rows, inner_cols=max(rows, 1), outer=col_stride,
                    row=0, col=row_stride)
    else:
        plan = dict(outputs=rows, count=cols, inner_cols=max(cols, 1), outer=row_stride,
                    row=0, col=col_stride)
    plan['lanes'] = plan['outputs'] > 1 and abs(plan['outer']) <= abs(plan['col'])
    return plan


# ------------------------------------------------------------ the per-process runtime

class _CudaRuntime:
    """pycuda, the primary context of one device, cuBLAS and the compiled modules."""

    def __init__(self):
        # pycuda warns before it fails when the driver is missing or too old; the
        # warning's text belongs in the one error, not in the caller's warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                import pycuda.driver as driver
                from pycuda.compiler import SourceModule
                from pycuda.gpuarray import GPUArray
            except ImportError as error:
                if importlib.util.find_spec('pycuda') is None:
                    raise HandlerUnavailableError(
                        f"{_UNAVAILABLE}pycuda is not installed; install it with pip install "
                        f"'.[gpu]' (building it needs the CUDA toolkit)") from None
                notes = ' '.join(str(warning.message) for warning in caught)
                raise HandlerUnavailableError(
                    f"{_UNAVAILABLE}pycuda is installed but its CUDA driver interface does "
                    f"not load ({error}{'; ' + notes if notes else ''}); is the NVIDIA "
                    f"driver installed?") from None
        try:
            driver.init()
            count = driver.Device.count()
        except Exception as error:  # pycuda raises its own types; all mean "no usable driver"
            raise HandlerUnavailableError(
                f"{_UNAVAILABLE}the CUDA driver does not start ({error})") from None
        if count == 0:
            raise HandlerUnavailableError(f"{_UNAVAILABLE}the CUDA driver sees no device")
        index = int(os.environ.get('BRAINSTORM_CUDA_DEVICE', '0'))
        try:
            self.device = driver.Device(index)
            self.context = self.device.retain_primary_context()
            self.context.push()
        except Exception as error:
            raise HandlerUnavailableError(
                f"{_UNAVAILABLE}cannot use CUDA device {index} ({error})") from None
        self.driver = driver
        self.GPUArray = GPUArray
        self.SourceModule = SourceModule
        try:
            from brainstorm.handlers._cublas import Cublas
            self.cublas = Cublas()
        except HandlerUnavailableError as error:
            self.context.pop()
            raise HandlerUnavailableError(f"{_UNAVAILABLE}{error}") from None
        self.modules = {}
        self.functions = {}
        atexit.register(self.close)

    def close(self):
        """Release cuBLAS and the context (at interpreter exit)."""
        if self.cublas is None:
            return
        try:
            self.cublas.destroy()
            self.context.pop()
            from pycuda.tools import clear_context_caches
            clear_context_caches()
        except Exception:  # at interpreter exit there is no one left to tell
            pass
        self.cublas = None

    def function(self, dtype, name):
        """The prepared kernel ``name`` of the module for ``dtype`` (compiled on first use)."""
        key = (dtype.name, name)
        function = self.functions.get(key)
        if function is None:
            module = self.modules.get(dtype.name)
            if module is None:
                module = self.SourceModule(kernels.module_source(dtype.name), no_extern_c=True)
                self.modules[dtype.name] = module
            codes = kernels.kernel_names()[name]
            types = {'P': np.uintp, 'i': np.int32, 'I': np.uint32, 'r': dtype.type}
            function = module.get_function(name)
            function.prepare([types[code] for code in codes])
            self.functions[key] = function
        return function


_RUNTIME = None


def _runtime():
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = _CudaRuntime()
    return _RUNTIME


def _blocks(count, per_block=kernels.BLOCK_SIZE):
    return (max(1, min(MAX_BLOCKS, -(-count // per_block))), 1)


# ---------------------------------------------------------------------- the handler

class PyCudaHandler(Handler):
    """Handler computing on an NVIDIA GPU with pycuda ``GPUArray`` memory.

    Args:
        dtype: float32 (default) or float64.
        seed (Optional[int]): seed of ``rnd``, from which every random kernel
            call draws its key; drawn from ``global_rnd`` when None.

    Raises:
        HandlerUnavailableError: without pycuda, a CUDA driver, a GPU or cuBLAS.
        ValidationError: for a dtype other than float32 or float64.

    Example:
        >>> handler = PyCudaHandler()            # doctest: +SKIP
        >>> net.set_handler(handler)             # doctest: +SKIP
    """

    supports_strided_views = True
    # the LSTM's recurrent matrix stays in the layout this handler has always used
    # (transposed, one product y @ R^T a step); both were never timed on a GPU
    prefers_transposed_weights = True

    def __init__(self, dtype=np.float32, seed=None):
        super().__init__(dtype, seed)
        if self.dtype.name not in kernels.C_TYPES:
            raise ValidationError(f"PyCudaHandler: dtype {self.dtype.name} is not supported; "
                                  f"use float32 or float64")
        self._cuda = _runtime()
        self.context = self._cuda.context
        self.array_type = self._cuda.GPUArray
        self._real = self.dtype.type
        self.EMPTY = self.zeros((0,))

    # -- launching ----------------------------------------------------------------

    def _kernel(self, name):
        return self._cuda.function(self.dtype, name)

    @staticmethod
    def _pointer(array):
        return int(array.gpudata) if array.gpudata is not None else 0

    def _strides(self, array):
        itemsize = self.dtype.itemsize
        return tuple(stride // itemsize for stride in array.strides)

    def _is_contiguous(self, array):
        return is_c_contiguous(array.shape, self._strides(array))

    def _elementwise(self, name, arrays, scalars=(), shape=None):
        """Run elementwise kernel ``name`` over ``arrays`` (in its spec's order).

        Arrays whose shape differs from ``shape`` (default: the last array's)
        are broadcast to it.
        """
        shape = tuple(arrays[-1].shape if shape is None else shape)
        count = math.prod(shape)
        if count == 0:
            return
        strides = [self._strides(array) for array in arrays]
        contiguous = True
        for index, array in enumerate(arrays):
            if tuple(array.shape) != shape:
                strides[index] = broadcast_strides(array.shape, strides[index], shape)
                contiguous = False
            elif contiguous and not is_c_contiguous(shape, strides[index]):
                contiguous = False
        scalar_values = [float(value) if code == 'r' else int(value)
                         for value, code in zip(scalars, kernels.elementwise_argument_codes(
                             name, 'contiguous')[1 + len(arrays):])]
        if contiguous:
            arguments = [count] + [self._pointer(array) for array in arrays] + scalar_values
            self._kernel(f'{name}_contiguous').prepared_call(
                _blocks(count), (kernels.BLOCK_SIZE, 1, 1), *arguments)
            return
        collapsed = collapse_dimensions(shape, strides)
        if collapsed is None:
            raise HandlerContractError(
                f"PyCudaHandler {name}: the views of shape {shape} have more than "
                f"{kernels.MAX_DIMS} non-mergeable strided dimensions")
        sizes, per_array = collapsed
        arguments = [count] + list(sizes[1:])
        for array, array_strides in zip(arrays, per_array):
            arguments += [self._pointer(array)] + list(array_strides)
        self._kernel(f'{name}_strided').prepared_call(
            _blocks(count), (kernels.BLOCK_SIZE, 1, 1), *(arguments + scalar_values))

    def _reduce(self, name, a, axis, out, accumulate):
        """Sum (``reduce_sum``) or count non-finite values of a 1D/2D ``a`` into ``out``."""
        plan = reduction_plan(tuple(a.shape), self._strides(a), axis)
        if plan['outputs'] == 0:
            return
        arguments = [plan['outputs'], plan['count'], plan['inner_cols'], self._pointer(a),
                     plan['outer'], plan['row'], plan['col'], self._pointer(out),
                     vector_stride(out.shape, self._strides(out)), int(accumulate)]
        if plan['lanes']:
            x_threads = kernels.LANES_BLOCK[0]
            self._kernel(f'{name}_lanes').prepared_call(
                _blocks(plan['outputs'], x_threads), kernels.LANES_BLOCK, *arguments)
        else:
            self._kernel(f'{name}_rows').prepared_call(
                (min(plan['outputs'], MAX_BLOCKS), 1), (kernels.ROW_BLOCK, 1, 1), *arguments)

    def _readable(self, key, array):
        """``array`` itself if C-contiguous, else a contiguous scratch copy of it."""
        if self._is_contiguous(array):
            return array
        copy = self._scratch(key, array.shape)
        self._elementwise('copy', [array, copy])
        return copy

    def _writable(self, key, array, keep_content):
        """``array`` itself if C-contiguous, else scratch (holding its content if asked)."""
        if self._is_contiguous(array):
            return array
        target = self._scratch(key, array.shape)
        if keep_content:
            self._elementwise('copy', [array, target])
        return target

    def _write_back(self, target, array):
        if target is not array:
            self._elementwise('copy', [target, array])

    # -- memory ---------------------------------------------------------------------

    def allocate(self, shape):
        shape = tuple(int(size) for size in (shape if isinstance(shape, (tuple, list))
                                             else (shape,)))
        if math.prod(shape) == 0:
            # pycuda gives empty arrays no memory, and then cannot slice or reshape them
            return self._cuda.GPUArray(shape, self.dtype,
                                       gpudata=self._cuda.driver.mem_alloc(self.dtype.itemsize))
        return self._cuda.GPUArray(shape, self.dtype)

    def zeros(self, shape):
        array = self.allocate(shape)
        self._elementwise('fill', [array], (0.0,))
        return array

    def ones(self, shape):
        array = self.allocate(shape)
        self._elementwise('fill', [array], (1.0,))
        return array

    def create_from_numpy(self, arr):
        host = np.ascontiguousarray(arr, dtype=self.dtype)
        array = self.allocate(host.shape)
        if host.size:
            self._cuda.driver.memcpy_htod(self._pointer(array), host)
        return array

    def get_numpy_copy(self, mem):
        result = np.empty(tuple(mem.shape), dtype=self.dtype)
        if result.size == 0:
            return result
        source = self._readable('get_numpy_copy', mem)
        self._cuda.driver.memcpy_dtoh(result, self._pointer(source))
        return result

    def set_from_numpy(self, mem, arr):
        host = np.ascontiguousarray(np.broadcast_to(arr, tuple(mem.shape)), dtype=self.dtype)
        if host.size == 0:
            return
        target = self._writable('set_from_numpy', mem, keep_content=False)
        self._cuda.driver.memcpy_htod(self._pointer(target), host)
        self._write_back(target, mem)

    def allocate_host(self, shape):
        shape = tuple(int(size) for size in shape)
        pagelocked_empty = getattr(self._cuda.driver, 'pagelocked_empty', None)
        if pagelocked_empty is None:
            return np.empty(shape, dtype=self.dtype)
        return pagelocked_empty(shape, self.dtype)

    def copy_to_numpy(self, mem, out):
        # a copy through a converted or contiguous temporary would allocate on every call,
        # which is what this op exists to avoid: refuse instead
        if not (isinstance(out, np.ndarray) and out.dtype == self.dtype
                and out.flags.c_contiguous and tuple(out.shape) == tuple(mem.shape)):
            raise HandlerContractError(
                f"copy_to_numpy: out must be a C-contiguous numpy array of shape "
                f"{tuple(mem.shape)} and dtype {self.dtype}, got "
                f"{type(out).__name__} {getattr(out, 'shape', '')} "
                f"{getattr(out, 'dtype', '')}")
        if out.size == 0:
            return
        source = self._readable('copy_to_numpy', mem)
        self._cuda.driver.memcpy_dtoh(out, self._pointer(source))

    # -- copy and fill ----------------------------------------------------------------

    def copy_to(self, src, dest):
        self._elementwise('copy', [src, dest])

    def copy_to_if(self, src, dest, cond):
        self._elementwise('copy_if', [src, cond, dest])

    def fill(self, mem, val):
        self._elementwise('fill', [mem], (val,))

    def fill_if(self, mem, val, cond):
        self._elementwise('fill_if', [cond, mem], (val,))

    # -- elementwise ----------------------------------------------------------------------

    def abs_t(self, a, out):
        self._elementwise('abs', [a, out])

    def add_st(self, s, t, out):
        self._elementwise('add_scalar', [t, out], (s,))

    def add_tt(self, a, b, out):
        self._elementwise('add', [a, b, out])

    def add_into_if(self, a, out, cond):
        self._elementwise('add_into_if', [a, cond, out])

    def subtract_tt(self, a, b, out):
        self._elementwise('subtract', [a, b, out])

    def mult_st(self, s, t, out):
        self._elementwise('mult_scalar', [t, out], (s,))

    def mult_tt(self, a, b, out):
        self._elementwise('mult', [a, b, out])

    def mult_add_st(self, s, t, out):
        self._elementwise('mult_add_scalar', [t, out], (s,))

    def mult_add_tt(self, a, b, out):
        self._elementwise('mult_add', [a, b, out])

    def divide_tt(self, a, b, out):
        self._elementwise('divide', [a, b, out])

    def modulo_tt(self, a, b, out):
        self._elementwise('modulo', [a, b, out])

    def sqrt_t(self, a, out):
        self._elementwise('sqrt', [a, out])

    def log_t(self, a, out):
        self._elementwise('log', [a, out])

    def exp_t(self, a, out):
        self._elementwise('exp', [a, out])

    def sign_t(self, a, out):
        self._elementwise('sign', [a, out])

    def clip_t(self, a, a_min, a_max, out):
        self._elementwise('clip', [a, out], (a_min, a_max))

    # -- matrix -------------------------------------------------------------------------------

    def add_mv(self, m, v, out):
        self._elementwise('add', [m, v, out])

    def subtract_mv(self, m, v, out):
        self._elementwise('subtract', [m, v, out])

    def mult_mv(self, m, v, out):
        self._elementwise('mult', [m, v, out])

    def mult_add_mv(self, m, v, out):
        self._elementwise('mult_add', [m, v, out])

    def divide_mv(self, m, v, out):
        self._elementwise('divide', [m, v, out])

    def dot_mm(self, a, b, out, transa=False, transb=False):
        self._gemm('dot_mm', a, b, out, transa, transb, accumulate=False)

    def dot_add_mm(self, a, b, out, transa=False, transb=False):
        self._gemm('dot_add_mm', a, b, out, transa, transb, accumulate=True)

    def _operand(self, key, matrix):
        operand = describe_operand(self._pointer(matrix), tuple(matrix.shape),
                                   self._strides(matrix))
        if operand is None:  # no unit-stride axis: cuBLAS needs a copy
            matrix = self._readable(key, matrix)
            operand = describe_operand(self._pointer(matrix), tuple(matrix.shape),
                                       self._strides(matrix))
        return operand

    def _gemm(self, key, a, b, out, transa, transb, accumulate):
        rows, cols = out.shape
        inner = a.shape[0] if transa else a.shape[1]
        if rows == 0 or cols == 0:
            return
        if inner == 0:
            if not accumulate:
                self.fill(out, 0.0)
            return
        out_operand = describe_operand(self._pointer(out), (rows, cols), self._strides(out))
        if out_operand is None:
            product = self._scratch(f'{key}.product', (rows, cols))
            self._gemm(key, a, b, product, transa, transb, accumulate=False)
            self._elementwise('add_accumulate' if accumulate else 'copy', [product, out])
            return
        plan = plan_product(self._operand(f'{key}.a', a), self._operand(f'{key}.b', b),
                            out_operand, bool(transa), bool(transb), (rows, cols, inner))
        self._cuda.cublas.gemm(self.dtype.itemsize, plan, accumulate)

    def binarize_v(self, v, out):
        rows, cols = out.shape
        if rows * cols == 0:
            return
        out_strides = self._strides(out)
        self._kernel('binarize_rows').prepared_call(
            _blocks(rows * cols), (kernels.BLOCK_SIZE, 1, 1), rows, cols, self._pointer(v),
            self._strides(v)[0], self._pointer(out), out_strides[0], out_strides[1])

    def index_m_by_v(self, m, v, out):
        rows = m.shape[0]
        if rows == 0:
            return
        m_strides = self._strides(m)
        self._kernel('index_rows').prepared_call(
            _blocks(rows), (kernels.BLOCK_SIZE, 1, 1), rows, self._pointer(m), m_strides[0],
            m_strides[1], self._pointer(v), self._strides(v)[0], self._pointer(out),
            self._strides(out)[0])

    def softmax_m(self, m, out):
        rows, cols = m.shape
        if rows * cols == 0:
            return
        m_strides, out_strides = self._strides(m), self._strides(out)
        self._kernel('softmax_rows').prepared_call(
            (min(rows, MAX_BLOCKS), 1), (kernels.ROW_BLOCK, 1, 1), rows, cols,
            self._pointer(m), m_strides[0], m_strides[1], self._pointer(out), out_strides[0],
            out_strides[1])

    # -- reductions, broadcasting, merging ----------------------------------------------

    def merge_tt(self, a, b, out):
        split = a.shape[-1]
        self._elementwise('copy', [a, out[..., :split]])
        self._elementwise('copy', [b, out[..., split:]])

    def split_add_tt(self, x, out_a, out_b):
        split = out_a.shape[-1]
        self._elementwise('add_accumulate', [x[..., :split], out_a])
        self._elementwise('add_accumulate', [x[..., split:], out_b])

    def sum_t(self, a, axis, out):
        self._reduce('reduce_sum', a, axis, out, accumulate=False)

    def sum_add_t(self, a, axis, out):
        self._reduce('reduce_sum', a, axis, out, accumulate=True)

    def broadcast_t(self, a, axis, out):
        self._elementwise('copy', [a, out])

    # -- activations ------------------------------------------------------------------------

    def sigmoid(self, x, y):
        self._elementwise('sigmoid', [x, y])

    def tanh(self, x, y):
        self._elementwise('tanh', [x, y])

    def rel(self, x, y):
        self._elementwise('rel', [x, y])

    def el(self, x, y):
        self._elementwise('el', [x, y])

    def sigmoid_deriv(self, x, y, dy, dx):
        self._elementwise('sigmoid_deriv', [y, dy, dx])

    def tanh_deriv(self, x, y, dy, dx):
        self._elementwise('tanh_deriv', [y, dy, dx])

    def rel_deriv(self, x, y, dy, dx):
        self._elementwise('rel_deriv', [y, dy, dx])

    def el_deriv(self, x, y, dy, dx):
        self._elementwise('el_deriv', [y, dy, dx])

    # -- conv and pool -------------------------------------------------------------------------

    def _image_call(self, name, geometry, pointers, total):
        self._kernel(name).prepared_call(_blocks(total), (kernels.BLOCK_SIZE, 1, 1),
                                         *geometry, *[self._pointer(p) for p in pointers])

    @staticmethod
    def _geometry(inputs, outputs, kernel_shape, padding, stride):
        batch, height, width, channels = inputs.shape
        return (batch, height, width, channels, outputs.shape[1], outputs.shape[2],
                kernel_shape[0], kernel_shape[1], int(padding), int(stride[0]), int(stride[1]))

    def _columns(self, inputs, geometry, rows, kernel_size):
        """im2col of contiguous ``inputs``: a (rows, kh*kw*C) matrix (inputs themselves for 1x1)."""
        if self._is_pointwise(geometry):
            return inputs.reshape((rows, kernel_size))
        columns = self._scratch('conv2d.columns', (rows, kernel_size))
        self._image_call('im2col', geometry, [inputs, columns], rows * kernel_size)
        return columns

    @staticmethod
    def _is_pointwise(geometry):
        return geometry[6:] == (1, 1, 0, 1, 1)

    def conv2d_forward_batch(self, inputs, weights, bias, outputs, padding, stride):
        num_filters, kernel_height, kernel_width, channels = weights.shape
        rows = outputs.shape[0] * outputs.shape[1] * outputs.shape[2]
        kernel_size = kernel_height * kernel_width * channels
        if rows == 0 or num_filters == 0:
            return
        inputs = self._readable('conv2d.inputs', inputs)
        weights = self._readable('conv2d.weights', weights)
        bias = self._readable('conv2d.bias', bias)
        target = self._writable('conv2d.outputs', outputs, keep_content=False)
        geometry = self._geometry(inputs, outputs, (kernel_height, kernel_width), padding,
                                  stride)
        columns = self._columns(inputs, geometry, rows, kernel_size)
        output_matrix = target.reshape((rows, num_filters))
        self._gemm('conv2d', columns, weights.reshape((num_filters, kernel_size)),
                   output_matrix, False, True, accumulate=False)
        self._elementwise('add', [output_matrix, bias.reshape((1, num_filters)),
                                  output_matrix])
        self._write_back(target, outputs)

    def conv2d_backward_batch(self, inputs, weights, padding, stride, in_deltas, out_deltas,
                              weight_deltas, bias_deltas):
        num_filters, kernel_height, kernel_width, channels = weights.shape
        rows = out_deltas.shape[0] * out_deltas.shape[1] * out_deltas.shape[2]
        kernel_size = kernel_height * kernel_width * channels
        if rows == 0 or num_filters == 0:
            return
        inputs = self._readable('conv2d.inputs', inputs)
        weights = self._readable('conv2d.weights', weights)
        out_deltas = self._readable('conv2d.out_deltas', out_deltas)
        geometry = self._geometry(inputs, out_deltas, (kernel_height, kernel_width), padding,
                                  stride)
        delta_matrix = out_deltas.reshape((rows, num_filters))
        weight_matrix = weights.reshape((num_filters, kernel_size))
        self._reduce('reduce_sum', delta_matrix, 0, bias_deltas, accumulate=True)

        weight_target = self._writable('conv2d.weight_deltas', weight_deltas, keep_content=True)
        columns = self._columns(inputs, geometry, rows, kernel_size)
        self._gemm('conv2d', delta_matrix, columns,
                   weight_target.reshape((num_filters, kernel_size)), True, False,
                   accumulate=True)
        self._write_back(weight_target, weight_deltas)

        if in_deltas is None:  # the caller does not want input deltas
            return
        in_target = self._writable('conv2d.in_deltas', in_deltas, keep_content=True)
        if self._is_pointwise(geometry):
            self._gemm('conv2d', delta_matrix, weight_matrix,
                       in_target.reshape((rows, kernel_size)), False, False, accumulate=True)
        else:
            column_deltas = self._scratch('conv2d.column_deltas', (rows, kernel_size))
            self._gemm('conv2d', delta_matrix, weight_matrix, column_deltas, False, False,
                       accumulate=False)
            self._image_call('col2im_add', geometry, [column_deltas, in_target],
                             math.prod(in_target.shape))
        self._write_back(in_target, in_deltas)

    def maxpool2d_forward_batch(self, inputs, window, outputs, padding, stride, argmax):
        if math.prod(outputs.shape) == 0:
            return
        inputs = self._readable('maxpool2d.inputs', inputs)
        output_target = self._writable('maxpool2d.outputs', outputs, keep_content=False)
        if argmax is None:  # the kernel writes an argmax anyway: into scratch, not read back
            argmax_target = self._scratch('maxpool2d.argmax', outputs.shape)
        else:
            argmax_target = self._writable('maxpool2d.argmax', argmax, keep_content=False)
        geometry = self._geometry(inputs, outputs, window, padding, stride)
        self._image_call('maxpool_forward', geometry, [inputs, output_target, argmax_target],
                         math.prod(outputs.shape))
        self._write_back(output_target, outputs)
        if argmax is not None:
            self._write_back(argmax_target, argmax)

    def maxpool2d_backward_batch(self, inputs, window, outputs, padding, stride, argmax,
                                 in_deltas, out_deltas):
        if math.prod(in_deltas.shape) == 0:
            return
        argmax = self._readable('maxpool2d.argmax', argmax)
        out_deltas = self._readable('maxpool2d.out_deltas', out_deltas)
        target = self._writable('maxpool2d.in_deltas', in_deltas, keep_content=True)
        geometry = self._geometry(inputs, outputs, window, padding, stride)
        self._image_call('maxpool_backward', geometry, [argmax, out_deltas, target],
                         math.prod(in_deltas.shape))
        self._write_back(target, in_deltas)

    def avgpool2d_forward_batch(self, inputs, window, outputs, padding, stride):
        if math.prod(outputs.shape) == 0:
            return
        inputs = self._readable('avgpool2d.inputs', inputs)
        target = self._writable('avgpool2d.outputs', outputs, keep_content=False)
        geometry = self._geometry(inputs, outputs, window, padding, stride)
        self._image_call('avgpool_forward', geometry, [inputs, target],
                         math.prod(outputs.shape))
        self._write_back(target, outputs)

    def avgpool2d_backward_batch(self, inputs, window, outputs, padding, stride, in_deltas,
                                 out_deltas):
        if math.prod(in_deltas.shape) == 0:
            return
        out_deltas = self._readable('avgpool2d.out_deltas', out_deltas)
        target = self._writable('avgpool2d.in_deltas', in_deltas, keep_content=True)
        geometry = self._geometry(inputs, outputs, window, padding, stride)
        self._image_call('avgpool_backward', geometry, [out_deltas, target],
                         math.prod(in_deltas.shape))
        self._write_back(target, in_deltas)

    # -- randomness ------------------------------------------------------------------------------

    def _random_key(self):
        return [int(word) for word in self.rnd.randint(0, 2 ** 32, size=2, dtype=np.uint64)]

    def fill_gaussian(self, mean, std, out):
        self._elementwise('gaussian', [out], (mean, std, *self._random_key()))

    def generate_probability_mask(self, mask, probability):
        self._elementwise('probability_mask', [mask], (probability, *self._random_key()))

    # -- debugging -------------------------------------------------------------------------------

    def is_fully_finite(self, a):
        if math.prod(a.shape) == 0:
            return True
        collapsed = collapse_dimensions(tuple(a.shape), [self._strides(a)], max_dims=2)
        if collapsed is None:
            a = self._readable('is_fully_finite.copy', a)
            collapsed = collapse_dimensions(tuple(a.shape), [self._strides(a)], max_dims=2)
        sizes, (strides,) = collapsed
        count = self._scratch('is_fully_finite', (1,))
        plan_view = _ShapeView(sizes, strides, self._pointer(a), self.dtype.itemsize)
        self._reduce('count_nonfinite', plan_view, None, count, accumulate=False)
        return bool(self.get_numpy_copy(count)[0] == 0)


class _ShapeView:
    """Just enough of an array (shape, strides in bytes, gpudata) for ``_reduce``."""

    def __init__(self, shape, element_strides, pointer, itemsize):
        self.shape = tuple(shape)
        self.strides = tuple(stride * itemsize for stride in element_strides)
        self.gpudata = pointer
