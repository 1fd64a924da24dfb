"""FullyConnected: y = f(x W + b), with x flattened to (T*B, in_size).

Buffers:
    inputs.default      ('T', 'B', *in_features)  any feature shape, flattened
    outputs.default     ('T', 'B', *size)
    parameters.W        (in_size, size)            rows: inputs, columns: units
    parameters.bias     (size,)
    internals.dH        ('T', 'B', *size)          transient: f'(.) * dy
"""

from collections import OrderedDict

from brainstorm.layers.base_layer import Layer, shape_kwarg
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features, product

__all__ = ['FullyConnected']

ACTIVATIONS = ('linear', 'rel', 'sigmoid', 'tanh', 'el')


def FullyConnected(size=None, activation='rel', name=None):
    """Create a fully connected layer.

    Args:
        size (Optional[int | tuple[int]]): number of units (or their shape); None:
            the shape of the input's features (brainstorm 0.5's default).
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> FullyConnected(1200, name='Hid1') >> out
    """
    return ConstructionWrapper.create('FullyConnected', size=size, activation=activation,
                                      name=name)


class FullyConnectedLayerImpl(Layer):
    expected_kwargs = {'size', 'activation'}
    overwrites_gradients = True

    def setup(self, kwargs, in_shapes):
        self.size = in_shapes['default'].feature_shape if kwargs.get('size') is None \
            else shape_kwarg(self, kwargs, 'size')
        self.activation = self.get_kwarg(kwargs, 'activation', 'rel', str, ACTIVATIONS)
        in_size = in_shapes['default'].feature_size
        units = product(self.size)
        outputs = OrderedDict(default=BufferStructure('T', 'B', *self.size))
        parameters = OrderedDict(W=BufferStructure(in_size, units),
                                 bias=BufferStructure(units))
        internals = OrderedDict(dH=BufferStructure('T', 'B', *self.size, is_transient=True))
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        W, bias = buffers.parameters.W, buffers.parameters.bias
        inputs = flatten_time_and_features(buffers.inputs.default)
        outputs = flatten_time_and_features(buffers.outputs.default)
        # the bias rows first, then the product accumulated onto them (gemm with
        # beta=1): one write pass instead of a read-write pass after the product
        handler.broadcast_t(bias.reshape((1, bias.shape[0])), 0, outputs)
        handler.dot_add_mm(inputs, W, outputs)
        handler.act_func(self.activation)(outputs, outputs)

    def backward_pass(self, buffers):
        handler = self.handler
        W = buffers.parameters.W
        dW, dbias = buffers.gradients.W, buffers.gradients.bias
        inputs = flatten_time_and_features(buffers.inputs.default)
        outputs = flatten_time_and_features(buffers.outputs.default)
        output_deltas = flatten_time_and_features(buffers.output_deltas.default)
        input_deltas = flatten_time_and_features(buffers.input_deltas.default)
        dH = flatten_time_and_features(buffers.internals.dH)
        handler.act_func_deriv(self.activation)(None, outputs, output_deltas, dH)
        if 'default' not in self.skipped_input_deltas:
            handler.dot_add_mm(dH, W, input_deltas, transb=True)
        handler.dot_mm(inputs, dH, dW, transa=True)
        handler.sum_t(dH, axis=0, out=dbias.reshape((1, dbias.shape[0])))
