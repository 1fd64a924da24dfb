"""The handler contract: ``Handler``, the abstract base of every handler.

A handler owns memory and arithmetic. Layers, steppers, modifiers and iterators
call its operations only, so that a new handler (the GPU one) is a drop-in.
Op names follow ``<verb>[_add]_<shape suffixes>``: ``s`` scalar, ``v`` vector
(a 2D array with at least one dimension of size 1), ``m`` matrix (2D), ``t``
tensor (any shape); ``_add`` means "accumulate into ``out``". Written
arguments come last. The full table of ops, with which arguments are written and
how, is data in :mod:`brainstorm.handlers.op_table`; a test checks that this
class declares exactly those ops.

Two tiers:

- *primitives* are abstract; every handler implements them;
- *composites* (``*_add_*`` conveniences, ``el``, the activation derivatives)
  are written here with primitives and the handler-owned scratch cache
  (:meth:`Handler._scratch`), so a new handler gets them for free and may
  override them for speed.

Handlers do not check their arguments (that is :class:`DebugHandler`'s job)
and allocate nothing in any op except the memory section's.
"""

import abc
import math

import numpy as np

from brainstorm.describable import type_name_of
from brainstorm.errors import ValidationError
from brainstorm.handlers._activation_tables import ActivationTable
from brainstorm.randomness import Seedable

# numpy >= 1.25 keeps its exception types in numpy.exceptions
_TooHardError = getattr(getattr(np, 'exceptions', np), 'TooHardError')

#: The activation names :meth:`Handler.act_func` and :meth:`Handler.act_func_deriv` know.
ACTIVATION_FUNCTIONS = ('linear', 'rel', 'sigmoid', 'tanh', 'el')


class Handler(Seedable, metaclass=abc.ABCMeta):
    """Abstract base class for all handlers.

    Args:
        dtype: the floating-point dtype of every array this handler makes and
            accepts.
        seed (Optional[int]): seed of ``rnd``; drawn from ``global_rnd`` when None.

    Attributes:
        dtype (numpy.dtype): data type that this handler works with.
        context: context which may be used by this handler for operation
            (None where there is none, as for numpy).
        EMPTY: an empty array matching this handler's type.
        rnd (brainstorm.randomness.RandomState): the random state this handler
            draws from (``fill_gaussian``, ``generate_probability_mask``).
        array_type (type): the type of array object this handler works with.
        supports_strided_views (bool): whether ops accept non-contiguous views
            (slices along the last axis of a bigger buffer). The op tests skip
            strided layouts for a handler that says False.
        prefers_transposed_weights (bool): whether ``dot_mm(a, b, out, transb=True)``
            with ``b`` stored (out, in) is faster here than with ``b`` stored (in,
            out). Layers that pack weights for their own products (the LSTM's
            recurrent matrix) store them the way it says; the results are the same.
        scratch_allocation_count (int): how many times the scratch cache
            allocated (it allocates only the first time a key needs more room).
    """

    array_type = None
    supports_strided_views = True
    prefers_transposed_weights = False

    def __init__(self, dtype, seed=None):
        super().__init__(seed)
        dtype = np.dtype(dtype)
        if dtype.kind != 'f':
            raise ValidationError(f"{type(self).__name__}: dtype {dtype.name} is not a "
                                  f"floating-point type; use float32 or float64")
        self.dtype = dtype
        self.context = None
        self.scratch_allocation_count = 0
        self._scratch_buffers = {}
        self._scratch_views = {}

    # -- description, seeding, representation ---------------------------------

    def __describe__(self):
        """Describe as ``{'@type': <class name>, 'dtype': <dtype name>}``."""
        return {'@type': type_name_of(type(self)), 'dtype': self.dtype.name}

    @classmethod
    def __new_from_description__(cls, description):
        """Create a handler of this class with the described dtype."""
        if 'dtype' in description:
            return cls(dtype=np.dtype(description['dtype']))
        return cls()

    def set_seed(self, seed):
        """Reseed this handler's random state ``rnd`` with ``seed`` (an int)."""
        self.rnd.set_seed(seed)

    def __repr__(self):
        return f"{type(self).__name__}(dtype={self.dtype.name})"

    # -- scratch memory ---------------------------------------------------------

    def _scratch(self, key, shape, dtype=None):
        """Return reusable temporary memory owned by this handler.

        One key is one buffer: the first call for a key allocates it, a later
        call returns a view of the same memory, reallocating only when a larger
        shape than ever before is asked for. So two temporaries that are
        alive at the same time need two keys, and a composite must not call
        another composite that could use its keys (composites call primitives
        only; keys start with the op's name, e.g. ``'el_negative'``).

        Args:
            key (str): names the buffer.
            shape (tuple[int]): shape of the returned array.
            dtype: None for the handler's dtype; another dtype (e.g. bool)
                only where the handler's ``_allocate_scratch`` supports it.

        Returns:
            array_type: a C-contiguous array of ``shape`` with arbitrary content.
        """
        shape = tuple(shape)
        view_key = (key, shape, dtype)
        view = self._scratch_views.get(view_key)
        if view is not None:
            return view
        size = math.prod(shape)
        buffer_key = (key, dtype)
        buffer = self._scratch_buffers.get(buffer_key)
        if buffer is None or buffer.shape[0] < size:
            buffer = self._allocate_scratch(max(size, 1), dtype)
            self.scratch_allocation_count += 1
            self._scratch_buffers[buffer_key] = buffer
            # views of the replaced buffer must not be handed out any more
            self._scratch_views = {cached: old for cached, old in self._scratch_views.items()
                                   if (cached[0], cached[2]) != buffer_key}
        view = buffer[:size].reshape(shape)
        self._scratch_views[view_key] = view
        return view

    def _allocate_scratch(self, size, dtype):
        """Allocate a flat scratch buffer of ``size`` elements (see :meth:`_scratch`)."""
        if dtype is not None and np.dtype(dtype) != self.dtype:
            raise NotImplementedError(f"{type(self).__name__} has no scratch memory of "
                                      f"dtype {np.dtype(dtype).name}")
        return self.allocate((size,))

    # -- activation dispatch ----------------------------------------------------

    @property
    def act_func(self):
        """Activation ops by name: ``act_func['rel'](x, y)`` or ``act_func('rel')(x, y)``.

        ``'linear'`` copies ``x`` into ``y``. Indexing with an unknown name raises
        KeyError, calling raises ValidationError (see
        :mod:`brainstorm.handlers._activation_tables`).
        """
        return ActivationTable(self, 'act_func')

    @property
    def act_func_deriv(self):
        """Derivative ops by name: ``act_func_deriv['rel'](x, y, dy, dx)`` (or called).

        The op overwrites ``dx`` with ``dy * f'`` computed from ``y`` (``x`` may be
        None); ``'linear'`` copies ``dy`` into ``dx``.
        """
        return ActivationTable(self, 'act_func_deriv')

    @property
    def inplace_act_func(self):
        """In-place activation ops by name: ``inplace_act_func['rel'](x)`` sets ``x = f(x)``."""
        return ActivationTable(self, 'inplace_act_func')

    @property
    def inplace_act_func_deriv(self):
        """In-place derivative ops: ``inplace_act_func_deriv['rel'](y, dy)``: ``dy *= f'``."""
        return ActivationTable(self, 'inplace_act_func_deriv')

    def _linear(self, x, y):
        self.copy_to(x, y)

    def _linear_deriv(self, x, y, dy, dx):
        self.copy_to(dy, dx)

    # -- aliasing helpers (used by DebugHandler; override for foreign arrays) ---

    def _shares_memory(self, a, b):
        """Whether arrays ``a`` and ``b`` may touch a common element."""
        if hasattr(a, '__array_interface__') and hasattr(b, '__array_interface__'):
            if not np.may_share_memory(a, b):
                return False
            try:
                return bool(np.shares_memory(a, b, max_work=100_000))
            except _TooHardError:
                return True
        first, second = _byte_extent(a), _byte_extent(b)
        return first[0] < second[1] and second[0] < first[1]

    def _same_view(self, a, b):
        """Whether ``a`` and ``b`` are the very same view (start, shape, strides)."""
        return (_start_address(a) == _start_address(b) and tuple(a.shape) == tuple(b.shape)
                and tuple(a.strides) == tuple(b.strides))

    # ======================================================================
    # Memory and numpy transfer (primitives)
    # ======================================================================

    @abc.abstractmethod
    def allocate(self, shape):
        """Allocate new memory with the given shape and arbitrary content.

        Args:
            shape (tuple[int]): shape of the array.

        Returns:
            array_type: new array.
        """

    @abc.abstractmethod
    def zeros(self, shape):
        """Allocate new memory of the given shape, filled with zeros.

        Args:
            shape (tuple[int]): shape of the array.

        Returns:
            array_type: new array of zeros.
        """

    @abc.abstractmethod
    def ones(self, shape):
        """Allocate new memory of the given shape, filled with ones.

        Args:
            shape (tuple[int]): shape of the array.

        Returns:
            array_type: new array of ones.
        """

    @abc.abstractmethod
    def create_from_numpy(self, arr):
        """Create a new array with the entries of a numpy array.

        Args:
            arr (numpy.ndarray): source; converted to the handler's dtype.

        Returns:
            array_type: new array with the same shape and entries.
        """

    @abc.abstractmethod
    def get_numpy_copy(self, mem):
        """Return a copy of ``mem`` as a numpy array.

        Args:
            mem (array_type): source array.

        Returns:
            numpy.ndarray: copy with the same shape, content and dtype.
        """

    @abc.abstractmethod
    def set_from_numpy(self, mem, arr):
        """Set the content of ``mem`` from a numpy array of the same shape.

        Args:
            mem (array_type): destination.
            arr (numpy.ndarray): source, shape ``mem.shape``; converted to the
                handler's dtype.
        """

    @abc.abstractmethod
    def allocate_host(self, shape):
        """Allocate a numpy array to receive :meth:`copy_to_numpy`, content arbitrary.

        Allocate it once and reuse it: a GPU handler gives page-locked host memory,
        which the device copies into at full speed but which is costly to allocate.

        Args:
            shape (tuple[int]): shape of the array.

        Returns:
            numpy.ndarray: C-contiguous, of the handler's dtype.
        """

    @abc.abstractmethod
    def copy_to_numpy(self, mem, out):
        """Copy ``mem`` into the existing numpy array ``out``, allocating nothing.

        The allocation-free counterpart of :meth:`get_numpy_copy` for transfers
        made again and again (the gradients of every update under data-parallel
        training).

        Args:
            mem (array_type): source array.
            out (numpy.ndarray): destination: C-contiguous, shape ``mem.shape``,
                the handler's dtype (e.g. from :meth:`allocate_host`).
        """

    # ======================================================================
    # Copy and fill (primitives)
    # ======================================================================

    @abc.abstractmethod
    def copy_to(self, src, dest):
        """Copy ``src`` into ``dest`` (same shape).

        Args:
            src (array_type): source array.
            dest (array_type): destination array, shape ``src.shape``.
        """

    @abc.abstractmethod
    def copy_to_if(self, src, dest, cond):
        """Copy elements of ``src`` into ``dest`` where ``cond`` is non-zero.

        Args:
            src (array_type): source array.
            dest (array_type): destination; other elements keep their value.
            cond (array_type): condition, same shape.
        """

    @abc.abstractmethod
    def fill(self, mem, val):
        """Set every element of ``mem`` to ``val``.

        Args:
            mem (array_type): array to fill.
            val (float): value.
        """

    @abc.abstractmethod
    def fill_if(self, mem, val, cond):
        """Set the elements of ``mem`` to ``val`` where ``cond`` is non-zero.

        Args:
            mem (array_type): array to fill; other elements keep their value.
            val (float): value.
            cond (array_type): condition, shape ``mem.shape``.
        """

    # ======================================================================
    # Elementwise (primitives, then composites)
    # ======================================================================

    @abc.abstractmethod
    def abs_t(self, a, out):
        """``out = |a|`` elementwise; ``out`` has ``a``'s shape and may be ``a``."""

    @abc.abstractmethod
    def add_st(self, s, t, out):
        """``out = s + t``: add the scalar ``s`` to every element of ``t``.

        Args:
            s (float): scalar.
            t (array_type): array.
            out (array_type): result, shape ``t.shape``; may be ``t``.
        """

    @abc.abstractmethod
    def add_tt(self, a, b, out):
        """``out = a + b`` elementwise; all three have one shape, ``out`` may be ``a`` or ``b``."""

    @abc.abstractmethod
    def add_into_if(self, a, out, cond):
        """``out += a`` where ``cond`` is non-zero; other elements keep their value.

        Args:
            a (array_type): values to add.
            out (array_type): accumulator, shape ``a.shape``.
            cond (array_type): condition, shape ``a.shape``.
        """

    @abc.abstractmethod
    def subtract_tt(self, a, b, out):
        """``out = a - b`` elementwise; all three have one shape."""

    @abc.abstractmethod
    def mult_st(self, s, t, out):
        """``out = s * t``: multiply every element of ``t`` by the scalar ``s``."""

    @abc.abstractmethod
    def mult_tt(self, a, b, out):
        """``out = a * b`` elementwise; all three have one shape."""

    @abc.abstractmethod
    def divide_tt(self, a, b, out):
        """``out = a / b`` elementwise; all three have one shape."""

    @abc.abstractmethod
    def modulo_tt(self, a, b, out):
        """``out = a % b`` elementwise, with the sign of ``b`` as in Python."""

    @abc.abstractmethod
    def sqrt_t(self, a, out):
        """``out = sqrt(a)`` elementwise (non-negative root)."""

    @abc.abstractmethod
    def log_t(self, a, out):
        """``out = ln(a)`` elementwise (natural logarithm)."""

    @abc.abstractmethod
    def exp_t(self, a, out):
        """``out = exp(a)`` elementwise."""

    @abc.abstractmethod
    def sign_t(self, a, out):
        """``out`` = 1.0 where ``a`` > 0, 0.0 where it is 0, -1.0 where it is < 0."""

    @abc.abstractmethod
    def clip_t(self, a, a_min, a_max, out):
        """``out = min(max(a, a_min), a_max)`` elementwise.

        Args:
            a (array_type): values to clip.
            a_min (float): lower bound.
            a_max (float): upper bound.
            out (array_type): result, shape ``a.shape``; may be ``a``.
        """

    def mult_add_st(self, s, t, out):
        """``out += s * t`` (composite).

        Args:
            s (float): scalar.
            t (array_type): array.
            out (array_type): accumulator, shape ``t.shape``.
        """
        product = self._scratch('mult_add_st', t.shape)
        self.mult_st(s, t, product)
        self.add_tt(out, product, out)

    def mult_add_tt(self, a, b, out):
        """``out += a * b`` elementwise (composite); all three have one shape."""
        product = self._scratch('mult_add_tt', a.shape)
        self.mult_tt(a, b, product)
        self.add_tt(out, product, out)

    # ======================================================================
    # Matrix and matrix-vector (primitives, then composites)
    # ======================================================================

    @abc.abstractmethod
    def add_mv(self, m, v, out):
        """``out = m + v`` with ``v`` broadcast.

        Args:
            m (array_type): (M, N) matrix.
            v (array_type): (1, N) row, (M, 1) column, or (M, N).
            out (array_type): (M, N) result; may be ``m``.
        """

    @abc.abstractmethod
    def subtract_mv(self, m, v, out):
        """``out = m - v`` with ``v`` broadcast (shapes as in :meth:`add_mv`)."""

    @abc.abstractmethod
    def mult_mv(self, m, v, out):
        """``out = m * v`` with ``v`` broadcast (shapes as in :meth:`add_mv`)."""

    @abc.abstractmethod
    def divide_mv(self, m, v, out):
        """``out = m / v`` with ``v`` broadcast (shapes as in :meth:`add_mv`)."""

    @abc.abstractmethod
    def dot_mm(self, a, b, out, transa=False, transb=False):
        """``out = op(a) @ op(b)``, where op transposes when the flag is True.

        Args:
            a (array_type): (M, K) matrix, or (K, M) when ``transa``.
            b (array_type): (K, N) matrix, or (N, K) when ``transb``.
            out (array_type): (M, N) result; must not overlap ``a`` or ``b``.
            transa (bool): use ``a`` transposed.
            transb (bool): use ``b`` transposed.
        """

    @abc.abstractmethod
    def binarize_v(self, v, out):
        """One-hot rows: ``out[i, j] = 1 if j == v[i, 0] else 0``.

        Args:
            v (array_type): (M, 1) column of class indices (integers in the
                handler's dtype, each in [0, N)).
            out (array_type): (M, N) result.
        """

    @abc.abstractmethod
    def index_m_by_v(self, m, v, out):
        """``out[i, 0] = m[i, v[i, 0]]``: pick one element per row.

        Args:
            m (array_type): (M, N) matrix.
            v (array_type): (M, 1) column of indices in [0, N).
            out (array_type): (M, 1) result.
        """

    @abc.abstractmethod
    def softmax_m(self, m, out):
        """Softmax over the last axis, computed stably (the row maximum is subtracted).

        Args:
            m (array_type): (M, N) matrix.
            out (array_type): (M, N) result; may be ``m``.
        """

    def mult_add_mv(self, m, v, out):
        """``out += m * v`` with ``v`` broadcast (composite; shapes as in :meth:`add_mv`)."""
        product = self._scratch('mult_add_mv', m.shape)
        self.mult_mv(m, v, product)
        self.add_tt(out, product, out)

    def dot_add_mm(self, a, b, out, transa=False, transb=False):
        """``out += op(a) @ op(b)`` (composite; shapes as in :meth:`dot_mm`)."""
        product = self._scratch('dot_add_mm', out.shape)
        self.dot_mm(a, b, product, transa, transb)
        self.add_tt(out, product, out)

    # ======================================================================
    # Reductions, broadcasting, merging
    # ======================================================================

    @abc.abstractmethod
    def merge_tt(self, a, b, out):
        """Concatenate ``a`` and ``b`` along the last axis into ``out``.

        Args:
            a (array_type): (..., Na).
            b (array_type): (..., Nb), same leading shape.
            out (array_type): (..., Na + Nb).
        """

    @abc.abstractmethod
    def split_add_tt(self, x, out_a, out_b):
        """Split ``x`` along the last axis and add the parts into ``out_a`` and ``out_b``.

        Args:
            x (array_type): (..., Na + Nb).
            out_a (array_type): (..., Na) accumulator of ``x[..., :Na]``.
            out_b (array_type): (..., Nb) accumulator of ``x[..., Na:]``.
        """

    @abc.abstractmethod
    def sum_t(self, a, axis, out):
        """Sum ``a`` over ``axis`` (None: all elements) into ``out``.

        Args:
            a (array_type): 1D or 2D array.
            axis (Optional[int]): None, 0, or (for 2D) 1.
            out (array_type): the sum, with or without the summed axis: for an
                (M, N) ``a``, axis 0 gives (1, N) or (N,), axis 1 gives (M, 1)
                or (M,), None gives any shape of size 1.
        """

    def sum_add_t(self, a, axis, out):
        """``out += sum of a over axis`` (composite; shapes as in :meth:`sum_t`)."""
        total = self._scratch('sum_add_t', out.shape)
        self.sum_t(a, axis, total)
        self.add_tt(out, total, out)

    @abc.abstractmethod
    def broadcast_t(self, a, axis, out):
        """Repeat ``a`` along ``axis``, where ``a`` has size 1, to fill ``out``.

        Args:
            a (array_type): e.g. (2, 3, 1) for axis 2.
            axis (int): the axis to repeat along.
            out (array_type): ``a``'s shape except along ``axis``, e.g. (2, 3, 5).
        """

    # ======================================================================
    # Activation functions (primitives, then composites)
    # ======================================================================

    @abc.abstractmethod
    def sigmoid(self, x, y):
        """``y = 1 / (1 + exp(-x))``, without overflow for large ``|x|``; ``y`` may be ``x``."""

    @abc.abstractmethod
    def tanh(self, x, y):
        """``y = tanh(x)``; ``y`` may be ``x``."""

    @abc.abstractmethod
    def rel(self, x, y):
        """``y = max(0, x)`` (rectified linear); ``y`` may be ``x``."""

    def el(self, x, y):
        """``y = x if x > 0 else exp(x) - 1`` (exponential linear, alpha fixed to 1).

        Composite: ``y = rel(x) + exp(min(x, 0)) - 1``, where ``exp`` never sees
        a positive argument and so cannot overflow.
        """
        positive = self._scratch('el_positive', x.shape)
        negative = self._scratch('el_negative', x.shape)
        self.rel(x, positive)
        self.subtract_tt(x, positive, negative)
        self.exp_t(negative, negative)
        self.add_st(-1.0, negative, negative)
        self.add_tt(positive, negative, y)

    def sigmoid_deriv(self, x, y, dy, dx):
        """``dx = dy * y * (1 - y)`` (overwrites ``dx``; ``x`` is unused and may be None).

        Args:
            x (Optional[array_type]): inputs of the sigmoid (unused).
            y (array_type): outputs of the sigmoid.
            dy (array_type): derivatives with respect to ``y``.
            dx (array_type): derivatives with respect to ``x`` (written); may be ``dy``.
        """
        slope = self._scratch('sigmoid_deriv', y.shape)
        self.mult_st(-1.0, y, slope)
        self.add_st(1.0, slope, slope)
        self.mult_tt(slope, y, slope)
        self.mult_tt(dy, slope, dx)

    def tanh_deriv(self, x, y, dy, dx):
        """``dx = dy * (1 - y**2)`` (overwrites ``dx``; arguments as in :meth:`sigmoid_deriv`)."""
        slope = self._scratch('tanh_deriv', y.shape)
        self.mult_tt(y, y, slope)
        self.mult_st(-1.0, slope, slope)
        self.add_st(1.0, slope, slope)
        self.mult_tt(dy, slope, dx)

    def rel_deriv(self, x, y, dy, dx):
        """``dx = dy * (y > 0)`` (overwrites ``dx``; arguments as in :meth:`sigmoid_deriv`)."""
        slope = self._scratch('rel_deriv', y.shape)
        self.sign_t(y, slope)  # y >= 0, so its sign is the 0/1 slope
        self.mult_tt(dy, slope, dx)

    def el_deriv(self, x, y, dy, dx):
        """``dx = dy * (1 if y > 0 else y + 1)`` (overwrites ``dx``; as :meth:`sigmoid_deriv`).

        Composite: the slope is ``min(y, 0) + 1 = y - rel(y) + 1``.
        """
        slope = self._scratch('el_deriv', y.shape)
        self.rel(y, slope)
        self.subtract_tt(y, slope, slope)
        self.add_st(1.0, slope, slope)
        self.mult_tt(dy, slope, dx)

    # ======================================================================
    # Convolution and pooling on NHWC batches (primitives)
    # ======================================================================

    @abc.abstractmethod
    def conv2d_forward_batch(self, inputs, weights, bias, outputs, padding, stride):
        """2D convolution (cross-correlation) of a batch of images, plus bias.

        Args:
            inputs (array_type): (B, H, W, C) images.
            weights (array_type): (F, kh, kw, C) filters.
            bias (array_type): (F,) bias.
            outputs (array_type): (B, Ho, Wo, F), overwritten, with
                ``Ho = (H + 2 * padding - kh) // stride[0] + 1`` (and likewise Wo).
            padding (int): zero padding on every side.
            stride (tuple[int]): (vertical, horizontal) step.
        """

    @abc.abstractmethod
    def conv2d_backward_batch(self, inputs, weights, padding, stride, in_deltas, out_deltas,
                              weight_deltas, bias_deltas):
        """Gradients of :meth:`conv2d_forward_batch`, **added** into the delta arrays.

        Args:
            inputs (array_type): (B, H, W, C) forward inputs.
            weights (array_type): (F, kh, kw, C) filters.
            padding (int): as in the forward pass.
            stride (tuple[int]): as in the forward pass.
            in_deltas (array_type or None): (B, H, W, C), accumulates input deltas;
                None means "do not compute input deltas": the handler skips that
                work (the transposed convolution) and computes only the gradients.
            out_deltas (array_type): (B, Ho, Wo, F) deltas of the outputs.
            weight_deltas (array_type): (F, kh, kw, C), accumulates weight gradients.
            bias_deltas (array_type): (F,), accumulates bias gradients.
        """

    @abc.abstractmethod
    def maxpool2d_forward_batch(self, inputs, window, outputs, padding, stride, argmax):
        """2D max-pooling of a batch of images.

        Args:
            inputs (array_type): (B, H, W, C) images.
            window (tuple[int]): (height, width) of the pooling window.
            outputs (array_type): (B, Ho, Wo, C), overwritten, with
                ``Ho = (H + 2 * padding - window[0]) // stride[0] + 1``.
            padding (int): padding on every side (padded cells never win; a window
                entirely in the padding outputs 0).
            stride (tuple[int]): (vertical, horizontal) step.
            argmax (array_type or None): outputs' shape and dtype, overwritten
                with the flat index ``row * window[1] + column`` of each maximum
                within its window of the padded input (ties: first in row-major
                order). None means "compute only the outputs": the handler skips
                the argmax work (inference, where no backward pass reads it).
        """

    @abc.abstractmethod
    def maxpool2d_backward_batch(self, inputs, window, outputs, padding, stride, argmax,
                                 in_deltas, out_deltas):
        """Gradients of :meth:`maxpool2d_forward_batch`, **added** into ``in_deltas``.

        Args:
            inputs, window, outputs, padding, stride, argmax: as in the forward pass.
            in_deltas (array_type): (B, H, W, C), accumulates input deltas.
            out_deltas (array_type): (B, Ho, Wo, C) deltas of the outputs.
        """

    @abc.abstractmethod
    def avgpool2d_forward_batch(self, inputs, window, outputs, padding, stride):
        """2D average-pooling of a batch of images (shapes as in max-pooling).

        Every output is its window's sum divided by the number of window positions
        inside the image (padding does not count; brainstorm 0.5's rule); a window
        entirely in the padding outputs 0.

        Args:
            inputs (array_type): (B, H, W, C) images.
            window (tuple[int]): (height, width) of the pooling window.
            outputs (array_type): (B, Ho, Wo, C), overwritten.
            padding (int): zero padding on every side.
            stride (tuple[int]): (vertical, horizontal) step.
        """

    @abc.abstractmethod
    def avgpool2d_backward_batch(self, inputs, window, outputs, padding, stride, in_deltas,
                                 out_deltas):
        """Gradients of :meth:`avgpool2d_forward_batch`, **added** into ``in_deltas``.

        Args:
            inputs, window, outputs, padding, stride: as in the forward pass.
            in_deltas (array_type): (B, H, W, C), accumulates input deltas.
            out_deltas (array_type): (B, Ho, Wo, C) deltas of the outputs.
        """

    # ======================================================================
    # Fused recurrent steps (composites)
    # ======================================================================

    def lstm_step_forward(self, recurrent, peep_i, peep_f, peep_o, previous_cell, z, i, f, o,
                          cell, cell_output, out, activation='tanh'):
        """The elementwise part of one LSTM step with peepholes (composite).

        The formulas of ``brainstorm/layers/lstm_layer.py``, with ``act`` the
        activation of the block input and the cell output and the sigmoid for the
        gates. Every matrix is (B, N) but ``recurrent`` (B, 4N); the peepholes are
        (1, N).

        Args:
            recurrent: the step's recurrent products y[t-1] @ R of the gates z, i, f,
                o, side by side.
            peep_i, peep_f, peep_o: peephole weights.
            previous_cell: the cell state Ca of the previous step.
            z, i, f, o: the input projections x W + b of the gates; overwritten with
                the activations Zb, Ib, Fb, Ob.
            cell: receives Ca = Zb * Ib + Fb * previous_cell.
            cell_output: receives Cb = act(Ca).
            out: receives y = Ob * Cb.
            activation: the name of ``act``.
        """
        size = previous_cell.shape[1]
        recurrent_z, recurrent_i, recurrent_f, recurrent_o = (
            recurrent[:, index * size:(index + 1) * size] for index in range(4))
        act = self.act_func(activation)
        self.add_tt(z, recurrent_z, z)
        self.add_tt(i, recurrent_i, i)
        self.add_tt(f, recurrent_f, f)
        self.add_tt(o, recurrent_o, o)
        self.mult_add_mv(previous_cell, peep_i, i)
        self.mult_add_mv(previous_cell, peep_f, f)
        act(z, z)
        self.sigmoid(i, i)
        self.sigmoid(f, f)
        self.mult_tt(z, i, cell)
        self.mult_add_tt(f, previous_cell, cell)
        self.mult_add_mv(cell, peep_o, o)
        self.sigmoid(o, o)
        act(cell, cell_output)
        self.mult_tt(o, cell_output, out)

    def lstm_step_backward(self, deltas, z, i, f, o, cell_output, previous_cell,
                           next_cell_deltas, next_f, next_i_deltas, next_f_deltas, peep_i,
                           peep_f, peep_o, z_deltas, i_deltas, f_deltas, o_deltas, cell_deltas,
                           gate_deltas, activation='tanh'):
        """The pre-activation deltas of one LSTM step (composite; see lstm_step_forward).

        Every matrix is (B, N) but ``gate_deltas`` (B, 4N); the peepholes are (1, N).

        Args:
            deltas: dE/dy of the step: its output deltas plus the recurrent deltas
                from the following step.
            z, i, f, o, cell_output: the step's activations Zb, Ib, Fb, Ob, Cb.
            previous_cell: the cell state Ca of the previous step.
            next_cell_deltas, next_f, next_i_deltas, next_f_deltas: dCa, Fb, dIa and
                dFa of the following step (zeros after the last step).
            peep_i, peep_f, peep_o: peephole weights.
            z_deltas, i_deltas, f_deltas, o_deltas, cell_deltas: receive dZa, dIa, dFa,
                dOa and dCa of the step.
            gate_deltas: receives dZa, dIa, dFa, dOa side by side.
            activation: the name of the activation of block input and cell output.
        """
        act_deriv = self.act_func_deriv(activation)
        self.mult_tt(deltas, cell_output, o_deltas)
        self.sigmoid_deriv(None, o, o_deltas, o_deltas)
        self.mult_tt(deltas, o, cell_deltas)
        act_deriv(None, cell_output, cell_deltas, cell_deltas)
        self.mult_add_mv(o_deltas, peep_o, cell_deltas)
        self.mult_add_tt(next_cell_deltas, next_f, cell_deltas)
        self.mult_add_mv(next_i_deltas, peep_i, cell_deltas)
        self.mult_add_mv(next_f_deltas, peep_f, cell_deltas)
        self.mult_tt(cell_deltas, i, z_deltas)
        act_deriv(None, z, z_deltas, z_deltas)
        self.mult_tt(cell_deltas, z, i_deltas)
        self.sigmoid_deriv(None, i, i_deltas, i_deltas)
        self.mult_tt(cell_deltas, previous_cell, f_deltas)
        self.sigmoid_deriv(None, f, f_deltas, f_deltas)
        size = previous_cell.shape[1]
        for index, gate in enumerate((z_deltas, i_deltas, f_deltas, o_deltas)):
            self.copy_to(gate, gate_deltas[:, index * size:(index + 1) * size])

    # ======================================================================
    # Randomness (primitives; both draw from self.rnd)
    # ======================================================================

    @abc.abstractmethod
    def fill_gaussian(self, mean, std, out):
        """Fill ``out`` with samples of a Gaussian drawn from ``self.rnd``.

        Args:
            mean (float): mean of the distribution.
            std (float): standard deviation of the distribution.
            out (array_type): array to fill.
        """

    @abc.abstractmethod
    def generate_probability_mask(self, mask, probability):
        """Fill ``mask`` with ones (with the given probability) and zeros.

        Args:
            mask (array_type): array to fill.
            probability (float): probability of an element being 1.
        """

    # ======================================================================
    # Debugging
    # ======================================================================

    @abc.abstractmethod
    def is_fully_finite(self, a):
        """Return True if ``a`` holds no inf and no nan.

        Args:
            a (array_type): array to check.

        Returns:
            bool
        """


def _start_address(array):
    if hasattr(array, '__array_interface__'):
        return array.__array_interface__['data'][0]
    return int(array.ptr)


def _byte_extent(array):
    """Return the [start, end) byte range an array can touch (conservative)."""
    start = end = _start_address(array)
    for size, stride in zip(array.shape, array.strides):
        if size == 0:
            return start, start
        reach = stride * (size - 1)
        if reach < 0:
            start += reach
        else:
            end += reach
    return start, end + array.dtype.itemsize
