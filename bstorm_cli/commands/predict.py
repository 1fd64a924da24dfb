"""``bstorm predict NETWORK DATA -o OUT``: apply a trained network to data without targets."""

import click

from bstorm_cli import console
from bstorm_cli.exit_codes import ExitStatus


def _progress_bar():
    """A rich bar on a terminal (stderr); no output otherwise. Returns (callback, close)."""
    err = console.err()
    if not err.is_terminal:
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    bar = Progress('predicting', BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err, transient=True)
    bar.start()
    task = bar.add_task('predict', total=None)

    def update(done, total):
        bar.update(task, completed=done, total=total)
    return update, bar.stop


@click.command('predict', epilog="""\b
Examples:
  bstorm predict runs/quickstart-*/ builtin:digits --split test -o predictions.csv --classes
  bstorm predict best.h5 new_images.npy -o probabilities.h5 --classes --top-k 3
  bstorm predict last.h5 features.csv -o out.npy -b 500""")
@click.argument('network', metavar='NETWORK')
@click.argument('data', metavar='DATA')
@click.option('--output', '-o', required=True, metavar='OUT',
              help='The file to write (.h5, .npy or .csv).')
@click.option('--format', 'file_format', type=click.Choice(['hdf5', 'npy', 'csv']),
              default=None, help='Output format (default: by the extension of OUT).')
@click.option('--batch-size', '-b', type=click.IntRange(min=1), default=100, show_default=True,
              help='Samples (sequences) per forward pass; memory grows with it, not with '
                   'the data.')
@click.option('--group', default=None,
              help='HDF5 group holding the inputs (default: the first that fits the network).')
@click.option('--split', default=None, help='HDF5 split group to read, e.g. test.')
@click.option('--buffer', default=None, metavar='PATH',
              help="The buffer to write (default: the network's output, e.g. "
                   "Output.outputs.probabilities).")
@click.option('--mask', 'mask_name', default='mask', show_default=True,
              help='Name of the mask array (1 real step, 0 padding), used when present.')
@click.option('--classes', is_flag=True,
              help='Write the most probable class (argmax) and its probability.')
@click.option('--top-k', type=click.IntRange(min=1), default=1, show_default=True,
              help='With --classes: the k most probable classes with their probabilities.')
@click.option('--force', is_flag=True, help='Replace an existing output file.')
def predict_command(network, data, output, file_format, batch_size, group, split, buffer,
                    mask_name, classes, top_k, force):
    """Apply NETWORK (a run directory, whose best.h5 is used, or a network file) to the
    inputs in DATA (HDF5 file or group, .npy, .npz, or CSV of flat features, without
    targets) and write the outputs to OUT, with the network file, its SHA-256, the data
    and the date recorded in the file."""
    from bstorm_cli.prediction import PredictionRequest, predict_to_file
    if top_k > 1 and not classes:
        raise click.UsageError('--top-k needs --classes')
    request = PredictionRequest(network, data, output, file_format, batch_size, group, split,
                                buffer, mask_name, classes, top_k, force)
    update, close = _progress_bar()
    try:
        read, network_path = predict_to_file(request, update)
    finally:
        close()
    where = f" ({read.where})" if read.where else ''
    console.err().print(f"predicted {read.count} samples of {data}{where} with {network_path}; "
                        f"wrote {output}", markup=False, highlight=False)
    return ExitStatus.OK
