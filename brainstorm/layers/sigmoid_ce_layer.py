"""SigmoidCE: logistic sigmoid and binary cross-entropy per dimension (multi-label).

predictions = sigmoid(x);
loss[t, b, f] = -(y log p + (1 - y) log(1 - p)) with p = predictions, y = targets,
computed from x as max(x, 0) - x y + log(1 + exp(-|x|)), which stays finite
for any x.

Buffers:
    inputs.default        ('T', 'B', ...)   logits, any feature shape
    inputs.targets        ('T', 'B', ...)   the shape of default; values in [0, 1]
    outputs.predictions   ('T', 'B', ...)   sigmoid(x); also outputs.probabilities
    outputs.loss          ('T', 'B', ...)   per dimension; connect to a Loss layer
    internals.tmp         ('T', 'B', ...)   forward temporary
    internals.dx          ('T', 'B', ...)   transient: predictions - targets
"""

from collections import OrderedDict

from brainstorm.layers._targets import shape_of_default_and_targets
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['SigmoidCE']


def SigmoidCE(name=None):
    """Create a sigmoid cross-entropy layer (independent binary labels).

    Connect the logits to 'default', 0/1 targets of the same shape to
    'targets', and 'loss' to a Loss layer.

    Example:
        >>> out = inp >> FullyConnected(5, activation='linear') >> SigmoidCE(name='Output')
        >>> inp - 'targets' >> 'targets' - out
        >>> out - 'loss' >> Loss()
    """
    return ConstructionWrapper.create('SigmoidCE', name=name)


class SigmoidCELayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', '...'),
                       'targets': StructureTemplate('T', 'B', '...')}
    computes_no_input_deltas_for = ('targets',)
    takes_no_output_deltas_from = ('predictions',)
    output_aliases = {'probabilities': 'predictions'}

    def setup(self, kwargs, in_shapes):
        shape = shape_of_default_and_targets(self, in_shapes)
        outputs = OrderedDict(predictions=BufferStructure(*shape),
                              loss=BufferStructure(*shape))
        internals = OrderedDict(tmp=BufferStructure(*shape),
                                dx=BufferStructure(*shape, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        x, targets = buffers.inputs.default, buffers.inputs.targets
        loss, tmp = buffers.outputs.loss, buffers.internals.tmp
        handler.sigmoid(x, buffers.outputs.predictions)
        handler.rel(x, loss)
        handler.mult_tt(x, targets, tmp)
        handler.subtract_tt(loss, tmp, loss)
        # log(1 + exp(-|x|))
        handler.abs_t(x, tmp)
        handler.mult_st(-1.0, tmp, tmp)
        handler.exp_t(tmp, tmp)
        handler.add_st(1.0, tmp, tmp)
        handler.log_t(tmp, tmp)
        handler.add_tt(loss, tmp, loss)

    def backward_pass(self, buffers):
        handler = self.handler
        dx = buffers.internals.dx
        handler.subtract_tt(buffers.outputs.predictions, buffers.inputs.targets, dx)
        handler.mult_add_tt(dx, buffers.output_deltas.loss, buffers.input_deltas.default)
