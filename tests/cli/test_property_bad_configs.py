"""Hypothesis: broken experiment files and --set values give exit 2 with located error
lines, never a traceback or an internal error."""

import copy
import pathlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXPERIMENTS = pathlib.Path(__file__).resolve().parent / 'experiments'
BASE = yaml.safe_load((EXPERIMENTS / 'valid' / 'tiny.yaml').read_text())

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=12), st.sampled_from(['1e-3', 'yes', 'Minibatches', 'F',
                                                           'builtin:digits', '', 'T']))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=3),
    st.dictionaries(st.sampled_from(['type', 'size', 'name', 'file', 'chain', 'x']), children,
                    max_size=3)), max_leaves=6)


def _paths(document, prefix=()):
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(document, list):
        for position, value in enumerate(document):
            yield from _paths(value, prefix + (position,))


ALL_PATHS = [path for path in _paths(BASE) if path]


def _mutate(document, path, action, value):
    document = copy.deepcopy(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == 'replace':
        parent[last] = value
    elif action == 'delete':
        del parent[last]
    elif action == 'add' and isinstance(parent, dict):
        parent[f"{last}x"] = value
    else:
        parent[last] = [parent[last], value]
    return document


def _check(result):
    assert 'Traceback' not in result.stderr, result.stderr
    assert 'internal error' not in result.stderr, result.stderr
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert result.error_lines, result.stderr
        assert all(line.startswith('error: ') for line in result.error_lines)


@SETTINGS
@given(path=st.sampled_from(ALL_PATHS), action=st.sampled_from(['replace', 'delete', 'add',
                                                                 'wrap']),
       value=values)
def test_mutated_experiment_is_rejected_cleanly(bstorm, tmp_path, path, action, value):
    document = _mutate(BASE, path, action, value)
    target = tmp_path / 'mutated.yaml'
    target.write_text(yaml.safe_dump(document))
    _check(bstorm('validate', target))


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list('abc:{}[]-,\'"\t\n #&*!|>%@`1e.=')),
                    max_size=60))
def test_garbage_yaml_is_rejected_cleanly(bstorm, tmp_path, text):
    target = tmp_path / 'garbage.yaml'
    target.write_text(text)
    result = bstorm('validate', target)
    _check(result)
    assert result.exit_code == 2


@SETTINGS
@given(path=st.one_of(st.sampled_from(['.'.join(str(p) for p in path) for path in ALL_PATHS]),
                      st.text(alphabet=st.sampled_from(list('abtrainer.[]0123_')),
                              max_size=20)),
       value=st.one_of(st.text(max_size=15), st.sampled_from(
           ['1e-3', '[1, 2', '{type: X}', '-1', 'null', 'yes', '{a: 1, a: 2}', '"x'])))
def test_set_values_are_checked_cleanly(bstorm, path, value):
    result = bstorm('validate', EXPERIMENTS / 'valid' / 'tiny.yaml', '--set', f"{path}={value}")
    _check(result)
