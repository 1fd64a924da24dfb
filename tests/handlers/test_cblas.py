"""The CBLAS path of the NumpyHandler (``_cblas``: oneDNN, MKL or OpenBLAS through ctypes).

Each library is checked through the ``Cblas`` class that serves it: the OpenBLAS
that scipy's wheel bundles (always there; its routines are named
``scipy_cblas_*``), oneDNN's sgemm over it, and MKL (optional extras, which CI
installs): products, accumulation, column sums, axpy and scal against numpy, in
every layout the handler sends to BLAS.
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


ONEDNN_MISSING = "needs the onednn extra: pip install '.[onednn]'"
MKL_MISSING = "needs the mkl extra: pip install '.[mkl]'"


def _bundled_cblas():
    if BUNDLED is None:
        pytest.skip("scipy's wheel bundles no libscipy_openblas here (a scipy built "
                    "against a system BLAS)")
    import ctypes
    return _cblas.Cblas(ctypes.CDLL(BUNDLED), 'openblas', symbol='scipy_cblas_{}')


@pytest.fixture(params=['openblas', 'onednn', 'mkl'])
def cblas(request, monkeypatch):
    """Make the bundled OpenBLAS, alone or under oneDNN's sgemm, or MKL the process's
    CBLAS for one test."""
    if request.param == 'mkl':
        library = _cblas._load_mkl()
        if library is None:
            pytest.skip(MKL_MISSING)
        monkeypatch.setattr(_cblas, '_LOADED', [library])
        return library
    library = _bundled_cblas()
    if request.param == 'onednn':
        library = _cblas._load_onednn(library)
        if library is None:
            pytest.skip(ONEDNN_MISSING)
        # these small products would stay with OpenBLAS: send them to oneDNN
        monkeypatch.setattr(_cblas, 'SINGLE_THREAD_PRODUCT', 0)
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


@pytest.mark.parametrize('vendor, mkl, openblas, onednn, expected', [
    ('GenuineIntel', 'M', 'O', False, 'M'), ('GenuineIntel', None, 'O', False, None),
    ('', 'M', 'O', False, 'M'), ('AuthenticAMD', 'M', 'O', False, 'O'),
    ('AuthenticAMD', 'M', None, False, 'M'), ('AuthenticAMD', None, None, False, None),
    ('GenuineIntel', 'M', 'O', True, 'M'), ('GenuineIntel', None, 'O', True, 'D+O'),
    ('AuthenticAMD', 'M', 'O', True, 'D+O'), ('AuthenticAMD', 'M', None, True, 'D+M'),
    ('AuthenticAMD', None, None, True, None)])
def test_auto_takes_the_fastest_blas_for_the_vendor(monkeypatch, vendor, mkl, openblas,
                                                    onednn, expected):
    # Intel: MKL, else oneDNN over numpy's OpenBLAS, else scipy's; AMD: oneDNN over numpy's
    # OpenBLAS (or MKL), else numpy's OpenBLAS, else MKL (bench/README.md)
    monkeypatch.setenv('BRAINSTORM_BLAS', 'auto')
    monkeypatch.setattr(_cblas, 'cpu_vendor', lambda: vendor)
    monkeypatch.setattr(_cblas, '_load_numpy_openblas', lambda: openblas)
    monkeypatch.setattr(_cblas, '_load_mkl', lambda: mkl)
    monkeypatch.setattr(_cblas, '_load_onednn',
                        lambda base: f'D+{base}' if onednn and base else None)
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
    ('atlas', "expected 'auto', 'onednn', 'mkl', 'openblas' or 'scipy'"),
    ('mkl', "no libmkl_rt could be loaded"), ('openblas', "bundles no loadable"),
    ('onednn', r"no libdnnl could be loaded; install it with pip install '.\[onednn\]'")])
def test_bad_or_unavailable_choice_says_what(monkeypatch, choice, message):
    monkeypatch.setattr(_cblas, '_LOADED', [])
    monkeypatch.setattr(_cblas, '_load_mkl', lambda: None)
    monkeypatch.setattr(_cblas, '_load_numpy_openblas', lambda: None)
    monkeypatch.setattr(_cblas, '_load_onednn', lambda base: None)
    monkeypatch.setenv('BRAINSTORM_BLAS', choice)
    with pytest.raises(HandlerUnavailableError, match=message):
        _cblas.load()


@pytest.mark.parametrize('load', ['mkl', 'numpy_openblas', 'onednn'])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_each_loadable_cblas_computes_what_numpy_does(monkeypatch, load, dtype):
    # the libraries BRAINSTORM_BLAS can choose, each through the same ctypes calls
    monkeypatch.setenv('BRAINSTORM_BLAS', load.replace('numpy_', ''))
    library = _cblas._load_choice(load.replace('numpy_', ''))
    if library is None:
        pytest.skip({'mkl': MKL_MISSING,
                     'onednn': ONEDNN_MISSING}.get(load,
                    "this numpy bundles no libscipy_openblas64_ (a numpy built against a "
                    "system BLAS)"))
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


@pytest.fixture
def onednn(monkeypatch):
    """oneDNN's sgemm over the OpenBLAS in scipy's wheel, for products of any size."""
    library = _cblas._load_onednn(_bundled_cblas())
    if library is None:
        pytest.skip(ONEDNN_MISSING)
    monkeypatch.setattr(_cblas, 'SINGLE_THREAD_PRODUCT', 0)
    return library


@pytest.mark.parametrize('shape, library', [((64, 64, 64), 'base'), ((10, 100, 1000), 'onednn'),
                                            ((1, 1, 1), 'base')])
def test_onednn_leaves_single_threaded_products_to_its_base(shape, library, monkeypatch):
    onednn = _cblas._load_onednn(_bundled_cblas())
    if onednn is None:
        pytest.skip(ONEDNN_MISSING)
    calls = []
    monkeypatch.setattr(onednn.base, 'gemm', lambda *args: calls.append('base'))
    monkeypatch.setattr(onednn, '_product', lambda *args: calls.append('onednn'))
    m, n, k = shape
    a, b, out = (np.ones(size, np.float32) for size in ((m, k), (k, n), (m, n)))
    onednn.gemm(_cblas.ROW_MAJOR, _cblas.NO_TRANS, _cblas.NO_TRANS, m, n, k, 1.0, a, k, b, n,
                0.0, out, n)
    assert calls == [library]


@pytest.mark.parametrize('trans', [False, True])
@pytest.mark.parametrize('beta', [0.0, 1.0])
def test_onednn_gemv_is_one_gemm_row(onednn, trans, beta):
    # row-major a (5 x 7) inside a wider buffer: lda 9 > its 7 columns
    rnd = np.random.RandomState(3)
    buffer = rnd.uniform(-1, 1, (5, 9)).astype(np.float32)
    a = buffer[:, :7]
    x = rnd.uniform(-1, 1, 5 if trans else 7).astype(np.float32)
    y = rnd.uniform(-1, 1, 7 if trans else 5).astype(np.float32)
    expected = beta * y + 0.5 * ((a.T if trans else a) @ x)
    onednn.gemv(_cblas.ROW_MAJOR, _cblas.TRANS if trans else _cblas.NO_TRANS, 5, 7, 0.5,
                buffer, 9, x, beta, y)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_onednn_axpy_and_scal_equal_numpy(onednn):
    rnd = np.random.RandomState(4)
    x, y = (rnd.uniform(-1, 1, 100_003).astype(np.float32) for _ in range(2))
    expected = y + np.float32(-1.5) * x
    onednn.axpy(-1.5, x, y)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    onednn.scal(0.25, y)
    np.testing.assert_allclose(y, 0.25 * expected, rtol=1e-6, atol=1e-7)


def test_onednn_leaves_float64_to_its_base(onednn, monkeypatch):
    calls = []
    monkeypatch.setattr(onednn.base, 'gemm', lambda *args: calls.append('gemm'))
    monkeypatch.setattr(onednn.base, 'axpy', lambda *args: calls.append('axpy'))
    monkeypatch.setattr(onednn, '_sgemm', None)  # a float64 call must not reach it
    a = np.ones((2, 2))
    onednn.gemm(_cblas.ROW_MAJOR, _cblas.NO_TRANS, _cblas.NO_TRANS, 2, 2, 2, 1.0, a, 2, a, 2,
                0.0, a, 2)
    onednn.axpy(1.0, a.ravel(), a.ravel())
    assert calls == ['gemm', 'axpy']


def test_onednn_status_other_than_success_is_an_error(onednn):
    from brainstorm.errors import HandlerContractError
    a = np.ones((2, 3), np.float32)
    out = np.zeros((2, 2), np.float32)
    # a leading dimension smaller than the row: oneDNN refuses it (dnnl_invalid_arguments)
    with pytest.raises(HandlerContractError, match='dnnl_sgemm refused'):
        onednn.gemm(_cblas.ROW_MAJOR, _cblas.NO_TRANS, _cblas.TRANS, 2, 2, 3, 1.0, a, 1, a, 3,
                    0.0, out, 2)


def test_onednn_reports_its_version(onednn):
    assert onednn.name.startswith('onednn ')
    major, minor, patch = (int(part) for part in onednn.version.split('.'))
    assert major >= 3
