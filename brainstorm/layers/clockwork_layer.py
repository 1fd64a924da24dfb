"""Clockwork: a recurrent layer whose units tick at their own periods (Koutnik et al. 2014).

Unit j is updated at step n (counted from the start of the sequence, across
contexts) iff n % timing[j] == 0:  y[t] = f(x[t] W + y[t-1] R + bias) there,
y[t] = y[t-1] otherwise.

Buffers:
    inputs.default          ('T', 'B', *in_features)  any feature shape, flattened
    outputs.default         ('T', 'B', size), context 1
    parameters.W            (in_size, size)
    parameters.R            (size, size)
    parameters.bias         (size,)
    parameters.timing       (size,)   periods (positive integers; set them by
                                      initialisation); no gradient
    internals.Ha            ('T', 'B', size)           pre-activations
    internals.phase         ('T', 'B', 1), context 1   step index + 1, so sequences
                                                       continue exactly via the context
    internals.timing_rows   ('B', size)                timing repeated per sequence
    internals.not_updated   ('B', size)                non-zero where a unit keeps its state
    internals.dy            ('T', 'B', size), context 1, backward only: output +
                                                       recurrent deltas
    internals.dHa           ('T', 'B', size), context 1, backward only
    internals.not_updated_backward ('B', size), transient
"""

from collections import OrderedDict

from brainstorm.layers import _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Clockwork']


def Clockwork(size, activation='tanh', name=None):
    """Create a clockwork recurrent layer.

    Its parameter ``timing`` holds each unit's period and is not trained;
    initialise it with the periods you want (e.g. an array of 1, 2, 4, ...).

    Args:
        size (int): number of units.
        activation (str): one of 'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> net = Network.from_layer(inp >> Clockwork(4, name='Cw') >> out)
        >>> net.initialize(Gaussian(0.1), Cw={'timing': np.array([1, 2, 4, 8])})
    """
    return ConstructionWrapper.create('Clockwork', size=size, activation=activation, name=name)


class ClockworkLayerImpl(Layer):
    expected_kwargs = {'size', 'activation'}
    computes_no_gradients_for = ('timing',)

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        in_size = in_shapes['default'].feature_size
        size = self.size
        outputs = OrderedDict(default=BufferStructure('T', 'B', size, context_size=1))
        parameters = OrderedDict(W=BufferStructure(in_size, size),
                                 R=BufferStructure(size, size),
                                 bias=BufferStructure(size),
                                 timing=BufferStructure(size))
        internals = OrderedDict(
            Ha=BufferStructure('T', 'B', size),
            phase=BufferStructure('T', 'B', 1, context_size=1),
            timing_rows=BufferStructure('B', size),
            not_updated=BufferStructure('B', size),
            dy=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True),
            dHa=BufferStructure('T', 'B', size, context_size=1, is_backward_only=True),
            not_updated_backward=BufferStructure('B', size, is_transient=True))
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        _recurrent.rnn_forward(self.handler, self.activation, buffers,
                               forward_clock(self.handler, buffers))

    def backward_pass(self, buffers):
        _recurrent.rnn_backward(self.handler, self.activation, buffers,
                                backward_clock(self.handler, buffers),
                                skip_input_deltas='default' in self.skipped_input_deltas)


# Clockwork and ClockworkLstm name their clock buffers alike; these build their Clocks.

def forward_clock(handler, buffers):
    """The forward pass's Clock of a clockwork layer; fills ``internals.timing_rows``.

    Args:
        handler: the layer's handler.
        buffers: the layer's buffers, with ``parameters.timing`` and the internals
            ``phase``, ``timing_rows`` and ``not_updated``.
    """
    internals = buffers.internals
    return _recurrent.Clock(handler, buffers.parameters.timing, internals.phase,
                            internals.timing_rows, internals.not_updated)


def backward_clock(handler, buffers):
    """The backward pass's Clock of a clockwork layer; reuses the forward ``timing_rows``.

    Args:
        handler: the layer's handler.
        buffers: the layer's buffers, with ``parameters.timing`` and the internals
            ``phase``, ``timing_rows`` and ``not_updated_backward``.
    """
    internals = buffers.internals
    return _recurrent.Clock(handler, buffers.parameters.timing, internals.phase,
                            internals.timing_rows, internals.not_updated_backward,
                            broadcast_timing=False)
