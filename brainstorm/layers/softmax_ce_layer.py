"""SoftmaxCE: softmax over the last feature axis and the cross-entropy with class targets.

predictions = softmax(x);  loss[t, b, ...] = -log(predictions[t, b, ..., targets[t, b, ...]])

The classes are the last axis; any axes before it (e.g. the pixels of an image,
for per-pixel classification) are independent samples.

Buffers:
    inputs.default        ('T', 'B', ..., C)   unnormalised scores (logits)
    inputs.targets        ('T', 'B', ..., 1)   class indices 0 .. C-1
    outputs.predictions   ('T', 'B', ..., C)   also reachable as outputs.probabilities
    outputs.loss          ('T', 'B', ..., 1)   per sample; connect to a Loss layer
    internals.dx          ('T', 'B', ..., C)   transient: predictions - one_hot(targets)
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

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
    expected_inputs = {'default': StructureTemplate('T', 'B', '...'),
                       'targets': StructureTemplate('T', 'B', '...')}
    computes_no_input_deltas_for = ('targets',)
    takes_no_output_deltas_from = ('predictions',)
    output_aliases = {'probabilities': 'predictions'}

    def setup(self, kwargs, in_shapes):
        features = in_shapes['default'].feature_shape
        expected_targets = features[:-1] + (1,)
        if in_shapes['targets'].feature_shape != expected_targets:
            raise LayerValidationError(
                f"{self._label()}: targets have feature shape "
                f"{in_shapes['targets'].feature_shape}, expected {expected_targets} (one class "
                f"index per sample of default {features})")
        outputs = OrderedDict(predictions=BufferStructure('T', 'B', *features),
                              loss=BufferStructure('T', 'B', *expected_targets))
        internals = OrderedDict(dx=BufferStructure('T', 'B', *features, is_transient=True))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = _rows(buffers.inputs.default)
        targets = _rows(buffers.inputs.targets)
        predictions = _rows(buffers.outputs.predictions)
        loss = _rows(buffers.outputs.loss)
        handler.softmax_m(inputs, predictions)
        handler.index_m_by_v(predictions, targets, loss)
        handler.clip_t(loss, TINY, 1.0, loss)
        handler.log_t(loss, loss)
        handler.mult_st(-1.0, loss, loss)

    def backward_pass(self, buffers):
        handler = self.handler
        targets = _rows(buffers.inputs.targets)
        predictions = _rows(buffers.outputs.predictions)
        loss_deltas = _rows(buffers.output_deltas.loss)
        input_deltas = _rows(buffers.input_deltas.default)
        dx = _rows(buffers.internals.dx)
        handler.binarize_v(targets, dx)
        handler.subtract_tt(predictions, dx, dx)
        handler.mult_add_mv(dx, loss_deltas, input_deltas)


def _rows(array):
    """(T, B, ..., C) -> (T*B*..., C): one row per sample, classes in columns (a view)."""
    return array.reshape((-1, array.shape[-1]))
