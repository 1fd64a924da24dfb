"""Convolution and pooling on NHWC image batches in numpy (NumpyHandler's conv ops).

The original brainstorm did this in Cython; here every op is a handful of whole-array
numpy calls: im2col through strided window views, one BLAS product per batch for
each matrix part, and loops only over the kernel or window offsets (e.g. 25 for a
5x5 kernel), never over images, pixels or channels.

Layouts (all arrays share one float dtype, float32 or float64):

* images ``inputs``/``outputs``/deltas: ``(N, height, width, channels)`` (NHWC);
* ``weights``: ``(num_filters, kernel_height, kernel_width, in_channels)``;
* ``bias``: ``(num_filters,)``;
* ``padding``: int, zeros (or ``-inf`` for max-pooling) added on all four sides;
* ``stride`` and ``window``: ``(rows, columns)`` tuples;
* output size: ``(height + 2 * padding - kernel_height) // stride_rows + 1``, the same
  for widths.

Conventions chosen here:

* ``argmax`` of max-pooling holds, per output element, the flat offset of the chosen
  element *within its window*, ``i * window_width + j`` (stored as a float of the
  handler's dtype). Ties pick the first offset in that row-major order.
* Average pooling *includes* padding in the divisor: every output is the window sum
  divided by ``window_height * window_width``, padded zeros included (cuDNN's
  "include padding" mode).
* Forward ops overwrite ``outputs`` (and ``argmax``); backward ops add into
  ``in_deltas``, ``weight_deltas`` and ``bias_deltas``.

Every function takes ``scratch``, a callable ``scratch(key, shape)`` returning a
reusable C-contiguous array of the handler's dtype (the same array for the same key
and shape; arrays of different keys never overlap). All temporaries come from it, so
a steady-state call allocates no array memory.

Column layouts (chosen by measurement on the cifar10 network, see bench/conv_ops.py):
the forward product and the weight gradient use row-per-output-pixel columns
``(N*out_h*out_w, kh*kw*C)`` whose rows are gathered as ``kw*C``-long contiguous runs
from the NHWC input. Input deltas take one of two routes:

* stride (1, 1) and at least 8 channels: a transposed convolution, i.e. im2col of
  the zero-embedded output deltas and one product with the rotated filters; col2im
  would make ``kh*kw`` memory-bound passes over a delta image (1.7x slower here);
* otherwise: one product into offset-major column deltas ``(kh*kw*C, N*out_h*out_w)``,
  then col2im adds ``out_w``-long runs into a channel-major ``(C, N, H, W)`` delta
  image; adding ``C``-long runs of NHWC columns was far slower for small ``C``, and
  the transposed route's ``(N*H*W, kh*kw*F)`` columns are huge when ``C`` is small.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from brainstorm.errors import HandlerContractError
from brainstorm.handlers import _blas

__all__ = [
    'conv2d_forward_batch',
    'conv2d_backward_batch',
    'maxpool2d_forward_batch',
    'maxpool2d_backward_batch',
    'avgpool2d_forward_batch',
    'avgpool2d_backward_batch',
]


#: From this many input channels on, stride-1 input deltas are computed as a
#: transposed convolution (im2col of the output deltas) instead of col2im; with
#: fewer, its (N*H*W, kh*kw*F) columns dwarf col2im's (kh*kw*C, N*out_h*out_w).
_MIN_CHANNELS_FOR_TRANSPOSED = 8


# ----------------------------------------------------------------- shape helpers

def _output_size(op_name, in_size, kernel_size, padding, stride, axis_name):
    """Return the number of output positions along one axis, or raise if none."""
    size = (in_size + 2 * padding - kernel_size) // stride + 1
    if stride < 1 or padding < 0 or size < 1:
        raise HandlerContractError(
            '{}: {} of {} with padding {} cannot hold a kernel/window of {} at '
            'stride {}; expected padding >= 0, stride >= 1 and at least one output '
            'position'.format(op_name, axis_name, in_size, padding, kernel_size, stride))
    return size


def _check_shape(op_name, argument_name, array, expected_shape):
    if tuple(array.shape) != tuple(expected_shape):
        raise HandlerContractError(
            '{}: argument {} has shape {}, expected {}'.format(
                op_name, argument_name, tuple(array.shape), tuple(expected_shape)))


def _image_geometry(op_name, inputs, kernel_shape, padding, stride):
    """Check NHWC inputs and return (N, H, W, C, out_h, out_w)."""
    if inputs.ndim != 4:
        raise HandlerContractError(
            '{}: inputs must be 4-d (N, height, width, channels), got shape {}'.format(
                op_name, inputs.shape))
    if len(stride) != 2 or len(kernel_shape) != 2:
        raise HandlerContractError(
            '{}: stride and kernel/window must be pairs (rows, columns), got {} and {}'
            .format(op_name, stride, kernel_shape))
    n, height, width, channels = inputs.shape
    out_height = _output_size(op_name, height, kernel_shape[0], padding, stride[0], 'height')
    out_width = _output_size(op_name, width, kernel_shape[1], padding, stride[1], 'width')
    return n, height, width, channels, out_height, out_width


def _matrix(array, rows, columns, scratch, key):
    """Return ``array`` as a (rows, columns) matrix BLAS can use, copying if needed.

    A C-contiguous array is reshaped for free; any other view (a slice of a bigger
    buffer) is copied into scratch, because reshaping it would allocate a copy.
    """
    if array.flags.c_contiguous:
        return array.reshape(rows, columns)
    matrix = scratch(key, (rows, columns))
    np.copyto(matrix.reshape(array.shape), array)
    return matrix


def _padded_copy(inputs, padding, fill_value, scratch, key):
    """Copy NHWC ``inputs`` into a scratch image with ``padding`` on all four sides.

    Only the border strips are filled (the interior is overwritten right after), so
    the cost is one pass over the input.
    """
    n, height, width, channels = inputs.shape
    padded = scratch(key, (n, height + 2 * padding, width + 2 * padding, channels))
    if padding > 0:
        padded[:, :padding].fill(fill_value)
        padded[:, padding + height:].fill(fill_value)
        padded[:, padding:padding + height, :padding].fill(fill_value)
        padded[:, padding:padding + height, padding + width:].fill(fill_value)
    np.copyto(padded[:, padding:padding + height, padding:padding + width], inputs)
    return padded


def _offset_view(image, i, j, out_height, out_width, stride):
    """The (N, out_h, out_w, C) view of ``image`` seen by kernel offset (i, j)."""
    return image[:,
                 i:i + stride[0] * (out_height - 1) + 1:stride[0],
                 j:j + stride[1] * (out_width - 1) + 1:stride[1]]


def _columns(inputs, kernel_shape, padding, stride, out_height, out_width, scratch):
    """im2col: the (N*out_h*out_w, kh*kw*C) patch matrix of NHWC ``inputs``.

    Row ``(n, y, x)`` holds the padded input patch under output pixel (y, x) in
    (i, j, c) order, matching ``weights.reshape(F, -1)``.
    """
    n, _, _, channels = inputs.shape
    kernel_height, kernel_width = kernel_shape
    if padding > 0:
        source = _padded_copy(inputs, padding, 0.0, scratch, 'conv2d.padded_inputs')
    else:
        source = inputs  # strided views read any strides; no copy needed
    strides = source.strides
    patches = as_strided(
        source,
        shape=(n, out_height, out_width, kernel_height, kernel_width, channels),
        strides=(strides[0], strides[1] * stride[0], strides[2] * stride[1],
                 strides[1], strides[2], strides[3]),
        writeable=False)
    columns = scratch('conv2d.columns',
                      (n * out_height * out_width, kernel_height * kernel_width * channels))
    np.copyto(columns.reshape(patches.shape), patches)
    return columns


# ------------------------------------------------------------------ convolution

def conv2d_forward_batch(inputs, weights, bias, outputs, padding, stride, *, scratch):
    """2-d convolution (cross-correlation) of a batch of NHWC images; overwrites outputs.

    ``outputs[n, y, x, f] = bias[f] + sum_{i, j, c} padded[n, y*sh + i, x*sw + j, c]
    * weights[f, i, j, c]`` with zero padding.

    Args:
        inputs: (N, H, W, C) images.
        weights: (F, kh, kw, C) filters.
        bias: (F,) per-filter offsets.
        outputs: (N, out_h, out_w, F), written.
        padding: zeros added on each of the four sides.
        stride: (sh, sw) steps between output pixels, in input pixels.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'conv2d_forward_batch'
    num_filters, kernel_height, kernel_width, _ = weights.shape
    n, _, _, channels, out_height, out_width = _image_geometry(
        op_name, inputs, (kernel_height, kernel_width), padding, stride)
    _check_shape(op_name, 'weights', weights,
                 (num_filters, kernel_height, kernel_width, channels))
    _check_shape(op_name, 'bias', bias, (num_filters,))
    _check_shape(op_name, 'outputs', outputs, (n, out_height, out_width, num_filters))
    rows = n * out_height * out_width
    kernel_size = kernel_height * kernel_width * channels

    columns = _columns(inputs, (kernel_height, kernel_width), padding, stride,
                       out_height, out_width, scratch)
    weight_matrix = _matrix(weights, num_filters, kernel_size, scratch, 'conv2d.weights')
    writes_in_place = outputs.flags.c_contiguous
    if writes_in_place:
        output_matrix = outputs.reshape(rows, num_filters)
    else:  # a strided view: compute in scratch, then copy into place
        output_matrix = scratch('conv2d.outputs', (rows, num_filters))
    _blas.matmul_into(columns, weight_matrix.T, output_matrix)
    np.add(output_matrix, bias, out=output_matrix)
    if not writes_in_place:
        np.copyto(outputs, output_matrix.reshape(outputs.shape))


def conv2d_backward_batch(inputs, weights, padding, stride, in_deltas, out_deltas,
                          weight_deltas, bias_deltas, *, scratch):
    """Gradients of :func:`conv2d_forward_batch`; adds into all three delta arrays.

    Args:
        inputs: (N, H, W, C) images of the forward pass.
        weights: (F, kh, kw, C) filters.
        padding: zeros added on each side in the forward pass.
        stride: (sh, sw) of the forward pass.
        in_deltas: (N, H, W, C), incremented by d loss / d inputs.
        out_deltas: (N, out_h, out_w, F), d loss / d outputs.
        weight_deltas: (F, kh, kw, C), incremented by d loss / d weights.
        bias_deltas: (F,), incremented by d loss / d bias.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'conv2d_backward_batch'
    num_filters, kernel_height, kernel_width, _ = weights.shape
    n, height, width, channels, out_height, out_width = _image_geometry(
        op_name, inputs, (kernel_height, kernel_width), padding, stride)
    _check_shape(op_name, 'weights', weights,
                 (num_filters, kernel_height, kernel_width, channels))
    _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, (n, out_height, out_width, num_filters))
    _check_shape(op_name, 'weight_deltas', weight_deltas, weights.shape)
    _check_shape(op_name, 'bias_deltas', bias_deltas, (num_filters,))
    rows = n * out_height * out_width
    kernel_size = kernel_height * kernel_width * channels

    delta_matrix = _matrix(out_deltas, rows, num_filters, scratch, 'conv2d.out_deltas')
    weight_matrix = _matrix(weights, num_filters, kernel_size, scratch, 'conv2d.weights')

    # Bias gradient: column sums of the output deltas.
    bias_gradient = scratch('conv2d.bias_gradient', (num_filters,))
    np.sum(delta_matrix, axis=0, out=bias_gradient)
    np.add(bias_deltas, bias_gradient, out=bias_deltas)

    # Weight gradient: one product with the forward columns, rebuilt here because
    # scratch may have been reused by other layers since the forward pass.
    columns = _columns(inputs, (kernel_height, kernel_width), padding, stride,
                       out_height, out_width, scratch)
    weight_gradient = scratch('conv2d.weight_gradient', (num_filters, kernel_size))
    _blas.matmul_into(delta_matrix.T, columns, weight_gradient)
    np.add(weight_deltas, weight_gradient.reshape(weights.shape), out=weight_deltas)

    if tuple(stride) == (1, 1) and channels >= _MIN_CHANNELS_FOR_TRANSPOSED:
        _add_input_deltas_transposed(weights, out_deltas, padding, in_deltas, scratch)
    else:
        _add_input_deltas_strided(weight_matrix, delta_matrix, padding, stride, in_deltas,
                                  (kernel_height, kernel_width), (out_height, out_width),
                                  scratch)


def _add_input_deltas_strided(weight_matrix, delta_matrix, padding, stride, in_deltas,
                              kernel_shape, out_shape, scratch):
    """in_deltas += col2im(W^T @ out_deltas^T), for any stride.

    One product gives offset-major column deltas (kh*kw*C, N*out_h*out_w); col2im
    adds each offset's (C, N, out_h, out_w) block into a channel-major padded delta
    image with ``out_w``-long contiguous runs.
    """
    n, height, width, channels = in_deltas.shape
    kernel_height, kernel_width = kernel_shape
    out_height, out_width = out_shape
    column_deltas = scratch('conv2d.column_deltas',
                            (weight_matrix.shape[1], delta_matrix.shape[0]))
    _blas.matmul_into(weight_matrix.T, delta_matrix.T, column_deltas)
    column_deltas = column_deltas.reshape(
        kernel_height, kernel_width, channels, n, out_height, out_width)
    padded_deltas = scratch('conv2d.padded_deltas',
                            (channels, n, height + 2 * padding, width + 2 * padding))
    padded_deltas.fill(0.0)
    for i in range(kernel_height):
        for j in range(kernel_width):
            target = padded_deltas[:, :,
                                   i:i + stride[0] * (out_height - 1) + 1:stride[0],
                                   j:j + stride[1] * (out_width - 1) + 1:stride[1]]
            np.add(target, column_deltas[i, j], out=target)
    interior = padded_deltas[:, :, padding:padding + height, padding:padding + width]
    np.add(in_deltas, interior.transpose(1, 2, 3, 0), out=in_deltas)


def _add_input_deltas_transposed(weights, out_deltas, padding, in_deltas, scratch):
    """in_deltas += the stride-1 transposed convolution of out_deltas, by im2col.

    For stride (1, 1), ``in_deltas[n, h, w, c] = sum_{i, j, f} D[n, h + i, w + j, f]
    * weights[f, kh-1-i, kw-1-j, c]`` where ``D`` is ``out_deltas`` placed at offset
    ``(kh-1-padding, kw-1-padding)`` in a zero (N, H+kh-1, W+kw-1, F) image (cropped
    where that offset is negative). That is a forward convolution: im2col of ``D``
    (N*H*W, kh*kw*F), one product with the rotated filters (kh*kw*F, C), one add.
    Used when C is not small: it reads and writes each column once, where col2im
    makes kh*kw memory-bound passes over a delta image.
    """
    n, height, width, channels = in_deltas.shape
    num_filters, kernel_height, kernel_width, _ = weights.shape
    _, out_height, out_width, _ = out_deltas.shape
    # where out_deltas start inside D (negative: crop their first rows/columns)
    top, left = kernel_height - 1 - padding, kernel_width - 1 - padding
    delta_image = scratch('conv2d.transposed_deltas',
                          (n, height + kernel_height - 1, width + kernel_width - 1,
                           num_filters))
    delta_image.fill(0.0)
    row_start, column_start = max(0, -top), max(0, -left)
    row_stop = min(out_height, delta_image.shape[1] - top)
    column_stop = min(out_width, delta_image.shape[2] - left)
    np.copyto(delta_image[:, top + row_start:top + row_stop,
                          left + column_start:left + column_stop],
              out_deltas[:, row_start:row_stop, column_start:column_stop])
    strides = delta_image.strides
    patches = as_strided(
        delta_image,
        shape=(n, height, width, kernel_height, kernel_width, num_filters),
        strides=(strides[0], strides[1], strides[2], strides[1], strides[2], strides[3]),
        writeable=False)
    columns = scratch('conv2d.transposed_columns',
                      (n * height * width, kernel_height * kernel_width * num_filters))
    np.copyto(columns.reshape(patches.shape), patches)
    rotated = scratch('conv2d.rotated_weights',
                      (kernel_height, kernel_width, num_filters, channels))
    np.copyto(rotated, weights[:, ::-1, ::-1, :].transpose(1, 2, 0, 3))
    input_gradient = scratch('conv2d.input_gradient', (n * height * width, channels))
    _blas.matmul_into(columns, rotated.reshape(-1, channels), input_gradient)
    np.add(in_deltas, input_gradient.reshape(in_deltas.shape), out=in_deltas)


# ---------------------------------------------------------------------- pooling

def _pool_source(inputs, padding, fill_value, scratch, key):
    """Pooling reads the input directly when unpadded, else a padded scratch copy."""
    if padding == 0:
        return inputs
    return _padded_copy(inputs, padding, fill_value, scratch, key)


def _check_pool(op_name, inputs, window, outputs, padding, stride):
    n, height, width, channels, out_height, out_width = _image_geometry(
        op_name, inputs, window, padding, stride)
    _check_shape(op_name, 'outputs', outputs, (n, out_height, out_width, channels))
    return out_height, out_width


def _delta_target(in_deltas, padding, scratch, key):
    """Where pooling backward adds: in_deltas itself, or a zeroed padded scratch image."""
    if padding == 0:
        return in_deltas
    n, height, width, channels = in_deltas.shape
    padded = scratch(key, (n, height + 2 * padding, width + 2 * padding, channels))
    padded.fill(0.0)
    return padded


def _finish_delta_target(target, in_deltas, padding):
    """Add the interior of a padded delta image into in_deltas (padding > 0 only)."""
    if padding == 0:
        return
    _, height, width, _ = in_deltas.shape
    np.add(in_deltas, target[:, padding:padding + height, padding:padding + width],
           out=in_deltas)


def maxpool2d_forward_batch(inputs, window, outputs, padding, stride, argmax, *, scratch):
    """Max-pooling of NHWC images; overwrites outputs and argmax.

    The input is padded with ``-inf``. ``argmax[n, y, x, c]`` receives the offset
    ``i * window[1] + j`` of the chosen element within its window (first maximum
    in row-major window order).

    Args:
        inputs: (N, H, W, C) images.
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C), written.
        padding: ``-inf`` rows/columns added on each side.
        stride: (sh, sw) steps between windows.
        argmax: (N, out_h, out_w, C) float array, written.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'maxpool2d_forward_batch'
    out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding, stride)
    _check_shape(op_name, 'argmax', argmax, outputs.shape)
    source = _pool_source(inputs, padding, -np.inf, scratch, 'maxpool2d.padded_inputs')
    offsets = [(i, j) for i in range(window[0]) for j in range(window[1])]
    np.copyto(outputs, _offset_view(source, 0, 0, out_height, out_width, stride))
    for i, j in offsets[1:]:
        candidates = _offset_view(source, i, j, out_height, out_width, stride)
        np.maximum(outputs, candidates, out=outputs)
    # argmax without data-dependent branches (masked copies with random masks were
    # five times slower): encode offset k as (count - k) where the element equals
    # the maximum and 0 elsewhere; the largest code is the first maximal offset.
    count = len(offsets)
    code = scratch('maxpool2d.offset_code', outputs.shape)
    argmax.fill(0.0)
    for k, (i, j) in enumerate(offsets):
        candidates = _offset_view(source, i, j, out_height, out_width, stride)
        np.equal(candidates, outputs, out=code)
        np.multiply(code, count - k, out=code)
        np.maximum(argmax, code, out=argmax)
    np.subtract(count, argmax, out=argmax)


def maxpool2d_backward_batch(inputs, window, outputs, padding, stride, argmax,
                             in_deltas, out_deltas, *, scratch):
    """Gradient of :func:`maxpool2d_forward_batch`; adds into in_deltas.

    Each output delta goes to the input element its ``argmax`` names; overlapping
    windows accumulate.

    Args:
        inputs: (N, H, W, C) images of the forward pass (only their shape is used).
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C) forward outputs (only their shape is used).
        padding: padding of the forward pass.
        stride: (sh, sw) of the forward pass.
        argmax: (N, out_h, out_w, C) window offsets written by the forward pass.
        in_deltas: (N, H, W, C), incremented.
        out_deltas: (N, out_h, out_w, C) deltas of the outputs.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'maxpool2d_backward_batch'
    out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding, stride)
    _check_shape(op_name, 'argmax', argmax, outputs.shape)
    _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, outputs.shape)
    target = _delta_target(in_deltas, padding, scratch, 'maxpool2d.padded_deltas')
    routed = scratch('maxpool2d.routed_deltas', outputs.shape)
    for i in range(window[0]):
        for j in range(window[1]):
            # branch-free: (argmax == k) as 0/1 times the deltas, then one add
            np.equal(argmax, i * window[1] + j, out=routed)
            np.multiply(routed, out_deltas, out=routed)
            view = _offset_view(target, i, j, out_height, out_width, stride)
            np.add(view, routed, out=view)
    _finish_delta_target(target, in_deltas, padding)


def avgpool2d_forward_batch(inputs, window, outputs, padding, stride, *, scratch):
    """Average pooling of NHWC images, zero padding counted; overwrites outputs.

    Every output is its window's sum divided by ``window[0] * window[1]``, padded
    zeros included.

    Args:
        inputs: (N, H, W, C) images.
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C), written.
        padding: zero rows/columns added on each side.
        stride: (sh, sw) steps between windows.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'avgpool2d_forward_batch'
    out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding, stride)
    source = _pool_source(inputs, padding, 0.0, scratch, 'avgpool2d.padded_inputs')
    np.copyto(outputs, _offset_view(source, 0, 0, out_height, out_width, stride))
    for i in range(window[0]):
        for j in range(window[1]):
            if i == 0 and j == 0:
                continue
            view = _offset_view(source, i, j, out_height, out_width, stride)
            np.add(outputs, view, out=outputs)
    np.multiply(outputs, 1.0 / (window[0] * window[1]), out=outputs)


def avgpool2d_backward_batch(inputs, window, outputs, padding, stride, in_deltas,
                             out_deltas, *, scratch):
    """Gradient of :func:`avgpool2d_forward_batch`; adds into in_deltas.

    Args:
        inputs: (N, H, W, C) images of the forward pass (only their shape is used).
        window: (wh, ww) pooling window.
        outputs: (N, out_h, out_w, C) forward outputs (only their shape is used).
        padding: padding of the forward pass.
        stride: (sh, sw) of the forward pass.
        in_deltas: (N, H, W, C), incremented.
        out_deltas: (N, out_h, out_w, C) deltas of the outputs.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
    """
    op_name = 'avgpool2d_backward_batch'
    out_height, out_width = _check_pool(op_name, inputs, window, outputs, padding, stride)
    _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, outputs.shape)
    scaled_deltas = scratch('avgpool2d.scaled_deltas', outputs.shape)
    np.multiply(out_deltas, 1.0 / (window[0] * window[1]), out=scaled_deltas)
    target = _delta_target(in_deltas, padding, scratch, 'avgpool2d.padded_deltas')
    for i in range(window[0]):
        for j in range(window[1]):
            view = _offset_view(target, i, j, out_height, out_width, stride)
            np.add(view, scaled_deltas, out=view)
    _finish_delta_target(target, in_deltas, padding)
