"""BinomialCrossEntropy: loss[t, b, f] = -(y log p + (1 - y) log(1 - p)) per dimension.

Unlike SigmoidCE, its input p are probabilities already (e.g. the output of a
FullyConnected layer with sigmoid activation). p is clipped to
[EPSILON, 1 - EPSILON] so the loss stays finite; where it is clipped the
derivative is that of the clipped value.

Buffers:
    inputs.default          ('T', 'B', ...)   probabilities in (0, 1), any feature shape
    inputs.targets          ('T', 'B', ...)   the shape of default; values in [0, 1]
    outputs.default         ('T', 'B', ...)   the loss per dimension
    internals.clipped       ('T', 'B', ...)   clipped p
    internals.log_one_minus ('T', 'B', ...)   log(1 - p)
    internals.dx            ('T', 'B', ...)   transient: (p - y) / (p (1 - p)) * dy
    internals.denominator   ('T', 'B', ...)   transient: p (1 - p)
"""

from collections import OrderedDict

from brainstorm.layers._targets import shape_of_default_and_targets
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['BinomialCrossEntropy']

#: probabilities are clipped to [EPSILON, 1 - EPSILON] before the logarithms
EPSILON = 1e-7


def BinomialCrossEntropy(name=None):
    """Create a binomial cross-entropy layer on probabilities.

    Example:
        >>> out = inp >> FullyConnected(5, activation='sigmoid') >> BinomialCrossEntropy()
        >>> inp - 'targets' >> 'targets' - out
        >>> out >> Loss()
    """
    return ConstructionWrapper.create('BinomialCrossEntropy', name=name)


class BinomialCrossEntropyLayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', '...'),
                       'targets': StructureTemplate('T', 'B', '...')}
    computes_no_input_deltas_for = ('targets',)

    def setup(self, kwargs, in_shapes):
        shape = shape_of_default_and_targets(self, in_shapes)
        outputs = OrderedDict(default=BufferStructure(*shape))
        internals = OrderedDict(
            clipped=BufferStructure(*shape), log_one_minus=BufferStructure(*shape),
            dx=BufferStructure(*shape, is_transient=True),
            denominator=BufferStructure(*shape, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        targets = buffers.inputs.targets
        clipped = buffers.internals.clipped
        log_one_minus = buffers.internals.log_one_minus
        loss = buffers.outputs.default
        handler.clip_t(buffers.inputs.default, EPSILON, 1.0 - EPSILON, clipped)
        handler.mult_st(-1.0, clipped, log_one_minus)
        handler.add_st(1.0, log_one_minus, log_one_minus)
        handler.log_t(log_one_minus, log_one_minus)
        # loss = -(y (log p - log(1 - p)) + log(1 - p))
        handler.log_t(clipped, loss)
        handler.subtract_tt(loss, log_one_minus, loss)
        handler.mult_tt(targets, loss, loss)
        handler.add_tt(loss, log_one_minus, loss)
        handler.mult_st(-1.0, loss, loss)

    def backward_pass(self, buffers):
        handler = self.handler
        clipped = buffers.internals.clipped
        dx, denominator = buffers.internals.dx, buffers.internals.denominator
        handler.subtract_tt(clipped, buffers.inputs.targets, dx)
        handler.mult_tt(clipped, clipped, denominator)
        handler.subtract_tt(clipped, denominator, denominator)
        handler.divide_tt(dx, denominator, dx)
        handler.mult_add_tt(dx, buffers.output_deltas.default, buffers.input_deltas.default)
