"""Highway: y = H * T + x * (1 - T), the gated mix of a transform and a carry.

H (the transformed signal), T (the transform gate, usually a sigmoid layer's
output) and x (the carried input) are computed by other layers and must all
have the same shape (Srivastava et al. 2015, "Highway Networks").

Buffers:
    inputs.H          ('T', 'B', ...)   transformed input
    inputs.T          ('T', 'B', ...)   transform gate, the shape of H
    inputs.x          ('T', 'B', ...)   carried input, the shape of H
    outputs.default   ('T', 'B', ...)   the shape of H
    internals.dT      ('T', 'B', ...)   transient: dy * (H - x) and dy * T
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Highway']


def Highway(name=None):
    """Create a highway layer with inputs 'H', 'T' and 'x'.

    Example:
        >>> x = inp >> FullyConnected(50, name='x')
        >>> highway = Highway(name='Hw')
        >>> x >> FullyConnected(50, activation='tanh') >> 'H' - highway
        >>> x >> FullyConnected(50, activation='sigmoid') >> 'T' - highway
        >>> x >> 'x' - highway
    """
    return ConstructionWrapper.create('Highway', name=name)


class HighwayLayerImpl(Layer):
    expected_inputs = {'H': StructureTemplate('T', 'B', '...'),
                       'T': StructureTemplate('T', 'B', '...'),
                       'x': StructureTemplate('T', 'B', '...')}

    def setup(self, kwargs, in_shapes):
        shape = in_shapes['H'].shape
        for name in ('T', 'x'):
            if in_shapes[name].shape != shape:
                raise LayerValidationError(
                    f"{self._label()}: inputs H, T and x must have the same shape; H has "
                    f"{shape}, {name} has {in_shapes[name].shape}")
        outputs = OrderedDict(default=BufferStructure(*shape))
        internals = OrderedDict(dT=BufferStructure(*shape, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        H, T, x = buffers.inputs.H, buffers.inputs.T, buffers.inputs.x
        y = buffers.outputs.default
        # y = T * (H - x) + x
        handler.subtract_tt(H, x, y)
        handler.mult_tt(T, y, y)
        handler.add_tt(y, x, y)

    def backward_pass(self, buffers):
        handler = self.handler
        H, T, x = buffers.inputs.H, buffers.inputs.T, buffers.inputs.x
        dy = buffers.output_deltas.default
        deltas = buffers.input_deltas
        scratch = buffers.internals.dT
        # dT += dy * (H - x)
        handler.subtract_tt(H, x, scratch)
        handler.mult_add_tt(dy, scratch, deltas.T)
        # dH += dy * T;  dx += dy * (1 - T) = dy - dy * T
        handler.mult_tt(dy, T, scratch)
        handler.add_tt(scratch, deltas.H, deltas.H)
        handler.subtract_tt(deltas.x, scratch, deltas.x)
        handler.add_tt(dy, deltas.x, deltas.x)
