"""Time loops shared by Recurrent, Lstm, Clockwork and ClockworkLstm.

Conventions (all buffers are (T + context, B, ...) views from the network):

* Outputs and forward internals with ``context_size=1`` have T + 1 steps; step
  t reads step t - 1, which at t = 0 is index -1, the context slot (zeros, or the
  state handed to ``forward_pass(context=...)``).
* Backward buffers with ``context_size=1`` have a slot at index T == -1 that
  the backward pass zeroes first, so the loop reads step t + 1 uniformly; at
  t = T - 1 that is the zero slot. No step is special-cased.
* The output deltas are only read: the backward pass copies them into the
  backward internal ``dy`` and accumulates the recurrent deltas there, so a
  backward pass can be repeated on the same output deltas. The LSTM's ``dy`` and
  ``dCa`` and the GRU's ``dy`` hold two steps, step t in slot t % 2
  (:func:`two_step_slots`); their loops copy each step's output deltas in when
  the slot comes free.
* The t = 0 terms of the weight gradients read the context slots of the
  FORWARD buffers (``y[-1]``, ``Ca[-1]``), never those of the delta buffers.
* Everything that does not depend on the previous step (input projections,
  weight, bias and input gradients) is done for all steps at once with one
  matrix product; the loops do only the recurrent products and the
  elementwise gate math of one step.

Direction and held steps (reversed layers, masks) are in
:mod:`brainstorm.layers._direction`.

Clockwork layers (Koutnik et al. 2014) update unit j at step t only if
t % timing[j] == 0; the step index comes from the forward internal ``phase``
(phase[t] = phase[t - 1] + 1, so it continues through the context).
"""

from brainstorm.errors import LayerValidationError
from brainstorm.layers._direction import TimeOrder
from brainstorm.utils import flatten_time_and_features

#: The activation functions recurrent layers accept for their units.
ACTIVATIONS = ('linear', 'rel', 'sigmoid', 'tanh', 'el')

LSTM_GATES = ('z', 'i', 'f', 'o')


def read_kwargs(layer, kwargs):
    """Check and return (size, activation) of a recurrent layer.

    Raises:
        LayerValidationError: if size is not a positive int or the activation is unknown.
    """
    size = kwargs.get('size')
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise LayerValidationError(f"{layer._label()}: size must be a positive int, got "
                                   f"{size!r}")
    activation = layer.get_kwarg(kwargs, 'activation', 'tanh', str, ACTIVATIONS)
    return size, activation


def start_backward(handler, buffers, time_size, next_step_deltas):
    """Copy the output deltas into ``internals.dy``; zero the slot T of ``next_step_deltas``.

    Returns:
        the (T + 1, B, size) internal dy, to accumulate the recurrent deltas into.
    """
    dy = buffers.internals.dy
    handler.copy_to(buffers.output_deltas.default[:time_size], dy[:time_size])
    for deltas in next_step_deltas:
        handler.fill(deltas[time_size], 0.0)
    return dy


def two_step_slots(array):
    """A ('B', 2*size) internal seen as two (B, size) step slots: shape (2, B, size)."""
    batch_size, width = array.shape
    return array.reshape((2, batch_size, width // 2))


def start_two_step_backward(handler, buffers, order, dy, gate_deltas):
    """Prepare a backward loop whose ``dy`` holds two steps; zero slot T of the gate deltas.

    Args:
        order: the layer's :class:`TimeOrder`.
        dy: (2, B, size) output plus recurrent deltas; the first step processed
            gets its output deltas.
        gate_deltas: the (T + 1, B, size) gate deltas whose slot T the first step
            processed reads as those of the step after it.
    """
    first = order.backward_steps()[0]
    handler.copy_to(buffers.output_deltas.default[first], dy[first % 2])
    for deltas in gate_deltas:
        handler.fill(deltas[order.time_size], 0.0)


def start_lstm_backward(handler, buffers, order, dy, dCa):
    """Prepare the two-step slots of :func:`lstm_backward`; zero slot T of its gate deltas.

    Args:
        order: the layer's :class:`TimeOrder`.
        dy: (2, B, size) output plus recurrent deltas; the first step processed
            gets its output deltas.
        dCa: (2, B, size) cell deltas; the slot of the step after the first one
            processed is zeroed (no cell delta flows back from beyond the sequence).
    """
    internals = buffers.internals
    start_two_step_backward(handler, buffers, order, dy, (internals.dZa, internals.dIa,
                                                          internals.dFa, internals.dOa))
    handler.fill(dCa[order.next(order.backward_steps()[0]) % 2], 0.0)


def take_output_deltas(handler, output_deltas, step, time_size, slot):
    """Start a two-step ``slot`` (B, size) of ``dy`` with the output deltas of ``step``,
    or with zeros where ``step`` lies outside the sequence (what flows into the
    context then collects there)."""
    if 0 <= step < time_size:
        handler.copy_to(output_deltas[step], slot)
    else:
        handler.fill(slot, 0.0)


def steps(array, time_size):
    """The first ``time_size`` steps of a (T + context, B, ...) array as a (T*B, F) matrix."""
    return flatten_time_and_features(array[:time_size])


def row(vector):
    """A (size,) parameter as the (1, size) row the ``*_mv`` ops broadcast."""
    return vector.reshape((1, vector.shape[0]))


def project_inputs(handler, inputs, weights, bias, out):
    """``out = inputs @ weights + bias`` for all steps at once.

    Args:
        inputs: (T*B, in_size).
        weights: (in_size, size).
        bias: (size,).
        out: (T*B, size), overwritten.
    """
    # bias first, then accumulate the product: every matrix product of the
    # recurrent layers then goes through dot_add_mm, which on NumpyHandler is one
    # BLAS library. Mixing it with dot_mm (numpy's own BLAS, whose idle threads
    # keep spinning for a while) made the following time loop several times
    # slower on a 2-core machine.
    handler.broadcast_t(row(bias), 0, out)
    handler.dot_add_mm(inputs, weights, out)


def project_inputs_backward(handler, inputs, weights, deltas, input_deltas, weight_gradient,
                            bias_gradient):
    """Add the gradients of :func:`project_inputs` for all steps at once.

    Args:
        inputs: (T*B, in_size).
        weights: (in_size, size).
        deltas: (T*B, size), derivatives with respect to ``out``.
        input_deltas: (T*B, in_size), accumulated; None where nobody reads them
            (the layer's ``skipped_input_deltas``), which skips that product.
        weight_gradient: (in_size, size), accumulated.
        bias_gradient: (size,), accumulated.
    """
    if input_deltas is not None:
        handler.dot_add_mm(deltas, weights, input_deltas, transb=True)
    handler.dot_add_mm(inputs, deltas, weight_gradient, transa=True)
    handler.sum_add_t(deltas, axis=0, out=row(bias_gradient))


def _input_deltas(buffers, skip):
    """The input deltas as (T*B, in_size), or None when they are skipped."""
    return None if skip else flatten_time_and_features(buffers.input_deltas.default)


def recurrent_weight_gradient(handler, outputs, deltas, gradient, time_size, reverse=False):
    """``gradient += sum_t y[t-1]^T @ deltas[t]``, with y[-1] the forward context slot.

    Args:
        outputs: (T + 1, B, size) forward outputs y with their context slot.
        deltas: (T + 1, B, size) pre-activation deltas of one gate.
        gradient: (size, size), accumulated.
        time_size: T.
        reverse: the layer runs backwards in time: y[t+1] instead of y[t-1]
            (steps 1 .. T, the last being the context slot: one product).
    """
    if reverse:
        handler.dot_add_mm(steps(outputs[1:], time_size), steps(deltas, time_size), gradient,
                           transa=True)
        return
    if time_size > 1:
        handler.dot_add_mm(steps(outputs, time_size - 1), steps(deltas[1:], time_size - 1),
                           gradient, transa=True)
    handler.dot_add_mm(outputs[-1], deltas[0], gradient, transa=True)


def peephole_gradient(handler, cells, deltas, gradient, products, time_size, shift,
                      reverse=False):
    """``gradient += sum over t, b of cells[t - shift] * deltas[t]``.

    Args:
        cells: (T + 1, B, size) forward cell states Ca with their context slot.
        deltas: (T + 1, B, size) deltas of the gate the peephole feeds.
        gradient: (size,), accumulated.
        products: (T + 1, B, size) scratch; only its steps 0 .. T - 1 are written.
        time_size: T.
        shift: 1 for the input and forget gates (they see Ca[t-1]), 0 for the
            output gate (it sees Ca[t]).
        reverse: the layer runs backwards in time (the gates see Ca[t+1]).
    """
    if shift and reverse:
        handler.mult_tt(cells[1:time_size + 1], deltas[:time_size], products[:time_size])
    elif shift:
        if time_size > 1:
            handler.mult_tt(cells[:time_size - 1], deltas[1:time_size], products[1:time_size])
        handler.mult_tt(cells[-1], deltas[0], products[0])
    else:
        handler.mult_tt(cells[:time_size], deltas[:time_size], products[:time_size])
    handler.sum_add_t(steps(products, time_size), axis=0, out=row(gradient))


# ---- clockwork ------------------------------------------------------------------------------

class Clock:
    """Which units of a clockwork layer skip a step.

    A unit j is updated at step index n (counted from the start of the
    sequence, across contexts) iff n % timing[j] == 0. The index comes from the
    forward internal ``phase`` ('T', 'B', 1) with context: phase[t] = phase[t-1] + 1,
    n = phase[t] - 1. ``condition(t)`` writes ``cond`` (B, size), non-zero where a
    unit is NOT updated at step t. phase is rounded to the nearest integer, so a
    hand-made fractional context still gives a well-defined (piecewise constant)
    schedule.

    Args:
        handler: the layer's handler.
        timing: (size,) parameter, the period of each unit (positive integers).
        phase: (T + 1, B, 1) forward internal.
        timing_rows: (B, size) internal, timing repeated for every sequence.
        cond: (B, size) internal written by :meth:`condition`.
        broadcast_timing: fill timing_rows from timing (the forward pass does;
            the backward pass reuses what the forward pass wrote).
    """

    def __init__(self, handler, timing, phase, timing_rows, cond, broadcast_timing=True):
        self.handler = handler
        self.phase = phase
        self.timing_rows = timing_rows
        self.cond = cond
        if broadcast_timing:
            handler.broadcast_t(row(timing), 0, timing_rows)

    def advance(self, t):
        """phase[t] = phase[t - 1] + 1 (forward pass only)."""
        self.handler.add_st(1.0, self.phase[t - 1], self.phase[t])

    def condition(self, t):
        """Write cond: 0 where a unit is updated at step t, 1 where it keeps its state."""
        handler, cond = self.handler, self.cond
        handler.broadcast_t(self.phase[t], 1, cond)
        # (n + 0.5) mod timing < 1  <=>  round(n) % timing == 0, for n = phase - 1
        handler.add_st(-0.5, cond, cond)
        handler.modulo_tt(cond, self.timing_rows, cond)
        handler.add_st(-1.0, cond, cond)
        handler.clip_t(cond, 0.0, 1.0, cond)


# ---- simple recurrent (Recurrent, Clockwork) ---------------------------------------------

def rnn_forward(handler, activation, buffers, hold=None, reverse=False):
    """y[t] = act(x[t] W + y[t-1] R + bias); where ``hold`` says so, y[t] = y[t-1].

    Buffers: inputs.default, outputs.default (context 1), parameters W, R, bias,
    internals Ha (pre-activations). ``hold`` is a :class:`Clock` or a
    ``_direction.MaskHold`` (or None); with ``reverse``, t - 1 reads t + 1.
    """
    parameters = buffers.parameters
    outputs = buffers.outputs.default
    Ha = buffers.internals.Ha
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    act = handler.act_func(activation)
    project_inputs(handler, flatten_time_and_features(buffers.inputs.default), parameters.W,
                   parameters.bias, steps(Ha, time_size))
    for t in order.forward_steps():
        previous = order.previous(t)
        handler.dot_add_mm(outputs[previous], parameters.R, Ha[t])
        act(Ha[t], outputs[t])
        if hold is not None:
            hold.advance(t)
            hold.condition(t)
            handler.copy_to_if(outputs[previous], outputs[t], hold.cond)


def rnn_backward(handler, activation, buffers, hold=None, skip_input_deltas=False,
                 reverse=False):
    """Add input deltas and gradients of :func:`rnn_forward`.

    Buffers as in :func:`rnn_forward` plus the backward internals dy and dHa
    (context 1). With ``skip_input_deltas`` the input deltas are left as they
    are (nobody reads them); the gradients are computed all the same.
    """
    parameters, gradients = buffers.parameters, buffers.gradients
    outputs = buffers.outputs.default
    dHa = buffers.internals.dHa
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    dy = start_backward(handler, buffers, time_size, (dHa,))
    act_deriv = handler.act_func_deriv(activation)
    for t in order.backward_steps():
        handler.dot_add_mm(dHa[order.next(t)], parameters.R, dy[t], transb=True)
        if hold is not None:
            # a unit that kept its state passes its whole delta on to the previous step
            hold.condition(t)
            handler.add_into_if(dy[t], dy[order.previous(t)], hold.cond)
            handler.fill_if(dy[t], 0.0, hold.cond)
        act_deriv(None, outputs[t], dy[t], dHa[t])
    deltas = steps(dHa, time_size)
    project_inputs_backward(handler, flatten_time_and_features(buffers.inputs.default),
                            parameters.W, deltas, _input_deltas(buffers, skip_input_deltas),
                            gradients.W, gradients.bias)
    recurrent_weight_gradient(handler, outputs, dHa, gradients.R, time_size, reverse)


# ---- LSTM (Lstm, ClockworkLstm) -----------------------------------------------------------

def pack_recurrent_weights(handler, parameters, packed, transposed):
    """Copy Rz, Ri, Rf, Ro into ``packed`` (4*size, size) for one product per step.

    ``transposed``: each goes transposed, one below the other; the forward product
    is then y[t-1] @ packed^T and the backward one, the four gate deltas side by
    side (B, 4*size) @ packed, a plain one. Otherwise they go side by side, ``packed``
    seen as (size, 4*size), and y[t-1] @ that is a plain product; the backward pass
    then repacks them transposed (a copy of 4*size^2 values per pass).

    Which is faster depends on the BLAS (``handler.prefers_transposed_weights``):
    numpy's OpenBLAS 0.3.31 on an AMD EPYC (Zen 4) ran the forward step products
    fastest side by side (2 threads, per inference pass: 22.7 against 25.0 ms at 256
    cells, 313 against 381 ms at 1000); MKL on an Intel Xeon ran them fastest
    transposed (bench/README.md).
    """
    matrices = [parameters['R' + gate] for gate in LSTM_GATES]
    if transposed:
        stack_transposed(handler, matrices, packed)
        return
    size = packed.shape[1]
    side_by_side = packed.reshape((size, len(LSTM_GATES) * size))
    for matrix, columns in zip(matrices, gate_columns(side_by_side, size)):
        handler.copy_to(matrix, columns)


def stack_transposed(handler, matrices, packed):
    """Copy the (size, size) ``matrices``, each transposed, one below the other into
    ``packed`` (len(matrices)*size, size): the layout of the recurrent weights that
    the LSTM's and the GRU's backward products (gate deltas side by side @ packed)
    read."""
    size = packed.shape[1]
    for index, matrix in enumerate(matrices):
        handler.copy_to(matrix.T, packed[index * size:(index + 1) * size])


def gate_columns(matrix, size):
    """The (rows, size) column blocks of a (rows, gates*size) matrix (views), one per gate:
    z, i, f, o of the LSTM, z, r, h of the GRU."""
    return [matrix[:, start:start + size] for start in range(0, matrix.shape[1], size)]


def lstm_forward(handler, activation, buffers, hold=None, reverse=False):
    """One LSTM layer with peepholes (formulas in lstm_layer.py).

    The gate buffers Zb, Ib, Fb, Ob first receive the pre-activations (input
    projections of all steps, then at each step the recurrent and peephole
    terms) and are then activated in place: the backward pass needs only the
    activations, so the pre-activations are not kept.

    The recurrent weights are packed into ``internals.recurrent_weights``
    (4*size, size) at the start of the pass (see :func:`pack_recurrent_weights`);
    each step does one product y[t-1] @ [Rz Ri Rf Ro] into
    ``internals.recurrent_products`` (B, 4*size); the rest of the step is the
    handler op ``lstm_step_forward`` (on NumpyHandler one pass of compiled code).

    Where ``hold`` (a :class:`Clock` or a ``_direction.MaskHold``) says so, a unit
    keeps Ca and y of step t - 1: its gates are set to Ib = 0 and Fb = 1, so Ca[t] =
    Ca[t-1] exactly, and y[t] is copied. With ``reverse``, t - 1 reads t + 1.
    """
    p, internals = buffers.parameters, buffers.internals
    y = buffers.outputs.default
    Zb, Ib, Fb, Ob = internals.Zb, internals.Ib, internals.Fb, internals.Ob
    Ca, Cb = internals.Ca, internals.Cb
    packed, products = internals.recurrent_weights, internals.recurrent_products
    size = packed.shape[1]
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    act = handler.act_func(activation)
    inputs = flatten_time_and_features(buffers.inputs.default)
    gates = (Zb, Ib, Fb, Ob)
    for gate, pre in zip(LSTM_GATES, gates):
        project_inputs(handler, inputs, p['W' + gate], p['b' + gate], steps(pre, time_size))
    transposed = handler.prefers_transposed_weights
    pack_recurrent_weights(handler, p, packed, transposed)
    side_by_side = None if transposed else packed.reshape((size, len(LSTM_GATES) * size))
    recurrent_z, recurrent_i, recurrent_f, recurrent_o = gate_columns(products, size)
    pi, pf, po = row(p.pi), row(p.pf), row(p.po)
    for t in order.forward_steps():
        previous = order.previous(t)
        z, i, f, o, cell, previous_cell = Zb[t], Ib[t], Fb[t], Ob[t], Ca[t], Ca[previous]
        if transposed:
            handler.dot_mm(y[previous], packed, products, transb=True)
        else:
            handler.dot_mm(y[previous], side_by_side, products)
        if hold is None:
            handler.lstm_step_forward(products, pi, pf, po, previous_cell, z, i, f, o, cell,
                                      Cb[t], y[t], activation)
            continue
        # held units change the gates between their activation and the cell update,
        # so a step with a hold runs the same formulas op by op
        handler.add_tt(z, recurrent_z, z)
        handler.add_tt(i, recurrent_i, i)
        handler.add_tt(f, recurrent_f, f)
        handler.add_tt(o, recurrent_o, o)
        handler.mult_add_mv(previous_cell, pi, i)
        handler.mult_add_mv(previous_cell, pf, f)
        act(z, z)
        handler.sigmoid(i, i)
        handler.sigmoid(f, f)
        hold.advance(t)
        hold.condition(t)
        handler.fill_if(i, 0.0, hold.cond)
        handler.fill_if(f, 1.0, hold.cond)
        handler.mult_tt(z, i, cell)
        handler.mult_add_tt(f, previous_cell, cell)
        handler.mult_add_mv(cell, po, o)
        handler.sigmoid(o, o)
        act(cell, Cb[t])
        handler.mult_tt(o, Cb[t], y[t])
        handler.copy_to_if(y[previous], y[t], hold.cond)


def lstm_backward(handler, activation, buffers, hold=None, skip_input_deltas=False,
                  reverse=False):
    """Add input deltas and gradients of :func:`lstm_forward`.

    The recurrent deltas are one product per step: the four gate deltas of step
    t + 1 side by side in ``internals.recurrent_products`` (B, 4*size), times
    ``internals.recurrent_weights`` (4*size, size) holding Rg^T one below the other
    (as the forward pass packed them, or repacked at the start of this pass; see
    :func:`pack_recurrent_weights`), so the product is the sum of the four
    dG[t+1] @ Rg^T.
    Single-threaded CPU time per step (B = 50, AMD EPYC; bench/README.md): with
    numpy's OpenBLAS 0.385 against 0.499 ms for four separate products (256
    cells), 5.8 against 6.4 ms (1000 cells); with MKL and scipy's OpenBLAS the
    same within 3 %. The elementwise rest of a step is the handler op
    ``lstm_step_backward``, which also writes the four gate deltas side by side for
    the next step's product.

    Where ``hold`` says so, a unit passes its whole output delta on to step
    t - 1 and takes none itself; its gate deltas vanish on their own because
    sigmoid'(Ib = 0) = sigmoid'(Fb = 1) = 0 and Ib = 0, and its cell delta flows
    through Fb = 1.

    With ``skip_input_deltas`` the input deltas are left as they are (nobody
    reads them); the gradients are computed all the same.
    """
    p, g, internals = buffers.parameters, buffers.gradients, buffers.internals
    y, output_deltas = buffers.outputs.default, buffers.output_deltas.default
    Zb, Ib, Fb, Ob = internals.Zb, internals.Ib, internals.Fb, internals.Ob
    Ca, Cb = internals.Ca, internals.Cb
    dZa, dIa, dFa, dOa = internals.dZa, internals.dIa, internals.dFa, internals.dOa
    time_size = buffers.inputs.default.shape[0]
    order = TimeOrder(time_size, reverse)
    # step t's output and cell deltas are in slot t % 2: a step reads only its own
    # and those of the step after it
    dy, dCa = two_step_slots(internals.dy), two_step_slots(internals.dCa)
    start_lstm_backward(handler, buffers, order, dy, dCa)
    pi, pf, po = row(p.pi), row(p.pf), row(p.po)
    packed, side_by_side = internals.recurrent_weights, internals.recurrent_products
    if not handler.prefers_transposed_weights:  # the forward pass packed them side by side
        pack_recurrent_weights(handler, p, packed, transposed=True)
    # the first step processed reads the gate deltas of slot T (zeros, or what a
    # caller continuing a sequence put there); each step then writes its own
    for deltas, columns in zip((dZa, dIa, dFa, dOa), gate_columns(side_by_side, Ca.shape[2])):
        handler.copy_to(deltas[time_size], columns)
    for t in order.backward_steps():
        previous, following = order.previous(t), order.next(t)
        step_deltas, previous_deltas = dy[t % 2], dy[previous % 2]
        handler.dot_add_mm(side_by_side, packed, step_deltas)
        # the slot of step t + 1 is free now: it takes the output deltas of step t - 1,
        # to which held units pass theirs on
        take_output_deltas(handler, output_deltas, previous, time_size, previous_deltas)
        if hold is not None:
            hold.condition(t)
            handler.add_into_if(step_deltas, previous_deltas, hold.cond)
            handler.fill_if(step_deltas, 0.0, hold.cond)
        # writes the step's gate deltas side by side too: the next product's operand
        handler.lstm_step_backward(step_deltas, Zb[t], Ib[t], Fb[t], Ob[t], Cb[t], Ca[previous],
                                   dCa[following % 2], Fb[following], dIa[following],
                                   dFa[following], pi, pf, po, dZa[t], dIa[t], dFa[t], dOa[t],
                                   dCa[t % 2], side_by_side, activation)
    inputs = flatten_time_and_features(buffers.inputs.default)
    input_deltas = _input_deltas(buffers, skip_input_deltas)
    for gate, deltas in zip(LSTM_GATES, (dZa, dIa, dFa, dOa)):
        project_inputs_backward(handler, inputs, p['W' + gate], steps(deltas, time_size),
                                input_deltas, g['W' + gate], g['b' + gate])
        recurrent_weight_gradient(handler, y, deltas, g['R' + gate], time_size, reverse)
    products = internals.peephole_products
    peephole_gradient(handler, Ca, dIa, g.pi, products, time_size, 1, reverse)
    peephole_gradient(handler, Ca, dFa, g.pf, products, time_size, 1, reverse)
    peephole_gradient(handler, Ca, dOa, g.po, products, time_size, 0, reverse)
