"""Dropout (inverted): y = x * mask / (1 - drop_prob) in training, y = x otherwise.

Each element of the mask is 1 with probability 1 - drop_prob, drawn from the
handler's random state (``handler.rnd``), so seeding the handler fixes the
masks. The mask is stored already scaled by 1 / (1 - drop_prob), so that the
expected output equals the input and nothing needs rescaling at test time.

Buffers:
    inputs.default    ('T', 'B', ...)   any feature shape
    outputs.default   ('T', 'B', ...)   the input's shape
    internals.mask    ('T', 'B', ...)   0 or 1 / (1 - drop_prob), last training pass

A test pass copies the inputs and leaves the mask alone (no mask to fill, one
read and one write per element instead of two reads and a write); a backward
pass after it treats the layer as the identity.
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Dropout']


def Dropout(drop_prob=0.5, name=None):
    """Create a dropout layer.

    Args:
        drop_prob (float): probability of setting an element to 0 during
            training, in [0, 1).
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> FullyConnected(500) >> Dropout(drop_prob=0.5) >> FullyConnected(10)
    """
    return ConstructionWrapper.create('Dropout', drop_prob=drop_prob, name=name)


class DropoutLayerImpl(Layer):
    expected_kwargs = {'drop_prob'}
    #: whether the last forward pass was a test pass (its backward pass is the identity)
    last_pass_was_test = False

    def setup(self, kwargs, in_shapes):
        drop_prob = self.get_kwarg(kwargs, 'drop_prob', 0.5, (int, float))
        if not 0.0 <= drop_prob < 1.0:
            raise LayerValidationError(f"{self._label()}: drop_prob must be in [0, 1), got "
                                       f"{drop_prob!r}")
        self.drop_prob = float(drop_prob)
        shape = in_shapes['default'].shape
        outputs = OrderedDict(default=BufferStructure(*shape))
        internals = OrderedDict(mask=BufferStructure(*shape))
        return outputs, OrderedDict(), internals

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs, outputs = buffers.inputs.default, buffers.outputs.default
        mask = buffers.internals.mask
        self.last_pass_was_test = not training_pass
        if not training_pass:
            handler.copy_to(inputs, outputs)
            return
        keep_prob = 1.0 - self.drop_prob
        handler.generate_probability_mask(mask, keep_prob)
        handler.mult_st(1.0 / keep_prob, mask, mask)
        handler.mult_tt(inputs, mask, outputs)

    def backward_pass(self, buffers):
        output_deltas, input_deltas = buffers.output_deltas.default, buffers.input_deltas.default
        if self.last_pass_was_test:
            self.handler.add_tt(output_deltas, input_deltas, input_deltas)
        else:
            self.handler.mult_add_tt(output_deltas, buffers.internals.mask, input_deltas)
