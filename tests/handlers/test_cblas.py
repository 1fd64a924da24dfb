"""The CBLAS path of the NumpyHandler (``_cblas``: MKL through ctypes where installed).

MKL is an optional extra, so the path is checked here with the OpenBLAS that
scipy's wheel bundles, loaded through the same ``Cblas`` class (its routines
are named ``scipy_cblas_*``): products, accumulation, column sums, axpy and
scal against numpy, in every layout the handler sends to BLAS.
"""

import glob
import os

import numpy as np
import pytest
import scipy

from brainstorm.errors import HandlerUnavailableError
from brainstorm.handlers import NumpyHandler, _blas, _cblas
from brainstorm.handlers.numpy_handler import BLAS_ELEMENTWISE_MIN_SIZE


def _bundled_openblas():
    folder = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), 'scipy.libs')
    for path in sorted(glob.glob(os.path.join(folder, 'libscipy_openblas*.so*'))):
        if '64_' not in os.path.basename(path):  # the 32-bit-integer build
            return path
    return None


BUNDLED = _bundled_openblas()


@pytest.fixture
def cblas(monkeypatch):
    """Make the bundled OpenBLAS the process's CBLAS for one test."""
    if BUNDLED is None:
        pytest.skip("scipy's wheel bundles no libscipy_openblas here (a scipy built "
                    "against a system BLAS)")
    import ctypes
    library = _cblas.Cblas(ctypes.CDLL(BUNDLED), 'openblas', symbol='scipy_cblas_{}')
    monkeypatch.setattr(_cblas, '_LOADED', [library])
    return library


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('beta', [0.0, 1.0])
@pytest.mark.parametrize('layouts', ['CCC', 'FCC', 'CFC', 'CCF', 'FFF'])
@pytest.mark.parametrize('transa', [False, True])
@pytest.mark.parametrize('transb', [False, True])
def test_gemm_into_equals_numpy(cblas, dtype, beta, layouts, transa, transb):
    rnd = np.random.RandomState(0)
    order = dict(C=np.ascontiguousarray, F=np.asfortranarray)
    a = order[layouts[0]](rnd.uniform(-1, 1, (4, 3) if transa else (3, 4)).astype(dtype))
    b = order[layouts[1]](rnd.uniform(-1, 1, (5, 4) if transb else (4, 5)).astype(dtype))
    out = order[layouts[2]](rnd.uniform(-1, 1, (3, 5)).astype(dtype))
    expected = beta * out + (a.T if transa else a) @ (b.T if transb else b)
    assert _blas.gemm_into(a, b, out, transa, transb, beta=beta)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_gemm_into_leaves_strided_operands_to_the_fallback(cblas):
    wide = np.ones((3, 8))
    out = np.zeros((3, 3))
    assert not _blas.gemm_into(wide[:, :4], wide[:, 4:7].T, out)
    assert not out.any()


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_handler_level_one_and_two_ops_go_through_cblas(cblas, dtype):
    handler = NumpyHandler(dtype)
    assert handler._cblas is cblas
    rnd = np.random.RandomState(1)
    size = BLAS_ELEMENTWISE_MIN_SIZE + 5
    t, out = rnd.uniform(-1, 1, size).astype(dtype), rnd.uniform(-1, 1, size).astype(dtype)
    expected = out + 0.3 * t
    handler.mult_add_st(0.3, t, out)  # axpy
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    expected = -0.7 * out
    handler.mult_st(-0.7, out, out)  # scal
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    matrix = rnd.uniform(-1, 1, (7, 6)).astype(dtype)
    sums = rnd.uniform(-1, 1, (1, 6)).astype(dtype)
    expected = sums + matrix.sum(axis=0, keepdims=True)
    handler.sum_add_t(matrix, 0, sums)  # gemv with beta 1
    np.testing.assert_allclose(sums, expected, rtol=1e-5, atol=1e-6)
    handler.sum_t(matrix, 0, sums)  # gemv with beta 0
    np.testing.assert_allclose(sums, matrix.sum(axis=0, keepdims=True), rtol=1e-5)
    assert handler.scratch_allocation_count == 0


@pytest.mark.parametrize('vendor, mkl, openblas, expected', [
    ('GenuineIntel', 'M', 'O', 'M'), ('GenuineIntel', None, 'O', None), ('', 'M', 'O', 'M'),
    ('AuthenticAMD', 'M', 'O', 'O'), ('AuthenticAMD', 'M', None, 'M'),
    ('AuthenticAMD', None, None, None)])
def test_auto_takes_the_fastest_blas_for_the_vendor(monkeypatch, vendor, mkl, openblas,
                                                    expected):
    # Intel: MKL where found, else scipy's; AMD: numpy's OpenBLAS first (bench/README.md)
    monkeypatch.setenv('BRAINSTORM_BLAS', 'auto')
    monkeypatch.setattr(_cblas, 'cpu_vendor', lambda: vendor)
    monkeypatch.setattr(_cblas, '_load_numpy_openblas', lambda: openblas)
    monkeypatch.setattr(_cblas, '_load_mkl', lambda: mkl)
    monkeypatch.setattr(_cblas, '_LOADED', [])
    assert _cblas.load() == expected


def test_cpu_vendor_reads_this_machines_processor():
    import platform
    vendor = _cblas.cpu_vendor()
    if platform.system() == 'Linux' and platform.machine() in ('x86_64', 'AMD64'):
        assert vendor in ('GenuineIntel', 'AuthenticAMD', 'HygonGenuine')
    else:
        assert isinstance(vendor, str)


def test_numpys_openblas_loads_where_numpys_wheel_bundles_it():
    library = _cblas._load_numpy_openblas()
    if library is None:
        pytest.skip("this numpy bundles no libscipy_openblas64_ (a numpy built against a "
                    "system BLAS)")
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    out = np.zeros((2, 4))
    library.gemm(_cblas.ROW_MAJOR, _cblas.NO_TRANS, _cblas.NO_TRANS, 2, 4, 3, 1.0, a, 3, b, 4,
                 0.0, out, 4)
    np.testing.assert_array_equal(out, a @ b)


def test_choice_scipy_uses_no_cblas(monkeypatch):
    monkeypatch.setattr(_cblas, '_LOADED', [])
    monkeypatch.setenv('BRAINSTORM_BLAS', 'scipy')
    assert _cblas.load() is None


@pytest.mark.parametrize('choice, message', [
    ('atlas', "expected 'auto', 'mkl', 'openblas' or 'scipy'"),
    ('mkl', "no libmkl_rt could be loaded"), ('openblas', "bundles no loadable")])
def test_bad_or_unavailable_choice_says_what(monkeypatch, choice, message):
    monkeypatch.setattr(_cblas, '_LOADED', [])
    monkeypatch.setattr(_cblas, '_load_mkl', lambda: None)
    monkeypatch.setattr(_cblas, '_load_numpy_openblas', lambda: None)
    monkeypatch.setenv('BRAINSTORM_BLAS', choice)
    with pytest.raises(HandlerUnavailableError, match=message):
        _cblas.load()


@pytest.mark.parametrize('load', ['mkl', 'numpy_openblas'])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_each_loadable_cblas_computes_what_numpy_does(monkeypatch, load, dtype):
    # the libraries BRAINSTORM_BLAS can choose, each through the same ctypes calls
    library = _cblas._load_mkl() if load == 'mkl' else _cblas._load_numpy_openblas()
    if library is None:
        pytest.skip("needs the mkl extra: pip install '.[mkl]'" if load == 'mkl' else
                    "this numpy bundles no libscipy_openblas64_ (a numpy built against a "
                    "system BLAS)")
    monkeypatch.setattr(_cblas, '_LOADED', [library])
    rnd = np.random.RandomState(2)
    a, b = rnd.uniform(-1, 1, (6, 5)).astype(dtype), rnd.uniform(-1, 1, (7, 5)).astype(dtype)
    out = rnd.uniform(-1, 1, (6, 7)).astype(dtype)
    expected = out + a @ b.T
    assert _blas.gemm_into(a, b, out, transb=True, beta=1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    handler = NumpyHandler(dtype)
    assert handler._cblas is library
    vector = rnd.uniform(-1, 1, BLAS_ELEMENTWISE_MIN_SIZE + 3).astype(dtype)
    total = vector.copy()
    handler.mult_add_st(2.0, vector, total)  # axpy
    np.testing.assert_allclose(total, 3.0 * vector, rtol=1e-5)
