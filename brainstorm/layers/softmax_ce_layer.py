"""SoftmaxCE: softmax over the last feature axis and the cross-entropy with class targets.

predictions = softmax(x);  loss[t, b] = -log(predictions[t, b, targets[t, b]])

Buffers:
    inputs.default        ('T', 'B', C)   unnormalised scores (logits)
    inputs.targets        ('T', 'B', 1)   class indices 0 .. C-1
    outputs.predictions   ('T', 'B', C)   also reachable as outputs.probabilities
    outputs.loss          ('T', 'B', 1)   per step and sequence; connect to a Loss layer
    internals.dx          ('T', 'B', C)   backward only: predictions - one_hot(targets)
"""

from collections import OrderedDict

from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features

__all__ = ['SoftmaxCE']

#: predictions are clipped to [TINY, 1] before the logarithm, so loss stays finite
TINY = 1e-30


def SoftmaxCE(name=None):
    """Create a softmax cross-entropy layer (single-label classification).

    Connect the projection to its 'default' input, the class indices to
    'targets', and its 'loss' output to a Loss layer.

    Example:
        >>> inp - 'targets' >> 'targets' - SoftmaxCE(name='Output')
    """
    return ConstructionWrapper.create('SoftmaxCE', name=name)


class SoftmaxCELayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', 'F'),
                       'targets': StructureTemplate('T', 'B', 1)}
    computes_no_input_deltas_for = ('targets',)
    takes_no_output_deltas_from = ('predictions',)
    output_aliases = {'probabilities': 'predictions'}

    def setup(self, kwargs, in_shapes):
        classes = in_shapes['default'].feature_size
        outputs = OrderedDict(predictions=BufferStructure('T', 'B', classes),
                              loss=BufferStructure('T', 'B', 1))
        internals = OrderedDict(dx=BufferStructure('T', 'B', classes, is_backward_only=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        targets = flatten_time_and_features(buffers.inputs.targets)
        predictions = flatten_time_and_features(buffers.outputs.predictions)
        loss = flatten_time_and_features(buffers.outputs.loss)
        handler.softmax_m(inputs, predictions)
        handler.index_m_by_v(predictions, targets, loss)
        handler.clip_t(loss, TINY, 1.0, loss)
        handler.log_t(loss, loss)
        handler.mult_st(-1.0, loss, loss)

    def backward_pass(self, buffers):
        handler = self.handler
        targets = flatten_time_and_features(buffers.inputs.targets)
        predictions = flatten_time_and_features(buffers.outputs.predictions)
        loss_deltas = flatten_time_and_features(buffers.output_deltas.loss)
        input_deltas = flatten_time_and_features(buffers.input_deltas.default)
        dx = flatten_time_and_features(buffers.internals.dx)
        handler.binarize_v(targets, dx)
        handler.subtract_tt(predictions, dx, dx)
        handler.mult_add_mv(dx, loss_deltas, input_deltas)
