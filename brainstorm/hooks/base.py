"""The Hook base class: what the trainer calls, when, and what a hook may declare.

A hook is called by the trainer once before training (epoch 0, update 0) and then
every ``interval`` epochs or updates (its ``timescale``), in the order the hooks were
added. It receives ``(epoch_nr, update_nr, net, stepper, logs)`` and returns a dict
(logged under ``logs[hook.name]``) or None. A hook stops training by raising
``StopIteration`` (with a message saying why).

Hooks declare what they need so that ``Trainer.train`` can check it before the first
epoch: the data iterators (``required_iterators``), the logs of earlier hooks
(``required_logs``), the layers of the network (``required_layers``), and what they
log themselves (``provided_logs``). Hooks that keep something between calls (a best
value, a patience counter) return it from ``get_state`` so a run can be resumed.
"""

import numbers

from brainstorm.describable import Describable
from brainstorm.errors import ValidationError
from brainstorm.training.utils import Report

TIMESCALES = ('epoch', 'update')


class Hook(Describable):
    """Base class of trainer hooks.

    Args:
        name (Optional[str]): key of this hook's entries in the trainer logs;
            defaults to the class name.
        timescale (str): ``'epoch'`` or ``'update'``: what ``interval`` counts.
        interval (int): the hook is called every ``interval`` epochs/updates.
        verbose (Optional[bool]): whether this hook's logs and messages are
            reported; None uses the trainer's ``verbose``.

    Attributes:
        run_verbosity (bool): the verbosity in effect (set by :meth:`start`).
        report_to (Optional[callable]): set by the trainer; receives the
            :class:`~brainstorm.training.utils.Report` of :meth:`message`.
    """

    __undescribed__ = {'run_verbosity': None, 'report_to': None, '_progress': None}
    __default_values__ = {'timescale': 'epoch', 'interval': 1, 'verbose': None}
    #: the entries this hook logs when they do not depend on the network; None: unknown
    #: (a user's hook that does not say), () for a hook that logs nothing
    provided_log_entries = None

    #: True for hooks that write files (the savers): under data-parallel training
    #: only the process of rank 0 calls them
    writes_files = False

    #: False for hooks that never raise StopIteration (monitors, savers, progress
    #: displays): under data-parallel training the processes agree on stopping only
    #: after rounds of hooks in which a hook that can stop was called, so hooks that
    #: cannot stop, even one called after every update, cost no communication. A
    #: hook declaring False that raises StopIteration anyway ends the training with
    #: a TrainingError there (it could not be agreed on)
    can_stop = True

    def __init__(self, name=None, timescale='epoch', interval=1, verbose=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValidationError(f"{type(self).__name__}: name must be a non-empty string "
                                  f"or None, got {name!r}")
        if timescale not in TIMESCALES:
            raise ValidationError(f"{type(self).__name__}: timescale must be 'epoch' or "
                                  f"'update', got {timescale!r}")
        if isinstance(interval, bool) or not isinstance(interval, numbers.Integral) \
                or interval < 1:
            raise ValidationError(f"{type(self).__name__}: interval must be a positive "
                                  f"integer, got {interval!r}")
        if verbose is not None and not isinstance(verbose, bool):
            raise ValidationError(f"{type(self).__name__}: verbose must be True, False or "
                                  f"None, got {verbose!r}")
        self.name = type(self).__name__ if name is None else name
        self.timescale = timescale
        self.interval = int(interval)
        self.verbose = verbose
        self.run_verbosity = False
        self.report_to = None
        self._progress = (0, 0)

    @property
    def __name__(self):
        """The original's spelling of :attr:`name`."""
        return self.name

    # ---- what the trainer checks before training -----------------------------------------
    def required_iterators(self):
        """Names of the data iterators (``train()`` keyword names) this hook uses."""
        return ()

    def required_logs(self):
        """Dotted log names (``'<hook name>.<entry>'``) this hook reads."""
        return ()

    def required_layers(self):
        """Names of network layers this hook reads."""
        return ()

    def provided_logs(self, net):
        """Dotted entries this hook logs (relative to its name), or None if unknown.

        The default is ``provided_log_entries``: None (unknown) for a hook that does
        not declare it, so a user's hook may log any entry a watcher reads.
        """
        return self.provided_log_entries

    # ---- the calls ------------------------------------------------------------------------
    def start(self, net, stepper, verbose, named_data_iters):
        """Called once by ``Trainer.train`` before training starts (or resumes).

        Args:
            net (Network): the network being trained.
            stepper (TrainingStepper): the trainer's stepper.
            verbose (bool): the trainer's verbosity (used when ``self.verbose`` is None).
            named_data_iters (dict): name -> data iterator, including
                ``'training_data_iter'``.
        """
        self.run_verbosity = verbose if self.verbose is None else self.verbose

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        """Do this hook's work; return a dict to log or None; raise StopIteration to stop.

        Args:
            epoch_nr (int): the current epoch (0 before training; at the end of an
                epoch, the number of that epoch).
            update_nr (int): completed parameter updates.
            net (Network): the network.
            stepper (TrainingStepper): the stepper.
            logs (dict): the trainer's logs so far (read only).
        """
        return None

    def end(self):
        """Called once when ``train()`` returns or raises (release signals, close bars)."""

    def message(self, text):
        """Report ``text`` to the user (through the trainer) if this hook is verbose."""
        if self.run_verbosity and self.report_to is not None:
            epoch_nr, update_nr = self._progress
            self.report_to(Report('message', self.name, epoch_nr, update_nr, message=text))

    # ---- resuming -------------------------------------------------------------------------
    def get_state(self):
        """Return what this hook keeps between calls (plain values), for resuming."""
        return {}

    def set_state(self, state):
        """Restore what :meth:`get_state` returned (called after :meth:`start`)."""

    def __repr__(self):
        return (f"<{type(self).__name__} {self.name!r}: every {self.interval} "
                f"{self.timescale}(s)>")


__all__ = ['Hook']
