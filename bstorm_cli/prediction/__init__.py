"""``bstorm predict``: a trained network applied to new data, streamed batch by batch.

:func:`predict_to_file` is the entry point; ``inputs`` reads the data (HDF5, .npy,
.npz, CSV), :mod:`brainstorm.tools.prediction` runs the network, ``outputs`` writes
the result (HDF5, .npy, CSV) with its provenance (:mod:`bstorm_cli.provenance`).
"""

import dataclasses
import pathlib

from bstorm_cli.errors import BadInputError, Location

#: the network file a run directory's predictions come from (then the last one)
RUN_NETWORKS = ('best.h5', 'last.h5')


@dataclasses.dataclass
class PredictionRequest:
    """What ``bstorm predict`` was asked to do (see its --help for each field)."""

    network: str
    data: str
    output: str
    file_format: str = None
    batch_size: int = 100
    group: str = None
    split: str = None
    buffer: str = None
    mask_name: str = 'mask'
    classes: bool = False
    top_k: int = 1
    force: bool = False


def network_file(path):
    """The network file ``path`` names: itself, or a run directory's best (else last)
    network; a run directory may be named as ``latest`` or by a run-name prefix."""
    from bstorm_cli.experiment.run_lookup import names_a_run, resolve_run_directory
    if names_a_run(str(path)):
        path = resolve_run_directory(str(path))
    path = pathlib.Path(path)
    if path.is_dir():
        for name in RUN_NETWORKS:
            if (path / name).is_file():
                return path / name
        raise BadInputError(f"the folder holds no network ({' or '.join(RUN_NETWORKS)})",
                            Location(str(path)), "name a run directory or a network file")
    return path


def predict_to_file(request, progress=None):
    """Predict on ``request.data`` and write ``request.output``.

    Args:
        request (PredictionRequest): the options.
        progress (Optional[callable]): called as ``progress(done, total)`` after each batch.

    Returns:
        (InputData, pathlib.Path): what was read and the network file used.

    Raises:
        BadInputError: bad files, options or shapes (nothing is written then).
    """
    from brainstorm.errors import BrainstormError
    from brainstorm.tools import prediction
    from bstorm_cli import provenance
    from bstorm_cli.commands._common import check_output_file, load_network_file
    from bstorm_cli.prediction import inputs, outputs
    output = pathlib.Path(request.output)
    check_output_file(output, request.force)
    file_format = outputs.output_format(output, request.file_format)
    path = network_file(request.network)
    network = load_network_file(path)
    try:
        needed = prediction.prediction_inputs(network, request.buffer)
    except (BrainstormError, KeyError) as error:
        raise BadInputError(str(error), Location(f"--buffer {request.buffer}")) from error
    buffer_name = request.buffer or network.output_name
    data = inputs.open_inputs(request.data, network, needed, request.group, request.split,
                              request.mask_name)
    writer = None
    try:
        writer = outputs.open_writer(
            output, file_format,
            provenance.provenance(path, request.data, data.where, buffer_name),
            data.count, data.time_size, request.top_k if request.classes else 0)
        batches = prediction.predict_batches(network, data.batches(request.batch_size,
                                                                   request.mask_name),
                                             buffer_name, request.mask_name)
        for batch in batches:
            classes = scores = None
            if request.classes:
                classes, scores = prediction.top_classes(batch.outputs, request.top_k)
            writer.add(batch, classes, scores)
            if progress is not None:
                progress(batch.start + batch.outputs.shape[1], data.count)
        writer.finish()
    except BrainstormError as error:
        if writer is not None:
            writer.discard()
        raise BadInputError(str(error), Location(str(request.data))) from error
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    finally:
        data.close()
    return data, path
