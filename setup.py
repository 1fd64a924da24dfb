"""Build configuration beyond pyproject.toml: NumpyHandler's optional compiled kernels.

``brainstorm/handlers/_lstm_kernels.c``, ``_pool_kernels.c`` and ``_conv_kernels.c``
become the extension modules ``brainstorm.handlers._lstm_kernels_c``,
``_pool_kernels_c`` and ``_conv_kernels_c`` (see
``brainstorm/handlers/_compiled_kernels.py``). They are optional: where one cannot be
built (no C compiler; for the LSTM kernels no glibc vector math library),
``pip install .`` still succeeds and NumpyHandler computes the same ops with numpy.
"""

import platform

from setuptools import Extension, setup

VECTOR_MATH = ['mvec'] if platform.machine() in ('x86_64', 'AMD64') else []

HEADERS = ['brainstorm/handlers/_kernel_common.h']
# -ffp-contract=off: every product and sum rounded as numpy rounds it (no fused
# multiply-add); -fopenmp-simd: the loops' `omp simd` hints, without OpenMP threads
FLAGS = ['-O3', '-fno-math-errno', '-ffp-contract=off', '-fopenmp-simd']

setup(ext_modules=[
    Extension('brainstorm.handlers._lstm_kernels_c',
              sources=['brainstorm/handlers/_lstm_kernels.c'], depends=HEADERS,
              extra_compile_args=FLAGS, libraries=VECTOR_MATH + ['m'], optional=True),
    Extension('brainstorm.handlers._pool_kernels_c',
              sources=['brainstorm/handlers/_pool_kernels.c'], depends=HEADERS,
              extra_compile_args=FLAGS, libraries=['m'], optional=True),
    Extension('brainstorm.handlers._conv_kernels_c',
              sources=['brainstorm/handlers/_conv_kernels.c'], depends=HEADERS,
              extra_compile_args=FLAGS, optional=True),
])
