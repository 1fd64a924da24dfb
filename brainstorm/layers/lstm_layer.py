"""Lstm: long short-term memory with peephole connections and no projection.

For each step t (y[-1] and Ca[-1] are the context slots), with g = activation:
    Za = x Wz + y[t-1] Rz + bz                      Zb = g(Za)        block input
    Ia = x Wi + y[t-1] Ri + pi * Ca[t-1] + bi       Ib = sigmoid(Ia)  input gate
    Fa = x Wf + y[t-1] Rf + pf * Ca[t-1] + bf       Fb = sigmoid(Fa)  forget gate
    Ca = Zb * Ib + Fb * Ca[t-1]                     Cb = g(Ca)        cell
    Oa = x Wo + y[t-1] Ro + po * Ca + bo            Ob = sigmoid(Oa)  output gate
    y  = Ob * Cb
With ``reverse=True`` the layer runs from the last step to the first and step
t + 1 takes the place of t - 1. Where the optional ``mask`` input is 0 (padding),
Ca and y keep their previous values (Ib = 0, Fb = 1), so a reversed layer starts
at each sequence's last valid step.

Buffers:
    inputs.default       ('T', 'B', *in_features)  any feature shape, flattened
    inputs.mask          ('T', 'B', 1), optional   0 on padding steps
    outputs.default      ('T', 'B', size), context 1
    parameters.Wz Wi Wf Wo   (in_size, size)       rows: inputs, columns: units
    parameters.Rz Ri Rf Ro   (size, size)          rows: units at t-1
    parameters.bz bi bf bo   (size,)
    parameters.pi pf po      (size,)               peepholes
    internals.Zb Ib Fb Ob Ca Cb     ('T', 'B', size), context 1
                         (gates after their activation; Ca: cell state, Cb = g(Ca)).
                         The pre-activations Za, Ia, Fa, Oa are not kept: the gate
                         buffers hold them during a step and are activated in place.
    internals.recurrent_weights     (4*size, size): the recurrent weights packed for one
                         product per step: Rz Ri Rf Ro side by side (seen as (size,
                         4*size)), or each transposed, one below the other, as the
                         handler's BLAS prefers; the backward pass needs the latter
    internals.recurrent_products    ('B', 4*size): scratch, y[t-1] @ [Rz Ri Rf Ro]; in
                         the backward pass the gate deltas of a step side by side
    internals.hold       ('T', 'B', size), only with a mask: 1 where a step is padding
    internals.dZa dIa dFa dOa   ('T', 'B', size), context 1, backward only: deltas of
                         the gate pre-activations
    internals.dy dCa     ('B', 2*size), backward only: output plus recurrent deltas
                         and cell deltas of two steps, seen as (2, B, size); step t
                         uses slot t % 2 (a step needs only its own and the next
                         step's, and the whole sequence's would be 2 x T x B x size)
    internals.peephole_products   ('T', 'B', size), transient: scratch of the
                         peephole gradients
"""

from collections import OrderedDict

from brainstorm.layers import _direction, _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Lstm']

FORWARD_INTERNALS = ('Zb', 'Ib', 'Fb', 'Ob', 'Ca', 'Cb')
GATE_DELTAS = ('dZa', 'dIa', 'dFa', 'dOa')
TWO_STEP_DELTAS = ('dy', 'dCa')


def Lstm(size, activation='tanh', reverse=False, name=None):
    """Create an LSTM layer with peepholes.

    Args:
        size (int): number of cells.
        activation (str): activation of block input and cell output: one of
            'linear', 'rel', 'sigmoid', 'tanh', 'el'. The gates always use the sigmoid.
        reverse (bool): run from the last step to the first (with a 'mask' input:
            from the last valid step of each sequence).
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> Lstm(100, name='Lstm') >> out
        >>> forget_gates = net.get('Lstm.internals.Fb')
    """
    return ConstructionWrapper.create('Lstm', size=size, activation=activation,
                                      reverse=reverse or None, name=name)


def lstm_buffers(size, in_size, in_shapes=None):
    """(outputs, parameters, internals) of an LSTM layer of ``size`` cells."""
    outputs = OrderedDict(default=BufferStructure('T', 'B', size, context_size=1))
    parameters = OrderedDict()
    for kind, shape in (('W', (in_size, size)), ('R', (size, size)), ('b', (size,))):
        for gate in _recurrent.LSTM_GATES:
            parameters[kind + gate] = BufferStructure(*shape)
    for gate in ('i', 'f', 'o'):
        parameters['p' + gate] = BufferStructure(size)
    internals = OrderedDict()
    for name in FORWARD_INTERNALS:
        internals[name] = BufferStructure('T', 'B', size, context_size=1)
    gates_size = len(_recurrent.LSTM_GATES) * size
    internals['recurrent_weights'] = BufferStructure(gates_size, size)
    internals['recurrent_products'] = BufferStructure('B', gates_size)
    internals.update(_direction.hold_internal(size, in_shapes or {}))
    for name in GATE_DELTAS:
        internals[name] = BufferStructure('T', 'B', size, context_size=1,
                                          is_backward_only=True)
    for name in TWO_STEP_DELTAS:
        internals[name] = BufferStructure('B', 2 * size, is_backward_only=True)
    internals['peephole_products'] = BufferStructure('T', 'B', size, is_transient=True)
    return outputs, parameters, internals


class LstmLayerImpl(Layer):
    expected_inputs = _direction.DIRECTED_INPUTS
    optional_inputs = _direction.DIRECTED_OPTIONAL_INPUTS
    computes_no_input_deltas_for = ('mask',)
    expected_kwargs = {'size', 'activation', 'reverse'}

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        self.reverse = _direction.read_direction_kwargs(self, kwargs, in_shapes)
        return lstm_buffers(self.size, in_shapes['default'].feature_size, in_shapes)

    def forward_pass(self, buffers, training_pass=True):
        _recurrent.lstm_forward(self.handler, self.activation, buffers,
                                _direction.mask_hold(self.handler, buffers, compute=True),
                                reverse=self.reverse)

    def backward_pass(self, buffers):
        _recurrent.lstm_backward(self.handler, self.activation, buffers,
                                 _direction.mask_hold(self.handler, buffers, compute=False),
                                 skip_input_deltas='default' in self.skipped_input_deltas,
                                 reverse=self.reverse)
