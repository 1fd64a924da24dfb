"""Every file in experiments/invalid/ fails validation with the message in its .expect file:
exit 2, one 'error: FILE:LINE:COL: json.path: ...' line per problem, no traceback."""

import re

import pytest

import pathlib

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / "experiments"

INVALID = sorted((EXPERIMENTS / 'invalid').glob('*.yaml'))
LOCATED = re.compile(r'^error: \S+\.yaml(:\d+:\d+)?: \S')


def test_there_are_many_distinct_invalid_experiments():
    assert len(INVALID) >= 25
    expectations = [path.with_suffix('.expect').read_text() for path in INVALID]
    assert len(set(expectations)) == len(expectations)


@pytest.mark.parametrize('path', INVALID, ids=[path.stem for path in INVALID])
def test_invalid_experiment_gives_its_message(bstorm, path):
    expected = path.with_suffix('.expect').read_text().strip()
    result = bstorm('validate', path)
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert 'Traceback' not in result.stderr
    assert result.stdout == ''
    assert result.error_lines, result.stderr
    for line in result.error_lines:
        assert LOCATED.match(line), line
