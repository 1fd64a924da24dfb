"""SquaredDifference: y = (x1 - x2)^2 per dimension (no factor 1/2).

Buffers:
    inputs.inputs_1     ('T', 'B', ...)   any feature shape
    inputs.inputs_2     ('T', 'B', ...)   the shape of inputs_1
    outputs.default     ('T', 'B', ...)   the shape of inputs_1
    internals.diff      ('T', 'B', ...)   x1 - x2
    internals.dx        ('T', 'B', ...)   transient: (x1 - x2) * dy
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['SquaredDifference']


def SquaredDifference(name=None):
    """Create a layer computing the elementwise squared difference of two inputs.

    Both inputs get deltas (use SquaredError for predictions against targets).

    Example:
        >>> difference = SquaredDifference()
        >>> inp >> FullyConnected(3) >> 'inputs_1' - difference
        >>> inp - 'targets' >> 'inputs_2' - difference
        >>> difference >> Loss()
    """
    return ConstructionWrapper.create('SquaredDifference', name=name)


class SquaredDifferenceLayerImpl(Layer):
    expected_inputs = {'inputs_1': StructureTemplate('T', 'B', '...'),
                       'inputs_2': StructureTemplate('T', 'B', '...')}

    def setup(self, kwargs, in_shapes):
        shape = in_shapes['inputs_1'].shape
        if in_shapes['inputs_2'].shape != shape:
            raise LayerValidationError(f"{self._label()}: inputs_2 has shape "
                                       f"{in_shapes['inputs_2'].shape}, expected {shape} "
                                       f"(the shape of inputs_1)")
        outputs = OrderedDict(default=BufferStructure(*shape))
        internals = OrderedDict(diff=BufferStructure(*shape),
                                dx=BufferStructure(*shape, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        diff = buffers.internals.diff
        handler.subtract_tt(buffers.inputs.inputs_1, buffers.inputs.inputs_2, diff)
        handler.mult_tt(diff, diff, buffers.outputs.default)

    def backward_pass(self, buffers):
        handler = self.handler
        dx = buffers.internals.dx
        handler.mult_tt(buffers.internals.diff, buffers.output_deltas.default, dx)
        handler.mult_add_st(2.0, dx, buffers.input_deltas.inputs_1)
        handler.mult_add_st(-2.0, dx, buffers.input_deltas.inputs_2)
