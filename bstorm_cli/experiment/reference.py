"""The experiment-file reference (``docs/experiment_reference.md``), generated from the schemas.

Regenerate it after changing a schema::

    python -m bstorm_cli.experiment.reference docs/experiment_reference.md

A test fails while the committed file differs from what this renders.
"""

import json
import sys

from bstorm_cli.experiment import components, schemas

HEADER = """# Experiment file reference

Generated from the JSON Schemas in `schemas/` by `bstorm_cli/experiment/reference.py`;
do not edit by hand (`python -m bstorm_cli.experiment.reference docs/experiment_reference.md`
rewrites it). The user guide (`docs/user_guide.md`) explains how the parts fit together.

Every component is a mapping `{type: Name, argument: value, ...}` with the constructor's
own argument names; arguments left out take the default shown. `bstorm schema KIND`
prints a schema for editors.
"""


def _type_text(schema):
    if not isinstance(schema, dict):
        return ''
    if '$ref' in schema:
        reference = schema['$ref']
        if reference == '#':
            return 'same kind (nested)'
        name = reference.split('/')[-1].replace('.schema.json', '')
        return {'initializer_value': 'initializer, number or list',
                'number_or_schedule': 'number or schedule',
                'outgoing': 'connections', 'shape_template': 'shape'}.get(name, name)
    if 'enum' in schema:
        return ' or '.join('null' if value is None else f"`{value}`" for value in schema['enum'])
    if 'const' in schema:
        return f"`{schema['const']}`"
    if 'if' in schema and 'then' in schema:
        return _type_text(schema['then']) + ' or ' + _type_text(schema.get('else', {}))
    kind = schema.get('type')
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    words = []
    for entry in kinds:
        if entry == 'array' and isinstance(schema.get('items'), dict):
            inner = _type_text(schema['items'])
            words.append(f"list of {inner}" if inner else 'list')
        elif entry == 'object' and isinstance(schema.get('additionalProperties'), dict):
            inner = _type_text(schema['additionalProperties'])
            words.append(f"mapping to {inner}" if inner else 'mapping')
        else:
            words.append({'object': 'mapping', 'array': 'list', 'null': 'null'}.get(entry, entry))
    text = ' or '.join(words)
    bounds = []
    for key, symbol in (('minimum', '≥'), ('exclusiveMinimum', '>'), ('maximum', '≤'),
                        ('exclusiveMaximum', '<')):
        if key in schema:
            bounds.append(f"{symbol} {schema[key]}")
    suffix = f" ({', '.join(bounds)})" if bounds else ''
    return text if suffix and suffix in text else text + suffix


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _default_text(schema, required):
    if required:
        return '**required**'
    if 'default' not in schema:
        return ''
    return f"`{json.dumps(schema['default'])}`"


def _description(schema, root):
    if schema.get('description'):
        return schema['description']
    reference = schema.get('$ref', '')
    if reference.startswith('#/$defs/'):
        return root.get('$defs', {}).get(reference.split('/')[-1], {}).get('description', '')
    return ''


def _properties_table(definition, root=None):
    root = root or {}
    properties = definition.get('properties', {})
    required = set(definition.get('required', ()))
    rows = ['| key | type | default | description |', '|---|---|---|---|']
    for name, schema in properties.items():
        if name in ('type', '$schema'):
            continue
        reference = schema.get('$ref', '')
        if 'default' not in schema and reference.startswith('#/$defs/'):
            target = root.get('$defs', {}).get(reference.split('/')[-1], {})
            if 'default' in target:
                schema = dict(schema, default=target['default'])
        rows.append(f"| `{name}` | {_cell(_type_text(schema))} | "
                    f"{_default_text(schema, name in required)} | "
                    f"{_cell(_description(schema, root))} |")
    return '\n'.join(rows) if len(rows) > 2 else '*(no arguments)*'


def render_reference():
    """The whole reference as Markdown text."""
    parts = [HEADER]
    experiment = schemas.load_schema(schemas.ROOT_SCHEMA)
    parts.append("## The experiment file\n")
    parts.append(experiment.get('description', '') + '\n')
    parts.append(_properties_table(experiment, experiment) + '\n')
    for name in ('data', 'iterator_chain', 'spec_network', 'layer_graph', 'trainer', 'best'):
        definition = experiment['$defs'][name]
        parts.append(f"### {definition.get('title', name)}\n")
        if definition.get('description'):
            parts.append(definition['description'] + '\n')
        parts.append(_properties_table(definition) + '\n')
    parts.append("### Values used in several places\n")
    for name in ('outgoing', 'shape_template', 'initializer_value', 'initializers',
                 'modifier_value', 'number_or_schedule'):
        definition = experiment['$defs'][name]
        parts.append(f"- **{name}**: {definition.get('description', '')}")
    parts.append('')
    for kind in components.KINDS:
        schema = schemas.load_schema(kind)
        definitions = schema.get('$defs', {})
        parts.append(f"## {kind}\n")
        parts.append(f"{components.KIND_DESCRIPTIONS[kind][0].upper()}"
                     f"{components.KIND_DESCRIPTIONS[kind][1:]}. Types: "
                     + (', '.join(f"`{name}`" for name in definitions) or '(none yet)') + '\n')
        for name, reason in components.EXCLUDED.get(kind, {}).items():
            parts.append(f"Not available in experiment files: `{name}` ({reason}).\n")
        for name, definition in definitions.items():
            parts.append(f"### {kind} `{name}`\n")
            if definition.get('description'):
                parts.append(definition['description'] + '\n')
            parts.append(_properties_table(definition) + '\n')
    return '\n'.join(parts).rstrip('\n') + '\n'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = render_reference()
    if argv:
        from bstorm_cli.experiment.drawing import write_atomically
        write_atomically(argv[0], text)
    else:
        sys.stdout.write(text)


if __name__ == '__main__':
    main()
