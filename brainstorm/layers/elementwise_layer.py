"""Elementwise: y = f(x), an activation function applied to every element.

Buffers:
    inputs.default    ('T', 'B', ...)   any feature shape
    outputs.default   ('T', 'B', ...)   the input's shape
    internals.dH      ('T', 'B', ...)   transient: f'(x) * dy
"""

from collections import OrderedDict

from brainstorm.handlers.base_handler import ACTIVATION_FUNCTIONS
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Elementwise']


def Elementwise(activation='rel', name=None):
    """Create a layer that applies an activation function elementwise.

    Args:
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> FullyConnected(100, activation='linear') >> Elementwise('tanh')
    """
    return ConstructionWrapper.create('Elementwise', activation=activation, name=name)


class ElementwiseLayerImpl(Layer):
    expected_kwargs = {'activation'}

    def setup(self, kwargs, in_shapes):
        self.activation = self.get_kwarg(kwargs, 'activation', 'rel', str,
                                         ACTIVATION_FUNCTIONS)
        shape = in_shapes['default'].shape
        outputs = OrderedDict(default=BufferStructure(*shape))
        internals = OrderedDict(dH=BufferStructure(*shape, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        self.handler.act_func(self.activation)(buffers.inputs.default, buffers.outputs.default)

    def backward_pass(self, buffers):
        handler = self.handler
        dH = buffers.internals.dH
        handler.act_func_deriv(self.activation)(buffers.inputs.default,
                                                buffers.outputs.default,
                                                buffers.output_deltas.default, dH)
        handler.add_tt(dH, buffers.input_deltas.default, buffers.input_deltas.default)
