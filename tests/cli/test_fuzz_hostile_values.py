"""Hypothesis: hostile YAML (alias bombs, deep or recursive nesting, unknown tags,
huge or non-finite numbers, values of a million characters, networks larger than
memory) in experiment files and --set values. Every example ends in bounded time with
exit 0 or 2, short located error lines, never an internal error or a traceback."""

import pathlib
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
TINY = EXPERIMENTS / 'valid' / 'tiny.yaml'
BASE = yaml.safe_load(TINY.read_text())
#: seconds one example may take: about 1 s alone (the alias bomb's refusal is the
#: slowest), generous for a loaded machine; without the limits an example runs for
#: minutes or exhausts memory
BOUND = 30
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _paths(document, prefix=()):
    if prefix:
        yield '.'.join(str(part) if isinstance(part, str) else f"[{part}]"
                       for part in prefix).replace('.[', '[')
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(document, list):
        for position, value in enumerate(document):
            yield from _paths(value, prefix + (position,))


PATHS = sorted(set(_paths(BASE)))


def _bomb(levels, width):
    items = ['&l0 [' + ', '.join(['x'] * width) + ']']
    for level in range(1, levels):
        items.append(f'&l{level} [' + ', '.join([f'*l{level - 1}'] * width) + ']')
    return '[' + ', '.join(items) + ']'


hostile = st.one_of(
    st.builds(lambda depth: '[' * depth + ']' * depth, st.integers(1, 2000)),
    st.builds(lambda depth: '{a: ' * depth + '1' + '}' * depth, st.integers(1, 2000)),
    st.builds(_bomb, st.integers(2, 9), st.integers(2, 12)),
    st.sampled_from(['&a [*a]', '&a {b: *a}', '&a [1, [2, *a]]']),
    st.sampled_from(['!!python/object/apply:os.system [echo hacked]',
                     '!!python/object/apply:os.system {args: [ls]}',
                     '!!python/name:os.system x', '!!python/object:object {}', '!foo [1]',
                     '!!set {a, b}', '!!binary aGVsbG8=', '!!omap [a: 1]',
                     '!!timestamp 2001-12-14']),
    st.sampled_from(['.nan', '-.inf', '.inf', '1e400', '-1e400', str(2 ** 64), str(2 ** 32),
                     str(-2 ** 63), '-0.0', '1e-400']),
    st.builds(lambda size: 'x' * size, st.integers(1000, 1_000_000)),
    st.builds(lambda size: f"F{size} F{size}", st.integers(10 ** 5, 10 ** 9)),
)


def _check(result, started):
    assert time.monotonic() - started < BOUND
    assert 'Traceback' not in result.stderr, result.stderr[:2000]
    assert 'internal error' not in result.stderr, result.stderr[:2000]
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr[:2000])
    if result.exit_code == 2:
        assert result.error_lines, result.stderr[:2000]
    for line in result.stderr.splitlines():
        assert len(line) <= 600, line[:200]


@SETTINGS
@given(path=st.sampled_from(PATHS), value=hostile)
def test_hostile_set_values(bstorm, path, value):
    started = time.monotonic()
    result = bstorm('validate', TINY, '--set', f"{path}={value}")
    _check(result, started)


@SETTINGS
@given(line=st.integers(0, len(TINY.read_text().splitlines())), key=st.sampled_from(
    ['seed', 'name', 'data', 'network', 'trainer', 'extra']), value=hostile)
def test_hostile_values_in_experiment_files(bstorm, tmp_path, line, key, value):
    lines = TINY.read_text().splitlines()
    # replace (or add) one top-level entry by the hostile value
    lines = [text for text in lines if not text.startswith(f"{key}:")]
    lines.insert(min(line, len(lines)), f"{key}: {value}")
    target = tmp_path / 'hostile.yaml'
    target.write_text('\n'.join(lines) + '\n')
    started = time.monotonic()
    result = bstorm('validate', target)
    _check(result, started)
