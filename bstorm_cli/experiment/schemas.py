"""The JSON Schemas of experiment files: loading, validation with one-line errors, defaults.

``schemas/experiment.schema.json`` describes the file and refers to one schema per
component kind (``layer.schema.json``, ``hook.schema.json``, ...). A kind schema picks
the definition of a component by its ``type`` with an ``if``/``then`` chain, so an
error names the one component definition that applies instead of a 30-way ``oneOf``.

:func:`validate_document` collects every problem and turns each into a
:class:`~bstorm_cli.errors.BadInputError` with the file, line, column and JSON path
and, for misspelt names and keys, a "did you mean" hint. :func:`fill_defaults` adds
the schema defaults to a document that passed validation (the resolved experiment).
"""

import copy
import difflib
import functools
import json
import math
import pathlib

from bstorm_cli.errors import BadInputError
from bstorm_cli.experiment.yaml_loader import format_path

#: the schemas ship inside the package (``bstorm_cli/schemas`` links to the top-level folder)
SCHEMA_FOLDER = pathlib.Path(__file__).resolve().parent.parent / 'schemas'
ROOT_SCHEMA = 'experiment'
META_SCHEMA = 'https://json-schema.org/draft/2020-12/schema'


def kind_schema_file(kind):
    """Path of the schema file of ``kind`` ('experiment', 'layer', 'hook', ...)."""
    return SCHEMA_FOLDER / f"{kind}.schema.json"


def schema_names():
    """The names of all shipped schemas ('experiment' first, then the kinds)."""
    names = sorted(path.name[:-len('.schema.json')] for path in SCHEMA_FOLDER.glob(
        '*.schema.json'))
    return [ROOT_SCHEMA] + [name for name in names if name != ROOT_SCHEMA]


@functools.lru_cache(maxsize=None)
def _load(kind):
    path = kind_schema_file(kind)
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise BadInputError(f"no schema named {kind!r} (known: "
                            f"{', '.join(schema_names())})",
                            hint=_did_you_mean(kind, schema_names())) from None


def load_schema(kind):
    """The schema of ``kind`` as a dict (a copy; the cached one stays unchanged)."""
    return copy.deepcopy(_load(kind))


@functools.lru_cache(maxsize=None)
def _registry():
    from referencing import Registry, Resource
    resources = [(f"{name}.schema.json", Resource.from_contents(_load(name)))
                 for name in schema_names()]
    return Registry().with_resources(resources)


@functools.lru_cache(maxsize=None)
def _validator(kind):
    from jsonschema import Draft202012Validator
    schema = _load(kind)
    return Draft202012Validator(schema, registry=_registry(),
                                _resolver=_registry().resolver(f"{kind}.schema.json"))


def component_definition(kind, type_name):
    """The schema definition of component ``type_name`` of ``kind``, or None."""
    return _load(kind).get('$defs', {}).get(type_name)


def component_names(kind):
    """The ``type`` names the schema of ``kind`` defines."""
    return sorted(_load(kind).get('$defs', {}))


# ---- errors ---------------------------------------------------------------------------------

def _did_you_mean(name, candidates):
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    if not close:
        lowered = {str(c).lower(): str(c) for c in candidates}
        key = str(name).lower()
        if key in lowered:
            close = [lowered[key]]
        elif len(key) >= 3:  # 'Adam' -> 'AdamStepper', 'momentum' -> 'MomentumStepper'
            containing = sorted((c for lower, c in lowered.items() if key in lower), key=len)
            close = containing[:1]
    return f"did you mean {close[0]!r}?" if close else None


def describe_value(value):
    """How a found value is named in messages: "the string '1e-3'", "a list", ..."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + '...'
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {'integer': 'an integer', 'number': 'a number', 'string': 'a string',
               'boolean': 'true or false', 'array': 'a list', 'object': 'a mapping',
               'null': 'null'}


def _expected_types(types):
    if isinstance(types, str):
        types = [types]
    words = [_TYPE_WORDS.get(t, t) for t in types]
    return words[0] if len(words) == 1 else ', '.join(words[:-1]) + ' or ' + words[-1]


def _is_number_text(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def _kind_of_type_enum(schema):
    """The kind whose ``type`` enum ``schema`` is, or None."""
    description = schema.get('description', '')
    if description.startswith('the ') and description.endswith(' type'):
        return description[4:-5]
    return None


def _messages_for(error):
    """[(path tuple, message, hint)] for one jsonschema ValidationError."""
    path = tuple(error.absolute_path)
    instance, validator, value, schema = (error.instance, error.validator, error.validator_value,
                                          error.schema)
    title = schema.get('title')
    if validator == 'type':
        message = f"expected {_expected_types(value)}, got {describe_value(instance)}"
        hint = None
        wanted = [value] if isinstance(value, str) else value
        if _is_number_text(instance) and ({'number', 'integer'} & set(wanted)):
            hint = f"write the number without quotes: {instance.strip()}"
        elif isinstance(instance, str) and 'boolean' in wanted and \
                instance.lower() in ('yes', 'no', 'on', 'off', 'y', 'n'):
            hint = "write true or false (yes/no/on/off are strings in experiment files)"
        elif isinstance(instance, bool) and 'string' in wanted:
            hint = "quote it if you meant the text"
        return [(path, message, hint)]
    if validator == 'enum':
        kind = _kind_of_type_enum(schema)
        if kind is not None:
            message = f"unknown {kind} type {instance!r}"
            hint = _did_you_mean(instance, value) or \
                f"{kind} types: {', '.join(map(str, value))}"
            return [(path, message, hint)]
        choices = ', '.join('null' if v is None else repr(v) for v in value)
        return [(path, f"expected one of {choices}, got {describe_value(instance)}",
                 _did_you_mean(instance, value) if isinstance(instance, str) else None)]
    if validator == 'const':
        return [(path, f"expected {value!r}, got {describe_value(instance)}", None)]
    if validator == 'additionalProperties' and isinstance(instance, dict):
        allowed = list(schema.get('properties', {}))
        owner = f" for {title}" if title else ""
        results = []
        for key in instance:
            if key in allowed:
                continue
            hint = _did_you_mean(key, allowed) if allowed else None
            if hint is None and allowed:
                hint = f"{title or 'this mapping'} takes: " + ', '.join(
                    a for a in allowed if a != 'type')
            results.append((path + (key,), f"unknown key {key!r}{owner}", hint))
        return results
    if validator == 'required':
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        owner = f" of {title}" if title else ""
        return [(path, f"missing required key {name!r}{owner}", None) for name in missing]
    if validator in ('minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'):
        symbol = {'minimum': '>=', 'exclusiveMinimum': '>', 'maximum': '<=',
                  'exclusiveMaximum': '<'}[validator]
        return [(path, f"expected a number {symbol} {value}, got {describe_value(instance)}",
                 None)]
    if validator in ('minItems', 'maxItems'):
        bound = 'at least' if validator == 'minItems' else 'at most'
        return [(path, f"expected {bound} {value} item{'s' if value != 1 else ''}, got "
                       f"{describe_value(instance)}", None)]
    if validator == 'minProperties':
        return [(path, f"expected at least {value} entr{'ies' if value != 1 else 'y'}, "
                       f"got an empty mapping", None)]
    if validator == 'minLength':
        return [(path, f"expected a non-empty string, got {describe_value(instance)}", None)]
    if validator == 'pattern':
        hint = schema.get('x-pattern-hint')
        return [(path, f"expected a string matching {value!r}, got "
                       f"{describe_value(instance)}", hint)]
    if validator == 'propertyNames':
        return [(path, f"invalid key: {error.message}", None)]
    if validator in ('oneOf', 'anyOf'):
        best = _best_context(error)
        if best is not None:
            return _messages_for(best)
    if validator == 'not':
        return [(path, schema.get('x-not-message', f"not allowed: {describe_value(instance)}"),
                 None)]
    return [(path, error.message, None)]


def _best_context(error):
    from jsonschema.exceptions import best_match
    if not error.context:
        return None
    return best_match(error.context)


def validate_document(data, index, kind=ROOT_SCHEMA):
    """Validate ``data`` against the schema of ``kind``.

    Args:
        data: the loaded YAML document.
        index (PositionIndex): positions of the document's values.
        kind (str): which schema; the experiment's by default.

    Returns:
        list[BadInputError]: every problem, sorted by position, each reported once.
    """
    problems = {}
    for error in _validator(kind).iter_errors(data):
        for path, message, hint in _messages_for(error):
            key = (path, message)
            if key not in problems:
                problems[key] = BadInputError(message, index.locate(path), hint)
    reported = {path for path, _ in problems}
    for path, value in _non_finite_numbers(data, ()):
        if path not in reported:
            problems[(path, 'non-finite')] = BadInputError(
                f"expected a finite number, got {value}", index.locate(path))
    return sort_problems(problems.values())


def _non_finite_numbers(data, path):
    """(path, value) of every NaN or infinity in ``data``: no experiment value is one."""
    if isinstance(data, float) and not math.isfinite(data):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite_numbers(value, path + (key,))
    elif isinstance(data, list):
        for position, value in enumerate(data):
            yield from _non_finite_numbers(value, path + (position,))


def sort_problems(problems):
    """Sort errors by line, column and path, as a compiler would list them."""
    def position(problem):
        location = problem.location
        if location is None:
            return (0, 0, '')
        return (location.line, location.column, location.path)
    return sorted(problems, key=position)


# ---- defaults --------------------------------------------------------------------------------

def fill_defaults(data, kind=ROOT_SCHEMA):
    """A copy of the valid document ``data`` with every schema default filled in.

    Follows ``$ref``, ``allOf`` and ``if``/``then``/``else`` (evaluating the ``if``),
    ``properties``, ``additionalProperties`` and ``items``; defaults are deep-copied.
    """
    registry = _registry()
    resolver = registry.resolver(f"{kind}.schema.json")
    return _fill(copy.deepcopy(data), _load(kind), resolver)


def _fill(instance, schema, resolver):
    from jsonschema import Draft202012Validator
    if not isinstance(schema, dict):
        return instance
    if '$ref' in schema:
        resolved = resolver.lookup(schema['$ref'])
        instance = _fill(instance, resolved.contents, resolved.resolver)
    for part in schema.get('allOf', ()):
        instance = _fill(instance, part, resolver)
    if 'if' in schema:
        validator = Draft202012Validator(schema['if'], registry=_registry(), _resolver=resolver)
        branch = schema.get('then') if validator.is_valid(instance) else schema.get('else')
        if branch is not None:
            instance = _fill(instance, branch, resolver)
    if isinstance(instance, dict):
        properties = schema.get('properties', {})
        for name, subschema in properties.items():
            if name in instance or not isinstance(subschema, dict):
                continue
            if 'default' not in subschema and '$ref' in subschema:
                subschema = resolver.lookup(subschema['$ref']).contents
            if 'default' in subschema:
                instance[name] = copy.deepcopy(subschema['default'])
        for name in list(instance):
            if name in properties:
                instance[name] = _fill(instance[name], properties[name], resolver)
            elif isinstance(schema.get('additionalProperties'), dict):
                instance[name] = _fill(instance[name], schema['additionalProperties'], resolver)
    if isinstance(instance, list) and isinstance(schema.get('items'), dict):
        instance = [_fill(item, schema['items'], resolver) for item in instance]
    return instance


def format_json_path(path):
    """The dotted JSON path used in messages: ('a', 0, 'b') -> 'a[0].b'."""
    return format_path(path)
