"""An environment variable that chooses an implementation, set to a value that cannot be
used: bstorm says so in one line that names the variable (not a place in the experiment
file, which is not at fault), exits 2 and leaves no run directory, nor the output
folders it made for one. In a fresh process: the BLAS choice is read once per process."""

import pathlib

import pytest

from tests.cli.conftest import run_subprocess

EXPERIMENT = pathlib.Path(__file__).resolve().parent / 'experiments' / 'valid' / 'tiny.yaml'


@pytest.mark.parametrize('variable, value, message', [
    ('BRAINSTORM_COMPILED_KERNELS', 'yes',
     "BRAINSTORM_COMPILED_KERNELS='yes' is not one of auto, 1, 0"),
    ('BRAINSTORM_BLAS', 'atlas',
     "BRAINSTORM_BLAS='atlas': expected 'auto', 'onednn', 'mkl', 'openblas' or 'scipy'"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path, variable, value, message):
    result = run_subprocess('train', EXPERIMENT, '--out', tmp_path / 'runs' / 'nested',
                            cwd=tmp_path, env={variable: value})
    assert result.exit_code == 2, result.stderr
    assert result.error_lines == [f"error: {message}"], result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'runs').exists()


def test_an_output_folder_that_was_there_is_kept(tmp_path):
    runs = tmp_path / 'runs'
    (runs / 'earlier-run').mkdir(parents=True)
    (runs / 'empty').mkdir()
    for out in (runs, runs / 'empty'):
        result = run_subprocess('train', EXPERIMENT, '--out', out, cwd=tmp_path,
                                env={'BRAINSTORM_COMPILED_KERNELS': 'yes'})
        assert result.exit_code == 2, result.stderr
    assert sorted(path.name for path in runs.iterdir()) == ['earlier-run', 'empty']
    assert not any((runs / 'empty').iterdir())
