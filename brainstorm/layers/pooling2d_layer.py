"""Pooling2D: the maximum or the mean of each window of NHWC images, channel by channel.

    max:  y[n, r, c, ch] = max_{i, j} x_pad[n, r*sr + i, c*sc + j, ch]   (padding never wins;
          a window entirely in the padding gives 0)
    avg:  y[n, r, c, ch] = sum_{i, j} x_pad[n, r*sr + i, c*sc + j, ch] / count[r, c]
          (count: the window's positions inside the image; padding does not count)

(both as in brainstorm 0.5)

with ``padding`` cells on every side and stride (sr, sc); time is flattened into
the batch. The backward pass routes each output delta to its window's maximum
(max) or spreads it evenly over the window's positions inside the image (avg).

Buffers:
    inputs.default      ('T', 'B', H, W, C)            images
    outputs.default     ('T', 'B', out_h, out_w, C)    out_h = (H + 2p - kh) // sr + 1
    internals.argmax    ('T', 'B', out_h, out_w, C)    max only: offset i * kw + j of each
                                                       maximum in its window

Only the backward pass reads the argmax, so a test pass (``training_pass=False``)
of max-pooling computes the outputs alone and leaves the argmax internal untouched
(about half of the op's work). The network allows a backward pass after a test pass
(as Dropout and BatchNorm do); then the argmax is stale, so the backward pass first
computes it from the inputs (rewriting the outputs with the same values) and the
gradients are those of a training pass.
"""

from collections import OrderedDict

from brainstorm.layers._image_geometry import image_shape, output_size, padding_kwarg, \
    pair_kwarg
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time

__all__ = ['Pooling2D']

POOLING_TYPES = ('max', 'avg')


def Pooling2D(kernel_size, type='max', stride=(1, 1), padding=0, name=None):
    """Create a 2D pooling layer for images ('T', 'B', height, width, channels).

    Args:
        kernel_size (int | tuple[int, int]): (rows, columns) of the pooling
            window; an int k means (k, k).
        type (str): 'max' or 'avg'.
        stride (int | tuple[int, int]): (rows, columns) step between windows.
        padding (int): cells added on every side (a window entirely in them gives 0).
        name (Optional[str]): the layer name.

    Example:
        >>> conv >> Pooling2D(type="max", kernel_size=(3, 3), stride=(2, 2)) >> out
    """
    return ConstructionWrapper.create('Pooling2D', kernel_size=kernel_size, type=type,
                                      stride=stride, padding=padding, name=name)


class Pooling2DLayerImpl(Layer):
    expected_kwargs = {'kernel_size', 'type', 'stride', 'padding'}
    #: whether the last forward pass was a test pass (max: it left the argmax stale)
    last_pass_was_test = False

    def setup(self, kwargs, in_shapes):
        height, width, channels = image_shape(self, in_shapes)
        self.kernel_size = pair_kwarg(self, kwargs, 'kernel_size', None)
        self.type = self.get_kwarg(kwargs, 'type', 'max', str, POOLING_TYPES)
        self.stride = pair_kwarg(self, kwargs, 'stride', (1, 1))
        self.padding = padding_kwarg(self, kwargs)
        out_height, out_width = output_size(self, (height, width), self.kernel_size,
                                            self.padding, self.stride)
        out_shape = ('T', 'B', out_height, out_width, channels)
        outputs = OrderedDict(default=BufferStructure(*out_shape))
        internals = OrderedDict()
        if self.type == 'max':
            internals['argmax'] = BufferStructure(*out_shape)
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time(buffers.inputs.default)
        outputs = flatten_time(buffers.outputs.default)
        self.last_pass_was_test = not training_pass
        if self.type == 'max':
            argmax = flatten_time(buffers.internals.argmax) if training_pass else None
            handler.maxpool2d_forward_batch(inputs, self.kernel_size, outputs, self.padding,
                                            self.stride, argmax)
        else:
            handler.avgpool2d_forward_batch(inputs, self.kernel_size, outputs, self.padding,
                                            self.stride)

    def backward_pass(self, buffers):
        handler = self.handler
        inputs = flatten_time(buffers.inputs.default)
        outputs = flatten_time(buffers.outputs.default)
        input_deltas = flatten_time(buffers.input_deltas.default)
        output_deltas = flatten_time(buffers.output_deltas.default)
        if self.type == 'max':
            argmax = flatten_time(buffers.internals.argmax)
            if self.last_pass_was_test:  # the test pass skipped the argmax: compute it now
                handler.maxpool2d_forward_batch(inputs, self.kernel_size, outputs,
                                                self.padding, self.stride, argmax)
            handler.maxpool2d_backward_batch(inputs, self.kernel_size, outputs, self.padding,
                                             self.stride, argmax, input_deltas, output_deltas)
        else:
            handler.avgpool2d_backward_batch(inputs, self.kernel_size, outputs, self.padding,
                                             self.stride, input_deltas, output_deltas)
