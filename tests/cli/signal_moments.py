"""Experiment components that send a signal at a chosen moment of a run (tests only).

The tests copy this module next to an experiment that lists it in ``imports:`` and adds
the hook ``signal_moments:SignalAt`` (after the stoppers) with one ``moment``:

* ``update``: after update ``at`` (the run stops in the middle of the training);
* ``last_round``: in the round of epoch hooks of epoch ``at``, after the stopper that
  ends the training in that round;
* ``end``: when ``Trainer.train`` has returned (``Hook.end``), before the run writes
  its end;
* ``test``: during the final test score, in the first call of the scorer
  ``signal_moments:SignalingAccuracy`` after the training;
* ``exit``: when the process exits (``atexit``), after the command has returned.

Alone, the process signals itself; under ``mpiexec``, rank 0 signals ``mpiexec``, which
passes the signal on to every rank, as a scheduler or a terminal would (``to: self``:
every rank signals itself instead). Every process then waits until the signal has
reached it (a byte on a wakeup file descriptor), so it arrives at that moment, never
later (no timing luck). ``count: 2`` sends it twice (a double Ctrl-C). At ``exit`` each
process signals itself: a signal to oneself arrives before ``os.kill`` returns,
whatever its disposition (ignored, handled or fatal).
"""

import atexit
import os
import select
import signal

from brainstorm.hooks.base import Hook
from brainstorm.scorers import Accuracy

#: what the scorer is to send in its next call: [(signal name, count)]
_ARMED = []
WAIT_SECONDS = 60


def _under_mpiexec():
    return 'PMI_RANK' in os.environ


def _rank():
    return int(os.environ.get('PMI_RANK', '0'))


def _launcher():
    """mpiexec: the parent of this rank's hydra_pmi_proxy."""
    with open(f"/proc/{os.getppid()}/stat") as file:
        return int(file.read().rsplit(')', 1)[1].split()[1])


def send_and_wait(name, count=1, to='launcher'):
    """Send signal ``name`` ``count`` times (rank 0 to mpiexec, or each process to itself)
    and wait until each has arrived here."""
    number = int(signal.Signals[name])
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end)
    try:
        for _ in range(count):
            if not _under_mpiexec() or to == 'self':
                os.kill(os.getpid(), number)
            elif _rank() == 0:
                os.kill(_launcher(), number)
            while True:
                ready, _, _ = select.select([read_end], [], [], WAIT_SECONDS)
                if not ready:
                    raise RuntimeError(f"{name} did not arrive within {WAIT_SECONDS} s")
                if number in os.read(read_end, 1):
                    break
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)


def _signal_self(name):
    os.kill(os.getpid(), int(signal.Signals[name]))


class SignalAt(Hook):
    """Send ``signal`` (a name, e.g. SIGTERM) ``count`` times at ``moment`` (see above)."""

    def __init__(self, moment, signal='SIGTERM', at=0, count=1, to='launcher', name=None):
        super().__init__(name=name, timescale='update' if moment == 'update' else 'epoch',
                         interval=1)
        self.moment, self.signal, self.at, self.count = moment, signal, at, count
        self.to = to

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if (self.moment, self.at) in (('update', update_nr), ('last_round', epoch_nr)):
            send_and_wait(self.signal, self.count, self.to)

    def end(self):
        if self.moment == 'end':
            send_and_wait(self.signal, self.count, self.to)
        elif self.moment == 'test':
            _ARMED.append((self.signal, self.count, self.to))
        elif self.moment == 'exit':
            atexit.register(_signal_self, self.signal)


class SignalingAccuracy(Accuracy):
    """Accuracy that sends the signal a ``test`` SignalAt armed, in its next call."""

    def __call__(self, true_labels, predicted, mask=None):
        if _ARMED:
            send_and_wait(*_ARMED.pop())
        return super().__call__(true_labels, predicted, mask)
