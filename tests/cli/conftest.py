"""Running bstorm in tests: in-process (fast, for messages) and as a user does (subprocess)."""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self):
        return [line for line in self.stderr.splitlines() if line.startswith('error:')]


def run_in_process(capsys, *arguments):
    """Run ``bstorm ARGUMENTS`` through ``main()`` in this process."""
    from bstorm_cli.main import main
    capsys.readouterr()
    try:
        main([str(argument) for argument in arguments])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    else:  # pragma: no cover - main always exits
        code = 0
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(*arguments, cwd=None, timeout=300, env=None):
    """Run ``python -m bstorm_cli ARGUMENTS`` with the project's interpreter."""
    full_env = dict(os.environ)
    full_env.pop('COLUMNS', None)
    full_env.update(env or {})
    completed = subprocess.run([sys.executable, '-m', 'bstorm_cli',
                                *[str(argument) for argument in arguments]],
                               cwd=cwd or ROOT, capture_output=True, text=True,
                               timeout=timeout, env=full_env)
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def bstorm(capsys):
    """Call as ``bstorm('validate', path)``; returns a Result."""
    def run(*arguments):
        return run_in_process(capsys, *arguments)
    return run


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    """A finished run of experiments/valid/tiny.yaml (3 epochs), shared by the tests that
    only read a run directory (predict, export, info)."""
    folder = tmp_path_factory.mktemp('tiny_run')
    result = run_subprocess('train', EXPERIMENTS / 'valid' / 'tiny.yaml', '--out', folder,
                            cwd=folder)
    assert result.exit_code == 0, result.stderr
    (run,) = folder.iterdir()
    return run


#: the experiment components that send a signal at a chosen moment (signalling_experiment)
COMPONENTS = pathlib.Path(__file__).resolve().parent / 'signal_moments.py'


def signalling_experiment(folder, moment, signal='SIGTERM', at=0, count=1, to='launcher'):
    """The MPI tests' digits experiment (3 epochs, a test split) with a SignalAt hook at
    ``moment`` and the validation scorer that signals during the test score, written to
    ``folder`` with signal_moments.py beside it; returns its path."""
    from tests.parallel.conftest import EXPERIMENT
    text = EXPERIMENT.read_text()
    replacements = [
        ('name: digits_mpi\n', 'name: digits_signal\nimports: [signal_moments]\n'),
        ('scorers: [{type: Accuracy}]',
         "scorers: [{type: 'signal_moments:SignalingAccuracy', name: Accuracy}]"),
        ('    - {type: StopAfterEpoch, max_epochs: 3}\n',
         '    - {type: StopAfterEpoch, max_epochs: 3}\n'
         f"    - {{type: 'signal_moments:SignalAt', moment: {moment}, signal: {signal}, "
         f"at: {at}, count: {count}, to: {to}, name: signal_at}}\n")]
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    shutil.copy(COMPONENTS, folder / COMPONENTS.name)
    path = folder / f"{moment}.yaml"
    path.write_text(text)
    return path
