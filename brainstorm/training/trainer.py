"""The Trainer (spec 8.2): epochs of updates, hooks on their schedule, logs, resuming.

One ``train(net, training_data_iter, **named_data_iters)`` call:

1. checks the hooks against the network and the data iterators (a missing iterator,
   an unknown log name, a layer the network lacks, a watcher whose timescale differs
   from its monitor's: one ``TrainingError`` listing every problem, before anything
   runs);
2. starts the stepper and the hooks, then calls every hook once (epoch 0, update 0:
   monitors log the initial values);
3. runs epochs: for each batch of the training iterator it provides the data, lets
   the stepper make an update, adds the batch's losses (and ``train_scorers``) to the
   rolling training log, and calls the ``'update'`` hooks whose interval divides the
   update number; after the epoch it logs ``logs['rolling_training']`` (``total_loss``
   and every train scorer, averaged over the epoch's batches) and calls the
   ``'epoch'`` hooks;
4. stops when a hook raises ``StopIteration`` (the remaining hooks of that round still
   run, so a ``SaveLogs`` after a stopper saves the final logs) or, after the current
   update, when :meth:`Trainer.request_stop` was called.

With ``carry_state=True`` every training batch continues from the recurrent state the
previous one ended with (truncated back-propagation through long sequences, fed by
``SequenceWindows``; see :mod:`brainstorm.training.carried_state`): the state starts
from zero at each epoch and where the data's reset signal says so, and hooks (a
validation pass) carry their own state without disturbing the training's.

Hooks run in the order they were added; a hook's returned dict is appended to
``logs[hook.name]``. Logs hold complete epochs only.

Resuming exactly: :meth:`Trainer.get_state` returns counters, logs, the stepper's
state, the training iterator's state at the start of the current epoch and how many
of its batches were used, the rolling-loss sums, the handler's random state and each
hook's state. After ``set_state(state)`` (on a trainer built the same way, with the
network's parameters restored), ``train(...)`` continues where the run stopped and
gives bit-identical parameters to a run that was never interrupted.
"""

from collections import OrderedDict

import numpy as np

from brainstorm.describable import Describable
from brainstorm.errors import TrainingError
from brainstorm.scorers import aggregate_losses_and_scores, gather_losses_and_scores
from brainstorm.training.utils import Report, add_log, copy_logs, loss_names, print_report

#: name of the trainer's own log of the training loss (and train scorers)
ROLLING_TRAINING = 'rolling_training'
#: name under which the training iterator is passed to the hooks
TRAINING_ITERATOR = 'training_data_iter'
STATE_FORMAT = 'brainstorm-trainer-state'
STATE_VERSION = 1


class Trainer(Describable):
    """Trainer objects organize the process of training a network.

    They employ a training method (a stepper) and call hooks.

    Args:
        stepper (brainstorm.training.steppers.TrainingStepper): makes the updates.
        verbose (bool): report the logs (of hooks whose ``verbose`` is None) and why
            training stopped through :attr:`reporter`.
        carry_state (bool): start every forward pass from the state the previous one
            ended with (forward context carried, gradients not), for long sequences
            cut into consecutive windows by ``SequenceWindows``. The state is reset
            at the start of every epoch and per column by the data's reset signal;
            a resumed run restarts the state of the interrupted epoch from zero.

    Attributes:
        hooks (OrderedDict[str, Hook]): the hooks by name, in the order added.
        train_scorers (list[Scorer]): scorers evaluated on every training batch
            (after its forward pass, before its update) and logged with the loss
            under ``logs['rolling_training']``.
        logs (dict): nested dict of lists; ``logs[hook name][entry]`` and
            ``logs['rolling_training']['total_loss']`` (one value per epoch).
        log_steps (dict): for each top-level name of :attr:`logs`, the epoch and
            update numbers at which its entries were logged:
            ``{'epoch_nr': [...], 'update_nr': [...]}``, one pair per entry (monitors
            log epoch 0 before training; the training loss starts at epoch 1).
        current_epoch_nr (int): the epoch in progress, or the last one completed.
        current_update_nr (int): number of updates made.
        reporter (Optional[callable]): receives a
            :class:`~brainstorm.training.utils.Report` for every verbose log and
            message; the default writes plain text to stderr; None reports nothing.
        stop_reason (Optional[str]): why the last ``train()`` stopped.
        interrupted (bool): True if the last ``train()`` stopped because of
            :meth:`request_stop` (the run is unfinished and can be resumed).
    """

    __undescribed__ = {
        'current_epoch_nr': 0, 'current_update_nr': 0, 'logs': None, 'log_steps': None,
        'reporter': None,
        'stop_reason': None, 'interrupted': False, '_stop_requested': None,
        '_epoch_in_progress': False, '_batches_done': 0, '_epoch_iterator_state': None,
        '_rolling_scores': None, '_pending_state': None, '_net': None,
        '_named_data_iters': None}
    __default_values__ = {'verbose': True, 'carry_state': False}

    def __init__(self, stepper, verbose=True, carry_state=False):
        if not (callable(getattr(stepper, 'start', None)) and
                callable(getattr(stepper, 'run', None))):
            raise TrainingError(f"Trainer: stepper must be a TrainingStepper (with start() "
                                f"and run()), got {type(stepper).__name__}")
        self.stepper = stepper
        self.verbose = verbose
        self.carry_state = bool(carry_state)
        self.hooks = OrderedDict()
        self.train_scorers = []
        self.current_epoch_nr = 0
        self.current_update_nr = 0
        self.logs = OrderedDict()
        self.log_steps = OrderedDict()
        self.reporter = print_report
        self.stop_reason = None
        self.interrupted = False
        self._stop_requested = None
        self._epoch_in_progress = False
        self._batches_done = 0
        self._epoch_iterator_state = None
        self._rolling_scores = OrderedDict()
        self._pending_state = None
        self._net = None
        self._named_data_iters = None

    def __init_from_description__(self, description):
        self.logs = OrderedDict()
        self.log_steps = OrderedDict()
        self.reporter = print_report
        self._rolling_scores = OrderedDict()
        self.hooks = OrderedDict(self.hooks or {})
        self.train_scorers = list(self.train_scorers or [])

    # ---- set-up -------------------------------------------------------------------------------
    def add_hook(self, hook):
        """Add a hook to this trainer.

        Hooks are called in the order they were added, which matters when one hook
        reads another's logs.

        Args:
            hook (brainstorm.hooks.Hook): the hook.

        Raises:
            ValueError: if a hook with the same name has already been added (or the
                name is the reserved 'rolling_training').
        """
        from brainstorm.hooks.base import Hook
        if not isinstance(hook, Hook):
            raise TypeError(f"Trainer.add_hook: expected a brainstorm.hooks.Hook, got "
                            f"{type(hook).__name__}")
        if hook.name == ROLLING_TRAINING:
            raise ValueError(f"Trainer.add_hook: the name {ROLLING_TRAINING!r} is reserved "
                             f"for the trainer's own log; give the hook another name")
        if hook.name in self.hooks:
            raise ValueError(f"Trainer.add_hook: a hook named {hook.name!r} was already "
                             f"added; give this {type(hook).__name__} another name "
                             f"(name=...)")
        self.hooks[hook.name] = hook

    def request_stop(self, reason='stop requested'):
        """Stop training after the current update (safe to call from a signal handler).

        The run can then be saved with :meth:`get_state` and resumed exactly.

        Args:
            reason (str): kept in :attr:`stop_reason`.
        """
        self._stop_requested = str(reason)

    # ---- training ---------------------------------------------------------------------------
    def train(self, net, training_data_iter, **named_data_iters):
        """Train a network using a data iterator and further named data iterators.

        Args:
            net (brainstorm.structure.Network): the network to train.
            training_data_iter (DataIterator): yields the training batches.
            **named_data_iters: iterators the hooks use by name (e.g. ``valid_getter``).

        Raises:
            TrainingError: if the hooks ask for iterators, logs or layers that do not
                exist (before anything runs), or the state to resume does not fit.
        """
        # (Python itself rejects a named iterator called 'training_data_iter')
        iterators = dict(named_data_iters)
        iterators[TRAINING_ITERATOR] = training_data_iter
        self._check_setup(net, iterators)
        self._net, self._named_data_iters = net, iterators
        self.stop_reason = None
        self.interrupted = False
        self.stepper.start(net)
        if self.carry_state:
            from brainstorm.training.carried_state import CarriedState
            net.carried_state = CarriedState()
        try:
            for hook in self.hooks.values():
                hook.report_to = self._report
                hook.start(net, self.stepper, self.verbose, iterators)
            if self._pending_state is not None:
                self._restore_pending_state(net, iterators)
            elif self._call_hooks(net, None) or self._stop_if_requested():
                return
            self._run_epochs(net, training_data_iter)
        finally:
            self._stop_requested = None
            if self.carry_state:
                net.carried_state = None
            for hook in self.hooks.values():
                hook.end()

    def _run_epochs(self, net, training_data_iter):
        while not self._stop_if_requested():
            skip = 0
            if self._epoch_in_progress:  # resuming in the middle of an epoch
                skip = self._batches_done
                if self._epoch_iterator_state is not None:
                    training_data_iter.set_state(self._epoch_iterator_state)
            else:
                self.current_epoch_nr += 1
                self._epoch_in_progress = True
                self._batches_done = 0
                self._rolling_scores = OrderedDict()
                self._epoch_iterator_state = _iterator_state(training_data_iter)
            if net.carried_state is not None:
                net.carried_state.reset()
            batches = training_data_iter(net.handler)
            for _ in range(skip):  # consumed before the interruption
                if next(batches, None) is None:
                    break
            for data in batches:
                self.current_update_nr += 1
                self._batches_done += 1
                net.provide_external_data(data)
                self.stepper.epoch_nr = self.current_epoch_nr - 1
                self.stepper.update_nr = self.current_update_nr - 1
                self.stepper.run()
                gather_losses_and_scores(net, self.train_scorers, self._rolling_scores)
                if self._call_hooks(net, 'update') or self._stop_if_requested():
                    return
            self._epoch_in_progress = False
            self._add_log(ROLLING_TRAINING, aggregate_losses_and_scores(
                self._rolling_scores, net, self.train_scorers), self.verbose)
            self._rolling_scores = OrderedDict()
            if self._call_hooks(net, 'epoch'):
                return

    def _stop_if_requested(self):
        if self._stop_requested is None:
            return False
        self.stop_reason = self._stop_requested
        self.interrupted = True
        self._report(Report('stop', 'Trainer', self.current_epoch_nr, self.current_update_nr,
                            message=f"stopping: {self.stop_reason}"), self.verbose)
        return True

    def _call_hooks(self, net, timescale):
        """Call the due hooks (all of them for ``timescale=None``); True if one stops."""
        count = self.current_epoch_nr if timescale == 'epoch' else self.current_update_nr
        carried = net.carried_state
        # a hook's forward passes (validation) must not change the training's state
        training_context = carried.snapshot() if carried is not None else None
        stop_messages = []
        for hook in self.hooks.values():
            if not self._is_due(hook, timescale, count):
                continue
            if self._skips(hook):
                continue
            hook._progress = (self.current_epoch_nr, self.current_update_nr)
            if carried is not None:
                carried.reset()  # each hook's passes start from zeros
            try:
                result = hook(self.current_epoch_nr, self.current_update_nr, net,
                              self.stepper, self.logs)
            except StopIteration as stop:  # the spec's stop signal; caught only here
                stop_messages.append(str(stop) or f"{hook.name} stopped the training")
                # visible at once, so a state saved by a later hook of this round
                # records that training is over (resuming it trains nothing more)
                self.stop_reason = '; '.join(stop_messages)
                continue
            if result is not None:
                self._add_log(hook.name, result, hook.run_verbosity)
        if carried is not None:
            carried.context = training_context
        if stop_messages:
            self.stop_reason = '; '.join(stop_messages)
            self._report(Report('stop', 'Trainer', self.current_epoch_nr,
                                self.current_update_nr, message=self.stop_reason),
                         self.verbose)
        return bool(stop_messages)

    @staticmethod
    def _is_due(hook, timescale, count):
        """Whether ``hook`` is called in the round of ``timescale`` (None: all) at ``count``."""
        return timescale is None or (hook.timescale == timescale and
                                     count % hook.interval == 0)

    def _skips(self, hook):
        """Whether this process leaves ``hook`` out (data-parallel: file writers)."""
        return False

    def _add_log(self, name, values, verbose):
        add_log(self.logs, name, values)
        steps = self.log_steps.setdefault(name, {'epoch_nr': [], 'update_nr': []})
        steps['epoch_nr'].append(int(self.current_epoch_nr))
        steps['update_nr'].append(int(self.current_update_nr))
        self._report(Report('log', name, self.current_epoch_nr, self.current_update_nr,
                            values=values if isinstance(values, dict) else {name: values}),
                     verbose)

    def _report(self, report, verbose=True):
        if verbose and self.reporter is not None:
            self.reporter(report)

    # ---- checks before training -------------------------------------------------------------
    def _check_setup(self, net, iterators):
        problems = []
        available = {ROLLING_TRAINING: None}
        rolling_entries = loss_names(net) + [scorer.name for scorer in self.train_scorers]
        for scorer in self.train_scorers:
            if scorer.name in loss_names(net):
                problems.append(f"train scorer {scorer.name!r} has the name of one of the "
                                f"network's losses; give it another name")
        hooks = list(self.hooks.values())
        for position, hook in enumerate(hooks):
            label = f"hook {hook.name!r} ({type(hook).__name__})"
            for iter_name in hook.required_iterators():
                if iter_name not in iterators:
                    given = ', '.join(sorted(iterators))
                    problems.append(
                        f"{label} uses the data iterator {iter_name!r}, but train() was given "
                        f"only {given}; pass it as train(net, training_iter, "
                        f"{iter_name}=...)")
            for layer_name in hook.required_layers():
                if layer_name not in net.layers:
                    problems.append(f"{label} monitors the layer {layer_name!r}, which the "
                                    f"network does not have (layers: {', '.join(net.layers)})")
            for log_name in hook.required_logs():
                problem = self._check_log_name(net, label, hook, log_name, available,
                                               rolling_entries, hooks[position + 1:])
                if problem:
                    problems.append(problem)
            available[hook.name] = hook
        if problems:
            raise TrainingError("cannot start training:\n  " + "\n  ".join(problems))

    def _check_log_name(self, net, label, hook, log_name, available, rolling_entries,
                        later_hooks):
        """Return a problem (str) if no hook can log ``log_name``, else None.

        As in brainstorm 0.5, a watcher reads the latest value whenever it is
        called, so a log written on another timescale or interval, or by a hook
        added later, is fine; the trainer only says so (verbose) at the start.
        """
        later = {other.name: other for other in later_hooks}
        candidates = dict(available, **{name: other for name, other in later.items()
                                        if name not in available})
        source_name = next((name for name in sorted(candidates, key=len, reverse=True)
                            if log_name.startswith(name + '.')), None)
        if source_name is None:
            return (f"{label} reads the log {log_name!r}, but no hook logs it; log "
                    f"names are '<hook name>.<entry>' with the hook names "
                    f"{', '.join(candidates)}")
        entry = log_name[len(source_name) + 1:]
        source = candidates[source_name]
        entries = rolling_entries if source is None else source.provided_logs(net)
        if entries is not None and not any(entry == known or entry.startswith(known + '.')
                                           for known in entries):
            return (f"{label} reads the log {log_name!r}, but {source_name!r} logs only "
                    f"{', '.join(entries) or 'nothing'}")
        schedule = ('epoch', 1) if source is None else (source.timescale, source.interval)
        if source_name in later and source_name not in available:
            self._note(f"{label} is called before {source_name!r} (hooks run in the order "
                       f"added): it reads the entry {source_name!r} logged the previous time")
        elif schedule != (hook.timescale, hook.interval):
            self._note(f"{label} is called every {hook.interval} {hook.timescale}(s) and "
                       f"reads {log_name!r}, logged every {schedule[1]} {schedule[0]}(s); it "
                       f"acts on the latest value at each of its calls")
        return None

    @property
    def completed_epochs(self):
        """int: epochs run to their end (one less than the epoch number mid-epoch)."""
        return self.current_epoch_nr - (1 if self._epoch_in_progress else 0)

    def _note(self, text):
        self._report(Report('message', 'Trainer', self.current_epoch_nr,
                            self.current_update_nr, message=text), self.verbose)

    # ---- resuming ---------------------------------------------------------------------------
    def get_state(self):
        """Return everything needed to resume training exactly (plain values and arrays).

        Returns:
            dict: ``format``/``version``; ``epoch_nr``, ``update_nr``;
            ``epoch_in_progress`` (bool) and ``batches_done`` (batches of that epoch
            already used); ``training_iterator_state`` (the training iterator's
            ``get_state()`` at the start of the current epoch, or, between epochs,
            the state the next epoch starts from; None for iterators without
            ``get_state``);
            ``iterator_states`` (name -> ``get_state()`` now, for the other
            iterators); ``rolling_scores`` (name -> float64 array ``(n, 2)`` of
            ``(weight, value)`` pairs of this epoch); ``logs``; ``stepper``
            (``stepper.get_state()``); ``handler_random_state`` (dict of the
            handler's ``rnd``, or None); ``hooks`` (name -> ``hook.get_state()``);
            ``log_steps`` (see :attr:`log_steps`);
            ``stop_reason`` (str or None); ``interrupted`` (bool); ``finished``
            (bool: a hook stopped the training, also when the state is taken by a
            hook called after the stopping one in the same round).
        """
        from brainstorm.data_iterators.base import random_state_to_dict
        net = self._net
        handler_rnd = getattr(net.handler, 'rnd', None) if net is not None else None
        iterators = {}
        for name, iterator in (self._named_data_iters or {}).items():
            if name != TRAINING_ITERATOR:
                state = _iterator_state(iterator)
                if state is not None:
                    iterators[name] = state
        return {
            'format': STATE_FORMAT, 'version': STATE_VERSION,
            'epoch_nr': int(self.current_epoch_nr), 'update_nr': int(self.current_update_nr),
            'epoch_in_progress': bool(self._epoch_in_progress),
            'batches_done': int(self._batches_done),
            'training_iterator_state': self._epoch_iterator_state if self._epoch_in_progress
            else _iterator_state((self._named_data_iters or {}).get(TRAINING_ITERATOR)),
            'iterator_states': iterators,
            'rolling_scores': {name: np.array(pairs, dtype=np.float64).reshape(-1, 2)
                               for name, pairs in self._rolling_scores.items()},
            'logs': copy_logs(self.logs),
            'log_steps': {name: {key: list(numbers) for key, numbers in steps.items()}
                          for name, steps in self.log_steps.items()},
            'stepper': self.stepper.get_state(),
            'handler_random_state': None if handler_rnd is None
            else random_state_to_dict(handler_rnd),
            'hooks': {name: hook.get_state() for name, hook in self.hooks.items()},
            'stop_reason': self.stop_reason,
            'interrupted': bool(self.interrupted),
            'finished': self.stop_reason is not None and not self.interrupted,
        }

    def set_state(self, state):
        """Restore a state made by :meth:`get_state`; the next ``train()`` resumes it.

        Counters and logs are restored at once; the stepper, hooks, iterators and
        handler random state when ``train()`` has started them. The network's
        parameters are not part of the state: load them into the network as well.

        Raises:
            TrainingError: if ``state`` is not a trainer state.
        """
        required = ('epoch_nr', 'update_nr', 'epoch_in_progress', 'batches_done', 'logs',
                    'stepper', 'hooks', 'rolling_scores')
        if not isinstance(state, dict) or state.get('format') != STATE_FORMAT:
            raise TrainingError("Trainer.set_state: not a trainer state (made by "
                                "Trainer.get_state())")
        missing = [key for key in required if key not in state]
        if missing:
            raise TrainingError(f"Trainer.set_state: the state lacks {', '.join(missing)}")
        unknown_hooks = [name for name in state['hooks'] if name not in self.hooks]
        if unknown_hooks:
            raise TrainingError(f"Trainer.set_state: the state has hooks this trainer does "
                                f"not ({', '.join(unknown_hooks)}); add the same hooks "
                                f"first")
        self.current_epoch_nr = int(state['epoch_nr'])
        self.current_update_nr = int(state['update_nr'])
        self._epoch_in_progress = bool(state['epoch_in_progress'])
        self._batches_done = int(state['batches_done'])
        self._epoch_iterator_state = state.get('training_iterator_state')
        self.logs = _logs_from_state(state['logs'])
        self.log_steps = OrderedDict(  # absent from states saved before it existed
            (name, {key: [int(number) for number in numbers]
                    for key, numbers in steps.items()})
            for name, steps in (state.get('log_steps') or {}).items())
        self._rolling_scores = OrderedDict(
            (name, [tuple(float(x) for x in pair) for pair in np.asarray(pairs).reshape(-1, 2)])
            for name, pairs in state['rolling_scores'].items())
        self.stop_reason = state.get('stop_reason')
        self.interrupted = bool(state.get('interrupted', False))
        self._pending_state = state

    def _restore_pending_state(self, net, iterators):
        from brainstorm.data_iterators.base import set_random_state_from_dict
        state, self._pending_state = self._pending_state, None
        self.stepper.set_state(state['stepper'])
        for name, hook_state in state['hooks'].items():
            self.hooks[name].set_state(hook_state)
        random_state = state.get('handler_random_state')
        if random_state is not None and getattr(net.handler, 'rnd', None) is not None:
            set_random_state_from_dict(net.handler.rnd, random_state, 'Trainer.set_state')
        training_state = state.get('training_iterator_state')
        if not self._epoch_in_progress and training_state is not None:
            # between epochs: the next epoch starts from the saved state
            iterators[TRAINING_ITERATOR].set_state(training_state)
        for name, iterator_state in (state.get('iterator_states') or {}).items():
            if name in iterators and hasattr(iterators[name], 'set_state'):
                iterators[name].set_state(iterator_state)


def _iterator_state(iterator):
    """``iterator.get_state()`` if the iterator has one, else None."""
    get_state = getattr(iterator, 'get_state', None)
    return get_state() if callable(get_state) else None


def _logs_from_state(logs):
    """Logs as saved (lists may have become arrays in a file) back to dicts of lists."""
    if isinstance(logs, dict):
        return OrderedDict((key, _logs_from_state(value)) for key, value in logs.items())
    if isinstance(logs, np.ndarray):
        return [item.item() if isinstance(item, np.generic) else item for item in logs]
    return list(logs)


__all__ = ['Trainer']
