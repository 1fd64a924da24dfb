"""The time loops of the Gru layer (formulas and buffers in gru_layer.py).

Conventions as in :mod:`brainstorm.layers._recurrent`: the output y has a
context slot, which step 0 (step T - 1 when reversed) reads as the previous
state; the backward pass reads the gate deltas of the following step from the
delta buffers' zeroed slot T, and keeps the output deltas of two steps only;
everything that does not depend on the previous step is one matrix product over
all steps.
"""

from brainstorm.layers import _recurrent
from brainstorm.layers._direction import TimeOrder
from brainstorm.layers._recurrent import (gate_columns, project_inputs,
                                          project_inputs_backward, recurrent_weight_gradient,
                                          stack_transposed, steps, take_output_deltas,
                                          two_step_slots, _input_deltas)
from brainstorm.utils import flatten_time_and_features

#: update gate, reset gate, candidate state
GRU_GATES = ('z', 'r', 'h')


def pack_recurrent_weights(handler, parameters, packed):
    """Copy Rz, Rr, Rh, each transposed, one below the other into ``packed`` (3*size, size).

    One product y[t-1] @ packed^T per step then gives all three recurrent terms;
    the reset gate multiplies the candidate's recurrent term after the product
    (see gru_layer.py), which is what makes a single product possible.
    """
    stack_transposed(handler, [parameters['R' + gate] for gate in GRU_GATES], packed)


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
    recurrent_z, recurrent_r, recurrent_h = gate_columns(products, size)
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

    The recurrent deltas are one product per step, as in the LSTM: the three gate
    deltas dZa, dRa, dHr of step t + 1 side by side in ``internals.recurrent_products``
    (B, 3*size) times ``internals.recurrent_weights`` (Rz^T, Rr^T, Rh^T one below the
    other, as the forward pass packed them) is the sum of the three dG[t+1] @ Rg^T.
    The output deltas plus what flows back into them are kept for two steps only
    (``dy``, step t in slot t % 2): a step reads its own and adds to the previous
    step's.

    A held step (mask 0) needs nothing of its own: with Zb = 1 its candidate
    and gate deltas are exactly zero and its whole delta flows to the previous
    step through the update gate.
    """
    p, g, internals = buffers.parameters, buffers.gradients, buffers.internals
    y, output_deltas = buffers.outputs.default, buffers.output_deltas.default
    Zb, Rb, Nb, Hr = internals.Zb, internals.Rb, internals.Nb, internals.Hr
    dZa, dRa, dNa, dHr = internals.dZa, internals.dRa, internals.dNa, internals.dHr
    packed, side_by_side = internals.recurrent_weights, internals.recurrent_products
    size = packed.shape[1]
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    dy = two_step_slots(internals.dy)
    gate_deltas = (dZa, dRa, dHr)
    _recurrent.start_two_step_backward(handler, buffers, order, dy, gate_deltas)
    columns = gate_columns(side_by_side, size)
    # the first step processed reads the gate deltas of slot T (zeros, or what a
    # caller continuing a sequence put there); each step then writes its own
    for deltas, column in zip(gate_deltas, columns):
        handler.copy_to(deltas[time_size], column)
    act_deriv = handler.act_func_deriv(activation)
    for t in order.backward_steps():
        previous = order.previous(t)
        step_deltas, previous_deltas = dy[t % 2], dy[previous % 2]
        handler.dot_add_mm(side_by_side, packed, step_deltas)
        # dy is complete. The slot of step t + 1 is free: it takes the output deltas
        # of step t - 1 and the share of step t's that passes the update gate
        take_output_deltas(handler, output_deltas, previous, time_size, previous_deltas)
        handler.mult_add_tt(step_deltas, Zb[t], previous_deltas)
        handler.mult_tt(step_deltas, Zb[t], dNa[t])
        handler.subtract_tt(step_deltas, dNa[t], dNa[t])
        act_deriv(None, Nb[t], dNa[t], dNa[t])
        handler.subtract_tt(y[previous], Nb[t], dZa[t])
        handler.mult_tt(dZa[t], step_deltas, dZa[t])
        handler.sigmoid_deriv(None, Zb[t], dZa[t], dZa[t])
        handler.mult_tt(dNa[t], Rb[t], dHr[t])
        handler.mult_tt(dNa[t], Hr[t], dRa[t])
        handler.sigmoid_deriv(None, Rb[t], dRa[t], dRa[t])
        for deltas, column in zip(gate_deltas, columns):
            handler.copy_to(deltas[t], column)  # the next product's operand
    inputs = flatten_time_and_features(buffers.inputs.default)
    input_deltas = _input_deltas(buffers, skip_input_deltas)
    for gate, deltas, recurrent_deltas in (('z', dZa, dZa), ('r', dRa, dRa), ('h', dNa, dHr)):
        project_inputs_backward(handler, inputs, p['W' + gate], steps(deltas, time_size),
                                input_deltas, g['W' + gate], g['b' + gate])
        recurrent_weight_gradient(handler, y, recurrent_deltas, g['R' + gate], time_size,
                                  reverse)
