"""The compiled LSTM step kernels: the extension module built from ``_lstm_kernels.c``.

``pip install .`` builds it as an optional extension (``setup.py``); where that
failed (no C compiler, no glibc vector math library, not x86-64 or an older gcc)
:func:`load` returns None and NumpyHandler runs the composite ops of ``Handler``,
which compute the same with numpy, in the same order of operations.

Which one serves: the environment variable ``BRAINSTORM_LSTM_KERNELS`` = ``auto``
(the default: the compiled kernels where they were built), ``1`` (they must be
there: a HandlerUnavailableError otherwise) or ``0`` (never; numpy only). It is
read when a NumpyHandler is created.

The module's two functions take ``(batch, size, *arrays)`` in the op's argument
order and return False, computing nothing, where an array is not a C-contiguous
float32 buffer of the length the step needs.
"""

import importlib
import os

from brainstorm.errors import HandlerUnavailableError

#: the extension module
MODULE = 'brainstorm.handlers._lstm_kernels_c'

_loaded = []  # [module or None, why not], filled on the first use


def _import():
    """(module, None) where the built module imports, else (None, the reason)."""
    try:
        return importlib.import_module(MODULE), None
    except ImportError as error:
        return None, (f"the compiled LSTM kernels were not built when brainstorm was "
                      f"installed ({error}); a C compiler at `pip install .` builds them")


def unavailable_reason():
    """Why there are no compiled kernels here (None where they import)."""
    if not _loaded:
        _loaded.extend(_import())
    return _loaded[1]


def load():
    """The compiled kernels for a new NumpyHandler, or None for numpy's composite ops.

    Raises:
        HandlerUnavailableError: if ``BRAINSTORM_LSTM_KERNELS`` is not auto, 1 or 0,
            or is 1 and the kernels are not there.
    """
    choice = os.environ.get('BRAINSTORM_LSTM_KERNELS', 'auto').strip().lower()
    if choice not in ('auto', '1', '0'):
        raise HandlerUnavailableError(
            f"BRAINSTORM_LSTM_KERNELS={choice!r} is not one of auto, 1, 0")
    if choice == '0':
        return None
    reason = unavailable_reason()
    if reason is not None and choice == '1':
        raise HandlerUnavailableError(f"BRAINSTORM_LSTM_KERNELS=1, but {reason}")
    return _loaded[0]
