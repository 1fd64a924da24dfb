"""The op table, the Handler ABC, the library's handler calls and the docs agree."""

import inspect
import pathlib
import re

import pytest

import brainstorm
from brainstorm.handlers import DebugHandler, NumpyHandler
from brainstorm.handlers.base_handler import Handler
from brainstorm.handlers.op_table import (HANDLER_ATTRIBUTES, HANDLER_HELPERS,
                                          HANDLER_INTERNALS, OPS, render_markdown,
                                          signature_text)

PACKAGE_ROOT = pathlib.Path(brainstorm.__file__).parent
REPOSITORY_ROOT = PACKAGE_ROOT.parent

#: `handler.name(` or `.handler.name(`; `default_handler.x(` does not match (no word boundary)
HANDLER_CALL = re.compile(r'\bhandler\.([A-Za-z_]\w*)\s*\(')


def handler_calls():
    """Yield (path, line number, name) for every `handler.<name>(` call in brainstorm/."""
    for path in sorted(PACKAGE_ROOT.rglob('*.py')):
        for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), start=1):
            code = line.split('#', 1)[0]
            for match in HANDLER_CALL.finditer(code):
                yield path.relative_to(REPOSITORY_ROOT), number, match.group(1)


def test_library_calls_only_declared_handler_ops():
    known = set(OPS) | set(HANDLER_HELPERS) | set(HANDLER_ATTRIBUTES) | set(HANDLER_INTERNALS)
    unknown = [f"{path}:{number}: handler.{name}(" for path, number, name in handler_calls()
               if name not in known]
    assert not unknown, ("calls of names that are not handler ops (add the op to op_table.py "
                         "and Handler, or use an existing one):\n" + "\n".join(unknown))


def test_call_scanner_finds_calls():
    sample = "self.handler.dot_mm(a, b, out)\nhandler.fill(x, 0)\ndefault_handler.y(1)"
    assert [match.group(1) for match in HANDLER_CALL.finditer(sample)] == ['dot_mm', 'fill']


def test_helpers_and_attributes_exist():
    for handler in (NumpyHandler(), DebugHandler(NumpyHandler())):
        for name in HANDLER_HELPERS + HANDLER_ATTRIBUTES + HANDLER_INTERNALS:
            assert hasattr(handler, name), name


def test_abc_declares_exactly_the_table_ops():
    declared = {name for name, member in vars(Handler).items()
                if callable(member) and not name.startswith('_')}
    assert declared - set(HANDLER_HELPERS) == set(OPS)


@pytest.mark.parametrize('name', list(OPS))
def test_signatures_match_the_table(name):
    for handler_class in (Handler, NumpyHandler, DebugHandler):
        signature = inspect.signature(getattr(handler_class, name))
        text = f"{name}{signature}".replace('(self, ', '(').replace('(self)', '()')
        assert text == signature_text(OPS[name]), handler_class.__name__


@pytest.mark.parametrize('name', list(OPS))
def test_primitive_ops_are_abstract_and_composites_concrete(name):
    is_abstract = name in Handler.__abstractmethods__
    assert is_abstract == (OPS[name].tier == 'primitive')


def test_every_op_has_a_docstring():
    assert [name for name in OPS if not (getattr(Handler, name).__doc__ or '').strip()] == []


def test_committed_docs_equal_rendered_table():
    committed = (REPOSITORY_ROOT / 'docs' / 'handler_ops.md').read_text(encoding='utf-8')
    assert committed == render_markdown(), (
        "docs/handler_ops.md is stale; regenerate it with: python -c \"from "
        "brainstorm.handlers.op_table import render_markdown; "
        "open('docs/handler_ops.md', 'w').write(render_markdown())\"")
