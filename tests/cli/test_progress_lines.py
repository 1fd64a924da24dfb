"""Progress lines at a fixed wall-time interval when there is no terminal; --quiet."""

import pathlib
import re

from bstorm_cli.progress_lines import ProgressLines, duration_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / 'configs' / 'quickstart.yaml'


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_line_is_due_only_after_the_interval():
    clock = FakeClock()
    lines = ProgressLines(batches_per_epoch=40, max_epochs=3, samples_per_batch=32,
                          running_loss=lambda: 0.5, interval=30, clock=clock)
    clock.now += 10
    assert lines.update(1, 1) is None
    clock.now += 10
    assert lines.update(1, 2) is None
    clock.now += 10  # 30 s, 3 batches: 0.1 batches/s
    line = lines.update(1, 3)
    # 37 batches of this epoch and 2 more epochs of 40 are left: 117 batches at 0.1/s
    assert line == ('progress: epoch 1/3, batch 3/40 (7%), 3.2 samples/s, ETA 19m30s, '
                    'training loss 0.5000')
    clock.now += 29
    assert lines.update(1, 4) is None
    clock.now += 1
    assert lines.update(1, 5).startswith('progress: epoch 1/3, batch 5/40 (12%)')


def test_unknown_sizes_leave_their_parts_out():
    clock = FakeClock()
    lines = ProgressLines(batches_per_epoch=None, interval=1, clock=clock)
    clock.now += 2
    assert lines.update(4, 2) == 'progress: epoch 4, batch 2, 0.50 batches/s'


def test_durations():
    assert [duration_text(seconds) for seconds in (5, 65, 3600 + 120)] == \
        ['5s', '1m05s', '1h02m']


def test_train_without_a_terminal_prints_progress_lines(tmp_path, bstorm):
    result = bstorm('train', QUICKSTART, '--out', tmp_path, '--progress-interval', '0.01',
                    '--set', 'trainer.hooks[1].max_epochs=1')
    assert result.exit_code == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith('progress:')]
    assert progress
    pattern = re.compile(r'progress: epoch 1/1, batch (\d+)/41 \(\d+%\), [\d.]+ samples/s, '
                         r'ETA \w+, training loss [\d.]+$')
    assert all(pattern.match(line) for line in progress), progress


def test_quiet_prints_only_the_result(tmp_path, bstorm):
    result = bstorm('train', QUICKSTART, '--out', tmp_path, '--quiet', '--progress-interval',
                    '0.01', '--set', 'trainer.hooks[1].max_epochs=1')
    assert result.exit_code == 0
    assert result.stderr == ''
    assert result.stdout.startswith('run directory: ')
    assert bstorm('train', QUICKSTART, '--quiet', '--verbose').exit_code == 2
