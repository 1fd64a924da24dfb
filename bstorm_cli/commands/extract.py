"""``bstorm extract NETWORK.h5 DATA.h5 --buffer PATH -o OUT.h5``: buffers to an HDF5 file."""

import click

from bstorm_cli import console
from bstorm_cli.commands._common import check_output_file, load_network_file
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


def extract_buffers(network_path, data, buffers, output, split, group, batch_size, force):
    """Check the buffer paths, then stream the split through the network into ``output``."""
    from brainstorm import tools
    from bstorm_cli.experiment import build, checks, schemas
    from bstorm_cli.provenance import provenance
    check_output_file(output, force)
    network = load_network_file(network_path)
    for path in buffers:
        if not checks.buffer_exists(network, path) or path.count('.') != 2:
            raise BadInputError(f"the network has no buffer {path!r}", Location(f"--buffer {path}"),
                                schemas._did_you_mean(path, checks.buffer_candidates(network))
                                or "buffer paths look like 'LAYER.outputs.NAME', see "
                                   "`bstorm info NETWORK.h5`")
        if _made_by_backward_pass(network, path):
            raise BadInputError(
                f"{path!r} is made by the backward pass, which extract does not run",
                Location(f"--buffer {path}"),
                "extract saves what the forward pass computes: outputs, inputs, forward "
                "internals and parameters")
    iterator, h5file, where = build.network_split(data, split, group, network, batch_size)
    try:
        tools.extract_and_save(network, iterator, list(buffers), output,
                               provenance(network_path, data, where, ','.join(buffers)))
    except build.engine_errors() as error:
        raise BadInputError(build.error_text(error), Location(data)) from error
    finally:
        h5file.close()
    return where


def _made_by_backward_pass(network, path):
    """Whether the buffer at 'Layer.field.name' only gets values in a backward pass."""
    layer_name, field, name = path.split('.')
    if field in ('input_deltas', 'output_deltas', 'gradients'):
        return True
    structure = network.layers[layer_name].internal_shapes.get(name)
    return field == 'internals' and structure is not None and structure.is_backward_only


@click.command('extract', epilog="""\b
Example:
  bstorm extract latest builtin:digits --buffer Output.outputs.probabilities \\
      --buffer Output_projection.outputs.default -o features.h5
  (the buffers of the quickstart's network; `bstorm info NETWORK.h5` lists a network's
  layers)""")
@click.argument('network', metavar='NETWORK.h5|RUN_DIR')
@click.argument('data', metavar='DATA.h5')
@click.option('--buffer', 'buffers', multiple=True, required=True, metavar='PATH',
              help="A buffer in dotted notation, e.g. Output.outputs.probabilities "
                   "(repeatable).")
@click.option('--output', '-o', required=True, metavar='OUT.h5', help='The file to write.')
@click.option('--split', default='test', show_default=True, help='The split group to use.')
@click.option('--group', default=None,
              help='Group holding the splits (default: the one whose data fits the network).')
@click.option('--batch-size', '-b', type=click.IntRange(min=1), default=100, show_default=True)
@click.option('--force', is_flag=True, help='Replace an existing output file.')
def extract_command(network, data, buffers, output, split, group, batch_size, force):
    """Run a saved network on a split of a data file, batch by batch, and save the
    requested buffers (one dataset each, named by its dotted path) to OUT.h5."""
    where = extract_buffers(network, data, buffers, output, split, group, batch_size, force)
    console.err().print(f"wrote {', '.join(buffers)} for {where} to {output}", markup=False,
                        highlight=False)
    return ExitStatus.OK
