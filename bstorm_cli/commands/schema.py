"""``bstorm schema [KIND]``: print the JSON Schemas of experiment files, for editors."""

import json

import click

from bstorm_cli import console
from bstorm_cli.exit_codes import ExitStatus


@click.command('schema', epilog="""\b
Examples:
  bstorm schema > experiment.schema.json     # the experiment file
  bstorm schema layer                        # one component kind
  bstorm schema --list
  bstorm schema --path                       # folder with all schemas (for $ref)""")
@click.argument('kind', required=False, metavar='[KIND]')
@click.option('--list', 'list_kinds', is_flag=True, help='List the schema names.')
@click.option('--path', 'show_path', is_flag=True,
              help='Print the folder that holds the schema files.')
def schema_command(kind, list_kinds, show_path):
    """Print the JSON Schema (draft 2020-12) of experiment files or of one component kind.

    KIND is 'experiment' (the default) or a component kind: layer, iterator,
    initializer, modifier, scorer, stepper, schedule, hook, handler. The
    experiment schema refers to the others by file name, so keep them side by side
    (see --path).
    """
    from bstorm_cli.experiment import schemas
    if list_kinds:
        for name in schemas.schema_names():
            console.out().print(name, markup=False, highlight=False)
        return ExitStatus.OK
    if show_path:
        console.out().print(str(schemas.SCHEMA_FOLDER), markup=False, highlight=False)
        return ExitStatus.OK
    schema = schemas.load_schema(kind or schemas.ROOT_SCHEMA)
    click.echo(json.dumps(schema, indent=2))
    return ExitStatus.OK
