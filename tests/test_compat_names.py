"""Names a brainstorm 0.5 script imports, and what they do."""

import subprocess
import sys

import numpy as np
import pytest

import brainstorm as bs


def test_optional_flags_say_what_is_installed_without_importing_it():
    code = ("import sys, importlib.util; from brainstorm import optional; "
            "print(optional.has_pycuda, importlib.util.find_spec('pycuda') is not None, "
            "optional.has_mpi4py, 'pycuda' in sys.modules, 'mpi4py' in sys.modules)")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True)
    has_pycuda, pycuda_found, has_mpi4py, pycuda_loaded, mpi_loaded = \
        result.stdout.split()
    assert has_pycuda == pycuda_found
    assert has_mpi4py == str(__import__('importlib').util.find_spec('mpi4py') is not None)
    assert (pycuda_loaded, mpi_loaded) == ('False', 'False')
    flags = [name for name in bs.optional.__all__ if name.startswith('has_')]
    assert all(isinstance(getattr(bs.optional, flag), bool) for flag in flags)
    assert {'has_pycuda', 'has_nervanagpu', 'has_bokeh', 'has_mpi4py', 'has_onnx',
            'has_tensorboardx', 'has_optuna', 'has_matplotlib'} <= set(flags)


def test_missing_dependency_mock_raises_the_import_error_on_use():
    error = ImportError("No module named 'bokeh'")
    mock = bs.optional.MissingDependencyMock(error)
    with pytest.raises(ImportError, match="bokeh"):
        mock.plotting
    with pytest.raises(ImportError, match="bokeh"):
        mock()


@pytest.mark.parametrize('name', ['NetworkValidationError', 'LayerValidationError',
                                  'StructureValidationError', 'IteratorValidationError',
                                  'InitializationError', 'ValidationError'])
def test_exception_classes_are_importable_from_utils(name):
    import brainstorm.errors
    import brainstorm.utils
    assert getattr(brainstorm.utils, name) is getattr(brainstorm.errors, name)


def test_initialization_error_is_importable_from_initializers():
    from brainstorm.errors import InitializationError
    from brainstorm.initializers import InitializationError as from_initializers
    assert from_initializers is InitializationError


def test_random_state_reset_repeats_the_numbers():
    rnd = bs.randomness.RandomState(17)
    first = rnd.rand(4)
    rnd.reset()
    np.testing.assert_array_equal(rnd.rand(4), first)
    rnd.set_seed(3)
    again = rnd.rand(2)
    rnd.reset()
    np.testing.assert_array_equal(rnd.rand(2), again)


def test_run_network_runs_every_batch_forward():
    from brainstorm.training.utils import run_network
    net = bs.tools.create_net_from_spec('classification', 3, 2, 'F4')
    rnd = np.random.RandomState(0)
    data = {'default': rnd.randn(2, 5, 3), 'targets': rnd.randint(0, 2, (2, 5, 1))}
    outputs = [net.get('Output.outputs.predictions')
               for _ in run_network(net, bs.Minibatches(2, shuffle=False, **data))]
    assert [output.shape[1] for output in outputs] == [2, 2, 1]
    net.provide_external_data(data)
    net.forward_pass()
    np.testing.assert_allclose(np.concatenate(outputs, axis=1),
                               net.get('Output.outputs.predictions'), rtol=1e-6)
