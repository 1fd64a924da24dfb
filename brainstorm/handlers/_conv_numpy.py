"""Convolution on NHWC image batches in numpy (NumpyHandler's conv ops).

The original brainstorm did this in Cython; here every op is a handful of numpy
calls per chunk of images: im2col through strided window views and one BLAS product
for each matrix part. Where NumpyHandler has the compiled kernels
(``_conv_kernels.c``), the im2col of C-contiguous images is one compiled pass
instead. Loops run only over chunks (about ten per batch) and kernel offsets (e.g.
25 for a 5x5 kernel), never over images, pixels or channels. Pooling is in
:mod:`brainstorm.handlers._pool_numpy`; shared helpers in ``_image_numpy``.

Layouts (all arrays share one float dtype, float32 or float64):

* images ``inputs``/``outputs``/deltas: ``(N, height, width, channels)`` (NHWC);
* ``weights``: ``(num_filters, kernel_height, kernel_width, in_channels)``;
* ``bias``: ``(num_filters,)``;
* ``padding``: int, zeros added on all four sides;
* ``stride``, ``window`` and kernel shapes: ``(rows, columns)`` tuples;
* output size: ``(height + 2 * padding - kernel_height) // stride_rows + 1``, the same
  for widths.

Every function takes ``scratch``, a callable ``scratch(key, shape)`` returning a
reusable C-contiguous array of the handler's dtype (the same array for the same key
and shape; arrays of different keys never overlap). All temporaries come from it, so
a steady-state call allocates no array memory. Forward ops overwrite ``outputs``;
backward ops add into ``in_deltas``, ``weight_deltas`` and ``bias_deltas``.

Chunks: the batch is processed a few images at a time, so that the column matrices
(25 times the size of a 5x5 convolution's input) stay a few MB instead of tens of
MB per layer: the scratch shrinks ~8x and the columns are still in cache when the
product reads them.

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

from brainstorm.handlers._image_numpy import (
    _bordered_scratch, _check_shape, _chunk_matrix, _chunks, _flat_matrix, _im2col,
    _image_geometry, _matrix, _product, _rows)

__all__ = [
    'conv2d_forward_batch',
    'conv2d_backward_batch',
]

#: Target size in bytes of the largest per-chunk scratch matrix (the im2col columns);
#: the chunk is as many images as fit, at least one. Measured on the cifar10_cnn
#: network (bench/conv_ops.py): see the commit that set it.
COLUMN_CHUNK_BYTES = 4 * 2 ** 20

#: The scratch key of the column matrices (im2col of a chunk, and in the backward
#: pass the input deltas' columns, which take turns with them)
_COLUMNS = 'conv2d.columns'


#: From this many input channels on, stride-1 input deltas are computed as a
#: transposed convolution (im2col of the output deltas) instead of col2im; with
#: fewer, its (N*H*W, kh*kw*F) columns dwarf col2im's (kh*kw*C, N*out_h*out_w).
_MIN_CHANNELS_FOR_TRANSPOSED = 8


def _chunk_images(n, bytes_per_image):
    """How many images one chunk holds so that its largest scratch matrix stays
    near :data:`COLUMN_CHUNK_BYTES` (at least one image, at most ``n``)."""
    return max(1, min(n, COLUMN_CHUNK_BYTES // max(1, bytes_per_image)))


class _ColumnMaker:
    """im2col of image chunks of NHWC ``inputs`` (zero padding) into one scratch.

    Args:
        inputs: (N, H, W, C) images.
        kernel_shape, padding, stride, out_shape: the convolution's geometry.
        chunk: images per chunk.
        scratch: the scratch provider; keys ``conv2d.padded_inputs`` and ``conv2d.columns``.
        kernels: the compiled ``_conv_kernels_c`` module, or None. Its im2col reads
            C-contiguous images and pads by itself, in one pass; numpy copies a chunk
            into a zero-bordered scratch, then the window view into the columns.
    """

    def __init__(self, inputs, kernel_shape, padding, stride, out_shape, chunk, scratch,
                 kernels=None):
        _, height, width, channels = inputs.shape
        self.inputs, self.kernel_shape, self.padding = inputs, kernel_shape, padding
        self.stride, self.out_shape, self.chunk, self.scratch = stride, out_shape, chunk, scratch
        self.columns = scratch(_COLUMNS,
                               (chunk * out_shape[0] * out_shape[1],
                                kernel_shape[0] * kernel_shape[1] * channels))
        self.kernels = kernels if inputs.flags.c_contiguous else None
        self.padded = None

    def __call__(self, start, stop):
        """The (count*out_h*out_w, kh*kw*C) columns of images ``start:stop``."""
        count = stop - start
        if self.kernels is not None:
            columns = _rows(self.columns, count * self.out_shape[0] * self.out_shape[1])
            if self.kernels.im2col_nhwc(count, *self.inputs.shape[1:], *self.out_shape,
                                        *self.kernel_shape, *self.stride, self.padding,
                                        self.inputs[start:stop], columns):
                return columns
        source = self.inputs[start:stop]  # strided views read any strides; no copy
        if self.padding > 0:
            _, height, width, _ = self.inputs.shape
            padding = self.padding
            source = _rows(self._padded(), count)
            np.copyto(source[:, padding:padding + height, padding:padding + width],
                      self.inputs[start:stop])
        return _im2col(source, self.kernel_shape, self.stride, *self.out_shape, self.columns)

    def _padded(self):
        """The zero-bordered chunk scratch of the numpy path, made on first use."""
        if self.padded is None:
            _, height, width, channels = self.inputs.shape
            padding = self.padding
            self.padded = _bordered_scratch(
                self.scratch, 'conv2d.padded_inputs',
                (self.chunk, height + 2 * padding, width + 2 * padding, channels),
                padding, padding, height, width)
        return self.padded


# ------------------------------------------------------------------ convolution

def conv2d_forward_batch(inputs, weights, bias, outputs, padding, stride, *, scratch,
                         kernels=None):
    """2-d convolution (cross-correlation) of a batch of NHWC images; overwrites outputs.

    ``outputs[n, y, x, f] = bias[f] + sum_{i, j, c} padded[n, y*sh + i, x*sw + j, c]
    * weights[f, i, j, c]`` with zero padding. Images are processed in chunks: im2col
    of a chunk, one product into the chunk's output rows, the bias added while
    those rows are in cache.

    Args:
        inputs: (N, H, W, C) images.
        weights: (F, kh, kw, C) filters.
        bias: (F,) per-filter offsets.
        outputs: (N, out_h, out_w, F), written.
        padding: zeros added on each of the four sides.
        stride: (sh, sw) steps between output pixels, in input pixels.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
        kernels: the compiled ``_conv_kernels_c`` module or None (see _ColumnMaker).
    """
    op_name = 'conv2d_forward_batch'
    num_filters, kernel_height, kernel_width, _ = weights.shape
    n, _, _, channels, out_height, out_width = _image_geometry(
        op_name, inputs, (kernel_height, kernel_width), padding, stride)
    _check_shape(op_name, 'weights', weights,
                 (num_filters, kernel_height, kernel_width, channels))
    _check_shape(op_name, 'bias', bias, (num_filters,))
    _check_shape(op_name, 'outputs', outputs, (n, out_height, out_width, num_filters))
    kernel_size = kernel_height * kernel_width * channels
    pixels = out_height * out_width
    chunk = _chunk_images(n, pixels * kernel_size * inputs.itemsize)

    make_columns = _ColumnMaker(inputs, (kernel_height, kernel_width), padding, stride,
                                (out_height, out_width), chunk, scratch, kernels)
    weight_matrix = _matrix(weights, num_filters, kernel_size, scratch, 'conv2d.weights')
    writes_in_place = outputs.flags.c_contiguous
    if writes_in_place:
        output_matrix = outputs.reshape(n * pixels, num_filters)
    else:  # a strided view: compute each chunk in scratch, then copy it into place
        output_scratch = scratch('conv2d.outputs', (chunk * pixels, num_filters))
    for start, stop in _chunks(n, chunk):
        if writes_in_place:
            chunk_outputs = output_matrix[start * pixels:stop * pixels]
        else:
            chunk_outputs = _rows(output_scratch, (stop - start) * pixels)
        _product(make_columns(start, stop), weight_matrix, chunk_outputs, transb=True)
        np.add(chunk_outputs, bias, out=chunk_outputs)
        if not writes_in_place:
            np.copyto(outputs[start:stop], chunk_outputs.reshape(outputs[start:stop].shape))


def conv2d_backward_batch(inputs, weights, padding, stride, in_deltas, out_deltas,
                          weight_deltas, bias_deltas, *, scratch, kernels=None):
    """Gradients of :func:`conv2d_forward_batch`; adds into the delta arrays.

    Works in chunks of images like the forward pass: per chunk, the bias gradient
    (column sums of the output deltas), the weight gradient (one product with the
    chunk's columns, accumulated by BLAS with ``beta=1``) and the chunk's input
    deltas.

    Args:
        inputs: (N, H, W, C) images of the forward pass.
        weights: (F, kh, kw, C) filters.
        padding: zeros added on each side in the forward pass.
        stride: (sh, sw) of the forward pass.
        in_deltas: (N, H, W, C), incremented by d loss / d inputs; or None to skip
            the input deltas (and their transposed convolution) altogether.
        out_deltas: (N, out_h, out_w, F), d loss / d outputs.
        weight_deltas: (F, kh, kw, C), incremented by d loss / d weights.
        bias_deltas: (F,), incremented by d loss / d bias.
        scratch: ``scratch(key, shape)`` provider of reusable arrays.
        kernels: the compiled ``_conv_kernels_c`` module or None (see _ColumnMaker).
    """
    op_name = 'conv2d_backward_batch'
    num_filters, kernel_height, kernel_width, _ = weights.shape
    kernel_shape = (kernel_height, kernel_width)
    n, height, width, channels, out_height, out_width = _image_geometry(
        op_name, inputs, kernel_shape, padding, stride)
    _check_shape(op_name, 'weights', weights,
                 (num_filters, kernel_height, kernel_width, channels))
    if in_deltas is not None:
        _check_shape(op_name, 'in_deltas', in_deltas, inputs.shape)
    _check_shape(op_name, 'out_deltas', out_deltas, (n, out_height, out_width, num_filters))
    _check_shape(op_name, 'weight_deltas', weight_deltas, weights.shape)
    _check_shape(op_name, 'bias_deltas', bias_deltas, (num_filters,))
    kernel_size = kernel_height * kernel_width * channels
    pixels = out_height * out_width
    itemsize = inputs.itemsize

    input_deltas = None
    bytes_per_image = pixels * kernel_size * itemsize
    if in_deltas is not None:
        if tuple(stride) == (1, 1) and channels >= _MIN_CHANNELS_FOR_TRANSPOSED:
            input_deltas = _TransposedInputDeltas
        else:
            input_deltas = _StridedInputDeltas
        bytes_per_image = max(bytes_per_image, itemsize * input_deltas.elements_per_image(
            in_deltas.shape, weights.shape, (out_height, out_width)))
    chunk = _chunk_images(n, bytes_per_image)

    # One scratch, 'conv2d.columns', holds a chunk's im2col columns until the weight
    # gradient has read them and then the input deltas' columns: the two are never
    # alive at once, and sharing saves the larger of them (3.9 MB for cifar10_cnn).
    # It is sized for the larger first, so that neither request reallocates it.
    scratch(_COLUMNS, (chunk * bytes_per_image // itemsize,))
    make_columns = _ColumnMaker(inputs, kernel_shape, padding, stride,
                                (out_height, out_width), chunk, scratch, kernels)
    weight_matrix = _matrix(weights, num_filters, kernel_size, scratch, 'conv2d.weights')
    # BLAS accumulates straight into a contiguous weight_deltas; otherwise into scratch
    accumulates_in_place = weight_deltas.flags.c_contiguous
    if accumulates_in_place:
        weight_gradient = weight_deltas.reshape(num_filters, kernel_size)
    else:
        weight_gradient = scratch('conv2d.weight_gradient', (num_filters, kernel_size))
    bias_gradient = scratch('conv2d.bias_gradient', (num_filters,))
    if input_deltas is not None:
        input_deltas = input_deltas(weights, weight_matrix, padding, stride, in_deltas,
                                    (out_height, out_width), chunk, scratch, kernels)

    for number, (start, stop) in enumerate(_chunks(n, chunk)):
        delta_matrix = _chunk_matrix(out_deltas, start, stop, scratch, 'conv2d.out_deltas',
                                     chunk)
        np.sum(delta_matrix, axis=0, out=bias_gradient)
        np.add(bias_deltas, bias_gradient, out=bias_deltas)
        _product(delta_matrix, make_columns(start, stop), weight_gradient, transa=True,
                 accumulate=accumulates_in_place or number > 0)
        if input_deltas is not None:
            input_deltas.add(start, stop, delta_matrix)
    if not accumulates_in_place:
        np.add(weight_deltas, weight_gradient.reshape(weights.shape), out=weight_deltas)


class _StridedInputDeltas:
    """in_deltas += col2im(W^T @ out_deltas^T) chunk by chunk, for any stride.

    Per chunk, one product gives offset-major column deltas (kh*kw*C, count*out_h*out_w);
    col2im adds each offset's (C, count, out_h, out_w) block into a channel-major
    padded delta image with ``out_w``-long contiguous runs; its interior is then
    added into the chunk's ``in_deltas``.
    """

    @staticmethod
    def elements_per_image(in_shape, weights_shape, out_shape):
        """Elements per image of the largest scratch (the column deltas)."""
        _, height, width, channels = in_shape
        kernel_size = weights_shape[1] * weights_shape[2] * channels
        return max(kernel_size * out_shape[0] * out_shape[1], channels * height * width)

    def __init__(self, weights, weight_matrix, padding, stride, in_deltas, out_shape, chunk,
                 scratch, kernels=None):
        _, height, width, channels = in_deltas.shape
        self.weight_matrix, self.padding, self.stride = weight_matrix, padding, stride
        self.in_deltas, self.out_shape = in_deltas, out_shape
        self.kernel_shape = weights.shape[1:3]
        self.column_deltas = scratch(_COLUMNS,  # shared: see conv2d_backward_batch
                                     (weight_matrix.shape[1], chunk * out_shape[0] * out_shape[1]))
        self.padded_deltas = scratch('conv2d.padded_deltas',
                                     (channels, chunk, height + 2 * padding, width + 2 * padding))

    def add(self, start, stop, delta_matrix):
        _, height, width, channels = self.in_deltas.shape
        kernel_height, kernel_width = self.kernel_shape
        out_height, out_width = self.out_shape
        stride, padding, count = self.stride, self.padding, stop - start
        column_deltas = _flat_matrix(self.column_deltas, self.weight_matrix.shape[1],
                                     delta_matrix.shape[0])
        _product(self.weight_matrix, delta_matrix, column_deltas, transa=True, transb=True)
        column_deltas = column_deltas.reshape(
            kernel_height, kernel_width, channels, count, out_height, out_width)
        padded_deltas = self.padded_deltas[:, :count]
        padded_deltas.fill(0.0)
        for i in range(kernel_height):
            for j in range(kernel_width):
                target = padded_deltas[:, :,
                                       i:i + stride[0] * (out_height - 1) + 1:stride[0],
                                       j:j + stride[1] * (out_width - 1) + 1:stride[1]]
                np.add(target, column_deltas[i, j], out=target)
        interior = padded_deltas[:, :, padding:padding + height, padding:padding + width]
        chunk_deltas = self.in_deltas[start:stop]
        np.add(chunk_deltas, interior.transpose(1, 2, 3, 0), out=chunk_deltas)


class _TransposedInputDeltas:
    """in_deltas += the stride-1 transposed convolution of out_deltas, chunk by chunk.

    For stride (1, 1), ``in_deltas[n, h, w, c] = sum_{i, j, f} D[n, h + i, w + j, f]
    * weights[f, kh-1-i, kw-1-j, c]`` where ``D`` is ``out_deltas`` placed at offset
    ``(kh-1-padding, kw-1-padding)`` in a zero (N, H+kh-1, W+kw-1, F) image (cropped
    where that offset is negative). That is a forward convolution: im2col of ``D``
    (count*H*W, kh*kw*F), one product with the rotated filters (kh*kw*F, C) added
    into the chunk's in_deltas by BLAS (``beta=1``). Used when C is not small: it
    reads and writes each column once, where col2im makes kh*kw memory-bound passes
    over a delta image. With the compiled im2col and a square kernel, ``D`` is never
    built: the kernel reads ``out_deltas`` padded by ``kh-1-padding`` on every side.
    """

    @staticmethod
    def elements_per_image(in_shape, weights_shape, out_shape):
        """Elements per image of the largest scratch (the transposed columns)."""
        num_filters, kernel_height, kernel_width, _ = weights_shape
        return in_shape[1] * in_shape[2] * kernel_height * kernel_width * num_filters

    def __init__(self, weights, weight_matrix, padding, stride, in_deltas, out_shape, chunk,
                 scratch, kernels=None):
        _, height, width, channels = in_deltas.shape
        num_filters, kernel_height, kernel_width, _ = weights.shape
        out_height, out_width = out_shape
        self.in_deltas, self.kernel_shape = in_deltas, (kernel_height, kernel_width)
        self.out_shape = out_shape
        # where out_deltas start inside D (negative: crop their first rows/columns)
        top, left = kernel_height - 1 - padding, kernel_width - 1 - padding
        image_height, image_width = height + kernel_height - 1, width + kernel_width - 1
        self.rows = slice(max(0, -top), min(out_height, image_height - top))
        self.columns_range = slice(max(0, -left), min(out_width, image_width - left))
        # the compiled im2col embeds the deltas itself where D is out_deltas padded
        # evenly (a square kernel, padding < kernel size)
        self.kernels = kernels if top == left >= 0 else None
        self.padding = top
        self.top = top + self.rows.start
        self.left = left + self.columns_range.start
        self.delta_image = None  # the numpy path's zero image of D, made on first use
        self.delta_image_shape = (chunk, image_height, image_width, num_filters)
        self.scratch = scratch
        self.columns = scratch(_COLUMNS,  # shared: see conv2d_backward_batch
                               (chunk * height * width,
                                kernel_height * kernel_width * num_filters))
        self.rotated = scratch('conv2d.rotated_weights',
                               (kernel_height * kernel_width * num_filters, channels))
        np.copyto(self.rotated.reshape(kernel_height, kernel_width, num_filters, channels),
                  weights[:, ::-1, ::-1, :].transpose(1, 2, 0, 3))
        self.in_place = in_deltas.flags.c_contiguous
        if not self.in_place:
            self.input_gradient = scratch('conv2d.input_gradient',
                                          (chunk * height * width, channels))

    def add(self, start, stop, delta_matrix):
        count = stop - start
        _, height, width, channels = self.in_deltas.shape
        num_filters = delta_matrix.shape[1]
        deltas = delta_matrix.reshape(count, self.out_shape[0], self.out_shape[1], num_filters)
        transposed_columns = _rows(self.columns, count * height * width)
        if self.kernels is None or not self.kernels.im2col_nhwc(
                count, *self.out_shape, num_filters, height, width, *self.kernel_shape, 1, 1,
                self.padding, deltas, transposed_columns):
            transposed_columns = self._numpy_columns(deltas)
        if self.in_place:
            target = self.in_deltas[start:stop].reshape(count * height * width, channels)
            _product(transposed_columns, self.rotated, target, accumulate=True)
        else:
            gradient = _rows(self.input_gradient, count * height * width)
            _product(transposed_columns, self.rotated, gradient)
            chunk_deltas = self.in_deltas[start:stop]
            np.add(chunk_deltas, gradient.reshape(chunk_deltas.shape), out=chunk_deltas)

    def _numpy_columns(self, deltas):
        """im2col of the chunk's D with numpy: the deltas copied into a zero image first."""
        if self.delta_image is None:
            self.delta_image = _bordered_scratch(
                self.scratch, 'conv2d.transposed_deltas', self.delta_image_shape, self.top,
                self.left, self.rows.stop - self.rows.start,
                self.columns_range.stop - self.columns_range.start)
        count = deltas.shape[0]
        _, height, width, _ = self.in_deltas.shape
        image = _rows(self.delta_image, count)
        rows, columns = self.rows, self.columns_range
        np.copyto(image[:, self.top:self.top + rows.stop - rows.start,
                        self.left:self.left + columns.stop - columns.start],
                  deltas[:, rows, columns])
        return _im2col(image, self.kernel_shape, (1, 1), height, width, self.columns)
