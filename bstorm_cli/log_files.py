"""Trainer logs as files other tools read while a run goes on: ``logs.csv`` and TensorBoard.

``logs.h5`` (written after every epoch) stays the record of truth; these are views of
the same values, written the moment they are logged:

* ``logs.csv`` (``logging.csv``, on by default): one row per log event, ``epoch,
  update`` and a column per logged number (``validation.Accuracy``), empty where the
  event did not log it; flushed at once, so ``tail -f`` and ``pandas.read_csv`` work
  mid-run. When a log appears that the header lacks, the file is rewritten with a
  wider header (under a temporary name, then renamed).
* TensorBoard event files in the run directory (``logging.tensorboard: true``,
  needs the ``[tensorboard]`` extra, tensorboardX): a scalar per logged number,
  tag ``epoch/LOG`` with the epoch as step for logs of epoch hooks, tag
  ``update/LOG`` with the update as step for logs of update hooks.

Two hooks (:func:`log_file_hooks`) share one :class:`LogFiles`: one runs after every
update, one after every epoch, both after the experiment's hooks, so they see what
those logged in the same round. Their state (rows written) is part of the checkpoint:
``--resume`` cuts ``logs.csv`` back to the checkpoint and writes on from there, and
TensorBoard drops a tag's values past a step it sees again.
"""

import math
import os
import pathlib

from brainstorm.hooks.base import Hook

CSV_FILE = 'logs.csv'
EXTRA_HINT = "pip install '.[tensorboard]' (tensorboardX) or set logging.tensorboard: false"


def _numbers(logs, prefix=''):
    """(dotted name, list) of every list in nested logs, in the logs' order."""
    for key, value in logs.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _numbers(value, name + '.')
        elif isinstance(value, list):
            yield name, value


def _scalar(value):
    """The value as a float, or None for arrays, text and other non-numbers."""
    if getattr(value, 'ndim', 0) not in (0, None) or isinstance(value, (str, bytes)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class LogFiles:
    """Writes every value that appears in the trainer's logs to the enabled files.

    Args:
        folder (pathlib.Path): the run directory.
        csv (bool): append ``logs.csv``.
        tensorboard (bool): write TensorBoard event files (needs tensorboardX).
        timescales (Optional[dict]): hook name -> 'epoch' or 'update', the step axis
            of its logs in TensorBoard (other logs: the timescale of the call that
            finds them).
        expected (Sequence[str]): log names to put in the CSV header from the start
            (those logged only after the first event, like ``rolling_training``).
    """

    def __init__(self, folder, csv=True, tensorboard=False, timescales=None, expected=()):
        self.folder = pathlib.Path(folder)
        self.csv = csv
        self.tensorboard = tensorboard
        self.timescales = dict(timescales or {})
        self.expected = list(expected)
        self.seen = {}          # dotted log name -> values already written
        self.rows = 0           # data rows in logs.csv
        self.columns = None     # the log names of the CSV header, after epoch and update
        self._stream = None
        self._writer = None

    def write_new(self, logs, epoch_nr, update_nr, timescale):
        """Write the values added to ``logs`` since the last call: one CSV row."""
        values = {}
        for name, logged in _numbers(logs):
            for value in logged[self.seen.get(name, 0):]:
                number = _scalar(value)
                if number is not None:
                    values[name] = number
            self.seen[name] = len(logged)
        if not values:
            return
        if self.csv:
            self._write_row(epoch_nr, update_nr, values)
        if self.tensorboard:
            writer = self._tensorboard()
            for name, number in values.items():
                axis = self.timescales.get(name.split('.')[0], timescale)
                writer.add_scalar(f"{axis}/{name}", number,
                                  epoch_nr if axis == 'epoch' else update_nr)
            writer.flush()

    # ---- logs.csv ----------------------------------------------------------------------------
    @property
    def csv_path(self):
        return self.folder / CSV_FILE

    def _write_row(self, epoch_nr, update_nr, values):
        if self.columns is None:
            self.columns = self._header_on_disk() or list(dict.fromkeys(
                list(values) + self.expected))
        new = [name for name in values if name not in self.columns]
        if new:
            self._widen(self.columns + new)
        stream = self._csv()
        cells = [str(epoch_nr), str(update_nr)] + [
            _text(values[name]) if name in values else '' for name in self.columns]
        stream.write(','.join(cells) + '\n')
        stream.flush()
        self.rows += 1

    def _header_on_disk(self):
        if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
            return None
        with open(self.csv_path, encoding='utf-8') as stream:
            return stream.readline().rstrip('\n').split(',')[2:]

    def _csv(self):
        if self._stream is None:
            fresh = self._header_on_disk() is None
            self._stream = open(self.csv_path, 'a', encoding='utf-8', newline='')
            if fresh:
                self._stream.write(','.join(['epoch', 'update'] + self.columns) + '\n')
        return self._stream

    def _rewrite(self, columns, keep_rows):
        """Rewrite logs.csv with the header ``columns`` and its first ``keep_rows`` rows
        (padded with empty cells), under a temporary name, then renamed."""
        self.close_csv()
        lines = []
        if self.csv_path.exists():
            with open(self.csv_path, encoding='utf-8') as stream:
                lines = [line.rstrip('\n') for _, line in zip(range(keep_rows + 1), stream)]
        width = len(columns) + 2
        rows = [line + ',' * (width - 1 - line.count(',')) for line in lines[1:]]
        temporary = self.csv_path.with_name(f".{CSV_FILE}.tmp")
        with open(temporary, 'w', encoding='utf-8', newline='') as stream:
            stream.write('\n'.join([','.join(['epoch', 'update'] + columns)] + rows) + '\n')
        os.replace(temporary, self.csv_path)
        self.columns = list(columns)

    def _widen(self, columns):
        """A log that was not there before: the header grows, earlier rows get empty cells."""
        self._rewrite(columns, self.rows)

    def restore(self, seen, rows):
        """Continue after a checkpoint: forget rows of ``logs.csv`` written after it."""
        self.seen = dict(seen)
        self.rows = int(rows)
        header = self._header_on_disk()
        if self.csv and header is not None:
            self._rewrite(header, self.rows)

    def _tensorboard(self):
        if self._writer is None:
            from tensorboardX import SummaryWriter
            self._writer = SummaryWriter(logdir=str(self.folder), flush_secs=5)
        return self._writer

    def close_csv(self):
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def close(self):
        self.close_csv()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _text(number):
    return repr(number) if math.isfinite(number) else str(number)


class LogFilesHook(Hook):
    """Hands the trainer's logs to :class:`LogFiles` on one timescale (every step)."""

    can_stop = False

    __undescribed__ = {'files': None}

    def __init__(self, files, timescale):
        super().__init__(name=f"bstorm_log_files_{timescale}", timescale=timescale,
                         interval=1, verbose=False)
        self.files = files

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        if self.timescale == 'update' and update_nr == 0:
            return None  # the calls before training: the epoch hook writes them as epoch 0
        self.files.write_new(logs, epoch_nr, update_nr, self.timescale)
        return None

    def end(self):
        super().end()
        if self.timescale == 'epoch':
            self.files.close()

    def get_state(self):
        state = super().get_state()
        state['log_files'] = {'seen': dict(self.files.seen), 'rows': self.files.rows}
        return state

    def set_state(self, state):
        state = dict(state)
        log_files = state.pop('log_files', None)
        super().set_state(state)
        if log_files is not None and self.timescale == 'epoch':
            self.files.restore(log_files['seen'], log_files['rows'])


#: hook names used by bstorm's log files (reserved in experiment files)
HOOK_NAMES = ('bstorm_log_files_update', 'bstorm_log_files_epoch')


def check_logging(experiment):
    """Problems with ``logging`` (the TensorBoard extra missing); a list of BadInputError."""
    if not experiment.resolved.get('logging', {}).get('tensorboard'):
        return []
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return [experiment.error("logging.tensorboard needs tensorboardX, which is not "
                                 "installed", 'logging', 'tensorboard', hint=EXTRA_HINT)]
    return []


def log_file_hooks(experiment, folder):
    """The two hooks that write the experiment's log files into ``folder`` (maybe none)."""
    settings = experiment.resolved.get('logging', {})
    csv, tensorboard = settings.get('csv', True), settings.get('tensorboard', False)
    if not (csv or tensorboard):
        return []
    problems = check_logging(experiment)
    if problems:
        raise problems[0]
    from bstorm_cli.experiment.checks import hook_name
    from bstorm_cli.experiment.user_components import class_name
    timescales = {hook_name(spec): spec.get('timescale', 'epoch')
                  for spec in experiment.resolved['trainer']['hooks']}
    from brainstorm.training.trainer import ROLLING_TRAINING
    trainer = experiment.resolved['trainer']
    # logged only after the first epoch: in the header from the start, so that a
    # usual run never rewrites logs.csv
    expected = [f"{ROLLING_TRAINING}.total_loss"] + [
        f"{ROLLING_TRAINING}.{scorer.get('name') or class_name(scorer['type'])}"
        for scorer in trainer.get('train_scorers', ())]
    files = LogFiles(folder, csv=csv, tensorboard=tensorboard, timescales=timescales,
                     expected=expected)
    return [LogFilesHook(files, 'update'), LogFilesHook(files, 'epoch')]


__all__ = ['LogFiles', 'LogFilesHook', 'log_file_hooks', 'check_logging']
