"""Recurrent: a simple recurrent layer, y[t] = f(x[t] W + y[t-1] R + bias).

y[-1] is the context slot: zeros, or the state given to ``forward_pass(context=...)``.
With ``reverse=True`` the layer runs from the last step to the first and y[t+1]
takes the place of y[t-1]. Where the optional ``mask`` input is 0 (padding), y
keeps its previous value, so a reversed layer starts at each sequence's last valid step.

Buffers:
    inputs.default      ('T', 'B', *in_features)  any feature shape, flattened
    inputs.mask         ('T', 'B', 1), optional   0 on padding steps
    outputs.default     ('T', 'B', size), context 1
    parameters.W        (in_size, size)            rows: inputs, columns: units
    parameters.R        (size, size)               rows: units at t-1, columns: units at t
    parameters.bias     (size,)
    internals.Ha        ('T', 'B', size)           pre-activations
    internals.hold      ('T', 'B', size), only with a mask: 1 where a step is padding
    internals.dy        ('T', 'B', size), context 1, backward only: output + recurrent deltas
    internals.dHa       ('T', 'B', size), context 1, backward only: deltas of Ha
"""

from collections import OrderedDict

from brainstorm.layers import _direction, _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Recurrent']


def Recurrent(size, activation='tanh', reverse=False, name=None):
    """Create a simple recurrent layer.

    Args:
        size (int): number of units.
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        reverse (bool): run from the last step to the first (with a 'mask' input:
            from the last valid step of each sequence).
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> Recurrent(100, name='Rnn') >> out
    """
    return ConstructionWrapper.create('Recurrent', size=size, activation=activation,
                                      reverse=reverse or None, name=name)


class RecurrentLayerImpl(Layer):
    expected_inputs = _direction.DIRECTED_INPUTS
    optional_inputs = _direction.DIRECTED_OPTIONAL_INPUTS
    computes_no_input_deltas_for = ('mask',)
    expected_kwargs = {'size', 'activation', 'reverse'}

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        self.reverse = _direction.read_direction_kwargs(self, kwargs, in_shapes)
        in_size = in_shapes['default'].feature_size
        size = self.size
        outputs = OrderedDict(default=BufferStructure('T', 'B', size, context_size=1))
        parameters = OrderedDict(W=BufferStructure(in_size, size),
                                 R=BufferStructure(size, size),
                                 bias=BufferStructure(size))
        internals = OrderedDict(
            Ha=BufferStructure('T', 'B', size),
            **_direction.hold_internal(size, in_shapes),
            dy=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True),
            dHa=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True))
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        _recurrent.rnn_forward(self.handler, self.activation, buffers,
                               _direction.mask_hold(self.handler, buffers, compute=True),
                               reverse=self.reverse)

    def backward_pass(self, buffers):
        _recurrent.rnn_backward(self.handler, self.activation, buffers,
                                _direction.mask_hold(self.handler, buffers, compute=False),
                                skip_input_deltas='default' in self.skipped_input_deltas,
                                reverse=self.reverse)
