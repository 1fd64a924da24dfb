"""What the user sees while ``bstorm train`` runs (the engine never prints).

On a terminal: a rich progress bar per epoch (batches done, rate, elapsed time, ETA),
above it one table row per epoch with the monitored values, and a summary at the end.
When stderr is not a terminal (a pipe, a log file, CI): no bar, the same rows as plain
text, and a progress line at a fixed wall-time interval (``progress_lines``), so logs
stay readable and still show that a long epoch is moving.

Two small hooks feed it: one after every update (advances the bar) and one after every
epoch (prints the row); ``training_run`` adds them after the experiment's own hooks so
the row shows what the monitors logged in that epoch.
"""

import math
import time

from brainstorm.hooks.base import Hook

from bstorm_cli import console
from bstorm_cli.progress_lines import DEFAULT_INTERVAL, ProgressLines


def latest_numbers(logs, prefix=''):
    """(dotted name, last value) of every list in nested logs with a numeric last value."""
    for key, value in logs.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from latest_numbers(value, name + '.')
        elif isinstance(value, list) and value:
            last = value[-1]
            try:
                number = float(last)
            except (TypeError, ValueError):
                continue
            if getattr(last, 'ndim', 0) in (0, None):
                yield name, number


def format_value(value):
    """A table cell: '-' for nothing logged, 'nan'/'inf'/'-inf' for non-finite values."""
    if value is None:
        return '-'
    if not math.isfinite(value):
        return str(float(value))
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4f}"


class TrainingDisplay:
    """Renders epochs, rows and the summary on the stderr console."""

    def __init__(self, run_name, batches_per_epoch, max_epochs=None, quiet=False,
                 verbose=False, interval=DEFAULT_INTERVAL, samples_per_batch=None,
                 running_loss=None):
        self.console = console.err()
        #: print nothing but errors (bstorm tune's trials, --quiet)
        self.quiet = quiet
        #: progress lines every ``interval`` seconds: off a terminal, or with --verbose
        #: on one (instead of the bar)
        self.lines = None
        if not quiet and (verbose or not self.console.is_terminal):
            self.lines = ProgressLines(batches_per_epoch, max_epochs, samples_per_batch,
                                       running_loss, interval)
        self.batch_in_epoch = 0
        self.run_name = run_name
        self.batches_per_epoch = batches_per_epoch
        self.max_epochs = max_epochs
        self.columns = None
        self.progress = None
        self.task = None
        self.epoch = None
        self.epoch_started = None
        self.started = time.monotonic()
        self.rows = 0

    # ---- the bar ------------------------------------------------------------------------------
    def _new_bar(self, epoch_nr):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        if not self.console.is_terminal or self.quiet or self.lines is not None:
            return
        of = f"/{self.max_epochs}" if self.max_epochs else ''
        self.progress = Progress(
            TextColumn(f"epoch {epoch_nr}{of}"), BarColumn(), MofNCompleteColumn(),
            TextColumn('{task.fields[rate]}'), TextColumn('elapsed'), TimeElapsedColumn(),
            TextColumn('eta'), TimeRemainingColumn(), console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task('', total=self.batches_per_epoch, rate='')

    def advance(self, epoch_nr):
        """One update of ``epoch_nr`` is done."""
        if epoch_nr != self.epoch:
            self.close_bar()
            self.epoch = epoch_nr
            self.epoch_started = time.monotonic()
            self.batch_in_epoch = 0
            self._new_bar(epoch_nr)
        self.batch_in_epoch += 1
        if self.lines is not None:
            line = self.lines.update(epoch_nr, self.batch_in_epoch)
            if line is not None:
                self._print(line, style='dim')
        if self.progress is not None:
            task = self.progress.tasks[0]
            seconds = max(time.monotonic() - self.epoch_started, 1e-9)
            rate = f"{(task.completed + 1) / seconds:.1f} batches/s"
            self.progress.update(self.task, advance=1, rate=rate)

    def close_bar(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # ---- rows ----------------------------------------------------------------------------------
    def epoch_row(self, epoch_nr, logs):
        """Print the row of ``epoch_nr``: the latest value of every logged quantity."""
        self.close_bar()
        values = dict(latest_numbers(logs))
        if self.columns is None:
            self.columns = list(values)
            self._print_header()
        seconds = time.monotonic() - (self.epoch_started or self.started)
        cells = [f"{epoch_nr:>5}"] + [f"{format_value(values.get(name)):>{self._width(name)}}"
                                      for name in self.columns] + [f"{seconds:>7.1f}s"]
        self._print('  '.join(cells))
        self.rows += 1

    def _width(self, name):
        return max(len(name), 10)

    def _print_header(self):
        cells = ['epoch'] + [f"{name:>{self._width(name)}}" for name in self.columns] + \
            ['   time']
        self._print('  '.join(cells), style='bold')

    def _print(self, text, style=None):
        if self.quiet:
            return
        self.console.print(text, markup=False, highlight=False, style=style,
                           soft_wrap=True)

    def note(self, text):
        """A message from the trainer or a hook (why training stopped, ...)."""
        self.close_bar()
        self._print(text, style='dim')

    def summary(self, lines):
        self.close_bar()
        for line in lines:
            self._print(line)


class UpdateProgressHook(Hook):
    """Called after every update: advances the display's bar."""

    can_stop = False

    __undescribed__ = {'display': None}

    def __init__(self, display):
        super().__init__(name='bstorm_progress', timescale='update', interval=1,
                         verbose=False)
        self.display = display

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if update_nr > 0:
            self.display.advance(epoch_nr)
        return None
