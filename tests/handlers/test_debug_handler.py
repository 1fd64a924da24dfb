"""DebugHandler: each contract check fires, with a message that says what and where."""

import re

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import HandlerContractError
from brainstorm.handlers import DebugHandler, NumpyHandler


@pytest.fixture
def debug():
    return DebugHandler(NumpyHandler(np.float64))


def zeros(debug, *shape):
    return debug.handler.zeros(shape)


def values(debug, *shape):
    return debug.handler.create_from_numpy(np.random.default_rng(0).uniform(-1, 1, shape))


def ignoring_float_errors(function, *args):
    with np.errstate(all='ignore'):  # numpy would warn about the division by zero
        return function(*args)


# Each violation: (id, call(debug), exact message or regex fragment).
VIOLATIONS = [
    ('dot-out-shape',
     lambda d: d.dot_mm(zeros(d, 3, 2), zeros(d, 2, 5), zeros(d, 3, 4)),
     "dot_mm: out has shape (3, 4), expected (3, 5) for a (3, 2) @ (2, 5) product"),
    ('dot-transposed-out-shape',
     lambda d: d.dot_add_mm(zeros(d, 2, 3), zeros(d, 5, 2), zeros(d, 3, 4), transa=True,
                            transb=True),
     "dot_add_mm: out has shape (3, 4), expected (3, 5) for a (3, 2) @ (2, 5) product"),
    ('dot-inner-mismatch',
     lambda d: d.dot_mm(zeros(d, 3, 2), zeros(d, 4, 5), zeros(d, 3, 5)),
     "dot_mm: cannot multiply a of shape (3, 2) with b of shape (4, 5): 2 columns against "
     "4 rows"),
    ('elementwise-shape',
     lambda d: d.add_tt(zeros(d, 3, 4), zeros(d, 3, 4), zeros(d, 4, 3)),
     "add_tt: out has shape (4, 3), expected (3, 4) (the shape of a)"),
    ('matrix-rank',
     lambda d: d.softmax_m(zeros(d, 3, 4, 1), zeros(d, 3, 4, 1)),
     "softmax_m: m has shape (3, 4, 1), expected a 2D array"),
    ('mv-vector-shape',
     lambda d: d.add_mv(zeros(d, 3, 4), zeros(d, 1, 3), zeros(d, 3, 4)),
     "add_mv: v has shape (1, 3), expected (1, 4), (3, 1) or (3, 4) to broadcast against m "
     "of shape (3, 4)"),
    ('dtype',
     lambda d: d.add_tt(np.zeros((2, 2), np.float32), zeros(d, 2, 2), zeros(d, 2, 2)),
     "add_tt: a has dtype float32, expected the handler's dtype float64"),
    ('array-type',
     lambda d: d.abs_t([[1.0]], zeros(d, 1, 1)),
     "abs_t: a is [[1.0]] (a list), expected a ndarray of the handler"),
    ('scalar-type',
     lambda d: d.mult_st(zeros(d, 1), zeros(d, 2), zeros(d, 2)),
     "mult_st: s is a ndarray of shape (1,) and dtype float64, expected a real number"),
    ('scalar-finite',
     lambda d: d.fill(zeros(d, 2), float('nan')),
     "fill: val is nan, expected a finite number"),
    ('bool-flag',
     lambda d: d.dot_mm(zeros(d, 2, 2), zeros(d, 2, 2), zeros(d, 2, 2), transa=1),
     "dot_mm: transa is 1 (a int), expected True or False"),
    ('shape-argument',
     lambda d: d.zeros(5),
     "zeros: shape is 5 (a int), expected a tuple of non-negative ints"),
    ('missing-argument',
     lambda d: d.add_tt(zeros(d, 2), zeros(d, 2)),
     "add_tt: missing a required argument: 'out'"),
    ('none-argument',
     lambda d: d.sigmoid_deriv(zeros(d, 2), None, zeros(d, 2), zeros(d, 2)),
     "sigmoid_deriv: y is None, expected array"),
    ('out-overlaps-input',
     lambda d: (lambda a: d.dot_mm(a, a, a))(zeros(d, 2, 2)),
     "dot_mm: output out overlaps input a in memory; dot_mm needs them to be separate"),
    ('partial-overlap',
     lambda d: (lambda big: d.add_tt(big[:, :3], big[:, :3], big[:, 1:4]))(zeros(d, 2, 5)),
     "add_tt: output out partially overlaps input a; they must be separate or the very same "
     "view"),
    ('outputs-overlap',
     lambda d: (lambda big: d.split_add_tt(zeros(d, 2, 4), big[:, :2], big[:, 1:3]))(
         zeros(d, 2, 4)),
     "split_add_tt: outputs out_a and out_b overlap in memory"),
    ('condition-overlaps-output',
     lambda d: (lambda a: d.fill_if(a, 1.0, a))(zeros(d, 3)),
     "fill_if: output mem overlaps input cond in memory"),
    ('input-not-finite',
     lambda d: d.exp_t(d.handler.create_from_numpy(np.array([1.0, np.inf])), zeros(d, 2)),
     "exp_t: input a contains inf or nan before the call"),
    ('accumulated-output-not-finite',
     lambda d: d.mult_add_tt(zeros(d, 2), zeros(d, 2),
                             d.handler.create_from_numpy(np.array([np.nan, 0.0]))),
     "mult_add_tt: accumulated output out contains inf or nan before the call"),
    ('output-not-finite',
     lambda d: ignoring_float_errors(d.divide_tt, d.handler.ones((2,)), zeros(d, 2),
                                     zeros(d, 2)),
     "divide_tt: output out contains inf or nan after the call (its inputs were finite)"),
    ('sum-out-shape',
     lambda d: d.sum_t(zeros(d, 3, 4), 0, zeros(d, 3, 1)),
     "sum_t: out has shape (3, 1), expected (1, 4) or (4,) for a sum of a (3, 4) over axis 0"),
    ('sum-rank',
     lambda d: d.sum_t(zeros(d, 2, 3, 4), None, zeros(d, 1)),
     "sum_t: a has shape (2, 3, 4); only 1D and 2D arrays are supported"),
    ('sum-axis',
     lambda d: d.sum_t(zeros(d, 3), 1, zeros(d, 1)),
     "sum_t: axis 1 does not exist in a of shape (3,)"),
    ('broadcast-axis-size',
     lambda d: d.broadcast_t(zeros(d, 3, 2), 1, zeros(d, 3, 4)),
     "broadcast_t: a has shape (3, 2), expected size 1 along axis 1"),
    ('merge-width',
     lambda d: d.merge_tt(zeros(d, 3, 2), zeros(d, 3, 4), zeros(d, 3, 5)),
     "merge_tt: out has shape (3, 5), expected (3, 6): the last axis must hold 2 + 4"),
    ('split-leading-dims',
     lambda d: d.split_add_tt(zeros(d, 3, 4), zeros(d, 2, 2), zeros(d, 3, 2)),
     "split_add_tt: out_b has shape (3, 2), expected leading dimensions (2,) like out_a"),
    ('binarize-index-range',
     lambda d: d.binarize_v(d.handler.create_from_numpy(np.array([[0.0], [3.0]])),
                            zeros(d, 2, 3)),
     "binarize_v: v holds indices from 0 to 3, expected them in [0, 3)"),
    ('binarize-non-integer',
     lambda d: d.binarize_v(d.handler.create_from_numpy(np.array([[0.5]])), zeros(d, 1, 3)),
     "binarize_v: v holds non-integer values, expected indices"),
    ('index-v-shape',
     lambda d: d.index_m_by_v(zeros(d, 3, 4), zeros(d, 2, 1), zeros(d, 3, 1)),
     "index_m_by_v: v has shape (2, 1), expected (3, 1) (a column with one index per row of m)"),
    ('conv-output-shape',
     lambda d: d.conv2d_forward_batch(zeros(d, 2, 5, 5, 3), zeros(d, 4, 3, 3, 3), zeros(d, 4),
                                      zeros(d, 2, 5, 5, 4), 0, (1, 1)),
     "conv2d_forward_batch: outputs has shape (2, 5, 5, 4), expected (2, 3, 3, 4) for this "
     "convolution's geometry"),
    ('conv-channels',
     lambda d: d.conv2d_forward_batch(zeros(d, 2, 5, 5, 3), zeros(d, 4, 3, 3, 2), zeros(d, 4),
                                      zeros(d, 2, 3, 3, 4), 0, (1, 1)),
     "conv2d_forward_batch: weights have shape (4, 3, 3, 2), expected 3 input channels"),
    ('pool-argmax-shape',
     lambda d: d.maxpool2d_forward_batch(zeros(d, 1, 4, 4, 2), (2, 2), zeros(d, 1, 2, 2, 2), 0,
                                         (2, 2), zeros(d, 1, 4, 4, 2)),
     "maxpool2d_forward_batch: argmax has shape (1, 4, 4, 2), expected (1, 2, 2, 2) for this "
     "pooling's geometry"),
    ('lstm-step-wide-shape',
     lambda d: d.lstm_step_forward(zeros(d, 2, 3), *(zeros(d, 1, 3) for _ in range(3)),
                                   *(zeros(d, 2, 3) for _ in range(8))),
     "lstm_step_forward: recurrent has shape (2, 3), expected (2, 12) (the four gates side "
     "by side)"),
    ('lstm-step-peephole-shape',
     lambda d: d.lstm_step_backward(*(zeros(d, 2, 3) for _ in range(11)), zeros(d, 2, 3),
                                    zeros(d, 1, 3), zeros(d, 1, 3),
                                    *(zeros(d, 2, 3) for _ in range(5)), zeros(d, 2, 12)),
     "lstm_step_backward: peep_i has shape (2, 3), expected (1, 3) (one peephole weight per "
     "cell)"),
    ('lstm-step-activation',
     lambda d: d.lstm_step_forward(zeros(d, 2, 12), *(zeros(d, 1, 3) for _ in range(3)),
                                   *(zeros(d, 2, 3) for _ in range(8)), activation='relu'),
     "lstm_step_forward: activation is 'relu'"),
    ('pool-stride-type',
     lambda d: d.avgpool2d_forward_batch(zeros(d, 1, 4, 4, 2), (2, 2), zeros(d, 1, 2, 2, 2), 0,
                                         2),
     "avgpool2d_forward_batch: stride is 2 (a int), expected a tuple of two ints"),
]


@pytest.mark.parametrize('call, message', [pytest.param(call, message, id=violation_id)
                                           for violation_id, call, message in VIOLATIONS])
def test_contract_violation_is_reported_precisely(debug, call, message):
    with pytest.raises(HandlerContractError, match=re.escape(message)):
        call(debug)


def test_exact_in_place_call_is_allowed_where_the_table_allows_it(debug):
    a = values(debug, 3, 4)
    expected = 2 * debug.get_numpy_copy(a)
    debug.add_tt(a, a, a)
    np.testing.assert_allclose(debug.get_numpy_copy(a), expected)


def test_disjoint_slices_of_one_buffer_are_not_reported_as_overlapping(debug):
    # like an LSTM's gate buffer: interleaved column blocks of one (rows, 4 * size) array
    big = values(debug, 6, 8)
    expected = debug.get_numpy_copy(big)
    expected[:, 4:6] = expected[:, 0:2] + expected[:, 2:4]
    debug.add_tt(big[:, 0:2], big[:, 2:4], big[:, 4:6])
    np.testing.assert_allclose(debug.get_numpy_copy(big), expected)


def test_allocation_count_counts_allocating_ops_only(debug):
    a = debug.zeros((2, 3))
    debug.ones((2, 3))
    debug.allocate((1,))
    debug.create_from_numpy(np.zeros(3))
    assert debug.allocation_count == 4
    debug.add_tt(a, a, a)
    debug.sigmoid_deriv(None, a, a, debug.handler.zeros((2, 3)))
    debug.dot_add_mm(a, a, debug.handler.zeros((2, 2)), transb=True)
    debug.get_numpy_copy(a)
    assert debug.allocation_count == 4


def test_composite_ops_forward_to_the_wrapped_handler(debug):
    calls = []
    inner = debug.handler
    original = inner.dot_add_mm

    def spy(*args):
        calls.append(args)
        original(*args)
    inner.dot_add_mm = spy
    debug.dot_add_mm(values(debug, 2, 3), values(debug, 3, 2), zeros(debug, 2, 2))
    assert len(calls) == 1


def test_act_func_returns_checked_ops(debug):
    with pytest.raises(HandlerContractError, match="sigmoid: y has shape"):
        debug.act_func('sigmoid')(zeros(debug, 2, 2), zeros(debug, 2, 3))
    with pytest.raises(HandlerContractError, match="copy_to: dest has shape"):
        debug.act_func('linear')(zeros(debug, 2, 2), zeros(debug, 2, 3))
    with pytest.raises(HandlerContractError, match="copy_to: dest has shape"):
        debug.act_func_deriv('linear')(None, zeros(debug, 2), zeros(debug, 2), zeros(debug, 3))


def test_attributes_and_seed_are_the_wrapped_handlers(debug):
    inner = debug.handler
    assert debug.dtype == inner.dtype and debug.array_type is np.ndarray
    assert debug.context is None and debug.EMPTY.size == 0 and debug.rnd is inner.rnd
    debug.set_seed(11)
    assert inner.rnd.get_seed() == 11


def test_description_round_trip(debug):
    description = get_description(debug)
    assert description == {'@type': 'DebugHandler',
                           'handler': {'@type': 'NumpyHandler', 'dtype': 'float64'}}
    again = create_from_description(description)
    assert isinstance(again, DebugHandler) and again.handler.dtype == np.float64


def test_wrapping_something_that_is_not_a_handler_is_refused():
    with pytest.raises(HandlerContractError, match="expected a Handler to wrap, got a str"):
        DebugHandler('numpy')
