"""The switch between NumpyHandler's compiled kernels and numpy (_compiled_kernels.py)."""

import numpy as np
import pytest

from brainstorm.errors import EnvironmentSettingError
from brainstorm.handlers import NumpyHandler, _compiled_kernels

KERNEL_SETS = sorted(_compiled_kernels.MODULES)


def handler_kernels(handler):
    return {'lstm': handler._lstm_kernels, 'pool': handler._pool_kernels,
            'conv': handler._conv_kernels}


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_switch_off_gives_numpy(monkeypatch, dtype):
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', '0')
    assert handler_kernels(NumpyHandler(dtype)) == dict.fromkeys(KERNEL_SETS)


@pytest.mark.parametrize('kernels', KERNEL_SETS)
def test_auto_takes_what_was_built(monkeypatch, kernels):
    monkeypatch.delenv('BRAINSTORM_COMPILED_KERNELS', raising=False)
    built = _compiled_kernels.unavailable_reason(kernels) is None
    assert (handler_kernels(NumpyHandler(np.float32))[kernels] is not None) == built


def test_the_lstm_kernels_serve_float32_only_the_others_both(monkeypatch):
    monkeypatch.setattr(_compiled_kernels, '_loaded',
                        {kernels: (object(), None) for kernels in KERNEL_SETS})
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', '1')
    present = {name: kernels is not None
               for name, kernels in handler_kernels(NumpyHandler(np.float64)).items()}
    assert present == {'lstm': False, 'pool': True, 'conv': True}


@pytest.mark.parametrize('value', ['yes', '2', ''])
def test_unknown_switch_value_is_refused(monkeypatch, value):
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', value)
    with pytest.raises(EnvironmentSettingError, match='BRAINSTORM_COMPILED_KERNELS'):
        NumpyHandler(np.float32)


@pytest.mark.parametrize('missing', KERNEL_SETS)
def test_required_but_missing_kernels_are_an_error(monkeypatch, missing):
    loaded = {kernels: (object(), None) for kernels in KERNEL_SETS}
    loaded[missing] = (None, 'they were not built')
    monkeypatch.setattr(_compiled_kernels, '_loaded', loaded)
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', '1')
    with pytest.raises(EnvironmentSettingError, match='they were not built'):
        NumpyHandler(np.float32)
    monkeypatch.setenv('BRAINSTORM_COMPILED_KERNELS', 'auto')
    assert handler_kernels(NumpyHandler(np.float32))[missing] is None


def test_a_module_that_does_not_import_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(_compiled_kernels, '_loaded', {})
    monkeypatch.setitem(_compiled_kernels.MODULES, 'pool', 'brainstorm.handlers._not_built_c')
    reason = _compiled_kernels.unavailable_reason('pool')
    assert 'were not built' in reason and '_not_built_c' in reason
    assert _compiled_kernels.load('pool') is None
