"""``bstorm export NETWORK -o model.onnx [--check DATA]``: a network as an ONNX model."""

import click

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, Location, RunFailedError
from bstorm_cli.exit_codes import ExitStatus

#: the largest relative error --check accepts by default (float32 arithmetic)
DEFAULT_TOLERANCE = 1e-5


def export_to_onnx(network_argument, output, buffers, force):
    """Export the network to ``output``; returns (network, model, network file)."""
    from brainstorm.errors import ExportError
    from brainstorm.export.onnx import export_onnx
    from bstorm_cli.commands._common import check_output_file, load_network_file
    from bstorm_cli.prediction import network_file
    check_output_file(output, force)
    path = network_file(network_argument)
    network = load_network_file(path)
    try:
        model = export_onnx(network, output, list(buffers) or None)
    except ExportError as error:
        raise BadInputError(str(error), Location(str(path))) from error
    return network, model, path


def check_export(network, model, data, group, split, batch_size):
    """Largest relative error per output over all batches of ``data``; and the sample count."""
    from brainstorm.export.onnx import compare_with_onnxruntime, onnx_session
    from bstorm_cli.prediction.inputs import open_inputs
    names = [item.name for item in model.graph.input]
    inputs = open_inputs(data, network, names, group, split)
    session = onnx_session(model)
    worst = {}
    try:
        for batch in inputs.batches(batch_size, 'mask'):
            errors = compare_with_onnxruntime(network, model, batch, session)
            for name, error in errors.items():
                worst[name] = max(worst.get(name, 0.0), error)
    finally:
        inputs.close()
    return worst, inputs.count


@click.command('export', epilog="""\b
Examples:
  bstorm export runs/quickstart-*/ -o digits.onnx --check builtin:digits --split test
  bstorm export best.h5 -o model.onnx --buffer Output.outputs.probabilities""")
@click.argument('network', metavar='NETWORK')
@click.option('--output', '-o', required=True, metavar='MODEL.onnx', help='The file to write.')
@click.option('--buffer', 'buffers', multiple=True, metavar='PATH',
              help="An output of the model (repeatable; default: the network's output).")
@click.option('--check', 'data', default=None, metavar='DATA',
              help='Run the model in onnxruntime on this data (HDF5, .npy, .npz, CSV) and '
                   'compare it with brainstorm.')
@click.option('--group', default=None, help='With --check: the HDF5 group of the inputs.')
@click.option('--split', default=None, help='With --check: the HDF5 split group, e.g. test.')
@click.option('--batch-size', '-b', type=click.IntRange(min=1), default=100, show_default=True)
@click.option('--tolerance', type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE,
              show_default=True, help='Largest relative error --check accepts.')
@click.option('--force', is_flag=True, help='Replace an existing output file.')
def export_command(network, output, buffers, data, group, split, batch_size, tolerance, force):
    """Write NETWORK (a run directory, whose best.h5 is used, or a network file) as an
    ONNX model (needs pip install '.[onnx]'). The model takes the inputs the outputs
    depend on, time-major (T, B, ...) float32 as in brainstorm, and computes the
    forward pass in inference mode. See docs/onnx.md for the layers it supports."""
    loaded, model, path = export_to_onnx(network, output, buffers, force)
    console.err().print(f"wrote {output} from {path}", markup=False, highlight=False)
    if data is None:
        return ExitStatus.OK
    worst, count = check_export(loaded, model, data, group, split, batch_size)
    for name, error in worst.items():
        console.out().print(f"{name}: largest relative error {error:.2e} over {count} "
                            f"samples (tolerance {tolerance:g})", markup=False,
                            highlight=False)
    failed = [name for name, error in worst.items() if error > tolerance]
    if failed:
        raise RunFailedError(f"the ONNX model differs from brainstorm in {', '.join(failed)} "
                             f"by more than {tolerance:g}")
    return ExitStatus.OK
