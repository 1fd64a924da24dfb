"""The compiled im2col (brainstorm/handlers/_conv_kernels.c).

test_conv_ops.py checks the convolutions against naive loops wherever NumpyHandler
convolves C-contiguous arrays, which goes through this kernel (the columns of the
forward pass and the weight gradient, and the transposed convolution's columns of
the input deltas). Here the kernel's columns are compared with numpy's window view
of the padded images, on geometries the convolution cases lack, in float32 and
float64; and the arrays it must decline.
"""

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler, _compiled_kernels
from brainstorm.handlers._image_numpy import _im2col
from tests.handlers.compiled_kernel_marks import needs_compiled

needs_kernels = needs_compiled('conv')

# id, (N, H, W, C), kernel, padding, stride
GEOMETRIES = [
    ('cifar-first-conv', (2, 32, 32, 3), (5, 5), 2, (1, 1)),
    ('no-padding', (2, 7, 6, 4), (3, 3), 0, (1, 1)),
    ('strided', (3, 9, 8, 2), (3, 2), 1, (2, 3)),
    ('padding-beyond-the-kernel', (1, 4, 5, 3), (2, 3), 4, (2, 1)),
    ('kernel-as-large-as-the-padded-image', (2, 3, 2, 5), (5, 4), 1, (1, 1)),
    ('1x1', (2, 4, 4, 6), (1, 1), 0, (1, 1)),
]


def numpy_columns(images, kernel, padding, stride, out_shape):
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    columns = np.full((images.shape[0] * out_shape[0] * out_shape[1],
                       kernel[0] * kernel[1] * images.shape[3]), np.nan, images.dtype)
    return _im2col(padded, kernel, stride, *out_shape, columns)


def geometry_out_shape(shape, kernel, padding, stride):
    return ((shape[1] + 2 * padding - kernel[0]) // stride[0] + 1,
            (shape[2] + 2 * padding - kernel[1]) // stride[1] + 1)


@needs_kernels
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('geometry', GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_columns_equal_numpy(geometry, dtype):
    _, shape, kernel, padding, stride = geometry
    images = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out_shape = geometry_out_shape(shape, kernel, padding, stride)
    expected = numpy_columns(images, kernel, padding, stride, out_shape)
    columns = np.full(expected.shape, np.nan, dtype)
    assert _compiled_kernels.load('conv').im2col_nhwc(
        *shape, *out_shape, *kernel, *stride, padding, images, columns) is True
    np.testing.assert_array_equal(columns, expected)


@needs_kernels
def test_a_geometry_past_the_images_reads_zeros_not_memory():
    """More output rows than the images allow: the extra rows are padding, all zeros."""
    images = np.ones((1, 3, 3, 2), np.float32)
    columns = np.full((1 * 6 * 3, 3 * 3 * 2), np.nan, np.float32)
    assert _compiled_kernels.load('conv').im2col_nhwc(1, 3, 3, 2, 6, 3, 3, 3, 1, 1, 1,
                                                      images, columns) is True
    assert not columns.reshape(6, 3, -1)[4:].any()


@needs_kernels
@pytest.mark.parametrize('spoil', ['short-columns', 'mixed-dtypes', 'strided-images',
                                   'read-only-columns'])
def test_kernel_declines_arrays_it_cannot_take(spoil):
    images = np.ones((2, 4, 4, 3), np.float32)
    columns = np.full((2 * 4 * 4, 9 * 3), 5.0, np.float32)
    if spoil == 'short-columns':
        columns = columns[:-1]
    elif spoil == 'mixed-dtypes':
        columns = columns.astype(np.float64)
    elif spoil == 'strided-images':
        images = np.ones((2, 4, 4, 6), np.float32)[..., ::2]
    else:
        columns.flags.writeable = False
    before = columns.copy()
    assert _compiled_kernels.load('conv').im2col_nhwc(2, 4, 4, 3, 4, 4, 3, 3, 1, 1, 1,
                                                      images, columns) is False
    np.testing.assert_array_equal(columns, before)


@needs_kernels
def test_kernel_refuses_a_zero_stride():
    with pytest.raises(ValueError, match='must be positive'):
        _compiled_kernels.load('conv').im2col_nhwc(
            1, 3, 3, 1, 3, 3, 1, 1, 0, 1, 0, np.ones((1, 3, 3, 1)), np.ones((9, 1)))


@needs_kernels
def test_convolutions_with_and_without_the_kernel_agree():
    """The whole op in float32, forward and backward (both input-delta routes)."""
    rng = np.random.default_rng(1)
    results = []
    for kernels in ('compiled', None):
        handler = NumpyHandler(np.float32)
        if kernels is None:
            handler._conv_kernels = None
        for channels, stride in ((16, (1, 1)), (3, (2, 1))):
            inputs = rng.standard_normal((4, 9, 8, channels)).astype(np.float32)
            weights = rng.standard_normal((5, 3, 3, channels)).astype(np.float32)
            bias = rng.standard_normal(5).astype(np.float32)
            out_height, out_width = geometry_out_shape(inputs.shape, (3, 3), 1, stride)
            outputs = np.empty((4, out_height, out_width, 5), np.float32)
            handler.conv2d_forward_batch(inputs, weights, bias, outputs, 1, stride)
            in_deltas, weight_deltas = np.zeros_like(inputs), np.zeros_like(weights)
            bias_deltas = np.zeros_like(bias)
            handler.conv2d_backward_batch(inputs, weights, 1, stride, in_deltas, outputs,
                                          weight_deltas, bias_deltas)
            results.append((outputs, in_deltas, weight_deltas, bias_deltas))
        rng = np.random.default_rng(1)
    for compiled, numpy_only in zip(results[:2], results[2:]):
        for ours, theirs in zip(compiled, numpy_only):
            np.testing.assert_array_equal(ours, theirs)  # the same columns, the same products
