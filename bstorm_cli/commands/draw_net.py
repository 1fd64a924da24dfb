"""``bstorm draw-net EXPERIMENT.yaml|NETWORK.h5 -o FILE``: a diagram of the network."""

import pathlib

import click

from bstorm_cli import console
from bstorm_cli.commands._common import load_any_network, set_option
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


@click.command('draw-net', epilog="""\b
Examples:
  bstorm draw-net configs/quickstart.yaml -o net.svg
  bstorm draw-net runs/quickstart-20240101-120000/best.h5 -o net.dot""")
@click.argument('source', metavar='EXPERIMENT.yaml|NETWORK.h5')
@click.option('--output', '-o', required=True, metavar='FILE.{dot,svg,png,pdf}',
              help='The diagram to write; the extension picks the format (SVG, PNG and '
                   'PDF need Graphviz).')
@click.option('--force', is_flag=True, help='Replace an existing file.')
@set_option
def draw_net_command(source, output, force, overrides):
    """Draw the layer graph: one box per layer with its type, output shapes and
    parameter count, one arrow per connection."""
    from bstorm_cli.experiment.drawing import (FORMATS, network_to_dot, render,
                                               write_atomically)
    output_format = pathlib.Path(output).suffix.lower().lstrip('.')
    if output_format not in FORMATS:
        raise BadInputError(f"unknown diagram format {output_format or '(none)'!r}; use one "
                            f"of {', '.join('.' + f for f in FORMATS)}", Location(output))
    if pathlib.Path(output).exists() and not force:
        raise BadInputError("the file exists already; use --force to replace it",
                            Location(output))
    network, _ = load_any_network(source, overrides)
    write_atomically(output, render(network_to_dot(network), output_format))
    console.err().print(f"wrote {output}", markup=False, highlight=False)
    return ExitStatus.OK
