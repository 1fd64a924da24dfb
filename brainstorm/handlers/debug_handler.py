"""DebugHandler: wraps any handler and checks every op call against the op table.

The checks come from :mod:`brainstorm.handlers.op_table` alone; there is one
generic wrapper and no per-op code. For every call it checks:

1. each argument's kind: arrays are of the wrapped handler's array type and
   dtype and have the rank their kind needs; scalars are finite real numbers;
   ints, pairs, flags, axes and shapes are what they claim;
2. the relation between the arguments' shapes named by the op's shape rule
   (with messages such as ``dot_mm: out has shape (3, 4), expected (3, 5) for
   a (3, 2) @ (2, 5) product``);
3. that no written array overlaps another argument in memory, except a read
   argument the table lets the written one *be* (the very same view);
4. that every array read is finite before the call, and every array written
   is finite after it.

Any violation raises :class:`~brainstorm.errors.HandlerContractError` (never
``assert``, which ``python -O`` removes). It also counts calls of the
allocating ops in ``allocation_count``, so tests can assert that a forward or
backward pass allocates nothing.
"""

import abc
import inspect
import math
import numbers

import numpy as np

from brainstorm.describable import create_from_description, get_description, type_name_of
from brainstorm.errors import HandlerContractError
from brainstorm.handlers.base_handler import Handler
from brainstorm.handlers.op_table import ARG_KINDS, OPS

_RANKS = {'m': 2, 'v': 2, 'image': 4, 'filters': 4, 'bias': 1}


class DebugHandler(Handler):
    """A handler that checks every op call, then lets ``handler`` do the work.

    Args:
        handler (Handler): the handler that computes.

    Attributes:
        handler (Handler): the wrapped handler.
        allocation_count (int): number of calls of ``allocate``, ``zeros``,
            ``ones`` and ``create_from_numpy`` so far.

    Example:
        >>> handler = DebugHandler(NumpyHandler(np.float64))
        >>> a, b = handler.zeros((3, 2)), handler.zeros((2, 5))
        >>> handler.dot_mm(a, b, handler.zeros((3, 4)))
        Traceback (most recent call last):
        HandlerContractError: dot_mm: out has shape (3, 4), expected (3, 5) for a
        (3, 2) @ (2, 5) product
    """

    def __init__(self, handler):
        # deliberately no Handler.__init__: dtype, rnd, ... belong to the wrapped handler
        if not isinstance(handler, Handler):
            raise HandlerContractError(f"DebugHandler: expected a Handler to wrap, got a "
                                       f"{type(handler).__name__}")
        self.handler = handler
        self.allocation_count = 0

    def __describe__(self):
        return {'@type': type_name_of(type(self)), 'handler': get_description(self.handler)}

    @classmethod
    def __new_from_description__(cls, description):
        return cls(create_from_description(description['handler']))

    def __repr__(self):
        return f"DebugHandler({self.handler!r})"

    # the wrapped handler's attributes, read through
    dtype = property(lambda self: self.handler.dtype)
    context = property(lambda self: self.handler.context)
    EMPTY = property(lambda self: self.handler.EMPTY)
    rnd = property(lambda self: self.handler.rnd)
    array_type = property(lambda self: self.handler.array_type)
    supports_strided_views = property(lambda self: self.handler.supports_strided_views)
    prefers_transposed_weights = property(
        lambda self: self.handler.prefers_transposed_weights)

    def _scratch(self, key, shape, dtype=None):
        # temporaries for engine code (e.g. value modifiers) come from the wrapped handler
        return self.handler._scratch(key, shape, dtype)

    def _shares_memory(self, a, b):
        return self.handler._shares_memory(a, b)

    def _same_view(self, a, b):
        return self.handler._same_view(a, b)

    # -- the checks --------------------------------------------------------------

    def _check_before(self, op, values):
        for arg in op.args:
            self._check_kind(op, arg, values[arg.name])
        _SHAPE_CHECKS[op.shape_rule](self, op, values)
        self._check_aliasing(op, values)
        if op.check_finite:
            for arg in op.args:
                value = values[arg.name]
                if value is None or not arg.reads_old_content:
                    continue
                if arg.is_array and not self.handler.is_fully_finite(value):
                    role = "input" if arg.effect == 'read' else f"{arg.effect}d output"
                    raise HandlerContractError(f"{op.name}: {role} {arg.name} contains inf or "
                                               f"nan before the call")
                if (arg.kind == 'numpy' and value.dtype.kind in 'fc'
                        and not np.isfinite(value).all()):
                    raise HandlerContractError(f"{op.name}: {arg.name} contains inf or nan")

    def _check_after(self, op, values, result):
        if op.returns == 'array':
            self.allocation_count += 1
            shape = (tuple(values['shape']) if 'shape' in values
                     else tuple(values['arr'].shape))
            if not isinstance(result, self.array_type) or tuple(result.shape) != shape:
                raise HandlerContractError(f"{op.name}: {type(self.handler).__name__} returned "
                                           f"{_describe_value(result)}, expected an array of "
                                           f"shape {shape}")
            if result.dtype != self.dtype:
                raise HandlerContractError(f"{op.name}: returned dtype {result.dtype}, expected "
                                           f"{self.dtype}")
            if op.check_finite and not self.handler.is_fully_finite(result):
                raise HandlerContractError(f"{op.name}: the new array contains inf or nan")
        if op.returns == 'numpy' and 'shape' in values and not (
                isinstance(result, np.ndarray) and result.dtype == self.dtype
                and tuple(result.shape) == tuple(values['shape'])
                and result.flags.c_contiguous):
            raise HandlerContractError(f"{op.name}: {type(self.handler).__name__} returned "
                                       f"{_describe_value(result)}, expected a C-contiguous "
                                       f"numpy array of shape {tuple(values['shape'])} and "
                                       f"dtype {self.dtype}")
        if op.returns == 'bool' and not isinstance(result, (bool, np.bool_)):
            raise HandlerContractError(f"{op.name}: returned {_describe_value(result)}, "
                                       f"expected a bool")
        if op.returns == 'None' and result is not None:
            raise HandlerContractError(f"{op.name}: returned {_describe_value(result)}, "
                                       f"expected None")
        if op.check_finite:
            for arg in op.written:
                value = values[arg.name]
                if value is not None and not self.handler.is_fully_finite(value):
                    raise HandlerContractError(f"{op.name}: output {arg.name} contains inf or "
                                               f"nan after the call (its inputs were finite)")

    def _check_kind(self, op, arg, value):
        where = f"{op.name}: {arg.name}"
        if value is None:
            if arg.optional or arg.kind == 'axis':
                return
            raise HandlerContractError(f"{where} is None, expected {ARG_KINDS[arg.kind]}")
        if arg.is_array:
            if not isinstance(value, self.array_type):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected a "
                                           f"{self.array_type.__name__} of the handler")
            if value.dtype != self.dtype:
                raise HandlerContractError(f"{where} has dtype {value.dtype}, expected the "
                                           f"handler's dtype {self.dtype}")
            rank = _RANKS.get(arg.kind)
            if rank is not None and value.ndim != rank:
                raise HandlerContractError(f"{where} has shape {_shape(value)}, expected a "
                                           f"{rank}D array ({ARG_KINDS[arg.kind]})")
            return
        if arg.kind == 's':
            if not _is_real(value):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected a "
                                           f"real number")
            if op.check_finite and not math.isfinite(value):
                raise HandlerContractError(f"{where} is {value}, expected a finite number")
        elif arg.kind == 'int':
            if not _is_int(value):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected an int")
        elif arg.kind == 'pair':
            if not (isinstance(value, (tuple, list)) and len(value) == 2
                    and all(_is_int(item) for item in value)):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected a "
                                           f"tuple of two ints")
        elif arg.kind == 'bool':
            if not isinstance(value, (bool, np.bool_)):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected True "
                                           f"or False")
        elif arg.kind == 'axis':
            if not _is_int(value):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected None "
                                           f"or an int")
        elif arg.kind == 'shape':
            if not (isinstance(value, (tuple, list))
                    and all(_is_int(item) and item >= 0 for item in value)):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected a "
                                           f"tuple of non-negative ints")
        elif arg.kind == 'numpy':
            if not isinstance(value, np.ndarray):
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected a "
                                           f"numpy.ndarray")
        elif arg.kind == 'activation':
            if value not in self.handler.act_func:
                raise HandlerContractError(f"{where} is {_describe_value(value)}, expected "
                                           f"{ARG_KINDS['activation']}")

    def _check_aliasing(self, op, values):
        arrays = [(arg, values[arg.name]) for arg in op.args
                  if arg.is_array and values[arg.name] is not None]
        for position, (written_arg, written) in enumerate(arrays):
            if not written_arg.is_written:
                continue
            for other_position, (other_arg, other) in enumerate(arrays):
                if other_position == position or not self._shares_memory(written, other):
                    continue
                if other_arg.is_written:
                    if other_position > position:  # report each pair of outputs once
                        raise HandlerContractError(
                            f"{op.name}: outputs {written_arg.name} and {other_arg.name} "
                            f"overlap in memory")
                    continue
                if other_arg.name not in op.may_alias:
                    raise HandlerContractError(
                        f"{op.name}: output {written_arg.name} overlaps input {other_arg.name} "
                        f"in memory; {op.name} needs them to be separate")
                if not self._same_view(written, other):
                    raise HandlerContractError(
                        f"{op.name}: output {written_arg.name} partially overlaps input "
                        f"{other_arg.name}; they must be separate or the very same view")


# -- shape rules ---------------------------------------------------------------

def _expect_shape(op, name, value, expected, reason):
    if value is not None and tuple(value.shape) != tuple(expected):
        raise HandlerContractError(f"{op.name}: {name} has shape {_shape(value)}, expected "
                                   f"{tuple(expected)} {reason}")


def _rule_none(handler, op, values):
    pass


def _rule_same(handler, op, values):
    arrays = [(arg.name, values[arg.name]) for arg in op.args
              if arg.is_array and values[arg.name] is not None]
    if not arrays:
        return
    first_name, first = arrays[0]
    for name, value in arrays[1:]:
        _expect_shape(op, name, value, first.shape, f"(the shape of {first_name})")


def _rule_numpy_same(handler, op, values):
    _expect_shape(op, 'arr', values['arr'], values['mem'].shape, "(the shape of mem)")


def _rule_numpy_out(handler, op, values):
    out = values['out']
    _expect_shape(op, 'out', out, values['mem'].shape, "(the shape of mem)")
    if out.dtype != handler.dtype:
        raise HandlerContractError(f"{op.name}: out has dtype {out.dtype}, expected the "
                                   f"handler's dtype {handler.dtype}")
    if not out.flags.c_contiguous:
        raise HandlerContractError(f"{op.name}: out must be C-contiguous")


def _rule_mv(handler, op, values):
    m, v = values['m'], values['v']
    rows, columns = m.shape
    allowed = [(1, columns), (rows, 1), (rows, columns)]
    if tuple(v.shape) not in allowed:
        raise HandlerContractError(f"{op.name}: v has shape {_shape(v)}, expected "
                                   f"{allowed[0]}, {allowed[1]} or {allowed[2]} to broadcast "
                                   f"against m of shape {_shape(m)}")
    _expect_shape(op, 'out', values['out'], m.shape, "(the shape of m)")


def _rule_dot(handler, op, values):
    a_shape = tuple(reversed(values['a'].shape)) if values['transa'] else tuple(values['a'].shape)
    b_shape = tuple(reversed(values['b'].shape)) if values['transb'] else tuple(values['b'].shape)
    described_a = "a.T" if values['transa'] else "a"
    described_b = "b.T" if values['transb'] else "b"
    if a_shape[1] != b_shape[0]:
        raise HandlerContractError(f"{op.name}: cannot multiply {described_a} of shape {a_shape} "
                                   f"with {described_b} of shape {b_shape}: {a_shape[1]} columns "
                                   f"against {b_shape[0]} rows")
    _expect_shape(op, 'out', values['out'], (a_shape[0], b_shape[1]),
                  f"for a {a_shape} @ {b_shape} product")


def _rule_sum(handler, op, values):
    a, axis, out = values['a'], values['axis'], values['out']
    if a.ndim not in (1, 2):
        raise HandlerContractError(f"{op.name}: a has shape {_shape(a)}; only 1D and 2D arrays "
                                   f"are supported")
    if axis is None:
        if math.prod(out.shape) != 1:
            raise HandlerContractError(f"{op.name}: out has shape {_shape(out)}, expected a "
                                       f"single element for a sum over all axes")
        return
    if not 0 <= axis < a.ndim:
        raise HandlerContractError(f"{op.name}: axis {axis} does not exist in a of shape "
                                   f"{_shape(a)}")
    kept = tuple(1 if index == axis else size for index, size in enumerate(a.shape))
    dropped = tuple(size for index, size in enumerate(a.shape) if index != axis)
    if tuple(out.shape) not in (kept, dropped):
        raise HandlerContractError(f"{op.name}: out has shape {_shape(out)}, expected {kept} or "
                                   f"{dropped} for a sum of a {_shape(a)} over axis {axis}")


def _rule_broadcast(handler, op, values):
    a, axis, out = values['a'], values['axis'], values['out']
    if not 0 <= axis < a.ndim:
        raise HandlerContractError(f"{op.name}: axis {axis} does not exist in a of shape "
                                   f"{_shape(a)}")
    if a.shape[axis] != 1:
        raise HandlerContractError(f"{op.name}: a has shape {_shape(a)}, expected size 1 along "
                                   f"axis {axis}")
    expected = tuple(out.shape[axis] if index == axis else size
                     for index, size in enumerate(a.shape))
    if out.ndim != a.ndim or tuple(out.shape) != expected:
        raise HandlerContractError(f"{op.name}: out has shape {_shape(out)}, expected a's shape "
                                   f"{_shape(a)} except along axis {axis}")


def _check_last_axis_parts(op, whole_name, whole, part_names, parts):
    first_name, first = part_names[0], parts[0]
    lead = tuple(first.shape[:-1])
    for name, value in zip(part_names[1:] + (whole_name,), parts[1:] + (whole,)):
        if value.ndim == 0 or tuple(value.shape[:-1]) != lead:
            raise HandlerContractError(f"{op.name}: {name} has shape {_shape(value)}, expected "
                                       f"leading dimensions {lead} like {first_name}")
    total = sum(part.shape[-1] for part in parts)
    if whole.shape[-1] != total:
        raise HandlerContractError(f"{op.name}: {whole_name} has shape {_shape(whole)}, expected "
                                   f"{lead + (total,)}: the last axis must hold "
                                   f"{' + '.join(str(part.shape[-1]) for part in parts)}")


def _rule_merge(handler, op, values):
    _check_last_axis_parts(op, 'out', values['out'], ('a', 'b'), (values['a'], values['b']))


def _rule_split(handler, op, values):
    _check_last_axis_parts(op, 'x', values['x'], ('out_a', 'out_b'),
                           (values['out_a'], values['out_b']))


def _check_indices(handler, op, v, count):
    indices = handler.handler.get_numpy_copy(v)
    if not np.all(np.isfinite(indices)) or not np.all(indices == np.round(indices)):
        raise HandlerContractError(f"{op.name}: v holds non-integer values, expected indices")
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        raise HandlerContractError(f"{op.name}: v holds indices from {indices.min():g} to "
                                   f"{indices.max():g}, expected them in [0, {count})")


def _rule_binarize(handler, op, values):
    v, out = values['v'], values['out']
    if v.shape[1] != 1:
        raise HandlerContractError(f"{op.name}: v has shape {_shape(v)}, expected a column "
                                   f"({v.shape[0]}, 1)")
    _expect_shape(op, 'out', out, (v.shape[0], out.shape[1]), "(one row per entry of v)")
    _check_indices(handler, op, v, out.shape[1])


def _rule_index(handler, op, values):
    m, v = values['m'], values['v']
    _expect_shape(op, 'v', v, (m.shape[0], 1), "(a column with one index per row of m)")
    _expect_shape(op, 'out', values['out'], (m.shape[0], 1), "(a column, one entry per row of m)")
    _check_indices(handler, op, v, m.shape[1])


def _check_geometry(op, values, window_shape):
    padding, stride = values['padding'], values['stride']
    if padding < 0 or min(stride) < 1 or min(window_shape) < 1:
        raise HandlerContractError(f"{op.name}: padding {padding}, stride {tuple(stride)} and "
                                   f"window {tuple(window_shape)} must be >= 0, >= 1, >= 1")
    inputs = values['inputs']
    heights = [(inputs.shape[axis] + 2 * padding - window_shape[axis - 1]) // stride[axis - 1] + 1
               for axis in (1, 2)]
    if min(heights) < 1:
        raise HandlerContractError(f"{op.name}: window {tuple(window_shape)} does not fit into "
                                   f"inputs of shape {_shape(inputs)} with padding {padding}")
    return heights


def _rule_conv2d(handler, op, values):
    inputs, weights = values['inputs'], values['weights']
    if weights.shape[3] != inputs.shape[3]:
        raise HandlerContractError(f"{op.name}: weights have shape {_shape(weights)}, expected "
                                   f"{inputs.shape[3]} input channels like inputs "
                                   f"{_shape(inputs)} (weights are (filters, kh, kw, channels))")
    height, width = _check_geometry(op, values, weights.shape[1:3])
    out_shape = (inputs.shape[0], height, width, weights.shape[0])
    reason = "for this convolution's geometry"
    _expect_shape(op, 'outputs', values.get('outputs'), out_shape, reason)
    _expect_shape(op, 'out_deltas', values.get('out_deltas'), out_shape, reason)
    _expect_shape(op, 'bias', values.get('bias'), weights.shape[:1], "(one per filter)")
    _expect_shape(op, 'bias_deltas', values.get('bias_deltas'), weights.shape[:1],
                  "(one per filter)")
    _expect_shape(op, 'in_deltas', values.get('in_deltas'), inputs.shape, "(the inputs' shape)")
    _expect_shape(op, 'weight_deltas', values.get('weight_deltas'), weights.shape,
                  "(the weights' shape)")


def _rule_pool2d(handler, op, values):
    inputs = values['inputs']
    height, width = _check_geometry(op, values, values['window'])
    out_shape = (inputs.shape[0], height, width, inputs.shape[3])
    reason = "for this pooling's geometry"
    for name in ('outputs', 'out_deltas', 'argmax'):
        _expect_shape(op, name, values.get(name), out_shape, reason)
    _expect_shape(op, 'in_deltas', values.get('in_deltas'), inputs.shape, "(the inputs' shape)")


def _rule_lstm_step(handler, op, values):
    cells = values['previous_cell'].shape
    if len(cells) != 2:
        return  # the kind check reports it
    wide = (cells[0], 4 * cells[1])
    for arg in op.args:
        if arg.kind == 'v':
            _expect_shape(op, arg.name, values[arg.name], (1, cells[1]),
                          "(one peephole weight per cell)")
        elif arg.name in ('recurrent', 'gate_deltas'):
            _expect_shape(op, arg.name, values[arg.name], wide,
                          "(the four gates side by side)")
        elif arg.kind == 'm':
            _expect_shape(op, arg.name, values[arg.name], cells, "(previous_cell's shape)")


_SHAPE_CHECKS = {
    'none': _rule_none, 'same': _rule_same, 'numpy_same': _rule_numpy_same,
    'numpy_out': _rule_numpy_out, 'mv': _rule_mv, 'dot': _rule_dot, 'sum': _rule_sum,
    'broadcast': _rule_broadcast, 'merge': _rule_merge,
    'split': _rule_split, 'binarize': _rule_binarize, 'index': _rule_index,
    'conv2d': _rule_conv2d, 'pool2d': _rule_pool2d, 'lstm_step': _rule_lstm_step,
}


# -- the generic wrapper ---------------------------------------------------------

def _checked_op(op):
    """Build the DebugHandler method for ``op``: bind, check, call, check."""
    parameters = [inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for arg in op.args:
        default = arg.default if arg.has_default else inspect.Parameter.empty
        parameters.append(inspect.Parameter(arg.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                            default=default))
    signature = inspect.Signature(parameters)

    def checked(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as error:
            raise HandlerContractError(f"{op.name}: {error}; expected "
                                       f"{op.name}{str(signature).replace('self, ', '')}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values['self']
        self._check_before(op, values)
        result = getattr(self.handler, op.name)(*values.values())
        self._check_after(op, values, result)
        return result

    checked.__name__ = checked.__qualname__ = op.name
    checked.__signature__ = signature
    checked.__doc__ = getattr(Handler, op.name).__doc__
    return checked


for _op in OPS.values():
    setattr(DebugHandler, _op.name, _checked_op(_op))
del _op
abc.update_abstractmethods(DebugHandler)


# -- small helpers -----------------------------------------------------------------

def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _shape(array):
    return tuple(int(size) for size in array.shape)


def _describe_value(value):
    if hasattr(value, 'shape') and hasattr(value, 'dtype'):
        return f"a {type(value).__name__} of shape {_shape(value)} and dtype {value.dtype}"
    return f"{value!r} (a {type(value).__name__})"
