"""The run directory: one process at a time (a lock naming its holder), temporary
files of killed writes removed on resume, files created with the user's umask, and
SIGTERM or a double Ctrl-C at awkward moments leaving a consistent state."""

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

TINY = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(*arguments, umask=None):
    def set_umask():
        os.umask(umask)
    return subprocess.run([sys.executable, '-m', 'bstorm_cli', *map(str, arguments)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=None if umask is None else set_umask)


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp('runs')
    result = _run('train', TINY, '--out', folder, umask=0o022)
    assert result.returncode == 0, result.stderr
    (run,) = folder.iterdir()
    return run


@pytest.mark.parametrize('umask, mode', [(0o022, 0o644), (0o077, 0o600)])
def test_files_respect_the_umask(finished_run, tmp_path, umask, mode):
    run = finished_run
    if umask != 0o022:
        result = _run('train', TINY, '--out', tmp_path, umask=umask)
        assert result.returncode == 0, result.stderr
        (run,) = tmp_path.iterdir()
    for name in ('experiment.yaml', 'status.json', 'logs.h5', 'last.h5', 'best.h5',
                 'checkpoint.h5', 'command.txt'):
        assert stat.S_IMODE((run / name).stat().st_mode) == mode, name


def test_a_locked_run_is_refused_naming_the_holder(finished_run):
    from bstorm_cli.experiment.run_lock import RunLock
    (finished_run / 'status.json').write_text('{"status": "running"}')
    with RunLock(finished_run, 'bstorm train --resume elsewhere'):
        result = _run('train', '--resume', finished_run)
    assert result.returncode == 2, result.stderr
    assert f"this run is in use by process {os.getpid()}" in result.stderr
    assert 'bstorm train --resume elsewhere' in result.stderr
    after = _run('train', '--resume', finished_run)  # the holder is gone: the lock is free
    assert after.returncode == 0 and 'already finished' in after.stderr, after.stderr


def test_stale_temporaries_are_removed_on_resume(finished_run):
    stale = [finished_run / '.checkpoint.h5.abc123.tmp', finished_run / '.last.h5.x.tmp']
    for path in stale:
        path.write_bytes(b'partial')
    keep = finished_run / 'notes.tmp'
    keep.write_text('mine')
    result = _run('train', '--resume', finished_run)
    assert result.returncode == 0, result.stderr
    assert not any(path.exists() for path in stale) and keep.exists()


def test_sigterm_before_training_starts_leaves_no_half_made_run(tmp_path):
    # the signal arrives while the run is being set up (after its folder exists)
    wrapper = ("import os, signal, sys\n"
               "from bstorm_cli.experiment import setup\n"
               "original = setup.build_run\n"
               "def build_run(*a, **k):\n"
               "    os.kill(os.getpid(), signal.SIGTERM)\n"
               "    return original(*a, **k)\n"
               "setup.build_run = build_run\n"
               "from bstorm_cli.main import main\n"
               "main(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, '-c', wrapper, 'train', str(TINY), '--out',
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 130, result.stderr
    assert 'error: interrupted' in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_counts_complete_epochs(tmp_path):
    # SIGINT inside epoch 2 (after the checkpoint of epoch 1)
    wrapper = ("import os, signal, sys\n"
               "from bstorm_cli.experiment import run_dir\n"
               "original, count = run_dir.save_checkpoint, [0]\n"
               "def save(*a):\n"
               "    original(*a)\n"
               "    count[0] += 1\n"
               "    if count[0] == 2:\n"
               "        os.kill(os.getpid(), signal.SIGINT)\n"
               "run_dir.save_checkpoint = save\n"
               "from bstorm_cli.main import main\n"
               "main(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, '-c', wrapper, 'train', str(TINY), '--out',
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 130, result.stderr
    (run,) = tmp_path.iterdir()
    status = json.loads((run / 'status.json').read_text())
    assert status['status'] == 'interrupted' and status['epochs'] == 1
    assert 'in epoch 2 (1 complete)' in result.stderr
    assert 'final ' not in result.stdout


def test_a_second_ctrl_c_while_the_end_is_written_leaves_status_interrupted(tmp_path):
    wrapper = ("import os, signal, sys\n"
               "from bstorm_cli.experiment import run_dir\n"
               "original, count = run_dir.save_checkpoint, [0]\n"
               "def save(path, parameters, state, info):\n"
               "    count[0] += 1\n"
               "    if count[0] == 2:\n"
               "        os.kill(os.getpid(), signal.SIGINT)\n"
               "    if info['reason'] == 'SIGINT':\n"
               "        os.kill(os.getpid(), signal.SIGINT)\n"
               "    original(path, parameters, state, info)\n"
               "run_dir.save_checkpoint = save\n"
               "from bstorm_cli.main import main\n"
               "main(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, '-c', wrapper, 'train', str(TINY), '--out',
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 130, result.stderr
    (run,) = tmp_path.iterdir()
    assert json.loads((run / 'status.json').read_text())['status'] == 'interrupted'
    resumed = _run('train', '--resume', run)
    assert resumed.returncode == 0, resumed.stderr
