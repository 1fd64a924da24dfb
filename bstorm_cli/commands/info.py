"""``bstorm info EXPERIMENT.yaml|NETWORK.h5|RUN``: layers, shapes, parameter counts, memory."""

import json

import click
from rich.table import Table

from bstorm_cli import console
from bstorm_cli.commands._common import (engine_file_error, is_network_file,
                                        problem_limit, set_option)
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


def _structure_of_file(path):
    import pathlib
    from brainstorm.errors import BrainstormError
    from bstorm_cli.experiment.network_structure import structure_from_file
    if not pathlib.Path(path).exists():
        raise BadInputError("no such file", Location(str(path)))
    try:
        return structure_from_file(path)
    except BrainstormError as error:
        raise engine_file_error(error, path) from error


@click.command('info', epilog="""\b
Examples:
  bstorm info configs/quickstart.yaml
  bstorm info runs/quickstart-20240101-120000/best.h5 --batch-size 100
  bstorm info net.h5 --json""")
@click.argument('source', metavar='EXPERIMENT.yaml|NETWORK.h5|RUN')
@click.option('--batch-size', '-b', type=click.IntRange(min=1), default=1, show_default=True,
              help='Batch size B for the memory estimate.')
@click.option('--time-steps', '-t', type=click.IntRange(min=1), default=1, show_default=True,
              help='Sequence length T for the memory estimate.')
@click.option('--json', 'as_json', is_flag=True, help='Print JSON instead of tables.')
@set_option
def info_command(source, batch_size, time_steps, as_json, overrides):
    """Show a network's layers with their input, output and parameter shapes, the
    parameter counts and the memory its buffers take for a batch.

    Only the network's structure is built, never its buffers, so a network of
    any size is described without the memory it would take: an experiment's
    architecture (the data file is opened for the shapes a 'spec' network
    infers), or the description stored in a network file, together with the
    experiment it was trained in (name, seed, epoch, best value) when bstorm
    train saved it. A run directory stands for its best network.
    """
    from bstorm_cli.experiment.network_info import human_bytes, network_summary
    from bstorm_cli.experiment.network_structure import structure_from_experiment
    from bstorm_cli.experiment.run_lookup import names_a_run, network_of_run
    from bstorm_cli.network_summary import read_summary, summary_line
    network_file = None
    if names_a_run(source):  # a run directory stands for its best network
        network_file = network_of_run(source)
    elif is_network_file(source):
        network_file = source
    if network_file is not None and overrides:
        raise BadInputError("--set applies to experiment files, not to network files",
                            Location(str(source)))
    if network_file is not None:
        network = _structure_of_file(network_file)
        origin = read_summary(network_file)
    else:
        network = structure_from_experiment(source, overrides, problem_limit(False))
        origin = None
    summary = network_summary(network, time_steps, batch_size)
    if origin is not None:
        summary['experiment'] = origin
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return ExitStatus.OK
    table = Table(title=f"{source}", title_justify='left')
    table.add_column('layer', no_wrap=True)
    table.add_column('type', no_wrap=True)
    for column in ('inputs', 'outputs', 'parameters'):
        table.add_column(column)
    table.add_column('count', justify='right')

    def join(shapes):
        return '\n'.join(f"{name} {shape}" for name, shape in shapes.items())
    for row in summary['layers']:
        table.add_row(row['name'], row['type'], join(row['inputs']), join(row['outputs']),
                      join(row['parameters']), f"{row['parameter_count']:,}")
    out = console.out()
    if out.is_terminal:
        out.print(table)
    else:  # rich assumes 80 columns off a terminal; give the table room instead
        from rich.console import Console
        Console(file=out.file, width=160, highlight=False, no_color=True).print(table)
    memory = summary['memory_bytes']
    out.print(f"parameters: {summary['parameter_count']:,} ({summary['dtype']})",
              markup=False, highlight=False)
    out.print(f"memory for T={time_steps}, B={batch_size}: {human_bytes(memory['total'])} "
              f"(parameters {human_bytes(memory['parameters'])}, gradients "
              f"{human_bytes(memory['gradients'])}, forward {human_bytes(memory['forward'])}, "
              f"backward {human_bytes(memory['backward'])})", markup=False, highlight=False)
    if summary['output_name']:
        out.print(f"default output: {summary['output_name']}", markup=False, highlight=False)
    if origin is not None:
        out.print(f"from: {summary_line(origin)}", markup=False, highlight=False)
    return ExitStatus.OK
