"""Convolution2D: y = f(conv(x, W) + bias) on NHWC images, time flattened into the batch.

``conv`` is the cross-correlation the handler's ``conv2d_forward_batch`` computes:
``y[n, r, c, k] = f(bias[k] + sum_{i, j, ch} x_pad[n, r*sr + i, c*sc + j, ch] * W[k, i, j, ch])``
with ``padding`` zeros on every side of x and stride (sr, sc).

Buffers:
    inputs.default      ('T', 'B', H, W, C)                      images
    outputs.default     ('T', 'B', out_h, out_w, num_filters)    out_h = (H + 2p - kh) // sr + 1
    parameters.W        (num_filters, kh, kw, C)
    parameters.bias     (num_filters,)
    internals.dH        ('T', 'B', out_h, out_w, num_filters)    transient: f'(.) * dy
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers._image_geometry import image_shape, output_size, padding_kwarg, \
    pair_kwarg
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time

__all__ = ['Convolution2D']

ACTIVATIONS = ('linear', 'rel', 'sigmoid', 'tanh', 'el')


def Convolution2D(num_filters, kernel_size, stride=(1, 1), padding=0, activation='rel',
                  name=None):
    """Create a 2D convolution layer for images ('T', 'B', height, width, channels).

    Args:
        num_filters (int): number of filters, the channels of the output.
        kernel_size (int | tuple[int, int]): (rows, columns) of each filter;
            an int k means (k, k).
        stride (int | tuple[int, int]): (rows, columns) step between outputs.
        padding (int): zeros added on every side of the input.
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> Convolution2D(32, kernel_size=(5, 5), padding=2, name='Conv1') >> out
    """
    return ConstructionWrapper.create('Convolution2D', num_filters=num_filters,
                                      kernel_size=kernel_size, stride=stride,
                                      padding=padding, activation=activation, name=name)


class Convolution2DLayerImpl(Layer):
    expected_kwargs = {'num_filters', 'kernel_size', 'stride', 'padding', 'activation'}

    def setup(self, kwargs, in_shapes):
        height, width, channels = image_shape(self, in_shapes)
        self.num_filters = self.get_kwarg(kwargs, 'num_filters', None, int)
        if self.num_filters < 1:
            raise LayerValidationError(f"{self._label()}: num_filters must be a positive "
                                       f"int, got {self.num_filters!r}")
        self.kernel_size = pair_kwarg(self, kwargs, 'kernel_size', None)
        self.stride = pair_kwarg(self, kwargs, 'stride', (1, 1))
        self.padding = padding_kwarg(self, kwargs)
        self.activation = self.get_kwarg(kwargs, 'activation', 'rel', str, ACTIVATIONS)
        out_height, out_width = output_size(self, (height, width), self.kernel_size,
                                            self.padding, self.stride)
        out_shape = ('T', 'B', out_height, out_width, self.num_filters)
        outputs = OrderedDict(default=BufferStructure(*out_shape))
        parameters = OrderedDict(W=BufferStructure(self.num_filters, *self.kernel_size,
                                                   channels),
                                 bias=BufferStructure(self.num_filters))
        internals = OrderedDict(dH=BufferStructure(*out_shape, is_transient=True))
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time(buffers.inputs.default)
        outputs = flatten_time(buffers.outputs.default)
        handler.conv2d_forward_batch(inputs, buffers.parameters.W, buffers.parameters.bias,
                                     outputs, self.padding, self.stride)
        handler.act_func(self.activation)(outputs, outputs)

    def backward_pass(self, buffers):
        handler = self.handler
        outputs = flatten_time(buffers.outputs.default)
        dH = flatten_time(buffers.internals.dH)
        handler.act_func_deriv(self.activation)(None, outputs,
                                                flatten_time(buffers.output_deltas.default), dH)
        # None tells the handler to skip the input deltas (the transposed convolution)
        # when the Network says nobody reads them
        in_deltas = (None if 'default' in self.skipped_input_deltas
                     else flatten_time(buffers.input_deltas.default))
        handler.conv2d_backward_batch(flatten_time(buffers.inputs.default),
                                      buffers.parameters.W, self.padding, self.stride,
                                      in_deltas, dH, buffers.gradients.W,
                                      buffers.gradients.bias)
