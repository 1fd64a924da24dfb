"""Applying a trained network to data without targets, one batch at a time.

A network built for training has inputs that its predictions do not depend on: the
``targets`` of its loss layer and a mask that only weighs the loss. :func:`prediction_inputs`
finds the inputs the output does depend on; :func:`predict_batches` feeds batches of
those (the other inputs are filled with zeros), runs the forward pass in inference mode
and yields the output buffer of each batch, so memory does not grow with the data.
Time steps that a mask marks as padding get NaN outputs.

Example:
    >>> batches = ({'default': x[:, i:i + 100]} for i in range(0, x.shape[1], 100))
    >>> for batch in predict_batches(net, batches):
    ...     save(batch.outputs)          # (T, B, classes) probabilities
"""

import dataclasses

import numpy as np

from brainstorm.errors import DataError, NetworkValidationError

#: inputs of a layer that the layer's outputs never depend on, only its loss
_LOSS_ONLY_INPUTS = ('targets',)


@dataclasses.dataclass
class PredictionBatch:
    """The outputs of one batch.

    Attributes:
        start (int): index of the batch's first sequence in the whole data.
        outputs (numpy.ndarray): the output buffer, ``(T, B, ...)`` float; NaN where
            the mask is 0.
        mask (Optional[numpy.ndarray]): the batch's mask ``(T, B, 1)``, if one was given.
    """

    start: int
    outputs: np.ndarray
    mask: object = None


def incoming_connections(architecture):
    """layer name -> [(source layer, source output, input name)]."""
    incoming = {name: [] for name in architecture}
    for source, entry in architecture.items():
        for output, targets in entry.get('@outgoing_connections', {}).items():
            for target in targets:
                layer, _, input_name = target.partition('.')
                incoming.setdefault(layer, []).append((source, output, input_name or 'default'))
    return incoming


def upstream(network, buffer_names):
    """The layers and Input outputs that the buffers ``buffer_names`` depend on.

    Connections into a layer's ``targets`` input do not count: no layer's
    outputs depend on them, only its loss.

    Args:
        network (brainstorm.structure.Network): the network.
        buffer_names (list[str]): dotted buffer paths ('Output.outputs.probabilities').

    Returns:
        (list[str], list[str]): layer names in the network's (topological) order,
        the Input layer left out, and input names in the Input layer's order.
    """
    incoming = incoming_connections(network.architecture)
    needed, stack, layers = set(), [name.split('.')[0] for name in buffer_names], set()
    while stack:
        layer = stack.pop()
        if layer in layers:
            continue
        layers.add(layer)
        for source, output, input_name in incoming.get(layer, ()):
            if input_name in _LOSS_ONLY_INPUTS:
                continue
            if source == 'Input':
                needed.add(output)
            else:
                stack.append(source)
    for name in buffer_names:
        if name.startswith('Input.'):
            needed.add(name.split('.')[-1])
    return ([name for name in network.layers if name in layers and name != 'Input'],
            [name for name in network.layers['Input'].out_shapes if name in needed])


def prediction_inputs(network, buffer_name=None):
    """The names of the Input layer's outputs that ``buffer_name`` depends on.

    Args:
        network (brainstorm.structure.Network): the network.
        buffer_name (Optional[str]): a dotted buffer path; default the network's
            ``output_name``.

    Returns:
        list[str]: input names in the Input layer's order (see :func:`upstream`).
    """
    buffer_name = buffer_name or network.output_name
    if not buffer_name:
        raise NetworkValidationError("the network has no default output; name a buffer")
    return upstream(network, [buffer_name])[1]


def check_input_shape(network, name, data_shape):
    """Raise a DataError naming both shapes if data ``(T, B, ...)`` does not fit input ``name``.

    Args:
        network: the network.
        name (str): an output of its Input layer.
        data_shape (tuple[int]): the whole data's shape, time-major ``(T, N, ...)``.
    """
    inputs = network.layers['Input'].out_shapes
    if name not in inputs:
        raise DataError(f"the network has no input {name!r} (its inputs: {', '.join(inputs)})")
    expected = tuple(inputs[name].feature_shape)
    if len(data_shape) < 2 or tuple(data_shape[2:]) != expected:
        raise DataError(f"input {name!r}: the data has shape {tuple(data_shape)}, the network "
                        f"expects (T, B) + {expected} = {('T', 'B') + expected}")


def predict_batches(network, batches, buffer_name=None, mask_name=None):
    """Run ``network`` forward on each batch and yield its outputs.

    Args:
        network (brainstorm.structure.Network): the network (any handler).
        batches (Iterable[dict[str, numpy.ndarray]]): input name -> ``(T, B, ...)``
            array, at least every name :func:`prediction_inputs` returns. Other
            inputs of the network are filled with zeros.
        buffer_name (Optional[str]): the buffer to return; default ``network.output_name``.
        mask_name (Optional[str]): a batch entry ``(T, B, 1)`` marking real time
            steps with 1 and padding with 0. It is fed to the network too when the
            network has an input of that name.

    Yields:
        PredictionBatch: the batch's outputs (a copy) and mask.

    Raises:
        DataError: a batch lacks an input the output depends on, or its shape does
            not fit (the message names the data's shape and the expected one).
    """
    buffer_name = buffer_name or network.output_name
    needed = prediction_inputs(network, buffer_name)
    inputs = network.layers['Input'].out_shapes
    start = 0
    for batch in batches:
        missing = [name for name in needed if name not in batch]
        if missing:
            raise DataError(f"the data has no input {missing[0]!r}, which the output "
                            f"{buffer_name} depends on (given: {', '.join(batch) or 'none'})")
        for name in needed:
            check_input_shape(network, name, batch[name].shape)
        time_size, batch_size = batch[needed[0]].shape[:2] if needed else \
            next(iter(batch.values())).shape[:2]
        feed = {}
        for name, structure in inputs.items():
            if name in batch and (name in needed or name == mask_name):
                feed[name] = np.asarray(batch[name])
            else:
                feed[name] = np.zeros((time_size, batch_size) + tuple(structure.feature_shape),
                                      dtype=network.handler.dtype)
        network.provide_external_data(feed)
        network.forward_pass(training_pass=False)
        outputs = network.get(buffer_name).astype(np.float64, copy=False)
        mask = None
        if mask_name is not None and mask_name in batch:
            mask = np.asarray(batch[mask_name])
            padding = np.broadcast_to(mask.reshape(mask.shape[:2] + (1,) * (outputs.ndim - 2))
                                      == 0, outputs.shape)
            outputs = np.where(padding, np.nan, outputs)
        yield PredictionBatch(start, outputs, mask)
        start += batch_size


def top_classes(outputs, k=1):
    """The ``k`` most probable classes of class scores ``(T, B, C)``, best first.

    Args:
        outputs (numpy.ndarray): ``(T, B, C)`` probabilities (or any scores);
            a row of NaN (a masked time step) gives class -1 and probability NaN.
        k (int): how many classes, 1 <= k <= C.

    Returns:
        (numpy.ndarray, numpy.ndarray): classes ``(T, B, k)`` int64 and their
        scores ``(T, B, k)``.
    """
    classes_count = outputs.shape[-1]
    if not 1 <= k <= classes_count:
        raise DataError(f"top-k: k must be between 1 and the number of classes "
                        f"({classes_count}), got {k}")
    if classes_count == 1:  # one sigmoid unit: class 1 when its probability is > 0.5
        probability = outputs[..., :1]
        classes = (probability > 0.5).astype(np.int64)
        scores = np.where(classes == 1, probability, 1 - probability)
    else:
        order = np.argsort(-np.nan_to_num(outputs, nan=-np.inf), axis=-1, kind='stable')
        classes = order[..., :k].astype(np.int64)
        scores = np.take_along_axis(outputs, classes, axis=-1)
    masked = np.isnan(outputs).all(axis=-1)
    classes[masked] = -1
    return classes, scores
