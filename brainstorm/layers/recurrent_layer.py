"""Recurrent: a simple recurrent layer, y[t] = f(x[t] W + y[t-1] R + bias).

y[-1] is the context slot: zeros, or the state given to ``forward_pass(context=...)``.

Buffers:
    inputs.default      ('T', 'B', *in_features)  any feature shape, flattened
    outputs.default     ('T', 'B', size), context 1
    parameters.W        (in_size, size)            rows: inputs, columns: units
    parameters.R        (size, size)               rows: units at t-1, columns: units at t
    parameters.bias     (size,)
    internals.Ha        ('T', 'B', size)           pre-activations
    internals.dy        ('T', 'B', size), context 1, backward only: output + recurrent deltas
    internals.dHa       ('T', 'B', size), context 1, backward only: deltas of Ha
"""

from collections import OrderedDict

from brainstorm.layers import _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Recurrent']


def Recurrent(size, activation='tanh', name=None):
    """Create a simple recurrent layer.

    Args:
        size (int): number of units.
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> Recurrent(100, name='Rnn') >> out
    """
    return ConstructionWrapper.create('Recurrent', size=size, activation=activation, name=name)


class RecurrentLayerImpl(Layer):
    expected_kwargs = {'size', 'activation'}

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        in_size = in_shapes['default'].feature_size
        size = self.size
        outputs = OrderedDict(default=BufferStructure('T', 'B', size, context_size=1))
        parameters = OrderedDict(W=BufferStructure(in_size, size),
                                 R=BufferStructure(size, size),
                                 bias=BufferStructure(size))
        internals = OrderedDict(
            Ha=BufferStructure('T', 'B', size),
            dy=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True),
            dHa=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True))
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        _recurrent.rnn_forward(self.handler, self.activation, buffers)

    def backward_pass(self, buffers):
        _recurrent.rnn_backward(self.handler, self.activation, buffers,
                                skip_input_deltas='default' in self.skipped_input_deltas)
