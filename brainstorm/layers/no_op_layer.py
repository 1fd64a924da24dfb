"""NoOp: y = x, passing data (and deltas) through unchanged.

Useful as a named junction, e.g. to give a buffer a stable name.

Buffers:
    inputs.default    ('T', 'B', ...)   any feature shape
    outputs.default   ('T', 'B', ...)   the input's shape
"""

from collections import OrderedDict

from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['NoOp']


def NoOp(name=None):
    """Create a layer that copies its input to its output.

    Args:
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> NoOp(name='Features') >> FullyConnected(10)
    """
    return ConstructionWrapper.create('NoOp', name=name)


class NoOpLayerImpl(Layer):
    def setup(self, kwargs, in_shapes):
        outputs = OrderedDict(default=BufferStructure(*in_shapes['default'].shape))
        return outputs, OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        self.handler.copy_to(buffers.inputs.default, buffers.outputs.default)

    def backward_pass(self, buffers):
        self.handler.add_tt(buffers.output_deltas.default, buffers.input_deltas.default,
                            buffers.input_deltas.default)
