"""SIGTERM means the same as Ctrl-C from the moment a command starts changing files.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM kill the process at
once (exit 143), which between "the run directory exists" and "the training run has
installed its own handlers" left a half-made run directory. Inside
:func:`terminate_as_interrupt` SIGTERM raises ``KeyboardInterrupt`` too, so the same
clean-up runs and the command exits 130.
"""

import contextlib
import signal


def _raise_interrupt(number, frame):
    raise KeyboardInterrupt(signal.Signals(number).name)


@contextlib.contextmanager
def terminate_as_interrupt():
    """While inside, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
