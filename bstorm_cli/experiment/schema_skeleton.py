"""Add missing component definitions to the kind schemas in ``schemas/``: a maintainer's tool.

When the engine gains a component (a layer, a hook, ...), the schema test fails until
``schemas/<kind>.schema.json`` describes it. Run::

    python -m bstorm_cli.experiment.schema_skeleton [KIND ...]

to add a definition for every class that has none, built from the constructor's
signature (argument names, required arguments, defaults) and its Google-style
docstring (types and descriptions). Existing definitions are left exactly as they
are, so hand-made refinements (enums, ranges, nested components) stay. Review what
it wrote: a docstring type it cannot read becomes an unconstrained value.
"""

import inspect
import json
import re
import sys

from bstorm_cli.experiment import components
from bstorm_cli.experiment.schemas import SCHEMA_FOLDER, kind_schema_file

_ARG_LINE = re.compile(r'^\s{4,}(\*{0,2}\w+)\s*(?:\(([^)]*(?:\([^)]*\))?[^)]*)\))?\s*:\s*(.*)$')


def docstring_arguments(target):
    """argument name -> (type text, description) from the Args sections of ``target``.

    Looks at the class docstring, its ``__init__`` and the same along the MRO (a
    subclass often documents only what it adds).
    """
    sources = [target]
    if inspect.isclass(target):
        sources = []
        for klass in target.__mro__:
            sources += [klass, getattr(klass, '__init__', None)]
    found = {}
    for source in sources:
        text = inspect.getdoc(source) if source is not None else None
        if not text:
            continue
        in_args = False
        last = None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped in ('Args:', 'Arguments:', 'Parameters:'):
                in_args = True
                continue
            if in_args and stripped and not line.startswith(' '):
                in_args = False
            if not in_args:
                continue
            match = _ARG_LINE.match('    ' + line if not line.startswith('    ') else line)
            if match and len(line) - len(line.lstrip()) <= 4:
                name = match.group(1).lstrip('*')
                if name not in found:
                    found[name] = [match.group(2) or '', match.group(3).strip()]
                    last = name
                else:
                    last = None
            elif last and stripped:
                found[last][1] += ' ' + stripped
    return {name: (type_text, description) for name, (type_text, description) in found.items()}


_SIMPLE_TYPES = {'int': 'integer', 'float': 'number', 'bool': 'boolean', 'str': 'string',
                 'unicode': 'string', 'dict': 'object', 'list': 'array', 'tuple': 'array',
                 'None': 'null', 'number': 'number'}


def json_types(type_text, default):
    """JSON Schema ``type`` list for a docstring type like ``Optional[int | tuple[int]]``."""
    text = type_text.replace('Optional[', 'None|').replace(' or ', '|').replace(',', '|')
    types = []
    for part in re.split(r'[|\[\]]', text):
        part = part.strip().split('.')[-1]
        mapped = _SIMPLE_TYPES.get(part)
        if mapped and mapped not in types:
            types.append(mapped)
    if 'array' in types:  # tuple[int] adds 'integer' for the items, keep only top level
        top = [_SIMPLE_TYPES.get(part.strip().split('[')[0].split('.')[-1])
               for part in type_text.replace('Optional[', 'None|').split('|')]
        types = [t for t in types if t in top or t == 'null']
    if default is None and default is not inspect.Parameter.empty and 'null' not in types:
        types.append('null')
    if 'number' in types and 'integer' in types:
        types.remove('integer')
    return types


def skeleton_definition(kind, name):
    """A schema definition for component ``name`` of ``kind`` from its signature and docs."""
    target = components.component_classes(kind)[name]
    documented = docstring_arguments(target)
    summary = (inspect.getdoc(target) or '').split('\n\n')[0].replace('\n', ' ').strip()
    properties = {'type': {'const': name}}
    required = ['type']
    for parameter in components.constructor_parameters(kind, name):
        type_text, description = documented.get(parameter.name, ('', ''))
        default = parameter.default
        entry = {}
        types = json_types(type_text, None if default is None else default)
        if not types and default is not inspect.Parameter.empty and default is not None:
            guessed = _SIMPLE_TYPES.get(type(components.default_as_json(default)).__name__)
            types = [guessed] if guessed else []
            if default is None:
                types.append('null')
        if types:
            entry['type'] = types[0] if len(types) == 1 else types
        if description:
            entry['description'] = description
        if default is inspect.Parameter.empty:
            required.append(components.file_key(parameter.name))
        else:
            entry['default'] = components.default_as_json(default)
        properties[components.file_key(parameter.name)] = entry
    for key in components.STRUCTURAL_KEYS.get(kind, ()):
        if key == 'outgoing':
            properties['outgoing'] = {'$ref': 'experiment.schema.json#/$defs/outgoing'}
    definition = {'title': name, 'description': summary, 'type': 'object',
                  'properties': properties, 'required': required,
                  'additionalProperties': False}
    return definition


#: kinds whose components may be the user's own, named ``MODULE:NAME`` (see user_components)
IMPORTABLE_KINDS = ('layer', 'iterator', 'initializer', 'modifier', 'scorer', 'stepper',
                    'schedule', 'hook')


def type_property(kind, names):
    """The schema of a component's ``type``: one of ``names``, or for the kinds users may
    extend, a ``MODULE:NAME`` import path (an if/then/else, so that an unknown name still
    gets the "unknown type, did you mean" error of the enum)."""
    choice = {'description': f'the {kind} type', 'enum': names}
    if kind not in IMPORTABLE_KINDS:
        return choice
    return {'description': f"the {kind} type: one of the names below, or MODULE:NAME, a "
                           f"{kind} of your own from a module listed in imports:",
            'if': {'type': 'string', 'pattern': ':'},
            'then': {'$ref': 'experiment.schema.json#/$defs/import_path'},
            'else': choice}


def update_kind_schema(kind):
    """Add missing definitions to ``schemas/<kind>.schema.json``; return the added names."""
    path = kind_schema_file(kind)
    if path.exists():
        schema = json.loads(path.read_text(encoding='utf-8'))
    else:
        schema = {'$schema': 'https://json-schema.org/draft/2020-12/schema',
                  'title': kind, 'description': components.KIND_DESCRIPTIONS[kind],
                  'type': 'object', 'required': ['type'], 'properties': {}, '$defs': {}}
    definitions = schema.setdefault('$defs', {})
    added = []
    for name in components.component_classes(kind):
        if name not in definitions:
            definitions[name] = skeleton_definition(kind, name)
            added.append(name)
    names = sorted(definitions)
    schema['$defs'] = {name: definitions[name] for name in names}
    schema['properties'] = {'type': type_property(kind, names)}
    schema.pop('allOf', None)
    chain = [{'if': {'properties': {'type': {'const': name}}, 'required': ['type']},
              'then': {'$ref': f'#/$defs/{name}'}} for name in names]
    if chain:  # draft 2020-12 forbids an empty allOf
        schema['allOf'] = chain
    path.write_text(json.dumps(schema, indent=2) + '\n', encoding='utf-8')
    return added


def main(argv=None):
    kinds = (sys.argv[1:] if argv is None else argv) or list(components.KINDS)
    for kind in kinds:
        added = update_kind_schema(kind)
        print(f"{SCHEMA_FOLDER / (kind + '.schema.json')}: added {', '.join(added) or 'nothing'}")


if __name__ == '__main__':
    main()
