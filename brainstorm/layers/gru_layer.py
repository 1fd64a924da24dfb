"""Gru: gated recurrent unit (Cho et al. 2014), reset gate applied after the recurrent product.

For each step t (y[-1] is the context slot; reversed, t - 1 reads t + 1), g = activation:
    Zb = sigmoid(x Wz + y[t-1] Rz + bz)                  update gate
    Rb = sigmoid(x Wr + y[t-1] Rr + br)                  reset gate
    Hr = y[t-1] Rh                                       recurrent term of the candidate
    Nb = g(x Wh + bh + Rb * Hr)                          candidate state
    y  = (1 - Zb) * Nb + Zb * y[t-1]

Applying the reset gate to ``y[t-1] Rh`` rather than to ``y[t-1]`` (the variant of
cuDNN and of Keras' ``reset_after=True``) lets one product ``y[t-1] @ [Rz Rr Rh]`` per
step serve all three gates. Where the optional ``mask`` input is 0 (padding), y
keeps its previous value.

Buffers:
    inputs.default       ('T', 'B', *in_features)  any feature shape, flattened
    inputs.mask          ('T', 'B', 1), optional   0 on padding steps
    outputs.default      ('T', 'B', size), context 1
    parameters.Wz Wr Wh  (in_size, size)           rows: inputs, columns: units
    parameters.Rz Rr Rh  (size, size)              rows: units at t-1
    parameters.bz br bh  (size,)
    internals.Zb Rb Nb Hr    ('T', 'B', size)      gates after their activation,
                         candidate, recurrent term of the candidate
    internals.recurrent_weights    (3*size, size): Rz Rr Rh transposed, one below the other
    internals.recurrent_products   ('B', 3*size): scratch, y[t-1] @ recurrent_weights^T;
                         in the backward pass the gate deltas dZa dRa dHr of a step
                         side by side
    internals.hold       ('T', 'B', size), only with a mask: 1 where a step is padding
    internals.dy         ('B', 2*size), backward only: output plus recurrent deltas of
                         two steps, seen as (2, B, size); step t uses slot t % 2
    internals.dZa dRa dHr    ('T', 'B', size), context 1, backward only: deltas of
                         the gates' pre-activations and of Hr
    internals.dNa        ('T', 'B', size), backward only
"""

from collections import OrderedDict

from brainstorm.layers import _direction, _gru, _recurrent
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Gru']


def Gru(size, activation='tanh', reverse=False, name=None):
    """Create a GRU layer.

    Args:
        size (int): number of units.
        activation (str): activation of the candidate state: one of 'linear',
            'rel', 'sigmoid', 'tanh', 'el'. The gates always use the sigmoid.
        reverse (bool): run from the last step to the first (with a 'mask' input:
            from the last valid step of each sequence).
        name (Optional[str]): the layer name.

    Example:
        >>> inp >> Gru(100, name='Gru') >> out
        >>> update_gates = net.get('Gru.internals.Zb')
    """
    return ConstructionWrapper.create('Gru', size=size, activation=activation,
                                      reverse=reverse or None, name=name)


class GruLayerImpl(Layer):
    expected_inputs = _direction.DIRECTED_INPUTS
    optional_inputs = _direction.DIRECTED_OPTIONAL_INPUTS
    computes_no_input_deltas_for = ('mask',)
    expected_kwargs = {'size', 'activation', 'reverse'}

    def setup(self, kwargs, in_shapes):
        self.size, self.activation = _recurrent.read_kwargs(self, kwargs)
        self.reverse = _direction.read_direction_kwargs(self, kwargs, in_shapes)
        size, in_size = self.size, in_shapes['default'].feature_size
        outputs = OrderedDict(default=BufferStructure('T', 'B', size, context_size=1))
        parameters = OrderedDict()
        for kind, shape in (('W', (in_size, size)), ('R', (size, size)), ('b', (size,))):
            for gate in _gru.GRU_GATES:
                parameters[kind + gate] = BufferStructure(*shape)
        internals = OrderedDict()
        for name in ('Zb', 'Rb', 'Nb', 'Hr'):
            internals[name] = BufferStructure('T', 'B', size)
        gates_size = len(_gru.GRU_GATES) * size
        internals['recurrent_weights'] = BufferStructure(gates_size, size)
        internals['recurrent_products'] = BufferStructure('B', gates_size)
        internals.update(_direction.hold_internal(size, in_shapes))
        internals['dy'] = BufferStructure('B', 2 * size, is_backward_only=True)
        for name in ('dZa', 'dRa', 'dHr'):
            internals[name] = BufferStructure('T', 'B', size, context_size=1,
                                              is_backward_only=True)
        internals['dNa'] = BufferStructure('T', 'B', size, is_backward_only=True)
        return outputs, parameters, internals

    def forward_pass(self, buffers, training_pass=True):
        _gru.gru_forward(self.handler, self.activation, buffers,
                         _direction.mask_hold(self.handler, buffers, compute=True),
                         reverse=self.reverse)

    def backward_pass(self, buffers):
        _gru.gru_backward(self.handler, self.activation, buffers,
                          skip_input_deltas='default' in self.skipped_input_deltas,
                          reverse=self.reverse)
