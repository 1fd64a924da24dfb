"""Handler base class: scratch cache, activation dispatch, descriptions, lazy imports."""

import subprocess
import sys

import numpy as np
import pytest

from brainstorm.describable import create_from_description, get_description
from brainstorm.errors import ValidationError
from brainstorm.handlers import DebugHandler, NumpyHandler, default_handler
from brainstorm.handlers.base_handler import ACTIVATION_FUNCTIONS, Handler


def test_scratch_reuses_memory_for_a_key():
    handler = NumpyHandler(np.float64)
    first = handler._scratch('test', (3, 4))
    assert first.shape == (3, 4) and first.dtype == np.float64 and first.flags.c_contiguous
    assert handler._scratch('test', (3, 4)) is first
    smaller = handler._scratch('test', (2, 2))
    assert np.shares_memory(smaller, first)
    assert handler.scratch_allocation_count == 1


def test_scratch_grows_when_a_larger_shape_is_asked_for():
    handler = NumpyHandler(np.float64)
    handler._scratch('test', (2, 2))
    larger = handler._scratch('test', (5, 5))
    assert larger.shape == (5, 5) and handler.scratch_allocation_count == 2
    assert handler._scratch('test', (2, 2)).base is larger.base


def test_scratch_keys_and_dtypes_get_separate_memory():
    handler = NumpyHandler(np.float32)
    first = handler._scratch('first', (4,))
    second = handler._scratch('second', (4,))
    mask = handler._scratch('first', (4,), np.bool_)
    assert not np.shares_memory(first, second) and not np.shares_memory(first, mask)
    assert mask.dtype == np.bool_ and first.dtype == np.float32


@pytest.mark.parametrize('name', ['sigmoid_deriv', 'tanh_deriv', 'rel_deriv', 'el_deriv'])
def test_composites_allocate_only_on_first_use(name):
    handler = NumpyHandler(np.float64)
    y, dy, dx = (handler.create_from_numpy(np.full((3, 4), 0.5)) for _ in range(3))
    getattr(handler, name)(None, y, dy, dx)
    count = handler.scratch_allocation_count
    getattr(handler, name)(None, y, dy, dx)
    assert handler.scratch_allocation_count == count


@pytest.mark.parametrize('name', ACTIVATION_FUNCTIONS)
def test_act_func_and_deriv_dispatch_by_name(name):
    handler = NumpyHandler(np.float64)
    x = handler.create_from_numpy(np.array([[-1.0, 0.5, 2.0]]))
    y, dx = handler.zeros((1, 3)), handler.zeros((1, 3))
    dy = handler.create_from_numpy(np.array([[1.0, 2.0, 3.0]]))
    handler.act_func(name)(x, y)
    handler.act_func_deriv(name)(x, y, dy, dx)
    if name == 'linear':
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(dx, dy)
    else:
        expected_y = handler.zeros((1, 3))
        getattr(handler, name)(x, expected_y)
        np.testing.assert_array_equal(y, expected_y)
        assert handler.act_func_deriv(name) == getattr(handler, name + '_deriv')


def test_unknown_activation_is_rejected_with_the_known_names():
    with pytest.raises(ValidationError, match="unknown activation function 'relu'; expected one "
                                              "of linear, rel, sigmoid, tanh, el"):
        NumpyHandler().act_func('relu')
    with pytest.raises(ValidationError, match="'softplus'"):
        NumpyHandler().act_func_deriv('softplus')


def test_handler_is_abstract():
    with pytest.raises(TypeError):
        Handler(np.float32)


def test_non_float_dtype_is_rejected():
    with pytest.raises(ValidationError, match="NumpyHandler: dtype int32 is not a floating-point"):
        NumpyHandler(np.int32)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_numpy_handler_description_round_trip(dtype):
    handler = NumpyHandler(dtype)
    description = get_description(handler)
    assert description == {'@type': 'NumpyHandler', 'dtype': np.dtype(dtype).name}
    again = create_from_description(description)
    assert type(again) is NumpyHandler and again.dtype == dtype


REFERENCE_ACTIVATIONS = {
    'linear': (lambda x: x, lambda y: np.ones_like(y)),
    'rel': (lambda x: np.maximum(x, 0), lambda y: (y > 0).astype(float)),
    'sigmoid': (lambda x: 1 / (1 + np.exp(-x)), lambda y: y * (1 - y)),
    'tanh': (np.tanh, lambda y: 1 - y ** 2),
    'el': (lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda y: np.where(y > 0, 1, y + 1)),
}


@pytest.mark.parametrize('name', ACTIVATION_FUNCTIONS)
def test_activation_dicts_and_inplace_variants_of_0_5(name):
    handler = NumpyHandler(np.float64)
    function, slope = REFERENCE_ACTIVATIONS[name]
    x_values, dy_values = np.array([[-1.5, 0.25, 2.0]]), np.array([[1.0, -2.0, 3.0]])
    expected_y = function(x_values)
    expected_dx = dy_values * slope(expected_y)
    y, dx = handler.zeros((1, 3)), handler.zeros((1, 3))
    handler.act_func[name](x_values, y)
    handler.act_func_deriv[name](x_values, y, dy_values, dx)
    np.testing.assert_allclose(y, expected_y, rtol=1e-12)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    in_place = x_values.copy()
    handler.inplace_act_func[name](in_place)
    np.testing.assert_allclose(in_place, expected_y, rtol=1e-12)
    deltas = dy_values.copy()
    handler.inplace_act_func_deriv[name](expected_y, deltas)
    np.testing.assert_allclose(deltas, expected_dx, rtol=1e-12)


def test_activation_tables_are_mappings_of_every_activation():
    handler = NumpyHandler(np.float64)
    for table in (handler.act_func, handler.act_func_deriv, handler.inplace_act_func,
                  handler.inplace_act_func_deriv):
        assert sorted(table) == sorted(ACTIVATION_FUNCTIONS) and 'rel' in table
        with pytest.raises(KeyError, match="unknown activation function 'relu'"):
            table['relu']
    assert get_description(handler) == {'@type': 'NumpyHandler', 'dtype': 'float64'}


def test_defaults():
    handler = default_handler      # brainstorm 0.5: a module-level instance
    import brainstorm.handlers
    assert brainstorm.handlers.default_handler is handler
    assert type(handler) is NumpyHandler and handler.dtype == np.float32
    assert NumpyHandler().dtype == np.float32
    assert handler.context is None and handler.array_type is np.ndarray
    assert handler.EMPTY.shape == (0,) and handler.EMPTY.dtype == np.float32


def test_seeded_handlers_draw_the_same_numbers():
    first, second = NumpyHandler(np.float64, seed=5), NumpyHandler(np.float64, seed=5)
    out_first, out_second = first.zeros((10,)), second.zeros((10,))
    first.fill_gaussian(0.0, 1.0, out_first)
    second.fill_gaussian(0.0, 1.0, out_second)
    np.testing.assert_array_equal(out_first, out_second)


def test_importing_handlers_does_not_import_pycuda():
    code = ("import sys, brainstorm.handlers\n"
            "assert 'pycuda' not in sys.modules\n"
            "assert 'brainstorm.handlers.pycuda_handler' not in sys.modules\n")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_pycuda_handler_is_imported_on_first_access():
    try:
        from brainstorm.handlers import PyCudaHandler
    except ImportError:
        return  # no pycuda here: accessing the name is where that shows
    assert issubclass(PyCudaHandler, Handler)
    assert 'brainstorm.handlers.pycuda_handler' in sys.modules


def test_unknown_module_attribute_raises_attribute_error():
    import brainstorm.handlers
    with pytest.raises(AttributeError, match="no attribute 'CudnnHandler'"):
        brainstorm.handlers.CudnnHandler


def test_debug_handler_scratch_is_the_wrapped_handlers():
    debug = DebugHandler(NumpyHandler(np.float64))
    assert debug._scratch('test', (2,)) is debug.handler._scratch('test', (2,))
