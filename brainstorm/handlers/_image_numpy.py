"""Shared pieces of the numpy conv and pool ops: shape checks, image chunks, im2col.

Used by :mod:`brainstorm.handlers._conv_numpy` and :mod:`brainstorm.handlers._pool_numpy`;
the layouts and the ``scratch`` convention are described in ``_conv_numpy``.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from brainstorm.errors import HandlerContractError
from brainstorm.handlers import _blas


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


def _chunks(n, chunk):
    """(start, stop) image ranges of at most ``chunk`` images covering ``0..n``."""
    return [(start, min(n, start + chunk)) for start in range(0, n, chunk)]


def _rows(array, count):
    """The first ``count`` rows of a C-contiguous scratch array, as a contiguous view."""
    return array[:count]


def _flat_matrix(array, rows, columns):
    """A C-contiguous (rows, columns) view of the start of a C-contiguous scratch array."""
    return array.reshape(-1)[:rows * columns].reshape(rows, columns)


def _chunk_matrix(array, start, stop, scratch, key, chunk):
    """Images ``start:stop`` of NHWC ``array`` as a (pixels, channels) matrix.

    A contiguous array is reshaped for free; a strided view is copied into a
    chunk-sized scratch first.
    """
    count = stop - start
    part = array[start:stop]
    rows = count * array.shape[1] * array.shape[2]
    if part.flags.c_contiguous:
        return part.reshape(rows, array.shape[3])
    matrix = _rows(scratch(key, (chunk,) + array.shape[1:]), count)
    np.copyto(matrix, part)
    return matrix.reshape(rows, array.shape[3])


def _bordered_scratch(scratch, key, shape, top, left, height, width, fill_value=0.0):
    """A scratch image batch whose cells outside ``[top:top+height, left:left+width]``
    are set to ``fill_value``; the caller copies the interior chunk by chunk.

    Done once per call: chunks overwrite only the interior, so the border stays.
    """
    image = scratch(key, shape)
    image[:, :top].fill(fill_value)
    image[:, top + height:].fill(fill_value)
    image[:, top:top + height, :left].fill(fill_value)
    image[:, top:top + height, left + width:].fill(fill_value)
    return image


def _im2col(source, kernel_shape, stride, out_height, out_width, columns):
    """Copy the patches of (count, Hp, Wp, C) ``source`` into the first rows of
    ``columns`` and return those rows (count*out_h*out_w, kh*kw*C).

    Row ``(n, y, x)`` holds the patch under output pixel (y, x) in (i, j, c)
    order, matching ``weights.reshape(F, -1)``.
    """
    count, _, _, channels = source.shape
    kernel_height, kernel_width = kernel_shape
    strides = source.strides
    patches = as_strided(
        source,
        shape=(count, out_height, out_width, kernel_height, kernel_width, channels),
        strides=(strides[0], strides[1] * stride[0], strides[2] * stride[1],
                 strides[1], strides[2], strides[3]),
        writeable=False)
    chunk_columns = _rows(columns, count * out_height * out_width)
    np.copyto(chunk_columns.reshape(patches.shape), patches)
    return chunk_columns


def _product(a, b, out, transa=False, transb=False, accumulate=False):
    """``out = op(a) @ op(b)`` or, with ``accumulate``, ``out += op(a) @ op(b)``.

    ``out`` must be C- or Fortran-contiguous. One BLAS gemm (``beta`` 0 or 1); the
    fallback for operands BLAS cannot take (other dtypes) allocates.
    """
    if _blas.gemm_into(a, b, out, transa, transb, beta=1.0 if accumulate else 0.0):
        return
    product = np.matmul(a.T if transa else a, b.T if transb else b)
    if accumulate:
        np.add(out, product, out=out)
    else:
        np.copyto(out, product)
