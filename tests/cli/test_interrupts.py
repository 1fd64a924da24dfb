"""bstorm_cli.interrupts: SIGTERM as Ctrl-C inside a run; signals ignored once it has ended."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from bstorm_cli import interrupts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _handlers():
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_sigterm_raises_keyboard_interrupt_inside_and_is_given_back_after():
    before = _handlers()
    with pytest.raises(KeyboardInterrupt, match='SIGTERM'):
        with interrupts.terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert _handlers() == before


def test_a_settled_scope_ignores_both_signals_then_gives_them_back():
    before = _handlers()
    with interrupts.terminate_as_interrupt():
        interrupts.settle()
        assert interrupts.settled()
        os.kill(os.getpid(), signal.SIGTERM)  # would end pytest if not ignored
        os.kill(os.getpid(), signal.SIGINT)
        interrupts.restore(signal.SIGINT, signal.default_int_handler)  # deferred
        assert _handlers() == (signal.SIG_IGN, signal.SIG_IGN)
    assert _handlers() == before and not interrupts.settled()


def test_until_exit_keeps_them_ignored_after_the_scope_until_released():
    before = _handlers()
    try:
        with interrupts.terminate_as_interrupt(until_exit=True):
            interrupts.settle()
        assert _handlers() == (signal.SIG_IGN, signal.SIG_IGN)
    finally:
        interrupts.release()
    assert _handlers() == before


def test_settle_outside_a_scope_changes_nothing():
    before = _handlers()
    interrupts.settle()
    assert _handlers() == before and not interrupts.settled()


def test_signals_while_the_process_exits_after_a_settled_run_do_not_kill_it():
    # what a bstorm train process does after its run wrote the status: it exits, and a
    # SIGTERM then (at atexit, in MPI_Finalize) must not turn exit 0 into death by 15
    script = textwrap.dedent('''
        import atexit, os, signal, sys
        from bstorm_cli import interrupts
        atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM),
                                 os.kill(os.getpid(), signal.SIGINT)))
        with interrupts.terminate_as_interrupt(until_exit=True):
            interrupts.settle()
        sys.exit(0)
    ''')
    completed = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ''
