"""Are the data's values usable by the network? Checked when the data is opened.

Shapes are checked elsewhere (``checks.check_data_fits_network``); this module reads
the values, in chunks of about a million numbers, keeping only each chunk's minimum
and maximum (and, for class labels, whether any is fractional):

- every numeric item must be finite (a NaN or infinity anywhere makes the minimum or
  maximum of its chunk non-finite);
- the class labels a softmax output is trained on must be whole numbers from 0 to
  the number of classes minus 1 (out of range they train silently on garbage).
"""

import numpy as np

#: numbers per chunk read at a time
CHUNK_VALUES = 1_000_000


def class_label_items(network):
    """{input name: number of classes} for each input that feeds a softmax's targets."""
    connections = network.architecture.get('Input', {}).get('@outgoing_connections', {})
    labels = {}
    for input_name, targets in connections.items():
        for target in targets:
            layer_name, _, port = target.partition('.')
            layer = network.layers.get(layer_name)
            if layer is not None and layer.layer_type == 'SoftmaxCE' and port == 'targets':
                labels[input_name] = int(layer.in_shapes['default'].feature_shape[-1])
    return labels


def _chunks(dataset):
    """Slices of ``dataset`` (T, B, ...) along B, each about CHUNK_VALUES numbers."""
    shape = dataset.shape
    per_column = max(1, int(np.prod(shape, dtype=np.float64) / max(shape[1], 1))) \
        if len(shape) > 1 else 1
    step = max(1, CHUNK_VALUES // per_column)
    columns = shape[1] if len(shape) > 1 else shape[0] if shape else 1
    for start in range(0, columns, step):
        yield dataset[:, start:start + step] if len(shape) > 1 else dataset[start:start + step]


#: a compressed data item may expand at most this many times (zeros compress about
#: 1,000 times; more is a damaged or hostile file)
MAX_EXPANSION = 10_000


def storage_problems(name, dataset):
    """What is wrong with how an HDF5 dataset stores its values (from its metadata,
    before anything is read), or None: one that declares more values than it stores
    (truncated, or a hostile file declaring billions of values in a few bytes) or that
    keeps its values outside the file."""
    dataset_id = getattr(dataset, 'id', None)
    if dataset_id is None or not hasattr(dataset_id, 'get_storage_size'):
        return None  # an array in memory
    plist = dataset_id.get_create_plist()
    if plist.get_external_count() or getattr(dataset, 'is_virtual', False):
        return f"data item {name!r} keeps its values outside the file; refused"
    declared = int(dataset.size) * dataset.dtype.itemsize
    stored = dataset_id.get_storage_size()
    if plist.get_nfilters():
        if declared > MAX_EXPANSION * max(stored, 1):
            return (f"data item {name!r} declares {int(dataset.size):,} values "
                    f"({declared:,} bytes) in {stored:,} compressed bytes; refused")
    elif stored < declared:
        return (f"data item {name!r} declares {int(dataset.size):,} values ({declared:,} "
                f"bytes) but the file stores only {stored:,} bytes (truncated or damaged)")
    return None


def value_problems(name, dataset, classes=None):
    """What is wrong with the values of ``dataset`` (a message without location), or None.

    Args:
        name (str): the item's name, for the message.
        dataset: an h5py Dataset or numpy array, (T, B, ...).
        classes (Optional[int]): the number of classes if the item holds class labels.
    """
    kind = np.dtype(dataset.dtype).kind
    if kind not in 'biuf' or not dataset.size:
        return None
    problem = storage_problems(name, dataset)
    if problem:
        return problem
    low, high, fractional = np.inf, -np.inf, False
    for chunk in _chunks(dataset):
        if not chunk.size:
            continue
        chunk_low, chunk_high = chunk.min(), chunk.max()
        if not (np.isfinite(chunk_low) and np.isfinite(chunk_high)):
            return f"data item {name!r} holds NaN or infinite values"
        low, high = min(low, float(chunk_low)), max(high, float(chunk_high))
        if classes is not None and kind == 'f' and not fractional:
            fractional = bool(np.any(np.floor(chunk) != chunk))
    if classes is None:
        return None
    if fractional:
        return f"data item {name!r} holds class labels, but some are not whole numbers"
    if low < 0 or high > classes - 1:
        return (f"data item {name!r} holds class labels from {low:g} to {high:g}, but the "
                f"network has {classes} classes (labels 0 to {classes - 1})")
    return None
