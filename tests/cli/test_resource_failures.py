"""Disk full, no permission, out of memory: one line that says what and where, exit 1,
and a status.json that says the run failed (in place when a new file cannot be made)."""

import errno
import json
import pathlib

import pytest

TINY = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'


@pytest.mark.parametrize('number, message', [
    (errno.ENOSPC, 'No space left on device'), (errno.EACCES, 'Permission denied')])
def test_a_failed_write_mid_run_is_one_line_and_a_failed_status(bstorm, tmp_path, monkeypatch,
                                                                number, message):
    from bstorm_cli.experiment import run_dir
    original, calls = run_dir.save_checkpoint, []

    def failing_save(path, *arguments):
        calls.append(path)
        if len(calls) == 3:  # the checkpoint of epoch 2
            raise OSError(number, message, str(path))
        original(path, *arguments)
    monkeypatch.setattr(run_dir, 'save_checkpoint', failing_save)
    original_write = run_dir.write_json

    def failing_status(path, data):  # the folder takes no new files any more
        if len(calls) >= 3:
            raise OSError(number, message, str(path))
        original_write(path, data)
    monkeypatch.setattr(run_dir, 'write_json', failing_status)
    result = bstorm('train', TINY, '--out', tmp_path)
    assert result.exit_code == 1, result.stderr
    assert result.error_lines == [
        f"error: training stopped: {calls[2]}: {message}"], result.stderr
    assert 'internal error' not in result.stderr and 'Traceback' not in result.stderr
    (run,) = tmp_path.iterdir()
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'failed' and message in status['message']


def test_resource_failures_are_one_line_naming_the_file():
    from bstorm_cli.main import resource_error_line
    assert resource_error_line(MemoryError()) == 'error: out of memory'
    assert resource_error_line(OSError(errno.ENOSPC, 'No space left on device', 'f.h5')) == \
        'error: f.h5: No space left on device'
    assert resource_error_line(ValueError('x')) is None
    h5py_style = OSError("Can't write data (file write failed: time = now,\n errno = 28, "
                         "error message = 'No space left on device')")
    line = resource_error_line(h5py_style)
    assert line.startswith('error: no space left on the device') and '\n' not in line
