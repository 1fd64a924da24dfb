"""The handler op table: every operation a handler offers, as data.

One list keeps the contract in step everywhere it is used:

- ``DebugHandler`` builds its checks for every op from it (argument kinds,
  shapes, dtypes, aliasing of written against read arguments, finiteness,
  allocation counting);
- the op tests check that every op here has reference cases, and that the
  ``Handler`` ABC declares exactly these ops with these signatures;
- ``docs/handler_ops.md`` is rendered from it by :func:`render_markdown`.

Vocabulary:

Argument kinds (``Arg.kind``):
    ``t`` tensor (array of the handler's type, any shape), ``m`` matrix (2D
    array), ``v`` vector (2D array with at least one dimension of size 1; for
    ``*_mv`` ops it may also have the matrix's shape), ``image`` (4D NHWC
    array), ``filters`` (4D array ``(num_filters, kh, kw, in_channels)``),
    ``bias`` (1D array), ``s`` scalar (a real number), ``int``, ``pair``
    (tuple of two ints), ``bool``, ``axis`` (None or an int), ``shape``
    (tuple of ints), ``numpy`` (a ``numpy.ndarray`` of any dtype).

Effects (``Arg.effect``):
    ``read``; ``overwrite`` (every element is written, old content is never
    read); ``accumulate`` (the result is added to the old content);
    ``update`` (only some elements are written, chosen by a condition, the
    others keep their old content).

Op kinds (``Op.tier``):
    ``primitive`` ops are abstract in ``Handler`` and every handler implements
    them; ``composite`` ops are concrete in ``Handler``, written with
    primitives and the handler's scratch cache, and a handler may override
    them for speed.

Shape rules (``Op.shape_rule``) name the relation between the arguments'
shapes that ``DebugHandler`` checks; :data:`SHAPE_RULES` says what each means.
"""

from dataclasses import dataclass, field

#: Argument kind -> what an argument of that kind must be.
ARG_KINDS = {
    't': "array of the handler's type and dtype, any shape",
    'm': "2D array of the handler's type and dtype",
    'v': "2D array with at least one dimension of size 1",
    'image': "4D array (batch, height, width, channels)",
    'filters': "4D array (num_filters, kernel_height, kernel_width, in_channels)",
    'bias': "1D array (num_filters,)",
    's': "a real number (int or float), finite",
    'int': "an int",
    'pair': "a tuple of two ints",
    'bool': "True or False",
    'axis': "None or an int",
    'shape': "a tuple of non-negative ints",
    'numpy': "a numpy.ndarray (any dtype; converted to the handler's dtype)",
    'activation': "the name of an activation: 'linear', 'rel', 'sigmoid', 'tanh' or 'el'",
}

#: The kinds whose values are arrays of the handler's type.
ARRAY_KINDS = frozenset({'t', 'm', 'v', 'image', 'filters', 'bias'})

#: Argument effect -> meaning.
EFFECTS = {
    'read': "only read",
    'overwrite': "every element written; old content ignored",
    'accumulate': "result added to the old content",
    'update': "only elements selected by a condition are written",
    'transform': "read, then every element overwritten with a function of its old value",
}

#: Shape rule -> the relation DebugHandler checks.
SHAPE_RULES = {
    'none': "no relation between the arguments' shapes",
    'same': "all array arguments have the same shape",
    'numpy_same': "the numpy array has the same shape as the handler array",
    'numpy_out': "out is a C-contiguous numpy array of mem's shape and the handler's dtype",
    'mv': "v is (1, N), (M, 1) or (M, N) for an (M, N) m; out has m's shape",
    'dot': "out has the shape of op(a) @ op(b), op transposing when trans* is True",
    'sum': "a is 1D or 2D; out has the reduced shape, with or without the summed axis",
    'broadcast': "a has size 1 along axis; out differs from a only along axis",
    'merge': "a, b and out agree in all but the last axis; out's last = a's + b's",
    'split': "x, out_a and out_b agree in all but the last axis; x's last = out_a's + out_b's",
    'binarize': "v is (M, 1) holding integers in [0, N); out is (M, N)",
    'index': "m is (M, N); v and out are (M, 1); v holds integers in [0, N)",
    'conv2d': "NHWC images; outputs (B, Ho, Wo, F) with Ho = (H + 2 padding - kh) // sh + 1",
    'pool2d': "NHWC images; outputs (B, Ho, Wo, C) with Ho = (H + 2 padding - wh) // sh + 1",
    'lstm_step': "recurrent and gate_deltas are (B, 4N), the peep_* (1, N), every other "
                 "matrix (B, N)",
}


@dataclass(frozen=True)
class Arg:
    """One argument of an op.

    Attributes:
        name: the argument's name in the op's signature.
        kind: a key of :data:`ARG_KINDS`.
        effect: a key of :data:`EFFECTS`.
        optional: whether None is accepted (e.g. ``x`` of the ``*_deriv`` ops).
        default: the default value, used only when ``has_default`` is True.
        has_default: whether the argument has a default in the signature.
    """

    name: str
    kind: str
    effect: str = 'read'
    optional: bool = False
    default: object = None
    has_default: bool = False

    @property
    def is_array(self):
        return self.kind in ARRAY_KINDS

    @property
    def is_written(self):
        return self.effect != 'read'

    @property
    def reads_old_content(self):
        """Whether the op reads this argument's content before the call."""
        return self.effect in ('read', 'accumulate', 'update', 'transform')


@dataclass(frozen=True)
class Op:
    """One handler operation.

    Attributes:
        name: the method name.
        section: the ABC section it belongs to (see :data:`SECTIONS`).
        args: the arguments in signature order.
        tier: ``'primitive'`` or ``'composite'``.
        returns: what it returns: ``'None'``, ``'array'`` (a new handler
            array), ``'numpy'`` or ``'bool'``.
        shape_rule: a key of :data:`SHAPE_RULES`.
        may_alias: names of read arguments that may be the very same view as a
            written argument (an in-place call such as ``add_tt(a, b, a)``).
            Partial overlap is never allowed.
        allocates: whether a call creates a new array (counted by DebugHandler).
        check_finite: whether DebugHandler requires finite inputs and outputs.
        summary: one line saying what it computes.
    """

    name: str
    section: str
    args: tuple
    summary: str
    tier: str = 'primitive'
    returns: str = 'None'
    shape_rule: str = 'same'
    may_alias: tuple = ()
    allocates: bool = False
    check_finite: bool = True
    notes: str = field(default='', compare=False)

    @property
    def written(self):
        """The written arguments, in signature order."""
        return tuple(arg for arg in self.args if arg.is_written)

    def arg(self, name):
        for arg in self.args:
            if arg.name == name:
                return arg
        raise KeyError(f"{self.name} has no argument {name!r}")


#: Section key -> heading, in the order of the ABC.
SECTIONS = {
    'memory': "Memory and numpy transfer",
    'copy_fill': "Copy and fill",
    'elementwise': "Elementwise",
    'matrix': "Matrix and matrix-vector",
    'reduce': "Reductions, broadcasting, indexing",
    'activation': "Activation functions and their derivatives",
    'conv': "Convolution and pooling (NHWC)",
    'recurrent': "Fused recurrent steps",
    'random': "Randomness",
    'debug': "Debugging",
}


def _a(name, kind, effect='read', **extra):
    return Arg(name, kind, effect, **extra)


def _flag(name):
    return Arg(name, 'bool', default=False, has_default=True)


def _unary(name, summary, **extra):
    return Op(name, 'elementwise', (_a('a', 't'), _a('out', 't', 'overwrite')), summary,
              may_alias=('a',), **extra)


def _binary(name, summary, **extra):
    return Op(name, 'elementwise', (_a('a', 't'), _a('b', 't'), _a('out', 't', 'overwrite')),
              summary, may_alias=('a', 'b'), **extra)


def _scalar_tensor(name, summary, effect='overwrite', **extra):
    return Op(name, 'elementwise', (_a('s', 's'), _a('t', 't'), _a('out', 't', effect)),
              summary, may_alias=('t',), **extra)


def _matrix_vector(name, summary, effect='overwrite', **extra):
    return Op(name, 'matrix', (_a('m', 'm'), _a('v', 'v'), _a('out', 'm', effect)), summary,
              shape_rule='mv', may_alias=('m',), **extra)


def _activation(name, formula):
    return Op(name, 'activation', (_a('x', 't'), _a('y', 't', 'overwrite')),
              f"y = {formula}", may_alias=('x',))


def _activation_deriv(name, formula):
    return Op(name, 'activation',
              (_a('x', 't', optional=True), _a('y', 't'), _a('dy', 't'),
               _a('dx', 't', 'overwrite')),
              f"dx = dy * {formula} (overwrites dx; x is unused and may be None)",
              tier='composite', may_alias=('dy',))


_IMAGE_GEOMETRY = (_a('padding', 'int'), _a('stride', 'pair'))

_OPS = [
    # memory --------------------------------------------------------------
    Op('allocate', 'memory', (_a('shape', 'shape'),),
       "new array of the given shape, content arbitrary",
       returns='array', shape_rule='none', allocates=True, check_finite=False),
    Op('zeros', 'memory', (_a('shape', 'shape'),), "new array of zeros",
       returns='array', shape_rule='none', allocates=True),
    Op('ones', 'memory', (_a('shape', 'shape'),), "new array of ones",
       returns='array', shape_rule='none', allocates=True),
    Op('create_from_numpy', 'memory', (_a('arr', 'numpy'),),
       "new array with the content of a numpy array (converted to the handler's dtype)",
       returns='array', shape_rule='none', allocates=True, check_finite=False),
    Op('get_numpy_copy', 'memory', (_a('mem', 't'),), "a numpy copy of an array",
       returns='numpy', shape_rule='none', check_finite=False),
    Op('set_from_numpy', 'memory', (_a('mem', 't', 'overwrite'), _a('arr', 'numpy')),
       "mem = arr (same shape; converted to the handler's dtype)",
       shape_rule='numpy_same', check_finite=False),
    Op('allocate_host', 'memory', (_a('shape', 'shape'),),
       "new numpy array of the given shape and the handler's dtype, content arbitrary, "
       "to receive copy_to_numpy (page-locked host memory on a GPU handler)",
       returns='numpy', shape_rule='none', allocates=True, check_finite=False),
    Op('copy_to_numpy', 'memory', (_a('mem', 't'), _a('out', 'numpy', 'overwrite')),
       "out = mem, into an existing numpy array (allocates nothing)",
       shape_rule='numpy_out', check_finite=False),
    # copy and fill ---------------------------------------------------------
    Op('copy_to', 'copy_fill', (_a('src', 't'), _a('dest', 't', 'overwrite')), "dest = src",
       may_alias=('src',)),
    Op('copy_to_if', 'copy_fill', (_a('src', 't'), _a('dest', 't', 'update'), _a('cond', 't')),
       "dest = src where cond != 0", may_alias=('src',)),
    Op('fill', 'copy_fill', (_a('mem', 't', 'overwrite'), _a('val', 's')), "mem = val",
       shape_rule='none'),
    Op('fill_if', 'copy_fill', (_a('mem', 't', 'update'), _a('val', 's'), _a('cond', 't')),
       "mem = val where cond != 0"),
    # elementwise -----------------------------------------------------------
    _unary('abs_t', "out = |a|"),
    _scalar_tensor('add_st', "out = s + t"),
    _binary('add_tt', "out = a + b"),
    Op('add_into_if', 'elementwise', (_a('a', 't'), _a('out', 't', 'update'), _a('cond', 't')),
       "out += a where cond != 0", may_alias=('a',)),
    _binary('subtract_tt', "out = a - b"),
    _scalar_tensor('mult_st', "out = s * t"),
    _binary('mult_tt', "out = a * b"),
    _scalar_tensor('mult_add_st', "out += s * t", effect='accumulate', tier='composite'),
    Op('mult_add_tt', 'elementwise', (_a('a', 't'), _a('b', 't'), _a('out', 't', 'accumulate')),
       "out += a * b", tier='composite', may_alias=('a', 'b')),
    _binary('divide_tt', "out = a / b"),
    _binary('modulo_tt', "out = a % b (sign of b, like Python's %)"),
    _unary('sqrt_t', "out = sqrt(a)"),
    _unary('log_t', "out = ln(a)"),
    _unary('exp_t', "out = exp(a)"),
    _unary('sign_t', "out = -1, 0 or 1 by the sign of a"),
    Op('clip_t', 'elementwise',
       (_a('a', 't'), _a('a_min', 's'), _a('a_max', 's'), _a('out', 't', 'overwrite')),
       "out = min(max(a, a_min), a_max)", may_alias=('a',)),
    # matrix ----------------------------------------------------------------
    _matrix_vector('add_mv', "out = m + v (v broadcast over rows or columns)"),
    _matrix_vector('subtract_mv', "out = m - v (broadcast)"),
    _matrix_vector('mult_mv', "out = m * v (broadcast)"),
    _matrix_vector('mult_add_mv', "out += m * v (broadcast)", effect='accumulate',
                   tier='composite'),
    _matrix_vector('divide_mv', "out = m / v (broadcast)"),
    Op('dot_mm', 'matrix',
       (_a('a', 'm'), _a('b', 'm'), _a('out', 'm', 'overwrite'), _flag('transa'),
        _flag('transb')),
       "out = op(a) @ op(b); op transposes when trans* is True", shape_rule='dot'),
    Op('dot_add_mm', 'matrix',
       (_a('a', 'm'), _a('b', 'm'), _a('out', 'm', 'accumulate'), _flag('transa'),
        _flag('transb')),
       "out += op(a) @ op(b)", tier='composite', shape_rule='dot'),
    Op('binarize_v', 'matrix', (_a('v', 'v'), _a('out', 'm', 'overwrite')),
       "out[i, j] = 1 if j == v[i, 0] else 0 (one-hot rows)", shape_rule='binarize'),
    Op('index_m_by_v', 'matrix', (_a('m', 'm'), _a('v', 'v'), _a('out', 'v', 'overwrite')),
       "out[i, 0] = m[i, v[i, 0]]", shape_rule='index'),
    Op('softmax_m', 'matrix', (_a('m', 'm'), _a('out', 'm', 'overwrite')),
       "out = exp(m - max) / sum(exp(m - max)) over the last axis (numerically stable)",
       may_alias=('m',)),
    # reductions, broadcasting ------------------------------------------------
    Op('merge_tt', 'reduce', (_a('a', 't'), _a('b', 't'), _a('out', 't', 'overwrite')),
       "out = concatenate(a, b) along the last axis", shape_rule='merge'),
    Op('split_add_tt', 'reduce',
       (_a('x', 't'), _a('out_a', 't', 'accumulate'), _a('out_b', 't', 'accumulate')),
       "out_a += x[..., :Na]; out_b += x[..., Na:]", shape_rule='split'),
    Op('sum_t', 'reduce', (_a('a', 't'), _a('axis', 'axis'), _a('out', 't', 'overwrite')),
       "out = sum of a over axis (None: all elements); 1D and 2D a", shape_rule='sum'),
    Op('sum_add_t', 'reduce', (_a('a', 't'), _a('axis', 'axis'), _a('out', 't', 'accumulate')),
       "out += sum of a over axis (bias gradients)", tier='composite', shape_rule='sum'),
    Op('broadcast_t', 'reduce', (_a('a', 't'), _a('axis', 'int'), _a('out', 't', 'overwrite')),
       "out = a repeated along axis (where a has size 1)", shape_rule='broadcast'),
    # activations -----------------------------------------------------------
    _activation('sigmoid', "1 / (1 + exp(-x))"),
    _activation_deriv('sigmoid_deriv', "y * (1 - y)"),
    _activation('tanh', "tanh(x)"),
    _activation_deriv('tanh_deriv', "(1 - y^2)"),
    _activation('rel', "max(0, x)"),
    _activation_deriv('rel_deriv', "(y > 0)"),
    Op('el', 'activation', (_a('x', 't'), _a('y', 't', 'overwrite')),
       "y = x if x > 0 else exp(x) - 1 (alpha fixed to 1)", tier='composite',
       may_alias=('x',)),
    _activation_deriv('el_deriv', "(1 if y > 0 else y + 1)"),
    # conv and pool ---------------------------------------------------------
    Op('conv2d_forward_batch', 'conv',
       (_a('inputs', 'image'), _a('weights', 'filters'), _a('bias', 'bias'),
        _a('outputs', 'image', 'overwrite')) + _IMAGE_GEOMETRY,
       "outputs = conv(inputs, weights) + bias", shape_rule='conv2d'),
    Op('conv2d_backward_batch', 'conv',
       (_a('inputs', 'image'), _a('weights', 'filters')) + _IMAGE_GEOMETRY +
       (_a('in_deltas', 'image', 'accumulate', optional=True), _a('out_deltas', 'image'),
        _a('weight_deltas', 'filters', 'accumulate'), _a('bias_deltas', 'bias', 'accumulate')),
       "in_deltas, weight_deltas, bias_deltas += gradients of conv2d_forward_batch",
       shape_rule='conv2d',
       notes="in_deltas=None: the input deltas are not computed (a layer whose input "
             "deltas nobody reads skips the transposed convolution)"),
    Op('maxpool2d_forward_batch', 'conv',
       (_a('inputs', 'image'), _a('window', 'pair'), _a('outputs', 'image', 'overwrite')) +
       _IMAGE_GEOMETRY + (_a('argmax', 'image', 'overwrite', optional=True),),
       "outputs = max over each window; argmax = where the max was", shape_rule='pool2d',
       notes="argmax has the outputs' shape and the handler's dtype; each entry is the flat "
             "index (row * window_width + column) of the maximum within its window of the "
             "padded input (padding never wins; ties pick the first in row-major order). "
             "argmax=None: only the outputs are computed (inference, where no backward "
             "pass reads the argmax)"),
    Op('maxpool2d_backward_batch', 'conv',
       (_a('inputs', 'image'), _a('window', 'pair'), _a('outputs', 'image')) + _IMAGE_GEOMETRY +
       (_a('argmax', 'image'), _a('in_deltas', 'image', 'accumulate'),
        _a('out_deltas', 'image')),
       "in_deltas += out_deltas routed to each window's argmax", shape_rule='pool2d'),
    Op('avgpool2d_forward_batch', 'conv',
       (_a('inputs', 'image'), _a('window', 'pair'), _a('outputs', 'image', 'overwrite')) +
       _IMAGE_GEOMETRY,
       "outputs = mean over each window", shape_rule='pool2d',
       notes="divided by the window's positions inside the image (padding does not count; "
             "an all-padding window gives 0), as in brainstorm 0.5"),
    Op('avgpool2d_backward_batch', 'conv',
       (_a('inputs', 'image'), _a('window', 'pair'), _a('outputs', 'image')) + _IMAGE_GEOMETRY +
       (_a('in_deltas', 'image', 'accumulate'), _a('out_deltas', 'image')),
       "in_deltas += out_deltas spread evenly over each window's positions inside the image",
       shape_rule='pool2d'),
    # fused recurrent steps ---------------------------------------------------
    Op('lstm_step_forward', 'recurrent',
       (_a('recurrent', 'm'), _a('peep_i', 'v'), _a('peep_f', 'v'), _a('peep_o', 'v'),
        _a('previous_cell', 'm'), _a('z', 'm', 'transform'), _a('i', 'm', 'transform'),
        _a('f', 'm', 'transform'), _a('o', 'm', 'transform'), _a('cell', 'm', 'overwrite'),
        _a('cell_output', 'm', 'overwrite'), _a('out', 'm', 'overwrite'),
        Arg('activation', 'activation', default='tanh', has_default=True)),
       "the elementwise part of one LSTM step (lstm_layer.py's formulas): "
       "z = act(z + recurrent_z), i = sigmoid(i + recurrent_i + peep_i * previous_cell), "
       "f likewise, cell = z * i + f * previous_cell, "
       "o = sigmoid(o + recurrent_o + peep_o * cell), cell_output = act(cell), "
       "out = o * cell_output",
       tier='composite', shape_rule='lstm_step',
       notes="recurrent holds the step's recurrent products of the gates z, i, f, o side by "
             "side; z, i, f, o hold the input projections and receive the activations"),
    Op('lstm_step_backward', 'recurrent',
       (_a('deltas', 'm'), _a('z', 'm'), _a('i', 'm'), _a('f', 'm'), _a('o', 'm'),
        _a('cell_output', 'm'), _a('previous_cell', 'm'), _a('next_cell_deltas', 'm'),
        _a('next_f', 'm'), _a('next_i_deltas', 'm'), _a('next_f_deltas', 'm'),
        _a('peep_i', 'v'), _a('peep_f', 'v'), _a('peep_o', 'v'),
        _a('z_deltas', 'm', 'overwrite'), _a('i_deltas', 'm', 'overwrite'),
        _a('f_deltas', 'm', 'overwrite'), _a('o_deltas', 'm', 'overwrite'),
        _a('cell_deltas', 'm', 'overwrite'), _a('gate_deltas', 'm', 'overwrite'),
        Arg('activation', 'activation', default='tanh', has_default=True)),
       "the pre-activation deltas of one LSTM step from its output deltas and the "
       "following step's deltas: o_deltas = deltas * cell_output * o'; cell_deltas = "
       "deltas * o * act'(cell_output) + o_deltas * peep_o + next_cell_deltas * next_f + "
       "next_i_deltas * peep_i + next_f_deltas * peep_f; z_deltas = cell_deltas * i * "
       "act'(z); i_deltas = cell_deltas * z * i'; f_deltas = cell_deltas * previous_cell * f'",
       tier='composite', shape_rule='lstm_step',
       notes="z, i, f, o, cell_output are the step's activations; gate_deltas receives "
             "z_deltas, i_deltas, f_deltas, o_deltas side by side (the next recurrent "
             "product's left operand); ' is the derivative, from the activation's output"),
    # randomness ------------------------------------------------------------
    Op('fill_gaussian', 'random',
       (_a('mean', 's'), _a('std', 's'), _a('out', 't', 'overwrite')),
       "out = samples of N(mean, std^2) drawn from handler.rnd", shape_rule='none'),
    Op('generate_probability_mask', 'random',
       (_a('mask', 't', 'overwrite'), _a('probability', 's')),
       "mask = 1 with the given probability, else 0 (drawn from handler.rnd)",
       shape_rule='none'),
    # debugging -------------------------------------------------------------
    Op('is_fully_finite', 'debug', (_a('a', 't'),), "True if a has no inf and no nan",
       returns='bool', shape_rule='none', check_finite=False),
]

#: Op name -> Op, in ABC order.
OPS = {op.name: op for op in _OPS}

#: Handler attributes (not ops) that library code may use.
HANDLER_ATTRIBUTES = ('dtype', 'context', 'EMPTY', 'rnd', 'array_type',
                      'prefers_transposed_weights')

#: Concrete handler methods that are not ops (they take no arrays or return ops).
HANDLER_HELPERS = ('act_func', 'act_func_deriv', 'inplace_act_func', 'inplace_act_func_deriv',
                   'set_seed')

#: Underscored handler methods that engine code outside a handler may still call:
#: ``_scratch(key, shape)`` for reusable temporaries (value modifiers, steppers:
#: code that has no internal buffers of its own), and the aliasing tests that
#: DebugHandler asks of the handler it wraps.
HANDLER_INTERNALS = ('_scratch', '_shares_memory', '_same_view')


def ops_in_section(section):
    """Return the ops of one section (a key of :data:`SECTIONS`), in table order."""
    return [op for op in OPS.values() if op.section == section]


def signature_text(op):
    """Return the op's signature as Python writes it.

    Example: ``dot_mm(a, b, out, transa=False, transb=False)``.
    """
    parts = []
    for arg in op.args:
        parts.append(f"{arg.name}={arg.default!r}" if arg.has_default else arg.name)
    return f"{op.name}({', '.join(parts)})"


def _argument_cell(arg):
    text = f"`{arg.name}`: {arg.kind}"
    if arg.optional:
        text += " or None"
    if arg.is_written:
        text += f", **{arg.effect}**"
    return text


def render_markdown():
    """Render the op table as the Markdown page ``docs/handler_ops.md``.

    Returns:
        str: the whole page, ending with a newline.
    """
    lines = [
        "# Handler operations",
        "",
        "Generated from `brainstorm/handlers/op_table.py` by",
        "`brainstorm.handlers.op_table.render_markdown()`; do not edit by hand",
        "(`tests/handlers/test_op_usage.py` checks that this page is up to date).",
        "",
        "Every op returns None unless the table says otherwise. Written arguments are",
        "marked **overwrite** (old content ignored), **accumulate** (result added to the",
        "old content) or **update** (only elements selected by a condition are written).",
        "*Composite* ops are implemented in `Handler` with primitives and scratch memory;",
        "a new handler must implement every *primitive* op and may override composites.",
        "",
        "## Argument kinds",
        "",
        "| kind | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{kind}` | {meaning} |" for kind, meaning in ARG_KINDS.items()]
    lines += ["", "## Shape rules (checked by DebugHandler)", "", "| rule | meaning |",
              "|---|---|"]
    lines += [f"| `{rule}` | {meaning} |" for rule, meaning in SHAPE_RULES.items()]
    for section, heading in SECTIONS.items():
        lines += ["", f"## {heading}", "",
                  "| op | computes | arguments | tier | returns | shapes | out may alias |",
                  "|---|---|---|---|---|---|---|"]
        for op in ops_in_section(section):
            arguments = "; ".join(_argument_cell(arg) for arg in op.args)
            alias = ", ".join(f"`{name}`" for name in op.may_alias) or "-"
            summary = op.summary.replace('|', '\\|')
            if op.notes:
                summary += f". {op.notes}"
            lines.append(f"| `{signature_text(op)}` | {summary} | {arguments} | {op.tier} "
                         f"| {op.returns} | `{op.shape_rule}` | {alias} |")
    lines += ["", "## Other handler members", "",
              "Attributes: " + ", ".join(f"`{name}`" for name in HANDLER_ATTRIBUTES) + ".",
              "Helpers: " + ", ".join(f"`{name}`" for name in HANDLER_HELPERS) + ".", ""]
    return "\n".join(lines)
