"""SquaredError: loss = 0.5 * (x - targets)^2 per dimension, for least-squares regression.

This is the 'SquaredLoss' of the 0.5 release notes (also available under that
name): its interface matches SigmoidCE and SoftmaxCE, with the input passed
on as 'predictions'.

Buffers:
    inputs.default        ('T', 'B', ...)   any feature shape
    inputs.targets        ('T', 'B', ...)   the shape of default
    outputs.predictions   ('T', 'B', ...)   a copy of default
    outputs.loss          ('T', 'B', ...)   per dimension; connect to a Loss layer
    internals.diff        ('T', 'B', ...)   x - targets
"""

from collections import OrderedDict

from brainstorm.layers._targets import shape_of_default_and_targets
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['SquaredError', 'SquaredLoss']


def SquaredError(name=None):
    """Create a squared-error layer (regression).

    Example:
        >>> out = inp >> FullyConnected(3, activation='linear') >> SquaredError(name='Output')
        >>> inp - 'targets' >> 'targets' - out
        >>> out - 'loss' >> Loss()
    """
    return ConstructionWrapper.create('SquaredError', name=name)


def SquaredLoss(name=None):
    """The name the 0.5 release notes use for :func:`SquaredError` (same layer type)."""
    return SquaredError(name=name)


class SquaredErrorLayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', '...'),
                       'targets': StructureTemplate('T', 'B', '...')}
    computes_no_input_deltas_for = ('targets',)
    takes_no_output_deltas_from = ('predictions',)

    def setup(self, kwargs, in_shapes):
        shape = shape_of_default_and_targets(self, in_shapes)
        outputs = OrderedDict(predictions=BufferStructure(*shape),
                              loss=BufferStructure(*shape))
        internals = OrderedDict(diff=BufferStructure(*shape))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        x, diff, loss = buffers.inputs.default, buffers.internals.diff, buffers.outputs.loss
        handler.copy_to(x, buffers.outputs.predictions)
        handler.subtract_tt(x, buffers.inputs.targets, diff)
        handler.mult_tt(diff, diff, loss)
        handler.mult_st(0.5, loss, loss)

    def backward_pass(self, buffers):
        self.handler.mult_add_tt(buffers.internals.diff, buffers.output_deltas.loss,
                                 buffers.input_deltas.default)
