"""CBLAS through ctypes: oneDNN's sgemm or numpy's OpenBLAS on AMD, Intel MKL where installed.

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

oneDNN (``pip install '.[onednn]'``) exports one BLAS routine, ``dnnl_sgemm``,
its own just-in-time-compiled float32 gemm. On the AMD EPYC (Zen 4, AVX-512,
2 threads) it multiplies the products of an LSTM step 1.3-1.5x faster than
numpy's OpenBLAS (50x1000x4000: 2.1 against 3.2 ms; 50x256x1024: 0.16 against
0.21 ms), and loses on the large products of the input projections (5000x205x256
3.8 against 2.6 ms), measured in bench/README.md. Used beside OpenBLAS for the
small products only, the two thread pools fought (an lstm_256 training step went
from 118 to 257 ms), so ``OnednnSgemm`` takes every float32 call, level 1 and 2
included, but for the products OpenBLAS runs on the calling thread alone (which
wake no pool); with one pool the step takes 95 ms, and every example network of
the benchmark is faster for training and inference than with OpenBLAS alone.

Which BLAS serves: the environment variable ``BRAINSTORM_BLAS`` = ``auto``
(default: on an AMD processor oneDNN over numpy's OpenBLAS where oneDNN is
installed, else numpy's OpenBLAS; elsewhere MKL where it is found, else oneDNN,
else scipy's BLAS), ``onednn``, ``mkl`` or ``openblas`` (that one, an error if
it cannot be loaded) or ``scipy``. The Intel order predates oneDNN here and
was never measured against it: ``bash bench/cpu_session.sh`` on an Intel
machine measures every choice and names the one ``auto`` should take.
``load()`` decides once per process. Threads: the library's own settings
(``OMP_NUM_THREADS`` for oneDNN and MKL, ``MKL_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``).
"""

import ctypes
import ctypes.util
import glob
import os
import site
import sys

import numpy as np

from brainstorm.errors import EnvironmentSettingError, HandlerContractError

ROW_MAJOR, COLUMN_MAJOR = 101, 102
NO_TRANS, TRANS = 111, 112

#: library file names of MKL's single dynamic library, newest interface first
_MKL_NAMES = ('libmkl_rt.so.3', 'libmkl_rt.so.2', 'libmkl_rt.so', 'libmkl_rt.dylib',
              'mkl_rt.3.dll', 'mkl_rt.2.dll', 'mkl_rt.dll')
#: library file names of oneDNN 3.x (the ``onednn-cpu-gomp`` wheel)
_ONEDNN_NAMES = ('libdnnl.so.3', 'libdnnl.so', 'libdnnl.3.dylib', 'dnnl.dll')


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


#: m * n * k up to which OpenBLAS multiplies on the calling thread alone (its
#: SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD = 65536 * 4): such products stay with
#: it under oneDNN too. Its workers then never wake, so no pool spins beside oneDNN's,
#: and small products need no OpenMP barrier, which costs most where the other cores
#: are busy (100x10x64: 6.9 us on OpenBLAS, 8.6 us on oneDNN; 225 us with the second
#: core loaded)
SINGLE_THREAD_PRODUCT = 65536 * 4


class OnednnSgemm(Cblas):
    """oneDNN's ``dnnl_sgemm`` for float32 products; everything else from a base CBLAS.

    oneDNN has no float64 gemm and no level-1/2 BLAS, so those stay with ``base``
    (numpy's OpenBLAS, or MKL), but float32 ``gemv`` and ``axpy`` are written as
    products and float32 ``scal`` is numpy's. Float32 products of up to
    ``SINGLE_THREAD_PRODUCT`` multiply-adds go to ``base``, which runs them on the
    calling thread. So one thread pool, oneDNN's OpenMP one, serves every float32 call.

    Args:
        library (ctypes.CDLL): ``libdnnl`` (oneDNN 3.x).
        base (Cblas): serves the float64 routines.

    Attributes:
        version (str): oneDNN's version, e.g. ``'3.2.0'``.
    """

    def __init__(self, library, base):
        self.name = f'onednn sgemm + {base.name}'
        self._routines = base._routines
        sgemm = library.dnnl_sgemm
        size, pointer = ctypes.c_int64, ctypes.c_void_p
        sgemm.argtypes = [ctypes.c_char, ctypes.c_char, size, size, size, ctypes.c_float,
                          pointer, size, pointer, size, ctypes.c_float, pointer, size]
        sgemm.restype = ctypes.c_int
        self._sgemm = sgemm
        self.base = base
        library.dnnl_version.restype = ctypes.POINTER(ctypes.c_int * 3)
        self.version = '.'.join(str(part) for part in library.dnnl_version().contents)

    def gemm(self, order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        if c.dtype != np.float32 or order != ROW_MAJOR or m * n * k <= SINGLE_THREAD_PRODUCT:
            self.base.gemm(order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        self._product(transa, transb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb,
                      beta, c.ctypes.data, ldc)

    def _product(self, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        """``dnnl_sgemm`` on data pointers (row-major, CBLAS trans flags)."""
        status = self._sgemm(b'T' if transa == TRANS else b'N', b'T' if transb == TRANS else b'N',
                             m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        if status != 0:
            raise HandlerContractError(f"dnnl_sgemm refused a {m}x{k} by {k}x{n} product "
                                       f"with leading dimensions {lda}, {ldb}, {ldc} "
                                       f"(oneDNN status {status})")

    # oneDNN has no level-1/2 routines; float32 ones are products too, so that no second
    # library's thread pool spins beside oneDNN's (see _blas for what that costs)

    def gemv(self, order, trans, m, n, alpha, a, lda, x, beta, y):
        if y.dtype != np.float32 or order != ROW_MAJOR:
            self.base.gemv(order, trans, m, n, alpha, a, lda, x, beta, y)
            return
        # y (1 x rows) = x (1 x inner) @ op(a).T: a product of one row
        rows, inner = (n, m) if trans == TRANS else (m, n)
        self.gemm(ROW_MAJOR, NO_TRANS, NO_TRANS if trans == TRANS else TRANS, 1, rows, inner,
                  alpha, x, inner, a, lda, beta, y, rows)

    def axpy(self, alpha, x, y):
        if y.dtype != np.float32:
            self.base.axpy(alpha, x, y)
            return
        # y (1 x size) += [alpha] (1 x 1) @ x (1 x size): a product of inner size 1
        self._product(NO_TRANS, NO_TRANS, 1, y.size, 1, 1.0, ctypes.byref(ctypes.c_float(alpha)),
                      1, x.ctypes.data, y.size, 1.0, y.ctypes.data, y.size)

    def scal(self, alpha, x):
        if x.dtype != np.float32:
            self.base.scal(alpha, x)
            return
        np.multiply(x, alpha, out=x)


def _library_candidates(names, short_name):
    """Paths where a wheel puts a shared library (``<prefix>/lib``), then the loader's."""
    folders = [folder for folder in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)
               if folder]
    folders += [os.path.join(sys.prefix, 'lib'), os.path.join(sys.base_prefix, 'lib'),
               os.path.join(site.getuserbase(), 'lib'), os.path.join(sys.prefix, 'Library',
                                                                     'bin')]
    for folder in folders:
        for name in names:
            yield from glob.glob(os.path.join(folder, name))
    found = ctypes.util.find_library(short_name)
    if found:
        yield found


def _load_mkl():
    """A :class:`Cblas` of MKL, or None where no libmkl_rt can be loaded."""
    for path in _library_candidates(_MKL_NAMES, 'mkl_rt'):
        try:
            return Cblas(ctypes.CDLL(path), 'mkl')
        except (OSError, AttributeError):
            continue
    return None


def _onednn_base():
    """The CBLAS under oneDNN (its float64 and single-threaded products): numpy's
    OpenBLAS, else MKL, else None."""
    return _load_numpy_openblas() or _load_mkl()


def _load_onednn(base):
    """An :class:`OnednnSgemm` over ``base``, or None where no libdnnl can be loaded."""
    if base is None:
        return None
    for path in _library_candidates(_ONEDNN_NAMES, 'dnnl'):
        try:
            return OnednnSgemm(ctypes.CDLL(path), base)
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
        base = _onednn_base()
        return _load_onednn(base) or base
    return _load_mkl() or _load_onednn(_load_numpy_openblas())


#: why a BRAINSTORM_BLAS choice could not be loaded
_WHY_NOT = {'mkl': "no libmkl_rt could be loaded; install it with pip install "
                   "'.[mkl]'",
            'openblas': "numpy's wheel bundles no loadable libscipy_openblas64_",
            'onednn': "no libdnnl could be loaded; install it with pip install "
                      "'.[onednn]'"}

_CHOICES = ('auto', 'onednn', 'mkl', 'openblas', 'scipy')

_LOADED = []


def _load_choice(choice):
    """The :class:`Cblas` one explicit ``BRAINSTORM_BLAS`` value names, or None."""
    if choice == 'mkl':
        return _load_mkl()
    if choice == 'openblas':
        return _load_numpy_openblas()
    return _load_onednn(_onednn_base())


def load():
    """The CBLAS to use in this process (a :class:`Cblas`), or None for scipy's BLAS.

    Raises:
        EnvironmentSettingError: if ``BRAINSTORM_BLAS`` has an unknown value, or names
            a library that cannot be loaded.
    """
    if not _LOADED:
        choice = os.environ.get('BRAINSTORM_BLAS', 'auto')
        if choice not in _CHOICES:
            expected = ', '.join(repr(name) for name in _CHOICES[:-1])
            raise EnvironmentSettingError(f"BRAINSTORM_BLAS={choice!r}: expected {expected} "
                                          f"or {_CHOICES[-1]!r}")
        cblas = None
        if choice in _WHY_NOT:
            cblas = _load_choice(choice)
            if cblas is None:
                raise EnvironmentSettingError(f"BRAINSTORM_BLAS={choice}: {_WHY_NOT[choice]}")
        elif choice == 'auto':
            cblas = _automatic_choice()
        _LOADED.append(cblas)
    return _LOADED[0]
