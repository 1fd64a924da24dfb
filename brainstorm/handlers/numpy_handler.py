"""NumpyHandler: the reference handler, computing on the CPU with numpy.

Every op writes in place through ufuncs with ``out=`` (never ``out[:] = a + b``,
which allocates a temporary), and accepts non-contiguous views, such as slices
along the last axis of a bigger buffer, for every array argument. Temporaries
come from the handler's scratch cache, so after the first call with a shape no
op allocates, except fill_gaussian (numpy's RandomState draws into new arrays).
"""

import numpy as np

from brainstorm.handlers import _blas, _cblas, _compiled_kernels
from brainstorm.handlers.base_handler import Handler


#: in-place elementwise ops on arrays at least this big go to BLAS (axpy, scal), which
#: uses all cores; below it the call overhead outweighs that
BLAS_ELEMENTWISE_MIN_SIZE = 1 << 16

#: rel_deriv works on larger arrays in chunks of this many elements (see there)
REL_DERIV_CHUNK = 1 << 18


class NumpyHandler(Handler):
    """Handler computing with numpy arrays on the CPU.

    ``dot_mm`` and ``dot_add_mm`` run one BLAS ``gemm`` (``beta`` 0 or 1; numpy's
    OpenBLAS on AMD processors, elsewhere MKL where installed, else scipy's: see
    ``_cblas``)
    directly into ``out`` when the dtype is float32 or float64 and every matrix
    is C- or Fortran-contiguous; otherwise they fall back to ``np.matmul`` (and,
    to accumulate, an add from scratch memory). All products, the conv ops'
    too, go through that one BLAS library (see ``_blas`` for why).

    Args:
        dtype: float dtype of all arrays (float32 by default; float64 for
            gradient checks).
        seed (Optional[int]): seed of ``rnd``; drawn from ``global_rnd`` when None.

    Example:
        >>> handler = NumpyHandler(np.float64)
        >>> out = handler.zeros((2, 2))
        >>> handler.add_st(1.0, out, out)
    """

    array_type = np.ndarray

    def __init__(self, dtype=np.float32, seed=None):
        super().__init__(dtype, seed)
        self.EMPTY = np.zeros(0, dtype=self.dtype)
        self._column_index_rows = {}
        # scipy is imported here, not at module import, to keep `import brainstorm` light
        from scipy.linalg import blas
        self._axpy = None
        if self.dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            self._axpy = blas.get_blas_funcs('axpy', dtype=self.dtype)
            self._scal = blas.get_blas_funcs('scal', dtype=self.dtype)
            self._gemv = blas.get_blas_funcs('gemv', dtype=self.dtype)
        # where _cblas picks a CBLAS (MKL, numpy's OpenBLAS), every BLAS call goes there,
        # so that one library's thread pool serves all of them (see _blas for why)
        self._cblas = _cblas.load() if self._axpy is not None else None
        self._ones_by_count = {}
        # the compiled kernels, or None: numpy (the composites of Handler, _pool_numpy)
        self._lstm_kernels = (_compiled_kernels.load('lstm') if self.dtype == np.float32
                              else None)
        self._pool_kernels = (_compiled_kernels.load('pool')
                              if self.dtype in (np.float32, np.float64) else None)
        self._conv_kernels = (_compiled_kernels.load('conv')
                              if self.dtype in (np.float32, np.float64) else None)

    @property
    def prefers_transposed_weights(self):
        # MKL multiplies fastest with the second operand stored (out, in): the LSTM
        # step 50x256x1024 0.38 against 0.46 ms on an Intel Xeon (bench/README.md);
        # numpy's and scipy's OpenBLAS with it stored (in, out): 0.22 against 0.27 ms,
        # 2 threads, on an AMD EPYC Zen 4; oneDNN too: 50x1000x4000 2.1 against 3.6 ms
        return self._cblas is not None and self._cblas.name == 'mkl'

    def _allocate_scratch(self, size, dtype):
        return np.empty(size, dtype=self.dtype if dtype is None else dtype)

    def _column_indices(self, count):
        """A cached (1, count) row 0, 1, ..., count - 1 in the handler's dtype."""
        row = self._column_index_rows.get(count)
        if row is None:
            row = np.arange(count, dtype=self.dtype).reshape(1, count)
            self._column_index_rows[count] = row
        return row

    def _nonzero_mask(self, key, cond):
        mask = self._scratch(key, cond.shape, np.bool_)
        np.not_equal(cond, 0, out=mask)
        return mask

    # -- memory -----------------------------------------------------------------

    def allocate(self, shape):
        return np.empty(shape, dtype=self.dtype)

    def zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)

    def ones(self, shape):
        return np.ones(shape, dtype=self.dtype)

    def create_from_numpy(self, arr):
        return np.array(arr, dtype=self.dtype, copy=True, order='C')

    def get_numpy_copy(self, mem):
        return np.array(mem, copy=True)

    def set_from_numpy(self, mem, arr):
        np.copyto(mem, arr, casting='unsafe')

    def allocate_host(self, shape):
        return np.empty(tuple(shape), dtype=self.dtype)

    def copy_to_numpy(self, mem, out):
        np.copyto(out, mem)

    # -- copy and fill ---------------------------------------------------------

    def copy_to(self, src, dest):
        np.copyto(dest, src)

    def copy_to_if(self, src, dest, cond):
        np.copyto(dest, src, where=self._nonzero_mask('copy_to_if', cond))

    def fill(self, mem, val):
        mem.fill(val)

    def fill_if(self, mem, val, cond):
        np.copyto(mem, val, casting='unsafe', where=self._nonzero_mask('fill_if', cond))

    # -- elementwise -----------------------------------------------------------

    def abs_t(self, a, out):
        np.abs(a, out=out)

    def add_st(self, s, t, out):
        np.add(t, s, out=out)

    def add_tt(self, a, b, out):
        # in place on a big array (a stepper adding the velocity to all parameters):
        # BLAS axpy, which runs on all cores, where numpy's ufunc runs on one
        if out is a or out is b:
            vectors = self._blas_vectors(b if out is a else a, out)
            if vectors is not None:
                self._axpy_into(vectors, 1.0)
                return
        np.add(a, b, out=out)

    def add_into_if(self, a, out, cond):
        np.add(out, a, out=out, where=self._nonzero_mask('add_into_if', cond))

    def subtract_tt(self, a, b, out):
        np.subtract(a, b, out=out)

    def mult_st(self, s, t, out):
        if out is t:  # in place on a big array: BLAS scal, multi-threaded
            vectors = self._blas_vectors(t)
            if vectors is not None:
                (flat,) = vectors
                if self._cblas is not None:
                    self._cblas.scal(s, flat)
                    return
                result = self._scal(s, flat)
                if result.ctypes.data != flat.ctypes.data:
                    np.copyto(flat, result)
                return
        np.multiply(t, s, out=out)

    def mult_tt(self, a, b, out):
        np.multiply(a, b, out=out)

    def mult_add_st(self, s, t, out):
        # one pass of BLAS axpy (out += s * t) instead of a product into scratch and an
        # add: the steppers run this over all parameters at every update
        vectors = self._blas_vectors(t, out, min_size=1)
        if vectors is not None:
            self._axpy_into(vectors, s)
            return
        super().mult_add_st(s, t, out)

    def _blas_vectors(self, *arrays, min_size=BLAS_ELEMENTWISE_MIN_SIZE):
        """Flat views of ``arrays`` for a level-1 BLAS call, or None where BLAS can't serve.

        All must have the handler's (float) dtype, one shape of at least ``min_size``
        elements and one memory order (all C- or all Fortran-contiguous).
        """
        first = arrays[0]
        if self._axpy is None or first.size < min_size:
            return None
        for order, flag in (('C', 'c_contiguous'), ('F', 'f_contiguous')):
            if all(array.dtype == self.dtype and array.shape == first.shape and
                   getattr(array.flags, flag) for array in arrays):
                return [array.reshape(-1, order=order) for array in arrays]  # views
        return None

    def _axpy_into(self, vectors, s):
        """``y += s * x`` for ``vectors == [x, y]`` from :meth:`_blas_vectors`."""
        x, y = vectors
        if self._cblas is not None:
            self._cblas.axpy(s, x, y)
            return
        result = self._axpy(x, y, a=s)
        if result.ctypes.data != y.ctypes.data:
            np.copyto(y, result)  # scipy copied y after all; the result holds the sum

    def divide_tt(self, a, b, out):
        np.divide(a, b, out=out)

    def modulo_tt(self, a, b, out):
        np.remainder(a, b, out=out)

    def sqrt_t(self, a, out):
        np.sqrt(a, out=out)

    def log_t(self, a, out):
        np.log(a, out=out)

    def exp_t(self, a, out):
        np.exp(a, out=out)

    def sign_t(self, a, out):
        np.sign(a, out=out)

    def clip_t(self, a, a_min, a_max, out):
        np.clip(a, a_min, a_max, out=out)

    # -- matrix ----------------------------------------------------------------

    def add_mv(self, m, v, out):
        np.add(m, v, out=out)

    def subtract_mv(self, m, v, out):
        np.subtract(m, v, out=out)

    def mult_mv(self, m, v, out):
        np.multiply(m, v, out=out)

    def divide_mv(self, m, v, out):
        np.divide(m, v, out=out)

    def dot_mm(self, a, b, out, transa=False, transb=False):
        # scipy's gemm like dot_add_mm, so that every product uses one BLAS (see _blas)
        if self.dtype == a.dtype and _blas.gemm_into(a, b, out, transa, transb, beta=0.0):
            return
        # np.matmul, unlike np.dot, accepts a strided view as out
        np.matmul(a.T if transa else a, b.T if transb else b, out=out)

    def dot_add_mm(self, a, b, out, transa=False, transb=False):
        # one in-place gemm with beta=1 when the operands allow it; else the
        # composite (a product into scratch memory, then an add)
        if self.dtype == a.dtype and _blas.gemm_into(a, b, out, transa, transb, beta=1.0):
            return
        super().dot_add_mm(a, b, out, transa, transb)

    def binarize_v(self, v, out):
        np.equal(v, self._column_indices(out.shape[1]), out=out)

    def index_m_by_v(self, m, v, out):
        selected = self._scratch('index_m_by_v', m.shape, np.bool_)
        np.equal(v, self._column_indices(m.shape[1]), out=selected)
        # exactly one selected element per row, so the masked sum is that element
        np.sum(m, axis=1, keepdims=True, where=selected, out=out)

    def softmax_m(self, m, out):
        row_values = self._scratch('softmax_m', (m.shape[0], 1))
        np.max(m, axis=1, keepdims=True, out=row_values)
        np.subtract(m, row_values, out=out)
        np.exp(out, out=out)
        np.sum(out, axis=1, keepdims=True, out=row_values)
        np.divide(out, row_values, out=out)

    # -- reductions, broadcasting, merging -------------------------------------

    def merge_tt(self, a, b, out):
        split = a.shape[-1]
        np.copyto(out[..., :split], a)
        np.copyto(out[..., split:], b)

    def split_add_tt(self, x, out_a, out_b):
        split = out_a.shape[-1]
        np.add(out_a, x[..., :split], out=out_a)
        np.add(out_b, x[..., split:], out=out_b)

    def sum_t(self, a, axis, out):
        if self._column_sums(a, axis, out, beta=0.0):
            return
        if out.ndim == a.ndim:
            np.sum(a, axis=axis, keepdims=True, out=out)
        elif axis is None:
            # a size-1 out of another rank; reshaping a single element is always a view
            np.sum(a, axis=None, out=out.reshape(()))
        else:
            np.sum(a, axis=axis, out=out)

    def sum_add_t(self, a, axis, out):
        if not self._column_sums(a, axis, out, beta=1.0):
            super().sum_add_t(a, axis, out)

    def _column_sums(self, a, axis, out, beta):
        """``out = column sums of a + beta * out`` as one BLAS gemv, if BLAS can take it.

        Column sums of a matrix (every bias gradient) as a product with a ones
        vector: it runs on all cores, in place, where np.sum (then an add) makes
        one or two passes on one core.

        Returns:
            bool: False (nothing written) unless a is a C-contiguous matrix, axis is 0
            and out is a contiguous array of a.shape[1] elements, all in the handler's
            float dtype.
        """
        if not (self._axpy is not None and axis == 0 and a.ndim == 2 and a.size and
                a.dtype == self.dtype and a.flags.c_contiguous and
                out.dtype == self.dtype and out.size == a.shape[1] and
                out.flags.c_contiguous):
            return False
        flat_out = out.reshape(-1)
        if self._cblas is not None:
            # row-major a (rows, columns) transposed times a ones vector of its rows
            self._cblas.gemv(_cblas.ROW_MAJOR, _cblas.TRANS, a.shape[0], a.shape[1], 1.0, a,
                             a.shape[1], self._ones(a.shape[0]), beta, flat_out)
            return True
        result = self._gemv(1.0, a.T, self._ones(a.shape[0]), beta=beta, y=flat_out,
                            overwrite_y=True)
        if result.ctypes.data != flat_out.ctypes.data:
            np.copyto(flat_out, result)  # scipy copied y after all
        return True

    def _ones(self, count):
        """A cached vector of ``count`` ones in the handler's dtype."""
        ones = self._ones_by_count.get(count)
        if ones is None:
            ones = np.ones(count, dtype=self.dtype)
            self._ones_by_count[count] = ones
        return ones

    def broadcast_t(self, a, axis, out):
        np.copyto(out, a)

    # -- activations -----------------------------------------------------------

    def sigmoid(self, x, y):
        # 1 / (1 + exp(-x)) in four in-place passes. exp is the costly one, and numpy's
        # float32 exp is twice as fast as its tanh where no AVX-512 tanh kernel exists
        # (AMD EPYC, single-threaded CPU time on 50x256: 25 us against 39 us for
        # 0.5 * tanh(x / 2) + 0.5, the form used before; bench/README.md), and no
        # slower where one does. Below x = -88 (float32) exp(-x) overflows to inf and
        # the result is exactly 0, which is sigmoid's value rounded; the overflow is
        # expected, so it does not warn. The relative error stays within a few ulps
        # over the whole range (the tanh form lost all relative precision below -17).
        np.negative(x, out=y)
        with np.errstate(over='ignore'):
            np.exp(y, out=y)
        np.add(y, 1.0, out=y)
        np.reciprocal(y, out=y)

    def sigmoid_deriv(self, x, y, dy, dx):
        # dx = dy * y * (1 - y) in three passes (the composite takes four)
        slope = self._scratch('sigmoid_deriv', y.shape)
        np.subtract(1.0, y, out=slope)
        np.multiply(slope, y, out=slope)
        np.multiply(dy, slope, out=dx)

    def tanh(self, x, y):
        np.tanh(x, out=y)

    def rel(self, x, y):
        np.maximum(x, 0, out=y)

    def rel_deriv(self, x, y, dy, dx):
        # a bool mask times the deltas: half the time of a float 0/1 slope (a
        # quarter of its memory traffic), the largest elementwise cost of a ReLU layer.
        # Large arrays go in chunks of REL_DERIV_CHUNK elements: as fast (the mask
        # stays in cache), and the mask is 256 KiB instead of a quarter of the array
        # (3 MiB for the first cifar10_cnn convolution)
        if y.size <= REL_DERIV_CHUNK or not (y.flags.c_contiguous and dy.flags.c_contiguous
                                             and dx.flags.c_contiguous):
            active = self._scratch('rel_deriv', y.shape, np.bool_)
            np.greater(y, 0, out=active)
            np.multiply(dy, active, out=dx)
            return
        flat_y, flat_dy, flat_dx = y.reshape(-1), dy.reshape(-1), dx.reshape(-1)
        mask = self._scratch('rel_deriv', (REL_DERIV_CHUNK,), np.bool_)
        for start in range(0, flat_y.size, REL_DERIV_CHUNK):
            stop = min(start + REL_DERIV_CHUNK, flat_y.size)
            active = mask[:stop - start]
            np.greater(flat_y[start:stop], 0, out=active)
            np.multiply(flat_dy[start:stop], active, out=flat_dx[start:stop])

    # -- conv and pool (numpy implementations: _conv_numpy, _pool_numpy) ---

    def conv2d_forward_batch(self, inputs, weights, bias, outputs, padding, stride):
        _conv_numpy().conv2d_forward_batch(inputs, weights, bias, outputs, padding, stride,
                                           scratch=self._scratch, kernels=self._conv_kernels)

    def conv2d_backward_batch(self, inputs, weights, padding, stride, in_deltas, out_deltas,
                              weight_deltas, bias_deltas):
        _conv_numpy().conv2d_backward_batch(inputs, weights, padding, stride, in_deltas,
                                            out_deltas, weight_deltas, bias_deltas,
                                            scratch=self._scratch, kernels=self._conv_kernels)

    def maxpool2d_forward_batch(self, inputs, window, outputs, padding, stride, argmax):
        _pool_numpy().maxpool2d_forward_batch(inputs, window, outputs, padding, stride, argmax,
                                              scratch=self._scratch,
                                              kernels=self._pool_kernels)

    def maxpool2d_backward_batch(self, inputs, window, outputs, padding, stride, argmax,
                                 in_deltas, out_deltas):
        _pool_numpy().maxpool2d_backward_batch(inputs, window, outputs, padding, stride, argmax,
                                               in_deltas, out_deltas, scratch=self._scratch,
                                               kernels=self._pool_kernels)

    def avgpool2d_forward_batch(self, inputs, window, outputs, padding, stride):
        _pool_numpy().avgpool2d_forward_batch(inputs, window, outputs, padding, stride,
                                              scratch=self._scratch)

    def avgpool2d_backward_batch(self, inputs, window, outputs, padding, stride, in_deltas,
                                 out_deltas):
        _pool_numpy().avgpool2d_backward_batch(inputs, window, outputs, padding, stride,
                                               in_deltas, out_deltas, scratch=self._scratch)

    # -- fused recurrent steps -------------------------------------------------

    def lstm_step_forward(self, recurrent, peep_i, peep_f, peep_o, previous_cell, z, i, f, o,
                          cell, cell_output, out, activation='tanh'):
        # one pass of compiled code instead of 16 numpy calls (_lstm_kernels.c;
        # bench/README.md has the figures); the kernel declines (False) any array that
        # is not a C-contiguous float32 buffer of its size, and the composite does it
        arrays = (recurrent, peep_i, peep_f, peep_o, previous_cell, z, i, f, o, cell,
                  cell_output, out)
        kernels = self._lstm_kernels
        if kernels is None or activation != 'tanh' or not kernels.lstm_step_forward_tanh(
                *previous_cell.shape, *arrays):
            super().lstm_step_forward(*arrays, activation)

    def lstm_step_backward(self, deltas, z, i, f, o, cell_output, previous_cell,
                           next_cell_deltas, next_f, next_i_deltas, next_f_deltas, peep_i,
                           peep_f, peep_o, z_deltas, i_deltas, f_deltas, o_deltas, cell_deltas,
                           gate_deltas, activation='tanh'):
        arrays = (deltas, z, i, f, o, cell_output, previous_cell, next_cell_deltas, next_f,
                  next_i_deltas, next_f_deltas, peep_i, peep_f, peep_o, z_deltas, i_deltas,
                  f_deltas, o_deltas, cell_deltas, gate_deltas)
        kernels = self._lstm_kernels
        if kernels is None or activation != 'tanh' or not kernels.lstm_step_backward_tanh(
                *previous_cell.shape, *arrays):
            super().lstm_step_backward(*arrays, activation)

    # -- randomness ------------------------------------------------------------

    def fill_gaussian(self, mean, std, out):
        np.copyto(out, self.rnd.normal(mean, std, size=out.shape), casting='same_kind')

    def generate_probability_mask(self, mask, probability):
        # draws float32 uniforms into scratch memory from a generator seeded by rnd (one
        # draw per call, so the handler's seed still fixes every mask): RandomState can
        # only draw new float64 arrays, which took longer than the matrix products of
        # a small dropout layer
        uniforms = self._scratch('generate_probability_mask', mask.shape, np.float32)
        generator = np.random.Generator(np.random.PCG64(self.rnd.randint(2 ** 63)))
        generator.random(dtype=np.float32, out=uniforms)
        np.less(uniforms, probability, out=mask)

    # -- debugging -------------------------------------------------------------

    def is_fully_finite(self, a):
        finite = self._scratch('is_fully_finite', a.shape, np.bool_)
        np.isfinite(a, out=finite)
        return bool(finite.all())


def _conv_numpy():
    # imported on first use: the conv module is only needed by conv and pool layers
    from brainstorm.handlers import _conv_numpy as module
    return module


def _pool_numpy():
    # imported on first use, like _conv_numpy
    from brainstorm.handlers import _pool_numpy as module
    return module
