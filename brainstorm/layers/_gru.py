"""The time loops of the Gru layer (formulas and buffers in gru_layer.py).

Conventions as in :mod:`brainstorm.layers._recurrent`: the output y has a
context slot, which step 0 (step T - 1 when reversed) reads as the previous
state; the backward pass reads the gate deltas of the following step from the
delta buffers' zeroed slot T; everything that does not depend on the previous
step is one matrix product over all steps.
"""

from brainstorm.layers._direction import TimeOrder
from brainstorm.layers._recurrent import (project_inputs, project_inputs_backward,
                                          recurrent_weight_gradient, start_backward, steps,
                                          _input_deltas)
from brainstorm.utils import flatten_time_and_features

#: update gate, reset gate, candidate state
GRU_GATES = ('z', 'r', 'h')


def pack_recurrent_weights(handler, parameters, packed):
    """Copy Rz, Rr, Rh, each transposed, one below the other into ``packed`` (3*size, size).

    One product y[t-1] @ packed^T per step then gives all three recurrent terms;
    the reset gate multiplies the candidate's recurrent term after the product
    (see gru_layer.py), which is what makes a single product possible.
    """
    size = packed.shape[1]
    for index, gate in enumerate(GRU_GATES):
        handler.copy_to(parameters['R' + gate].T, packed[index * size:(index + 1) * size])


def gru_forward(handler, activation, buffers, hold=None, reverse=False):
    """The forward pass of a GRU layer.

    Zb, Rb and Nb first receive the input projections of all steps; each step
    adds the recurrent terms of one product y[t-1] @ packed^T (B, 3*size) and
    activates them in place. Where ``hold`` (a MaskHold) says so, the update
    gate is set to 1 and y[t] is y[t-1] exactly (copied).
    """
    p, internals = buffers.parameters, buffers.internals
    y = buffers.outputs.default
    Zb, Rb, Nb, Hr = internals.Zb, internals.Rb, internals.Nb, internals.Hr
    packed, products = internals.recurrent_weights, internals.recurrent_products
    size = packed.shape[1]
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    act = handler.act_func(activation)
    inputs = flatten_time_and_features(buffers.inputs.default)
    for gate, pre in zip(GRU_GATES, (Zb, Rb, Nb)):
        project_inputs(handler, inputs, p['W' + gate], p['b' + gate], steps(pre, time_size))
    pack_recurrent_weights(handler, p, packed)
    recurrent_z = products[:, :size]
    recurrent_r = products[:, size:2 * size]
    recurrent_h = products[:, 2 * size:]
    for t in order.forward_steps():
        previous = order.previous(t)
        z, r, n, out = Zb[t], Rb[t], Nb[t], y[t]
        handler.dot_mm(y[previous], packed, products, transb=True)
        handler.add_tt(z, recurrent_z, z)
        handler.sigmoid(z, z)
        handler.add_tt(r, recurrent_r, r)
        handler.sigmoid(r, r)
        handler.copy_to(recurrent_h, Hr[t])
        handler.mult_add_tt(r, Hr[t], n)
        act(n, n)
        if hold is not None:
            hold.advance(t)
            hold.condition(t)
            handler.fill_if(z, 1.0, hold.cond)
        # y = n + z * (y[t-1] - n)  ==  (1 - z) * n + z * y[t-1]
        handler.subtract_tt(y[previous], n, out)
        handler.mult_tt(z, out, out)
        handler.add_tt(out, n, out)
        if hold is not None:
            handler.copy_to_if(y[previous], out, hold.cond)


def gru_backward(handler, activation, buffers, skip_input_deltas=False, reverse=False):
    """Add input deltas and gradients of :func:`gru_forward`.

    A held step (mask 0) needs nothing of its own: with Zb = 1 its candidate
    and gate deltas are exactly zero and its whole delta flows to the previous
    step through the update gate.
    """
    p, g, internals = buffers.parameters, buffers.gradients, buffers.internals
    y = buffers.outputs.default
    Zb, Rb, Nb, Hr = internals.Zb, internals.Rb, internals.Nb, internals.Hr
    dZa, dRa, dNa, dHr = internals.dZa, internals.dRa, internals.dNa, internals.dHr
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    dy = start_backward(handler, buffers, time_size, (dZa, dRa, dHr, internals.dy))
    act_deriv = handler.act_func_deriv(activation)
    for t in order.backward_steps():
        previous, following = order.previous(t), order.next(t)
        handler.dot_add_mm(dZa[following], p.Rz, dy[t], transb=True)
        handler.dot_add_mm(dRa[following], p.Rr, dy[t], transb=True)
        handler.dot_add_mm(dHr[following], p.Rh, dy[t], transb=True)
        # dy is complete: pass its share through the update gate to the previous step
        handler.mult_add_tt(dy[t], Zb[t], dy[previous])
        handler.mult_tt(dy[t], Zb[t], dNa[t])
        handler.subtract_tt(dy[t], dNa[t], dNa[t])
        act_deriv(None, Nb[t], dNa[t], dNa[t])
        handler.subtract_tt(y[previous], Nb[t], dZa[t])
        handler.mult_tt(dZa[t], dy[t], dZa[t])
        handler.sigmoid_deriv(None, Zb[t], dZa[t], dZa[t])
        handler.mult_tt(dNa[t], Rb[t], dHr[t])
        handler.mult_tt(dNa[t], Hr[t], dRa[t])
        handler.sigmoid_deriv(None, Rb[t], dRa[t], dRa[t])
    inputs = flatten_time_and_features(buffers.inputs.default)
    input_deltas = _input_deltas(buffers, skip_input_deltas)
    for gate, deltas, recurrent_deltas in (('z', dZa, dZa), ('r', dRa, dRa), ('h', dNa, dHr)):
        project_inputs_backward(handler, inputs, p['W' + gate], steps(deltas, time_size),
                                input_deltas, g['W' + gate], g['b' + gate])
        recurrent_weight_gradient(handler, y, recurrent_deltas, g['R' + gate], time_size,
                                  reverse)
