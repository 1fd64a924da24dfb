"""``bstorm evaluate NETWORK.h5 DATA.h5``: losses and scores of a trained network on a split."""

import json
import math

import click
from rich.table import Table

from bstorm_cli import console
from bstorm_cli.commands._common import load_network_file
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus

#: scorer used by default for each kind of output layer
DEFAULT_SCORERS = {'SoftmaxCE': 'Accuracy', 'SigmoidCE': 'Hamming',
                   'SquaredError': 'MeanSquaredError', 'SquaredDifference': 'MeanSquaredError'}


def scorers_from_arguments(texts, network):
    """Scorer objects from --scorer values ('Accuracy' or a YAML mapping {type: ...})."""
    from bstorm_cli.experiment import build, schemas
    from bstorm_cli.experiment.yaml_loader import load_yaml
    if not texts:
        output_layer = network.output_name.split('.')[0] if network.output_name else ''
        layer = network.layers.get(output_layer)
        default = DEFAULT_SCORERS.get(layer.layer_type if layer is not None else '')
        texts = [default] if default else []
    scorers = []
    for text in texts:
        where = f"--scorer {text}"
        value, index = load_yaml(text, where)
        spec = {'type': value} if isinstance(value, str) else value
        problems = schemas.validate_document(spec, index, 'scorer')
        if problems:
            raise problems[0]
        spec = schemas.fill_defaults(spec, 'scorer')
        scorers.append(build.build_component('scorer', spec, (), lambda path, w=where:
                                             Location(w, path=schemas.format_json_path(path))))
    return scorers


def loss_mask_name(network):
    """The name of the network input that masks its loss (None if the loss is unmasked).

    A network built with ``mask_name`` feeds that input to a ``Mask`` layer's ``mask``;
    the experiment's scorers are given the same mask, so evaluating uses it too.
    """
    connections = network.architecture.get('Input', {}).get('@outgoing_connections', {})
    masks = sorted(name for name, targets in connections.items()
                   if any(network.layers[target.split('.')[0]].layer_type == 'Mask' and
                          target.endswith('.mask') for target in targets
                          if target.split('.')[0] in network.layers))
    return masks[0] if len(masks) == 1 else None


def evaluate_network(network_path, data, split, group, scorer_texts, batch_size,
                     mask='auto'):
    """Run ``brainstorm.tools.evaluate``; return (results dict, the split's group path).

    ``mask``: 'auto' (the input that masks the network's loss, if any), an input name,
    or None (no mask).
    """
    from brainstorm import tools
    from bstorm_cli.experiment import build
    network = load_network_file(network_path)
    scorers = scorers_from_arguments(scorer_texts, network)
    mask_name = loss_mask_name(network) if mask == 'auto' else mask
    if mask_name is not None and mask_name not in network.layers['Input'].out_shapes:
        raise BadInputError(f"the network has no input {mask_name!r} to use as the mask "
                            f"(its inputs: {', '.join(network.layers['Input'].out_shapes)})",
                            Location('--mask'))
    iterator, h5file, where = build.network_split(data, split, group, network, batch_size)
    try:
        results = tools.evaluate(network, iterator, scorers=scorers,
                                 targets_name='targets', mask_name=mask_name)
    except build.engine_errors() as error:
        raise BadInputError(build.error_text(error), Location(data)) from error
    finally:
        h5file.close()
    return results, where


@click.command('evaluate', epilog="""\b
Examples:
  bstorm evaluate runs/quickstart-20240101-120000/best.h5 builtin:digits
  bstorm evaluate latest builtin:digits --split validation
  bstorm evaluate best.h5 data/MNIST.hdf5 --split test --scorer Accuracy --json""")
@click.argument('network', metavar='NETWORK.h5|RUN_DIR')
@click.argument('data', metavar='DATA.h5')
@click.option('--split', default='test', show_default=True, help='The split group to use.')
@click.option('--group', default=None,
              help='Group holding the splits (default: the one whose data fits the network).')
@click.option('--scorer', 'scorers', multiple=True, metavar='NAME|{type: NAME, ...}',
              help='A scorer (repeatable); default: Accuracy for softmax outputs, Hamming '
                   'for sigmoid outputs, MeanSquaredError for squared-error outputs.')
@click.option('--batch-size', '-b', type=click.IntRange(min=1), default=100, show_default=True)
@click.option('--mask', default='auto', metavar='INPUT|none', show_default=True,
              help="Mask the scores with this network input; 'auto': the input that masks "
                   "the network's loss (as the experiment's scorers do), 'none': no mask.")
@click.option('--json', 'as_json', is_flag=True, help='Print the results as JSON.')
def evaluate_command(network, data, split, group, scorers, batch_size, mask, as_json):
    """Compute the losses and scores of a saved network on a split of a data file.

    A run directory (or 'latest', or a run-name prefix) stands for its best.h5.
    DATA.h5 may be 'builtin:digits' for the dataset that ships with brainstorm.
    """
    results, where = evaluate_network(network, data, split, group, scorers, batch_size,
                                      None if mask == 'none' else mask)
    if as_json:
        click.echo(json.dumps({'network': network, 'data': data, 'split': where,
                               'results': {key: (None if math.isnan(value) else value)
                                           for key, value in results.items()}}, indent=2))
        return ExitStatus.OK
    table = Table(title=f"{network} on {data} ({where})", title_justify='left')
    table.add_column('quantity')
    table.add_column('value', justify='right')
    for key, value in results.items():
        table.add_row(key, f"{value:.6g}")
    console.out().print(table)
    return ExitStatus.OK
