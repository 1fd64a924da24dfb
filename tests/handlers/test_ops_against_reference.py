"""Every handler op against a plain-numpy reference, on every available handler.

``OP_CASES`` maps each op of the op table (except conv and pool, tested in
``test_conv_ops.py``) to its cases. A ``Case`` gives the arguments (numpy
arrays for inputs, ``Out(shape)`` for overwritten outputs, which start as NaN so
that reading them shows, ``Same(name)`` for an output that is an input, scalars
as they are) and a reference computing what each written argument (or the
return value) must hold. Each case runs in the layout it names: contiguous,
strided (views cut from the middle of the last axis of a bigger buffer, which
must stay untouched around them) or transposed (``.T`` views of 2D arrays).
"""

import ast
import pathlib
from dataclasses import dataclass, field

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler
from brainstorm.handlers.base_handler import Handler
from brainstorm.handlers.op_table import OPS, ops_in_section


class Out:
    """An overwritten output argument of the given shape (starts as NaN)."""

    def __init__(self, shape):
        self.shape = tuple(shape)


class Same:
    """An argument that is the very same handler array as argument ``name``."""

    def __init__(self, name):
        self.name = name


@dataclass
class Case:
    """One call of an op with its reference.

    Attributes:
        id: readable id, e.g. ``'3x4-strided'``.
        args: argument name -> numpy array, ``Out``, ``Same`` or plain value.
        reference: ``reference(**float64 copies of the args)`` returns the
            expected value of the single written argument, or a dict
            written-name -> expected (``'return'`` for a return value).
        layout: ``'contiguous'``, ``'strided'`` or ``'transposed'``.
    """

    id: str
    args: dict
    reference: object
    layout: str = 'contiguous'


@dataclass
class CustomCase:
    """A case that checks a handler by itself (memory and random ops)."""

    id: str
    check: object
    layout: str = field(default='contiguous')


RNG = np.random.default_rng(1234)
SHAPES_2D = [(1, 1), (1, 5), (4, 1), (3, 4)]
SHAPES = SHAPES_2D + [(2, 3, 4)]


def shape_id(shape):
    return 'x'.join(str(size) for size in shape)


def values(shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def nonzero(shape):
    return RNG.uniform(0.5, 2.0, size=shape) * RNG.choice([-1.0, 1.0], size=shape)


def condition(shape):
    """Mostly zeros and ones, plus other non-zero values that count as true."""
    return RNG.choice([0.0, 1.0, 0.0, -2.5, 3.0], size=shape)


def variants(op_name, shapes, make_args, reference):
    """Cases for each shape, contiguous; plus strided, transposed and aliasing ones.

    ``make_args(shape)`` returns the argument dict; the aliasing cases replace
    the written argument by each input the op table allows it to be.
    """
    op = OPS[op_name]
    cases = []
    for shape in shapes:
        base = shape_id(shape)
        cases.append(Case(base, make_args(shape), reference))
        cases.append(Case(f'{base}-strided', make_args(shape), reference, 'strided'))
        if len(shape) == 2:
            cases.append(Case(f'{base}-transposed', make_args(shape), reference, 'transposed'))
    shape = shapes[-1]
    written = op.written
    for name in op.may_alias:
        args = make_args(shape)
        if written[0].effect == 'accumulate':
            args[name] = args[written[0].name]
        args[written[0].name] = Same(name)
        cases.append(Case(f'{shape_id(shape)}-{written[0].name}-is-{name}', args, reference))
        cases.append(Case(f'{shape_id(shape)}-{written[0].name}-is-{name}-strided', args,
                          reference, 'strided'))
    return cases


def unary_cases(op_name, function, make_input=values):
    return variants(op_name, SHAPES, lambda shape: {'a': make_input(shape), 'out': Out(shape)},
                    lambda a, out: function(a))


def binary_cases(op_name, function, make_second=values):
    return variants(op_name, SHAPES,
                    lambda shape: {'a': values(shape), 'b': make_second(shape), 'out': Out(shape)},
                    lambda a, b, out: function(a, b))


def scalar_cases(op_name, function, accumulate=False):
    def make_args(shape):
        return {'s': 0.7, 't': values(shape), 'out': values(shape) if accumulate else Out(shape)}
    return variants(op_name, SHAPES, make_args, lambda s, t, out: function(s, t, out))


def matrix_vector_cases(op_name, function, make_vector=values, accumulate=False):
    cases = []
    for kind, vector_shape in (('row', lambda m, n: (1, n)), ('column', lambda m, n: (m, 1)),
                               ('full', lambda m, n: (m, n))):
        def make_args(shape, vector_shape=vector_shape):
            return {'m': values(shape), 'v': make_vector(vector_shape(*shape)),
                    'out': values(shape) if accumulate else Out(shape)}
        for case in variants(op_name, SHAPES_2D, make_args,
                             lambda m, v, out: function(m, v, out)):
            case.id = f'{case.id}-{kind}'
            cases.append(case)
    return cases


def dot_cases(op_name, accumulate):
    cases = []
    for m, k, n in [(1, 1, 1), (3, 1, 4), (4, 3, 1), (3, 2, 5)]:
        for transa in (False, True):
            for transb in (False, True):
                def make_args(shape, m=m, k=k, n=n, transa=transa, transb=transb):
                    return {'a': values((k, m) if transa else (m, k)),
                            'b': values((n, k) if transb else (k, n)),
                            'out': values((m, n)) if accumulate else Out((m, n)),
                            'transa': transa, 'transb': transb}

                def reference(a, b, out, transa, transb):
                    product = (a.T if transa else a) @ (b.T if transb else b)
                    return out + product if accumulate else product
                flags = f"{'T' if transa else 'N'}{'T' if transb else 'N'}"
                for case in variants(op_name, [(m, n)], make_args, reference):
                    case.id = f'{m}x{k}x{n}-{flags}-{case.id.split("-", 1)[-1]}'
                    cases.append(case)
    return cases


def class_indices(rows, count):
    return RNG.integers(0, count, size=(rows, 1)).astype(float)


def sum_cases(op_name, accumulate):
    cases = []
    plans = [((5,), None, (1,)), ((5,), 0, (1,)), ((3, 4), None, (1, 1)),
             ((3, 4), 0, (1, 4)), ((3, 4), 0, (4,)), ((3, 4), 1, (3, 1)), ((3, 4), 1, (3,)),
             ((1, 1), 0, (1, 1))]
    for in_shape, axis, out_shape in plans:
        def make_args(shape, in_shape=in_shape, axis=axis, out_shape=out_shape):
            return {'a': values(in_shape), 'axis': axis,
                    'out': values(out_shape) if accumulate else Out(out_shape)}

        def reference(a, axis, out):
            total = np.sum(a, axis=axis).reshape(out.shape)
            return out + total if accumulate else total
        for layout in ('contiguous', 'strided'):
            cases.append(Case(f'{shape_id(in_shape)}-axis{axis}-to-{shape_id(out_shape)}-{layout}',
                              make_args(None), reference, layout))
    return cases


def activation_cases(op_name, function):
    return variants(op_name, SHAPES, lambda shape: {'x': values(shape, -6, 6), 'y': Out(shape)},
                    lambda x, y: function(x))


def derivative_cases(op_name, function, slope):
    def make_args(shape):
        x = values(shape, -3, 3)
        return {'x': x, 'y': function(x), 'dy': values(shape), 'dx': Out(shape)}

    def make_args_without_x(shape):
        args = make_args(shape)
        args['x'] = None
        return args
    reference = lambda x, y, dy, dx: dy * slope(y)  # noqa: E731
    cases = variants(op_name, SHAPES, make_args, reference)
    cases.append(Case('3x4-x-is-None', make_args_without_x((3, 4)), reference))
    return cases


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def el(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


# -- the fused LSTM steps ---------------------------------------------------------------

#: activation name -> (function, slope from the function's output)
ACTIVATIONS = {
    'linear': (lambda x: x, lambda y: np.ones_like(y)),
    'rel': (lambda x: np.maximum(x, 0.0), lambda y: (y > 0).astype(float)),
    'sigmoid': (sigmoid, lambda y: y * (1.0 - y)),
    'tanh': (np.tanh, lambda y: 1.0 - y * y),
    'el': (el, lambda y: np.where(y > 0, 1.0, y + 1.0)),
}

#: (B, N): one unit; a few; more cells than one vector register holds, and not a multiple
LSTM_SHAPES = [(1, 1), (3, 4), (2, 37)]


def gates_side_by_side(*gates):
    return np.concatenate(gates, axis=1)


def lstm_step_forward_reference(recurrent, peep_i, peep_f, peep_o, previous_cell, z, i, f, o,
                                cell, cell_output, out, activation):
    act = ACTIVATIONS[activation][0]
    recurrent_z, recurrent_i, recurrent_f, recurrent_o = np.split(recurrent, 4, axis=1)
    z = act(z + recurrent_z)
    i = sigmoid(i + recurrent_i + peep_i * previous_cell)
    f = sigmoid(f + recurrent_f + peep_f * previous_cell)
    cell = z * i + f * previous_cell
    o = sigmoid(o + recurrent_o + peep_o * cell)
    cell_output = act(cell)
    return {'z': z, 'i': i, 'f': f, 'o': o, 'cell': cell, 'cell_output': cell_output,
            'out': o * cell_output}


def lstm_step_backward_reference(deltas, z, i, f, o, cell_output, previous_cell,
                                 next_cell_deltas, next_f, next_i_deltas, next_f_deltas, peep_i,
                                 peep_f, peep_o, z_deltas, i_deltas, f_deltas, o_deltas,
                                 cell_deltas, gate_deltas, activation):
    slope = ACTIVATIONS[activation][1]
    o_deltas = deltas * cell_output * o * (1.0 - o)
    cell_deltas = (deltas * o * slope(cell_output) + o_deltas * peep_o
                   + next_cell_deltas * next_f + next_i_deltas * peep_i
                   + next_f_deltas * peep_f)
    z_deltas = cell_deltas * i * slope(z)
    i_deltas = cell_deltas * z * i * (1.0 - i)
    f_deltas = cell_deltas * previous_cell * f * (1.0 - f)
    return {'z_deltas': z_deltas, 'i_deltas': i_deltas, 'f_deltas': f_deltas,
            'o_deltas': o_deltas, 'cell_deltas': cell_deltas,
            'gate_deltas': gates_side_by_side(z_deltas, i_deltas, f_deltas, o_deltas)}


def lstm_step_forward_args(shape, activation):
    batch, size = shape
    args = {'recurrent': values((batch, 4 * size)), 'previous_cell': values(shape),
            'activation': activation}
    args.update({name: values((1, size)) for name in ('peep_i', 'peep_f', 'peep_o')})
    args.update({name: values(shape, -3, 3) for name in 'zifo'})
    args.update({name: Out(shape) for name in ('cell', 'cell_output', 'out')})
    return args


def lstm_step_backward_args(shape, activation):
    batch, size = shape
    # activations: values every activation can output (sigmoid gates in (0, 1))
    args = {name: values(shape, 0.05, 0.95) for name in ('z', 'i', 'f', 'o', 'cell_output',
                                                          'next_f')}
    args.update({name: values(shape) for name in ('deltas', 'previous_cell', 'next_cell_deltas',
                                                  'next_i_deltas', 'next_f_deltas')})
    args.update({name: values((1, size)) for name in ('peep_i', 'peep_f', 'peep_o')})
    args.update({name: Out(shape) for name in ('z_deltas', 'i_deltas', 'f_deltas', 'o_deltas',
                                               'cell_deltas')})
    args.update(gate_deltas=Out((batch, 4 * size)), activation=activation)
    return args


def lstm_step_cases(op_name, make_args, reference):
    """Each shape with each activation, contiguous (where the compiled kernels serve
    float32 tanh) and strided (where numpy does)."""
    return [Case(f'{shape_id(shape)}-{activation}-{layout}', make_args(shape, activation),
                 reference, layout)
            for shape in LSTM_SHAPES for activation in ACTIVATIONS
            for layout in ('contiguous', 'strided')]


# -- memory, random and debug ops: checked by themselves -----------------------------

def check_allocating(handler, op_name, expected_fill):
    for shape in [(3, 4), (1,), (2, 3, 1)]:
        array = getattr(handler, op_name)(shape)
        assert isinstance(array, handler.array_type)
        assert tuple(array.shape) == shape and array.dtype == handler.dtype
        if expected_fill is not None:
            np.testing.assert_array_equal(handler.get_numpy_copy(array),
                                          np.full(shape, expected_fill))


def check_create_from_numpy(handler):
    for source in [values((3, 4)).astype(np.float32), np.arange(6).reshape(2, 3),
                   values((5, 6))[:, 1:3]]:
        array = handler.create_from_numpy(source)
        assert array.dtype == handler.dtype and tuple(array.shape) == source.shape
        np.testing.assert_allclose(handler.get_numpy_copy(array), source, rtol=1e-6)
        source += 1  # the new array must not share the source's memory
        assert not np.allclose(handler.get_numpy_copy(array), source)


def check_get_numpy_copy(handler):
    data = values((3, 6))
    array = handler.create_from_numpy(data)
    copy = handler.get_numpy_copy(array)
    assert isinstance(copy, np.ndarray)
    np.testing.assert_allclose(copy, data, rtol=1e-6)
    copy[:] = 0
    np.testing.assert_allclose(handler.get_numpy_copy(array), data, rtol=1e-6)


def check_allocate_host(handler):
    for shape in [(3, 4), (1,), (0,), (2, 3, 1)]:
        host = handler.allocate_host(shape)
        assert isinstance(host, np.ndarray) and host.flags.c_contiguous
        assert host.shape == shape and host.dtype == handler.dtype
        host[...] = 1.5  # writable host memory
    first, second = handler.allocate_host((2, 2)), handler.allocate_host((2, 2))
    assert not np.shares_memory(first, second)


def check_copy_to_numpy(handler):
    """Copies into the given array itself, from contiguous and strided views."""
    data = values((3, 8))
    array = handler.create_from_numpy(data)
    for view, expected in [(array, data), (array[:, 2:6], data[:, 2:6]),
                           (array[1:2], data[1:2])]:
        out = handler.allocate_host(tuple(view.shape))
        out[...] = np.nan
        address = out.ctypes.data
        assert handler.copy_to_numpy(view, out) is None
        assert out.ctypes.data == address
        np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(handler.get_numpy_copy(array), data, rtol=1e-6)  # source kept


def check_copy_to_numpy_refuses_what_it_would_convert(handler):
    """Debug and GPU handlers refuse an out that a copy could only fill through a temporary."""
    from brainstorm.errors import HandlerContractError
    from brainstorm.handlers import NumpyHandler
    if type(handler) is NumpyHandler:  # numpy copies into anything; the contract is checked
        return                          # by DebugHandler (and the GPU handler itself)
    array = handler.create_from_numpy(values((3, 4)))
    other = np.float64 if handler.dtype == np.float32 else np.float32
    for out in [np.empty((3, 4), dtype=other), np.empty((4, 3), dtype=handler.dtype).T,
                np.empty((3, 5), dtype=handler.dtype)]:
        with pytest.raises(HandlerContractError):
            handler.copy_to_numpy(array, out)


def check_set_from_numpy(handler):
    for data in [values((3, 4)), np.arange(12).reshape(3, 4)]:
        array = handler.zeros((3, 4))
        handler.set_from_numpy(array, data)
        np.testing.assert_allclose(handler.get_numpy_copy(array), data, rtol=1e-6)


def check_set_from_numpy_strided(handler):
    big = handler.zeros((3, 8))
    data = values((3, 4))
    handler.set_from_numpy(big[:, 2:6], data)
    expected = np.zeros((3, 8))
    expected[:, 2:6] = data
    np.testing.assert_allclose(handler.get_numpy_copy(big), expected, rtol=1e-6)


def check_fill_gaussian(handler):
    out = handler.zeros((200, 100))
    handler.set_seed(7)
    handler.fill_gaussian(1.5, 0.5, out)
    first = handler.get_numpy_copy(out)
    assert abs(first.mean() - 1.5) < 0.02 and abs(first.std() - 0.5) < 0.02
    handler.set_seed(7)
    handler.fill_gaussian(1.5, 0.5, out)
    np.testing.assert_array_equal(handler.get_numpy_copy(out), first)


def check_fill_gaussian_strided(handler):
    big = handler.zeros((50, 12))
    handler.fill_gaussian(-3.0, 2.0, big[:, 4:8])
    result = handler.get_numpy_copy(big)
    assert np.all(result[:, :4] == 0) and np.all(result[:, 8:] == 0)
    assert abs(result[:, 4:8].mean() + 3.0) < 0.5 and np.all(result[:, 4:8] != 0)


def check_probability_mask(handler):
    for probability in (0.0, 0.3, 1.0):
        mask = handler.zeros((300, 100))
        handler.set_seed(3)
        handler.generate_probability_mask(mask, probability)
        result = handler.get_numpy_copy(mask)
        assert set(np.unique(result)) <= {0.0, 1.0}
        assert abs(result.mean() - probability) < 0.01
        handler.set_seed(3)
        handler.generate_probability_mask(mask, probability)
        np.testing.assert_array_equal(handler.get_numpy_copy(mask), result)


def check_probability_mask_strided(handler):
    big = handler.ones((100, 9))
    handler.mult_st(7.0, big, big)
    handler.generate_probability_mask(big[:, 3:6], 0.5)
    result = handler.get_numpy_copy(big)
    assert np.all(result[:, :3] == 7) and np.all(result[:, 6:] == 7)
    assert set(np.unique(result[:, 3:6])) == {0.0, 1.0}


def finite_case(data, name):
    return Case(name, {'a': data}, lambda a: {'return': bool(np.all(np.isfinite(a)))})


def check_finite_view_of_infinite_buffer(handler):
    big = handler.create_from_numpy(np.array([[np.inf, 1.0, 2.0, np.nan]] * 3))
    assert handler.is_fully_finite(big[:, 1:3]) is True
    assert handler.is_fully_finite(big) is False


OP_CASES = {
    'allocate': [CustomCase('shapes', lambda h: check_allocating(h, 'allocate', None))],
    'zeros': [CustomCase('shapes', lambda h: check_allocating(h, 'zeros', 0.0))],
    'ones': [CustomCase('shapes', lambda h: check_allocating(h, 'ones', 1.0))],
    'create_from_numpy': [CustomCase('dtypes-and-views', check_create_from_numpy)],
    'get_numpy_copy': [CustomCase('is-a-copy', check_get_numpy_copy)] + [
        Case(f'{shape_id(shape)}', {'mem': values(shape)}, lambda mem: {'return': mem}, layout)
        for shape in SHAPES for layout in ('contiguous', 'strided')],
    'allocate_host': [CustomCase('shapes', check_allocate_host)],
    'copy_to_numpy': [CustomCase('in-place', check_copy_to_numpy),
                      CustomCase('refuses-conversion',
                                 check_copy_to_numpy_refuses_what_it_would_convert)],
    'set_from_numpy': [CustomCase('dtypes', check_set_from_numpy),
                       CustomCase('strided', check_set_from_numpy_strided, 'strided')],
    'copy_to': variants('copy_to', SHAPES, lambda shape: {'src': values(shape), 'dest': Out(shape)},
                        lambda src, dest: src),
    'copy_to_if': variants('copy_to_if', SHAPES,
                           lambda shape: {'src': values(shape), 'dest': values(shape),
                                          'cond': condition(shape)},
                           lambda src, dest, cond: np.where(cond != 0, src, dest)),
    'fill': variants('fill', SHAPES, lambda shape: {'mem': Out(shape), 'val': -1.25},
                     lambda mem, val: np.full(mem.shape, val)),
    'fill_if': variants('fill_if', SHAPES,
                        lambda shape: {'mem': values(shape), 'val': 4.5, 'cond': condition(shape)},
                        lambda mem, val, cond: np.where(cond != 0, val, mem)),
    'abs_t': unary_cases('abs_t', np.abs),
    'add_st': scalar_cases('add_st', lambda s, t, out: s + t),
    'add_tt': binary_cases('add_tt', np.add),
    'add_into_if': variants('add_into_if', SHAPES,
                            lambda shape: {'a': values(shape), 'out': values(shape),
                                           'cond': condition(shape)},
                            lambda a, out, cond: out + np.where(cond != 0, a, 0)),
    'subtract_tt': binary_cases('subtract_tt', np.subtract),
    'mult_st': scalar_cases('mult_st', lambda s, t, out: s * t),
    'mult_tt': binary_cases('mult_tt', np.multiply),
    'mult_add_st': scalar_cases('mult_add_st', lambda s, t, out: out + s * t, accumulate=True),
    'mult_add_tt': variants('mult_add_tt', SHAPES,
                            lambda shape: {'a': values(shape), 'b': values(shape),
                                           'out': values(shape)},
                            lambda a, b, out: out + a * b),
    'divide_tt': binary_cases('divide_tt', np.divide, make_second=nonzero),
    'modulo_tt': binary_cases('modulo_tt', np.remainder, make_second=nonzero),
    'sqrt_t': unary_cases('sqrt_t', np.sqrt, lambda shape: values(shape, 0.0, 4.0)),
    'log_t': unary_cases('log_t', np.log, lambda shape: values(shape, 0.1, 4.0)),
    'exp_t': unary_cases('exp_t', np.exp),
    'sign_t': unary_cases('sign_t', np.sign, lambda shape: RNG.choice([-1.5, 0.0, 2.0], shape)),
    'clip_t': variants('clip_t', SHAPES,
                       lambda shape: {'a': values(shape), 'a_min': -0.5, 'a_max': 1.0,
                                      'out': Out(shape)},
                       lambda a, a_min, a_max, out: np.clip(a, a_min, a_max)),
    'add_mv': matrix_vector_cases('add_mv', lambda m, v, out: m + v),
    'subtract_mv': matrix_vector_cases('subtract_mv', lambda m, v, out: m - v),
    'mult_mv': matrix_vector_cases('mult_mv', lambda m, v, out: m * v),
    'mult_add_mv': matrix_vector_cases('mult_add_mv', lambda m, v, out: out + m * v,
                                       accumulate=True),
    'divide_mv': matrix_vector_cases('divide_mv', lambda m, v, out: m / v, make_vector=nonzero),
    'dot_mm': dot_cases('dot_mm', accumulate=False),
    'dot_add_mm': dot_cases('dot_add_mm', accumulate=True),
    'binarize_v': variants('binarize_v', [(1, 1), (5, 3), (4, 1)],
                           lambda shape: {'v': class_indices(shape[0], shape[1]),
                                          'out': Out(shape)},
                           lambda v, out: (v == np.arange(out.shape[1])).astype(float)),
    'index_m_by_v': variants('index_m_by_v', [(1, 1), (5, 3), (4, 1)],
                             lambda shape: {'m': values(shape),
                                            'v': class_indices(shape[0], shape[1]),
                                            'out': Out((shape[0], 1))},
                             lambda m, v, out: np.take_along_axis(m, v.astype(int), axis=1)),
    'softmax_m': variants('softmax_m', SHAPES_2D,
                          lambda shape: {'m': values(shape, 500.0, 520.0), 'out': Out(shape)},
                          lambda m, out: np.exp(m - m.max(axis=1, keepdims=True)) /
                          np.exp(m - m.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)),
    'merge_tt': [case for shape_a, width_b in [((3, 2), 4), ((1, 1), 1), ((2, 3, 2), 3)]
                 for case in variants(
                     'merge_tt', [shape_a],
                     lambda shape, width_b=width_b: {
                         'a': values(shape), 'b': values(shape[:-1] + (width_b,)),
                         'out': Out(shape[:-1] + (shape[-1] + width_b,))},
                     lambda a, b, out: np.concatenate([a, b], axis=-1))],
    'split_add_tt': [case for shape_x, width_a in [((3, 6), 2), ((1, 2), 1), ((2, 3, 5), 3)]
                     for case in variants(
                         'split_add_tt', [shape_x],
                         lambda shape, width_a=width_a: {
                             'x': values(shape), 'out_a': values(shape[:-1] + (width_a,)),
                             'out_b': values(shape[:-1] + (shape[-1] - width_a,))},
                         lambda x, out_a, out_b: {
                             'out_a': out_a + x[..., :out_a.shape[-1]],
                             'out_b': out_b + x[..., out_a.shape[-1]:]})],
    'sum_t': sum_cases('sum_t', accumulate=False),
    'sum_add_t': sum_cases('sum_add_t', accumulate=True),
    'broadcast_t': [case for in_shape, axis, size in [((3, 1), 1, 4), ((1, 4), 0, 3),
                                                      ((2, 3, 1), 2, 5), ((1, 1), 1, 1)]
                    for case in variants(
                        'broadcast_t', [in_shape],
                        lambda shape, axis=axis, size=size: {
                            'a': values(shape), 'axis': axis,
                            'out': Out(tuple(size if index == axis else extent
                                             for index, extent in enumerate(shape)))},
                        lambda a, axis, out: np.broadcast_to(a, out.shape))],
    'sigmoid': activation_cases('sigmoid', sigmoid) + [
        Case('extreme-inputs', {'x': np.array([[-800.0, -50.0, 0.0, 50.0, 800.0]]),
                                'y': Out((1, 5))},
             lambda x, y: np.array([[0.0, sigmoid(-50.0), 0.5, sigmoid(50.0), 1.0]]))],
    'sigmoid_deriv': derivative_cases('sigmoid_deriv', sigmoid, lambda y: y * (1 - y)),
    'tanh': activation_cases('tanh', np.tanh),
    'tanh_deriv': derivative_cases('tanh_deriv', np.tanh, lambda y: 1 - y ** 2),
    'rel': activation_cases('rel', lambda x: np.maximum(x, 0)),
    'rel_deriv': derivative_cases('rel_deriv', lambda x: np.maximum(x, 0),
                                  lambda y: (y > 0).astype(float)),
    'el': activation_cases('el', el) + [
        Case('extreme-inputs', {'x': np.array([[-800.0, -1.0, 0.0, 1.0, 700.0]]),
                                'y': Out((1, 5))},
             lambda x, y: np.array([[-1.0, np.expm1(-1.0), 0.0, 1.0, 700.0]]))],
    'el_deriv': derivative_cases('el_deriv', el, lambda y: np.where(y > 0, 1.0, y + 1)),
    'fill_gaussian': [CustomCase('statistics-and-seed', check_fill_gaussian),
                      CustomCase('strided', check_fill_gaussian_strided, 'strided')],
    'generate_probability_mask': [CustomCase('statistics-and-seed', check_probability_mask),
                                  CustomCase('strided', check_probability_mask_strided,
                                             'strided')],
    'lstm_step_forward': lstm_step_cases('lstm_step_forward', lstm_step_forward_args,
                                         lstm_step_forward_reference),
    'lstm_step_backward': lstm_step_cases('lstm_step_backward', lstm_step_backward_args,
                                          lstm_step_backward_reference),
    'is_fully_finite': [
        finite_case(values((3, 4)), 'finite'),
        finite_case(np.array([[1.0, np.nan]]), 'nan'),
        finite_case(np.array([[1.0], [-np.inf]]), 'minus-inf'),
        finite_case(np.array([np.inf]), 'inf-1d'),
        CustomCase('view-of-infinite-buffer', check_finite_view_of_infinite_buffer, 'strided')],
}


# -- running a case --------------------------------------------------------------------

def place(handler, data, layout):
    """Put ``data`` into a new handler array laid out as asked.

    Returns:
        (view, container): the array to pass, and for strided layouts
        ``(big, big_initial, region)`` to check that nothing around the view changed.
    """
    if layout == 'transposed' and data.ndim == 2:
        return handler.create_from_numpy(np.ascontiguousarray(data.T)).T, None
    if layout != 'strided' or data.ndim == 0:
        return handler.create_from_numpy(data), None
    if data.ndim == 1:
        big_initial = values((2 * data.shape[0],)).astype(handler.dtype)
        region = (slice(None, None, 2),)
        big_initial[region] = data
        big = handler.create_from_numpy(big_initial)
        return big[region], (big, big_initial, region)
    # like a layer's view: a slice along the last axis of a (1, rows, wide) buffer seen as 2D
    width = data.shape[-1]
    big_initial = values(data.shape[:-1] + (width + 5,)).astype(handler.dtype)
    region = (Ellipsis, slice(2, 2 + width))
    big_initial[region] = data
    big = handler.create_from_numpy(big_initial[np.newaxis])
    big = big.reshape(big_initial.shape)
    return big[region], (big, big_initial, region)


def tolerances(handler):
    if handler.dtype == np.float64:
        return {'rtol': 1e-10, 'atol': 1e-12}
    return {'rtol': 2e-4, 'atol': 2e-5}


def run_case(handler, op_name, case):
    if case.layout != 'contiguous' and not handler.supports_strided_views:
        pytest.skip(f"{type(handler).__name__} does not support {case.layout} views")
    if isinstance(case, CustomCase):
        case.check(handler)
        return
    op = OPS[op_name]
    handler_args, reference_args, containers = {}, {}, []
    for arg in op.args:
        value = case.args.get(arg.name)
        if isinstance(value, Same):
            continue
        if arg.kind == 'numpy':
            handler_args[arg.name] = value
            reference_args[arg.name] = np.array(value, dtype=np.float64)
        elif arg.is_array and value is not None:
            initial = np.full(value.shape, np.nan) if isinstance(value, Out) else value
            initial = np.asarray(initial, dtype=handler.dtype)
            handler_args[arg.name], container = place(handler, initial, case.layout)
            reference_args[arg.name] = initial.astype(np.float64)
            if container is not None:
                containers.append(container)
        else:
            handler_args[arg.name] = value
            reference_args[arg.name] = value
    for arg in op.args:
        value = case.args.get(arg.name)
        if isinstance(value, Same):
            handler_args[arg.name] = handler_args[value.name]
            reference_args[arg.name] = reference_args[value.name].copy()

    expected = case.reference(**{name: (value.copy() if isinstance(value, np.ndarray) else value)
                                 for name, value in reference_args.items()})
    if not isinstance(expected, dict):
        expected = {op.written[0].name: expected}
    result = getattr(handler, op_name)(*[handler_args[arg.name] for arg in op.args])

    tolerance = tolerances(handler)
    if 'return' in expected:
        if op.returns == 'bool':
            assert result is expected['return'] or result == expected['return']
            assert isinstance(result, (bool, np.bool_))
        else:
            np.testing.assert_allclose(np.asarray(result, dtype=np.float64), expected['return'],
                                       **tolerance)
    else:
        assert result is None, f"{op_name} returned {result!r}, expected None"
    for arg in op.written:
        actual = handler.get_numpy_copy(handler_args[arg.name]).astype(np.float64)
        np.testing.assert_allclose(actual, np.asarray(expected[arg.name], dtype=np.float64),
                                   err_msg=f"{op_name}: {arg.name} ({case.id})", **tolerance)
    for big, big_initial, region in containers:
        after = handler.get_numpy_copy(big)
        after[region] = big_initial[region]
        np.testing.assert_array_equal(after, big_initial,
                                      err_msg=f"{op_name} wrote outside the view ({case.id})")


def _op_case_params():
    return [pytest.param(op_name, case, id=f'{op_name}-{case.id}')
            for op_name, cases in OP_CASES.items() for case in cases]


@pytest.mark.parametrize('op_name, case', _op_case_params())
def test_op_matches_reference(handler, op_name, case):
    run_case(handler, op_name, case)


# -- the Handler's own composites, on primitives only ----------------------------------

COMPOSITE_OPS = [op.name for op in OPS.values() if op.tier == 'composite']


class _PrimitiveComposites(NumpyHandler):
    """NumpyHandler with every composite restored to Handler's primitive-based one."""


for _name in COMPOSITE_OPS:
    setattr(_PrimitiveComposites, _name, getattr(Handler, _name))


@pytest.mark.parametrize('op_name, case', [
    pytest.param(op_name, case, id=f'{op_name}-{case.id}')
    for op_name in COMPOSITE_OPS for case in OP_CASES[op_name]])
def test_base_composite_matches_reference(op_name, case):
    run_case(_PrimitiveComposites(np.float64), op_name, case)


# -- coverage -----------------------------------------------------------------------------

def conv_ops_tested_elsewhere():
    """The conv and pool ops, read from ``test_conv_ops.py``'s CONV_OPS if that file exists."""
    conv_test = pathlib.Path(__file__).with_name('test_conv_ops.py')
    if conv_test.exists():
        for node in ast.parse(conv_test.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                    getattr(target, 'id', None) == 'CONV_OPS' for target in node.targets):
                return set(ast.literal_eval(node.value))
    return {op.name for op in ops_in_section('conv')}


def test_every_op_has_cases():
    expected = set(OPS) - conv_ops_tested_elsewhere()
    assert set(OP_CASES) == expected, (
        f"ops without cases: {sorted(expected - set(OP_CASES))}; "
        f"cases for unknown ops: {sorted(set(OP_CASES) - expected)}")
    assert all(OP_CASES[name] for name in OP_CASES)


def test_conv_ops_are_covered_by_test_conv_ops():
    assert conv_ops_tested_elsewhere() == {op.name for op in ops_in_section('conv')}

