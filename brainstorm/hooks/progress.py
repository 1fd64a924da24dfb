"""ProgressBar: a rich progress bar over the updates of each epoch, on stderr.

It is the one hook that writes to the terminal, because showing progress is what the
spec's ``ProgressBar()`` is for. When stderr is not a terminal it writes nothing, so
logs and pipes stay clean.
"""

import sys

from brainstorm.hooks.base import Hook


class ProgressBar(Hook):
    """Adds a progress bar to show the training progress.

    Called after every update; draws one bar per epoch (``length`` updates, from the
    training data iterator) to ``sys.stderr`` when that is a terminal.

    Attributes:
        console (Optional[rich.console.Console]): where to draw; None (the default)
            creates a stderr console at :meth:`start`. Tests and the CLI may set it.
    """

    can_stop = False

    __undescribed__ = {'console': None, '_progress_display': None, '_task': None,
                       '_epoch': None, '_total': None}

    provided_log_entries = ()

    def __init__(self):
        super().__init__(name=None, timescale='update', interval=1)
        self.console = None
        self._progress_display = None
        self._task = None
        self._epoch = None
        self._total = None

    def start(self, net, stepper, verbose, named_data_iters):
        super().start(net, stepper, verbose, named_data_iters)
        self._total = getattr(named_data_iters.get('training_data_iter'), 'length', None)
        self._epoch = None

    def _display(self):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        console = self.console if self.console is not None else Console(file=sys.stderr)
        if not console.is_terminal:
            return None
        return Progress(TextColumn('epoch {task.fields[epoch]}'), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if update_nr == 0:
            return  # the call before training
        if epoch_nr != self._epoch:
            self._close()
            self._epoch = epoch_nr
            self._progress_display = self._display()
            if self._progress_display is not None:
                self._progress_display.start()
                self._task = self._progress_display.add_task('', total=self._total,
                                                             epoch=epoch_nr)
        if self._progress_display is not None:
            self._progress_display.advance(self._task)
            task = self._progress_display.tasks[0]
            if task.total is not None and task.completed >= task.total:
                self._close()

    def _close(self):
        if self._progress_display is not None:
            self._progress_display.stop()
            self._progress_display = None

    def end(self):
        self._close()


__all__ = ['ProgressBar']
