"""Loss: marks a value to be minimised; loss = importance * sum(inputs) / B.

Summing over time steps and features but averaging over the batch keeps the
learning rate independent of the batch size. Its output is what
``Network.get_loss_values()`` reports.

Buffers:
    inputs.default   ('T', 'B', ...)  per-step, per-sequence losses
    outputs.loss     (1,)             the weighted batch loss
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features

__all__ = ['Loss']


def Loss(importance=1.0, name=None):
    """Create a Loss layer.

    Args:
        importance (float): weight of this loss in the total loss.
        name (Optional[str]): the layer name.

    Example:
        >>> SoftmaxCE(name='Output') - 'loss' >> Loss(importance=1.0)
    """
    return ConstructionWrapper.create('Loss', importance=importance, name=name)


class LossLayerImpl(Layer):
    expected_kwargs = {'importance'}
    # the loss is the end of the graph: its derivative is importance / B, whatever
    # is in the (always zero) delta buffer of its output
    takes_no_output_deltas_from = ('loss',)

    def setup(self, kwargs, in_shapes):
        importance = kwargs.get('importance', 1.0)
        if isinstance(importance, bool) or not isinstance(importance, (int, float)):
            raise LayerValidationError(f"{self._label()}: importance must be a number, got "
                                       f"{importance!r}")
        self.importance = float(importance)
        return (OrderedDict(loss=BufferStructure(1)), OrderedDict(), OrderedDict())

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        batch_size = buffers.inputs.default.shape[1]
        loss = buffers.outputs.loss
        handler.sum_t(inputs, None, loss)
        handler.mult_st(self.importance / batch_size, loss, loss)

    def backward_pass(self, buffers):
        batch_size = buffers.inputs.default.shape[1]
        self.handler.add_st(self.importance / batch_size, buffers.input_deltas.default,
                            buffers.input_deltas.default)
