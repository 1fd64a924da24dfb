"""SIGTERM means the same as Ctrl-C while a run changes files; neither counts once it has ended.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM kill the process at
once (exit 143), which between "the run directory exists" and "the training run has
installed its own handlers" left a half-made run directory. Inside
:func:`terminate_as_interrupt` SIGTERM raises ``KeyboardInterrupt`` too, so the same
clean-up runs and the command exits 130.

Once a run has written its outcome (its final ``status.json``), a signal can only do
harm: a ``KeyboardInterrupt`` would turn a finished run's exit 0 into 130, and a SIGTERM
with its default action, after the handlers are given back, kills the process (exit
143; under ``mpiexec`` a rank killed so, for example while it waits in ``MPI_Finalize``
for rank 0 to write the run's last files, makes the launcher end the others before
rank 0 has written them, exit 15). :func:`settle` therefore ignores SIGINT and SIGTERM
from that moment until the scope ends, or, for a command whose process ends with the
run (``bstorm train``), until the process exits. They are ignored (``SIG_IGN``), not
handled in Python: CPython resets Python-level handlers to the default while it shuts
down, before ``mpi4py`` finalizes MPI.
"""

import contextlib
import signal

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Scope:
    """One :func:`terminate_as_interrupt` block: the handlers found on entry."""

    def __init__(self, previous, until_exit):
        self.previous = previous
        self.until_exit = until_exit
        self.settled = False


_scopes = []
#: handlers of scopes that ended settled and keep the signals ignored until the process
#: exits; :func:`release` gives them back (``main()`` called as a function, in tests)
_held = {}


def _raise_interrupt(number, frame):
    raise KeyboardInterrupt(signal.Signals(number).name)


@contextlib.contextmanager
def terminate_as_interrupt(until_exit=False):
    """While inside, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op).

    Args:
        until_exit (bool): the process exits after the block (``bstorm train``): once
            :func:`settle` was called inside, SIGINT and SIGTERM stay ignored after the
            block too, until the process exits or :func:`release` is called.
    """
    try:
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT),
                    signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_interrupt)}
    except ValueError:  # not the main thread
        yield
        return
    scope = _Scope(previous, until_exit)
    _scopes.append(scope)
    try:
        yield
    finally:
        _scopes.remove(scope)
        if not scope.settled:
            signal.signal(signal.SIGTERM, previous[signal.SIGTERM])
        elif scope.until_exit:
            for number, handler in previous.items():
                _held.setdefault(number, handler)
        else:
            for number, handler in previous.items():
                signal.signal(number, handler)


def settle():
    """The run's outcome is written: ignore SIGINT and SIGTERM until the scope ends.

    A no-op outside :func:`terminate_as_interrupt` (a TrainingRun used directly) and
    outside the main thread.
    """
    if not _scopes or _scopes[-1].settled:
        return
    try:
        for number in _SIGNALS:
            signal.signal(number, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return
    _scopes[-1].settled = True


def settled():
    """Whether the innermost scope's run has written its outcome (signals are ignored)."""
    return bool(_scopes) and _scopes[-1].settled


def restore(number, handler):
    """Give signal ``number`` its ``handler`` back, unless the outcome is settled (then the
    scope gives the handlers back when it ends)."""
    if settled():
        return
    signal.signal(number, handler)


def release():
    """Give back the handlers that a settled ``until_exit`` scope kept ignored."""
    while _held:
        number, handler = _held.popitem()
        try:
            signal.signal(number, handler)
        except ValueError:  # not the main thread
            return


__all__ = ['terminate_as_interrupt', 'settle', 'settled', 'restore', 'release']
