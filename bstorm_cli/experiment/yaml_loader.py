"""Loading YAML experiment files safely, with the position of every value.

The loader is a ``SafeLoader`` (no Python tags, nothing executed) that

* reads ``1e-3``, ``5E+2``, ``.5e1`` as floats (YAML 1.1 makes them strings);
* reads only ``true``/``false`` (any case) as booleans: ``yes``, ``no``, ``on``
  and ``off`` stay strings, as in YAML 1.2;
* reads ``017`` as the integer 17 rather than octal 15;
* rejects duplicate keys, naming both places;
* records the line and column of every node, so errors point into the file;
* refuses tags it does not know (``!!python/...`` on any node), recursive aliases,
  nesting deeper than :data:`MAX_DEPTH` and documents that aliases expand to more than
  :data:`MAX_NODES` values (an "alias bomb" grows exponentially from a few lines).
"""

import re

import yaml

from bstorm_cli.errors import BadInputError, Location

_FLOAT = re.compile(r'''^[-+]?(?:
        [0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
      | \.[0-9_]+(?:[eE][-+]?[0-9]+)?
      | [0-9][0-9_]*[eE][-+]?[0-9]+
      | \.(?:inf|Inf|INF)
      | \.(?:nan|NaN|NAN))$''', re.X)
_BOOL = re.compile(r'^(?:true|True|TRUE|false|False|FALSE)$')
#: deepest nesting of mappings and sequences an experiment may have
MAX_DEPTH = 64
#: most values (mapping entries, list items, scalars) a document may expand to, aliases
#: counted once per use; real experiments have a few hundred
MAX_NODES = 100_000
#: the collection tags of plain YAML; any other tag on a mapping or sequence is refused
_PLAIN_COLLECTION_TAGS = ('tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq')
_INT = re.compile(r'^[-+]?(?:0|[1-9][0-9_]*|0[0-9_]+|0x[0-9a-fA-F_]+|0o[0-7_]+)$')


class ExperimentLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars, duplicate-key errors and positions."""


# replace the implicit resolvers for bool, int and float with stricter ones
ExperimentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ('tag:yaml.org,2002:bool', 'tag:yaml.org,2002:float',
                           'tag:yaml.org,2002:int')]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
ExperimentLoader.add_implicit_resolver('tag:yaml.org,2002:bool', _BOOL, list('tTfF'))
ExperimentLoader.add_implicit_resolver('tag:yaml.org,2002:float', _FLOAT,
                                       list('-+0123456789.'))
ExperimentLoader.add_implicit_resolver('tag:yaml.org,2002:int', _INT, list('-+0123456789'))


def _construct_int(loader, node):
    text = loader.construct_scalar(node).replace('_', '')
    if text.lower().startswith(('0x', '-0x', '+0x')):
        return int(text, 16)
    if text.lower().startswith(('0o', '-0o', '+0o')):
        return int(text.replace('o', '').replace('O', ''), 8)
    return int(text, 10)


ExperimentLoader.add_constructor('tag:yaml.org,2002:int', _construct_int)


class PositionIndex:
    """JSON path (tuple of keys / indices) -> Location, for one loaded document."""

    def __init__(self, file_name):
        self.file_name = file_name
        self.positions = {}

    def add(self, path, node):
        mark = node.start_mark
        self.positions[tuple(path)] = (mark.line + 1, mark.column + 1)

    def locate(self, path):
        """The Location of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path and path not in self.positions:
            path = path[:-1]
        line, column = self.positions.get(path, (0, 0))
        return Location(self.file_name, line, column, format_path(path))


def format_path(path):
    """('trainer', 'hooks', 2, 'name') -> 'trainer.hooks[2].name'."""
    text = ''
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _location(index, node, path):
    mark = node.start_mark
    return Location(index.file_name, mark.line + 1, mark.column + 1, format_path(path))


class _Budget:
    """What a document may still expand to, and the nodes on the path being built."""

    def __init__(self):
        self.nodes_left = MAX_NODES
        self.open = set()


def _build(node, loader, path, index, budget=None):
    budget = budget or _Budget()
    budget.nodes_left -= 1
    if budget.nodes_left < 0:
        raise BadInputError(f"the document expands to more than {MAX_NODES:,} values "
                            f"(aliases repeating aliases?)", _location(index, node, path))
    if len(path) > MAX_DEPTH:
        raise BadInputError(f"nested more than {MAX_DEPTH} levels deep",
                            _location(index, node, path))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            raise BadInputError(f"unsupported YAML tag {node.tag!r}; experiment files hold "
                                f"plain mappings, lists and scalars",
                                _location(index, node, path))
        if id(node) in budget.open:
            raise BadInputError("recursive alias: this value contains itself",
                                _location(index, node, path))
        budget.open.add(id(node))
        try:
            return _build_collection(node, loader, path, index, budget)
        finally:
            budget.open.discard(id(node))
    index.add(path, node)
    return loader.construct_object(node, deep=True)


def _build_collection(node, loader, path, index, budget):
    index.add(path, node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result = {}
        seen = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise BadInputError("mapping keys must be plain scalars",
                                    _location(index, key_node, path))
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                mark = key_node.start_mark
                raise BadInputError(f"mapping keys must be plain scalars, got {key!r}",
                                    Location(index.file_name, mark.line + 1, mark.column + 1,
                                             format_path(path)))
            key = str(key) if not isinstance(key, str) else key
            if key in seen:
                mark = key_node.start_mark
                raise BadInputError(
                    f"duplicate key {key!r} (first defined at line {seen[key]})",
                    Location(index.file_name, mark.line + 1, mark.column + 1,
                             format_path(path + (key,))))
            seen[key] = key_node.start_mark.line + 1
            result[key] = _build(value_node, loader, path + (key,), index, budget)
        return result
    return [_build(item, loader, path + (position,), index, budget)
            for position, item in enumerate(node.value)]


def load_yaml(text, file_name='<string>'):
    """Parse YAML ``text``; return (data, PositionIndex).

    Raises:
        BadInputError: on a syntax error, duplicate key or unsupported tag, with
            the file, line and column.
    """
    index = PositionIndex(file_name)
    try:
        loader = ExperimentLoader(text)
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, file_name) from error
    try:
        node = loader.get_single_node()
        if node is None:
            return None, index
        return _build(node, loader, (), index), index
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        location = Location(file_name, mark.line + 1, mark.column + 1) if mark else \
            Location(file_name)
        problem = error.problem or error.context or 'invalid YAML'
        raise BadInputError(f"invalid YAML: {problem}", location) from error
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, file_name) from error
    except RecursionError:
        # PyYAML's parser recurses once per level before _build can count them
        raise BadInputError(f"nested more than {MAX_DEPTH} levels deep",
                            Location(file_name)) from None
    except yaml.YAMLError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else 'error'
        raise BadInputError(f"invalid YAML: {first_line}", Location(file_name)) from error
    finally:
        loader.dispose()


def _reader_error(error, text, file_name):
    """A one-line error for characters YAML does not allow (control characters)."""
    position = error.position if isinstance(error.position, int) else 0
    before = text[:position] if isinstance(text, str) else ''
    line = before.count('\n') + 1
    column = position - (before.rfind('\n') + 1) + 1
    character = error.character
    code = ord(character) if isinstance(character, str) else character
    shown = f"#x{code:04x}" if isinstance(code, int) else repr(code)
    return BadInputError(f"invalid YAML: the character {shown} is not allowed in YAML text",
                         Location(file_name, line, column))


def load_yaml_file(file_name):
    """Read and parse a YAML file; missing or unreadable files are BadInputError."""
    try:
        with open(file_name, encoding='utf-8') as f:
            text = f.read()
    except FileNotFoundError:
        raise BadInputError("no such file", Location(str(file_name))) from None
    except IsADirectoryError:
        raise BadInputError("is a directory, expected a YAML file",
                            Location(str(file_name))) from None
    except UnicodeDecodeError as error:
        raise BadInputError(f"not UTF-8 text ({error.reason} at byte {error.start})",
                            Location(str(file_name))) from None
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", Location(str(file_name))) from None
    return load_yaml(text, str(file_name))
