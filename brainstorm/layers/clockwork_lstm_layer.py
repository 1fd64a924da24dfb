"""ClockworkLstm: an Lstm whose cells tick at their own periods.

Cell j is updated at step n (counted from the start of the sequence, across
contexts) iff n % timing[j] == 0, with the Lstm formulas (see lstm_layer.py).
Otherwise it keeps its state: Ca[t] = Ca[t-1] and y[t] = y[t-1]. For such a
cell the layer stores Ib = 0 and Fb = 1 at that step (the gates that keep the
state), not sigmoid(Ia) and sigmoid(Fa).

Buffers: those of Lstm, plus
    parameters.timing       (size,)   periods (positive integers; set them by
                                      initialisation); no gradient
    internals.phase         ('T', 'B', 1), context 1   step index + 1
    internals.timing_rows   ('B', size)                timing repeated per sequence
    internals.not_updated   ('B', size)                non-zero where a cell keeps its state
    internals.not_updated_backward ('B', size), transient
"""

from brainstorm.layers import _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.layers.clockwork_layer import backward_clock, forward_clock
from brainstorm.layers.lstm_layer import lstm_buffers
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['ClockworkLstm']


def ClockworkLstm(size, activation='tanh', name=None):
    """Create a clockwork LSTM layer.

    Its parameter ``timing`` holds each cell's period and is not trained;
    initialise it with the periods you want.

    Args:
        size (int): number of cells.
        activation (str): activation of block input and cell output: one of
            'linear', 'rel', 'sigmoid', 'tanh', 'el'.
        name (Optional[str]): the layer name.

    Example:
        >>> net = Network.from_layer(inp >> ClockworkLstm(4, name='Cw') >> out)
        >>> net.initialize(Gaussian(0.1), Cw={'timing': np.array([1, 2, 4, 8])})
    """
    return ConstructionWrapper.create('ClockworkLstm', size=size, activation=activation,
                                      name=name)


class ClockworkLstmLayerImpl(Layer):
    expected_kwargs = {'size', 'activation'}
    computes_no_gradients_for = ('timing',)

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        size = self.size
        outputs, parameters, internals = lstm_buffers(size, in_shapes['default'].feature_size)
        parameters['timing'] = BufferStructure(size)
        internals['phase'] = BufferStructure('T', 'B', 1, context_size=1)
        internals['timing_rows'] = BufferStructure('B', size)
        internals['not_updated'] = BufferStructure('B', size)
        internals['not_updated_backward'] = BufferStructure('B', size, is_transient=True)
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        _recurrent.lstm_forward(self.handler, self.activation, buffers,
                                forward_clock(self.handler, buffers))

    def backward_pass(self, buffers):
        _recurrent.lstm_backward(self.handler, self.activation, buffers,
                                 backward_clock(self.handler, buffers),
                                 skip_input_deltas='default' in self.skipped_input_deltas)
