"""DeltasScaling: y = x forward; dx = factor * dy backward.

With a negative factor this reverses gradients (as in domain-adversarial
training); with a small positive one it slows the learning of the layers below.

Buffers:
    inputs.default    ('T', 'B', ...)   any feature shape
    outputs.default   ('T', 'B', ...)   the input's shape
"""

from collections import OrderedDict

from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['DeltasScaling']


def DeltasScaling(factor, name=None):
    """Create a layer that passes data through and scales the deltas coming back.

    Args:
        factor (float): multiplies the deltas in the backward pass.
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> FullyConnected(10) >> DeltasScaling(factor=-1.0) >> FullyConnected(2)
    """
    return ConstructionWrapper.create('DeltasScaling', factor=factor, name=name)


class DeltasScalingLayerImpl(Layer):
    expected_kwargs = {'factor'}

    def setup(self, kwargs, in_shapes):
        self.factor = float(self.get_kwarg(kwargs, 'factor', None, (int, float)))
        outputs = OrderedDict(default=BufferStructure(*in_shapes['default'].shape))
        return outputs, OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        self.handler.copy_to(buffers.inputs.default, buffers.outputs.default)

    def backward_pass(self, buffers):
        self.handler.mult_add_st(self.factor, buffers.output_deltas.default,
                                 buffers.input_deltas.default)
