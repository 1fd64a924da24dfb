"""Build configuration beyond pyproject.toml: the optional compiled LSTM kernels.

``brainstorm/handlers/_lstm_kernels.c`` becomes the extension module
``brainstorm.handlers._lstm_kernels_c`` (see ``brainstorm/handlers/_lstm_kernels.py``).
It is optional: where it cannot be
built (no C compiler, no glibc vector math library), ``pip install .`` still
succeeds and NumpyHandler computes the same steps with numpy.
"""

import platform

from setuptools import Extension, setup

VECTOR_MATH = ['mvec'] if platform.machine() in ('x86_64', 'AMD64') else []

setup(ext_modules=[
    Extension('brainstorm.handlers._lstm_kernels_c',
              sources=['brainstorm/handlers/_lstm_kernels.c'],
              extra_compile_args=['-O3', '-fno-math-errno', '-ffp-contract=off',
                                  '-fopenmp-simd'],
              libraries=VECTOR_MATH + ['m'],
              optional=True),
])
