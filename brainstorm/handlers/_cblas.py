"""CBLAS through ctypes: Intel MKL where the ``mkl`` wheel is installed, numpy's OpenBLAS on AMD.

Why: on Intel processors MKL's ``sgemm`` is 1.3-1.9x faster than the OpenBLAS
that the numpy and scipy wheels bundle for the small-M products of these
networks (batch 50-100 rows against 1000-4000 columns: LSTM steps, MLP
layers), single-threaded CPU time on an Intel Xeon (Ice Lake), measured in
bench/README.md. There is no maintained Python binding of MKL's BLAS that
writes into a given array (scipy's wheels link OpenBLAS), so the four
routines the NumpyHandler needs (``gemm``, ``gemv``, ``axpy``, ``scal``) are
called here through ``ctypes`` from ``libmkl_rt``, the library the PyPI
``mkl`` wheel installs (``pip install '.[mkl]'``).

``BRAINSTORM_BLAS=openblas`` calls the OpenBLAS that numpy's wheel bundles
(``libscipy_openblas64_``, 64-bit integers, routines ``scipy_cblas_*64_``) the
same way instead of scipy's. The two wheels bundle different OpenBLAS versions,
and neither wins everywhere on the Intel Xeon (single-threaded CPU time):
numpy's 0.3.31 is faster for the MLP and CNN products (100x1200x1200
4.4 -> 3.6 ms), scipy's 0.3.30 for the LSTM step's product with the packed
transposed recurrent matrix (1000 cells 6.9 against 8.4 ms). Mixing them per
shape would bring back two thread pools (see ``_blas``), so scipy's stays the
default without MKL.

On AMD processors the order turns around: on an AMD EPYC (Zen 3, AVX2) numpy's
OpenBLAS 0.3.31 is the fastest of the three for every product of the benchmark
networks, and MKL the slowest for the large ones (the LSTM input projection
5000x205x1024: 29.5 ms against MKL's 47.0 and scipy's 32.3, single-threaded;
with 2 threads 11.8 against 20.1 ms), measured in bench/README.md. ``auto``
therefore takes the processor's vendor into account.

Which BLAS serves: the environment variable ``BRAINSTORM_BLAS`` = ``auto``
(default: on an AMD processor numpy's OpenBLAS; elsewhere MKL where it is
found; else scipy's BLAS), ``mkl`` or ``openblas`` (that one, an error if it
cannot be loaded) or ``scipy``. ``load()`` decides once per process. Threads:
the library's own settings (``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``).
"""

import ctypes
import ctypes.util
import glob
import os
import site
import sys

import numpy as np

from brainstorm.errors import EnvironmentSettingError

ROW_MAJOR, COLUMN_MAJOR = 101, 102
NO_TRANS, TRANS = 111, 112

#: library file names of MKL's single dynamic library, newest interface first
_MKL_NAMES = ('libmkl_rt.so.3', 'libmkl_rt.so.2', 'libmkl_rt.so', 'libmkl_rt.dylib',
              'mkl_rt.3.dll', 'mkl_rt.2.dll', 'mkl_rt.dll')


class Cblas:
    """The ``gemm``, ``gemv``, ``axpy`` and ``scal`` of one CBLAS library, float32 and float64.

    Every method takes arrays (their data pointers are passed on) and the
    BLAS sizes; the caller checks that the layouts fit.

    Args:
        library (ctypes.CDLL): a library exporting ``cblas_[sd]{gemm,gemv,axpy,scal}``.
        name (str): what to call it in reports (e.g. ``'mkl'``).
        symbol (str): format of the routine names, ``{}`` standing for e.g. ``sgemm``
            (the OpenBLAS that numpy and scipy bundle prefixes them: ``scipy_cblas_{}``).
        integer: ctypes type of BLAS integers (``c_int64`` for 64-bit-integer builds).
    """

    def __init__(self, library, name, symbol='cblas_{}', integer=ctypes.c_int):
        self.name = name
        self._routines = {}
        pointer = ctypes.c_void_p
        for dtype, prefix, real in ((np.float32, 's', ctypes.c_float),
                                    (np.float64, 'd', ctypes.c_double)):
            gemm = getattr(library, symbol.format(prefix + 'gemm'))
            gemm.argtypes = [integer] * 6 + [real, pointer, integer, pointer, integer, real,
                                             pointer, integer]
            gemv = getattr(library, symbol.format(prefix + 'gemv'))
            gemv.argtypes = [integer] * 4 + [real, pointer, integer, pointer, integer, real,
                                             pointer, integer]
            axpy = getattr(library, symbol.format(prefix + 'axpy'))
            axpy.argtypes = [integer, real, pointer, integer, pointer, integer]
            scal = getattr(library, symbol.format(prefix + 'scal'))
            scal.argtypes = [integer, real, pointer, integer]
            for routine in (gemm, gemv, axpy, scal):
                routine.restype = None
            self._routines[np.dtype(dtype)] = (gemm, gemv, axpy, scal)

    def supports(self, dtype):
        """Whether ``dtype`` is float32 or float64."""
        return np.dtype(dtype) in self._routines

    def gemm(self, order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        """``c = alpha * op(a) @ op(b) + beta * c`` (CBLAS argument order)."""
        routine = self._routines[c.dtype][0]
        routine(order, transa, transb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb,
                beta, c.ctypes.data, ldc)

    def gemv(self, order, trans, m, n, alpha, a, lda, x, beta, y):
        """``y = alpha * op(a) @ x + beta * y`` for contiguous vectors ``x`` and ``y``."""
        routine = self._routines[y.dtype][1]
        routine(order, trans, m, n, alpha, a.ctypes.data, lda, x.ctypes.data, 1, beta,
                y.ctypes.data, 1)

    def axpy(self, alpha, x, y):
        """``y += alpha * x`` for contiguous vectors of one size."""
        self._routines[y.dtype][2](y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)

    def scal(self, alpha, x):
        """``x *= alpha`` for a contiguous vector."""
        self._routines[x.dtype][3](x.size, alpha, x.ctypes.data, 1)


def _mkl_candidates():
    """Paths where the ``mkl`` wheel puts libmkl_rt (``<prefix>/lib``), then the loader's."""
    folders = [folder for folder in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)
               if folder]
    folders += [os.path.join(sys.prefix, 'lib'), os.path.join(sys.base_prefix, 'lib'),
               os.path.join(site.getuserbase(), 'lib'), os.path.join(sys.prefix, 'Library',
                                                                     'bin')]
    for folder in folders:
        for name in _MKL_NAMES:
            yield from glob.glob(os.path.join(folder, name))
    found = ctypes.util.find_library('mkl_rt')
    if found:
        yield found


def _load_mkl():
    """A :class:`Cblas` of MKL, or None where no libmkl_rt can be loaded."""
    for path in _mkl_candidates():
        try:
            return Cblas(ctypes.CDLL(path), 'mkl')
        except (OSError, AttributeError):
            continue
    return None


def _load_numpy_openblas():
    """A :class:`Cblas` of the OpenBLAS in numpy's wheel, or None where there is none."""
    numpy_folder = os.path.dirname(np.__file__)
    name = 'libscipy_openblas64_*'
    patterns = [os.path.join(os.path.dirname(numpy_folder), 'numpy.libs', name),
                os.path.join(numpy_folder, '.dylibs', name)]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                return Cblas(ctypes.CDLL(path), 'openblas (numpy)', symbol='scipy_cblas_{}64_',
                             integer=ctypes.c_int64)
            except (OSError, AttributeError):
                continue
    return None


def cpu_vendor():
    """The processor's vendor string (``'AuthenticAMD'``, ``'GenuineIntel'``), or ''
    where the system does not say (read from /proc/cpuinfo on Linux)."""
    try:
        with open('/proc/cpuinfo', encoding='ascii', errors='replace') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('vendor_id'):
                    return line.partition(':')[2].strip()
    except OSError:
        pass
    return ''


def _automatic_choice():
    """The CBLAS ``auto`` takes: see the module docstring for the measurements."""
    if cpu_vendor() == 'AuthenticAMD':
        cblas = _load_numpy_openblas()
        if cblas is not None:
            return cblas
    return _load_mkl()


#: why a BRAINSTORM_BLAS choice could not be loaded
_WHY_NOT = {'mkl': "no libmkl_rt could be loaded; install it with pip install "
                   "'.[mkl]'",
            'openblas': "numpy's wheel bundles no loadable libscipy_openblas64_"}

_LOADED = []


def load():
    """The CBLAS to use in this process (a :class:`Cblas`), or None for scipy's BLAS.

    Raises:
        EnvironmentSettingError: if ``BRAINSTORM_BLAS`` has an unknown value, or names
            a library that cannot be loaded.
    """
    if not _LOADED:
        choice = os.environ.get('BRAINSTORM_BLAS', 'auto')
        if choice not in ('auto', 'mkl', 'openblas', 'scipy'):
            raise EnvironmentSettingError(f"BRAINSTORM_BLAS={choice!r}: expected 'auto', "
                                          f"'mkl', 'openblas' or 'scipy'")
        cblas = None
        if choice in _WHY_NOT:
            cblas = _load_mkl() if choice == 'mkl' else _load_numpy_openblas()
            if cblas is None:
                raise EnvironmentSettingError(f"BRAINSTORM_BLAS={choice}: {_WHY_NOT[choice]}")
        elif choice == 'auto':
            cblas = _automatic_choice()
        _LOADED.append(cblas)
    return _LOADED[0]
