"""Running a network over a data iterator: scores (evaluate) and buffer values (extract).

Every function here runs the network in inference mode (``training_pass=False``)
once per batch. A batch may hold data the network does not use (a mask for
another network, say); such names are skipped, but every input of the network
must be provided.
"""

import os

import numpy as np

from brainstorm.errors import NetworkValidationError
from brainstorm.scorers import aggregate_losses_and_scores, gather_losses_and_scores
from brainstorm.utils import temporary_file_beside

_FIELD_TABLES = {'inputs': 'in_shapes', 'input_deltas': 'in_shapes',
                 'outputs': 'out_shapes', 'output_deltas': 'out_shapes',
                 'internals': 'internal_shapes', 'parameters': 'parameter_shapes',
                 'gradients': 'parameter_shapes'}


def run_network(network, data_iter):
    """Yield after each batch of ``data_iter`` was fed to ``network`` and run forward."""
    input_names = network.layers['Input'].out_shapes
    for batch in data_iter(handler=network.handler):
        network.provide_external_data({name: value for name, value in batch.items()
                                       if name in input_names})
        network.forward_pass(training_pass=False)
        yield batch


def evaluate(network, iter, scorers=(), out_name='', targets_name='targets',  # noqa: A002
             mask_name=None):
    """Evaluate the losses and one or more scores of a network on a data set.

    Args:
        network (brainstorm.structure.Network): network to be evaluated.
        iter (brainstorm.DataIterator): produces the data to compute the scores on.
        scorers (tuple[brainstorm.scorers.Scorer]): the scorers.
        out_name (Optional[str]): network output scored against the targets,
            for scorers without their own ``out_name``; '' means the network's
            default output (``network.output_name``).
        targets_name (Optional[str]): name of the targets provided by ``iter``.
        mask_name (Optional[str]): name of the mask provided by ``iter``, for
            scorers without their own ``mask_name``.

    Returns:
        dict[str, float]: 'total_loss' (and one entry per Loss layer if there
        are several), each the mean over all sequences weighted by batch size,
        then each scorer's name with its aggregated score.
    """
    scores = {}
    for _ in run_network(network, iter):
        gather_losses_and_scores(network, scorers, scores, out_name=out_name,
                                 targets_name=targets_name, mask_name=mask_name or '')
    return aggregate_losses_and_scores(scores, network, scorers)


def _buffer_structure(network, buffer_name):
    """The BufferStructure of a dotted 'Layer.field.name' path, with a clear error."""
    if isinstance(buffer_name, str):
        parts = buffer_name.split('.')
    else:
        parts = None
    if parts is None or len(parts) != 3:
        raise NetworkValidationError(f"buffer name {buffer_name!r}: expected a dotted path "
                                     f"'Layer.field.name', e.g. 'Output.outputs.predictions'")
    layer_name, field, name = parts
    if layer_name not in network.layers:
        raise NetworkValidationError(f"buffer name {buffer_name!r}: the network has no layer "
                                     f"{layer_name!r} (its layers: "
                                     f"{', '.join(network.layers)})")
    if field not in _FIELD_TABLES:
        raise NetworkValidationError(f"buffer name {buffer_name!r}: unknown field {field!r} "
                                     f"(expected one of {', '.join(_FIELD_TABLES)})")
    layer = network.layers[layer_name]
    table = getattr(layer, _FIELD_TABLES[field])
    if field in ('outputs', 'output_deltas'):
        name = layer.output_aliases.get(name, name)
    if name not in table:
        raise NetworkValidationError(f"buffer name {buffer_name!r}: layer {layer_name!r} has "
                                     f"no {field} {name!r} (it has: "
                                     f"{', '.join(table) or 'none'})")
    structure = table[name]
    if structure.buffer_type == 0:
        raise NetworkValidationError(f"buffer name {buffer_name!r} does not depend on the "
                                     f"data (shape {structure.shape}); read it with "
                                     f"network.get({buffer_name!r})")
    return structure


def _check_buffer_names(network, buffer_names):
    if isinstance(buffer_names, str):
        buffer_names = [buffer_names]
    buffer_names = list(buffer_names)
    if not buffer_names:
        raise NetworkValidationError("no buffer names given; pass e.g. "
                                     "['Output.outputs.predictions']")
    return {name: _buffer_structure(network, name) for name in buffer_names}


def _batch_axis(structure):
    """Axis of B in a buffer: 1 for ('T', 'B', ...), 0 for ('B', ...)."""
    return 1 if structure.buffer_type == 2 else 0


def _pad_time(array, time_size):
    """Zero-pad a (T, B, ...) array along T to ``time_size`` steps."""
    if array.shape[0] == time_size:
        return array
    padded = np.zeros((time_size,) + array.shape[1:], dtype=array.dtype)
    padded[:array.shape[0]] = array
    return padded


def extract(network, iter, buffer_names):  # noqa: A002
    """Apply the network to some data and return the requested buffers.

    Args:
        network (brainstorm.structure.Network): the network to run.
        iter (brainstorm.DataIterator): produces the data.
        buffer_names (list[str]): dotted names of the buffers, e.g.
            ``['Output.outputs.predictions', 'Hid1.internals.H']`` (a single
            string is also accepted).

    Returns:
        dict[str, numpy.ndarray]: buffer name -> the values of all batches
        concatenated along B, shape ``(T, B_total, ...)`` (``(B_total, ...)``
        for batch-sized buffers). Batches with fewer time steps than the
        longest one are zero-padded at the end.

    Raises:
        NetworkValidationError: before running, if a name is malformed, names
            no buffer, or names a buffer that does not depend on the data.
    """
    structures = _check_buffer_names(network, buffer_names)
    parts = {name: [] for name in structures}
    for _ in run_network(network, iter):
        for name in structures:
            parts[name].append(network.get(name))
    results = {}
    for name, arrays in parts.items():
        if not arrays:
            raise NetworkValidationError("the data iterator produced no batches")
        axis = _batch_axis(structures[name])
        if axis == 1:
            time_size = max(array.shape[0] for array in arrays)
            arrays = [_pad_time(array, time_size) for array in arrays]
        results[name] = np.concatenate(arrays, axis=axis)
    return results


def extract_and_save(network, iter, buffer_names, file_name, attributes=None):  # noqa: A002
    """Save the values of some buffers of a network, run on a data set, to an HDF5 file.

    One dataset per buffer, named by its dotted name, holding what
    :func:`extract` returns. Batches are written as they come (the datasets
    grow along B, and along T where a batch is longer), so memory use does not
    grow with the data set. The file is written under a temporary name in the
    same folder and renamed when complete: an existing ``file_name`` is
    replaced only by a complete file.

    Example:
        >>> extract_and_save(net, Minibatches(100, default=x_test),
        ...                  ['Output.outputs.predictions', 'Hid1.internals.H'],
        ...                  'features.hdf5')

    Args:
        network (brainstorm.structure.Network): the network to run.
        iter (brainstorm.DataIterator): produces the data.
        buffer_names (list[str]): dotted names of the buffers to save.
        file_name (str): the HDF5 file to write (its folder must exist).
        attributes (Optional[dict[str, str]]): extra file attributes, e.g. where the
            network and the data came from.

    Raises:
        NetworkValidationError: before anything is written, for bad buffer names.
    """
    import h5py
    structures = _check_buffer_names(network, buffer_names)
    file_name = os.fspath(file_name)
    handle, temporary = temporary_file_beside(file_name)
    os.close(handle)
    try:
        with h5py.File(temporary, 'w') as f:
            f.attrs['format'] = 'brainstorm-buffers'
            f.attrs.update(attributes or {})
            datasets = {}
            for _ in run_network(network, iter):
                for name, structure in structures.items():
                    _append(f, datasets, name, network.get(name), _batch_axis(structure))
            if not datasets:
                raise NetworkValidationError("the data iterator produced no batches")
        os.replace(temporary, file_name)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _append(f, datasets, name, array, axis):
    """Append ``array`` along ``axis`` (B) to the dataset ``name``; create it if needed."""
    if name not in datasets:
        maxshape = list(array.shape)
        maxshape[axis] = None
        if axis == 1:
            maxshape[0] = None
        datasets[name] = f.create_dataset(name, data=array, maxshape=tuple(maxshape),
                                          chunks=True, fillvalue=0)
        return
    dataset = datasets[name]
    shape = list(dataset.shape)
    start = shape[axis]
    shape[axis] += array.shape[axis]
    if axis == 1:
        shape[0] = max(shape[0], array.shape[0])
    dataset.resize(tuple(shape))
    if axis == 1:
        dataset[:array.shape[0], start:start + array.shape[1]] = array
    else:
        dataset[start:start + array.shape[0]] = array
