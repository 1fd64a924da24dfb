"""Quick network construction: input/output layers for a task, whole nets from a spec line."""

import difflib

from brainstorm.errors import (LayerValidationError, NetworkValidationError,
                               StructureValidationError)
from brainstorm.tools.spec_parser import LAYER_LETTERS, parse_spec

TASK_TYPES = ('classification', 'multi-label', 'regression')

#: task type -> (output layer factory name, targets shape from the output shape)
_OUTPUT_LAYERS = {
    'classification': ('SoftmaxCE', lambda out_shape: out_shape[:-1] + (1,)),
    'multi-label': ('SigmoidCE', lambda out_shape: out_shape),
    'regression': ('SquaredError', lambda out_shape: out_shape),
}


def _as_shape(value, what):
    """An int or a sequence of ints -> tuple of positive ints."""
    shape = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(shape, (tuple, list)) or not shape or not all(
            isinstance(size, int) and not isinstance(size, bool) and size > 0
            for size in shape):
        raise NetworkValidationError(f"{what} must be a positive int or a tuple of positive "
                                     f"ints, got {value!r}")
    return tuple(shape)


def _check_task_type(task_type):
    if task_type not in TASK_TYPES:
        close = difflib.get_close_matches(str(task_type), TASK_TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NetworkValidationError(f"unknown task_type {task_type!r}: expected one of "
                                     f"{', '.join(map(repr, TASK_TYPES))}{hint}")


def get_in_out_layers(task_type, in_shape, out_shape, data_name='default',
                      targets_name='targets', projection_name=None, outlayer_name=None,
                      mask_name=None, use_conv=None):
    """Prepare input and output layers for building a network.

    Returns the Input layer and a linear projection layer that is already
    wired to the task's output layer, whose loss goes (through a Mask layer
    when ``mask_name`` is given) into a Loss layer:

    * ``'classification'``: projection -> SoftmaxCE; targets are class
      indices of shape ``out_shape[:-1] + (1,)``.
    * ``'multi-label'``: projection -> SigmoidCE; targets of shape ``out_shape``.
    * ``'regression'``: projection -> SquaredError (half the squared
      difference); targets of shape ``out_shape``.

    The projection is ``FullyConnected(out_shape, activation='linear')``, or
    ``Convolution2D(out_shape[-1], kernel_size=(1, 1), activation='linear')``
    when ``use_conv``. The Input layer provides ``data_name`` (``in_shape``),
    ``targets_name`` and, if given, ``mask_name`` (shape ``(1,)``: one weight
    per time step and sequence), all time sized ``('T', 'B', ...)``.
    The projection has parameters: initialize the network after creating it.

    Example:
        >>> inp, out = get_in_out_layers('classification', 784, 10)
        >>> net = Network.from_layer(inp >> layers.FullyConnected(1000) >> out)

    Args:
        task_type (str): one of 'classification', 'regression', 'multi-label'.
        in_shape (int or tuple[int]): feature shape of the input data.
        out_shape (int or tuple[int]): feature shape of the network output
            (the number of classes for classification; ``(height, width,
            classes)`` for a convolutional projection).
        data_name (Optional[str]): name of the input data. Defaults to 'default'.
        targets_name (Optional[str]): name of the targets. Defaults to 'targets'.
        projection_name (Optional[str]): name of the projection layer;
            defaults to ``outlayer_name + '_projection'`` ('Output_projection').
        outlayer_name (Optional[str]): name of the output layer. Defaults to 'Output'.
        mask_name (Optional[str]): name of the mask data; None for no mask.
        use_conv (Optional[bool]): use a 1x1 convolution as the projection;
            None means: exactly when ``out_shape`` has 3 dimensions.

    Returns:
        tuple[ConstructionWrapper, ConstructionWrapper]: the Input layer and
        the projection layer.

    Raises:
        NetworkValidationError: for an unknown task type, bad shapes or clashing names.
    """
    from brainstorm import layers
    _check_task_type(task_type)
    in_shape = _as_shape(in_shape, 'in_shape')
    out_shape = _as_shape(out_shape, 'out_shape')
    names = [data_name, targets_name] + ([mask_name] if mask_name is not None else [])
    if len(set(names)) != len(names):
        raise NetworkValidationError(f"data_name, targets_name and mask_name must differ, "
                                     f"got {data_name!r}, {targets_name!r}, {mask_name!r}")
    if use_conv is None:
        use_conv = len(out_shape) == 3
    if use_conv and len(out_shape) != 3:
        raise NetworkValidationError(f"use_conv needs out_shape (height, width, channels), "
                                     f"got {out_shape}")
    outlayer_name = 'Output' if outlayer_name is None else outlayer_name
    projection_name = (outlayer_name + '_projection' if projection_name is None
                       else projection_name)
    factory_name, targets_shape_of = _OUTPUT_LAYERS[task_type]

    out_shapes = {data_name: in_shape, targets_name: targets_shape_of(out_shape)}
    if mask_name is not None:
        out_shapes[mask_name] = (1,)
    input_layer = layers.Input(out_shapes=out_shapes)
    if use_conv:
        projection = layers.Convolution2D(out_shape[-1], kernel_size=(1, 1),
                                          activation='linear', name=projection_name)
    else:
        size = out_shape[0] if len(out_shape) == 1 else out_shape
        projection = layers.FullyConnected(size, activation='linear', name=projection_name)
    output_layer = getattr(layers, factory_name)(name=outlayer_name)
    projection >> output_layer
    input_layer - targets_name >> 'targets' - output_layer
    if mask_name is None:
        output_layer - 'loss' >> layers.Loss()
    else:
        mask_layer = layers.Mask()
        input_layer - mask_name >> 'mask' - mask_layer
        output_layer - 'loss' >> mask_layer >> layers.Loss()
    return input_layer, projection


def create_net_from_spec(task_type, in_shape, out_shape, spec, data_name='default',
                         targets_name='targets', mask_name=None, use_conv=None):
    """Create a complete, initialized network from a spec line like "F50 F20 F50".

    The grammar (layer letters F R L B D C P, activations l r s t, dropout
    probabilities, convolution and pooling kernels, padding and stride) is in
    :mod:`brainstorm.tools.spec_parser`. The spec's layers are chained from the
    input ``data_name`` to the projection of :func:`get_in_out_layers`, and are
    named like unnamed layers are ('FullyConnected', 'FullyConnected_1', ...).
    A bidirectional layer ('L32<>') named 'Lstm' becomes 'Lstm_forward',
    'Lstm_reverse' and their Merge 'Lstm'; with ``mask_name``, the mask goes to
    every reversed or bidirectional layer, so each sequence is read backwards
    from its own last valid step.

    Initialization: ``DenseSqrtFanInOut(activation)`` for every layer with an
    activation function (the projection too, with 'linear'), ``Gaussian()``
    for all other parameters and as the fallback for those the first choice
    cannot initialize (biases). BatchNorm layers start as the identity
    (gamma and sigma 1, beta and mu 0), since a random scale or running
    deviation may be negative.

    Examples:
        >>> net = create_net_from_spec('classification', 784, 10, 'D.2 F1200 D F1200 D')
        >>> net = create_net_from_spec('classification', (32, 32, 3), 10,
        ...                            'C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64')

    (The spec's own cifar example writes the image shape as (3, 32, 32); images
    are (height, width, channels) here, as the data format of spec 3.1 says.)

    Args:
        task_type (str): one of 'classification', 'regression', 'multi-label'.
        in_shape (int or tuple[int]): feature shape of the input data.
        out_shape (int or tuple[int]): output shape / number of classes.
        spec (str): the layers, e.g. 'Fr100 D.2 F10'; '' for none.
        data_name (Optional[str]): name of the input data. Defaults to 'default'.
        targets_name (Optional[str]): name of the targets. Defaults to 'targets'.
        mask_name (Optional[str]): name of the mask data; None for no mask.
        use_conv (Optional[bool]): see :func:`get_in_out_layers`.

    Returns:
        brainstorm.structure.network.Network: the initialized network.

    Raises:
        NetworkValidationError: for a malformed spec (naming the character
            position and the token) or a layer that does not fit its input
            (naming the position of that layer in the spec).
    """
    from brainstorm.structure.network import Network
    projection, positions = _spec_graph(task_type, in_shape, out_shape, spec, data_name,
                                        targets_name, mask_name, use_conv)
    try:
        net = Network.from_layer(projection)
    except (LayerValidationError, NetworkValidationError, StructureValidationError) as error:
        raise _located_build_error(spec, positions, error) from error
    net.initialize(_spec_initializers(net))
    return net


def create_architecture_from_spec(task_type, in_shape, out_shape, spec, data_name='default',
                                  targets_name='targets', mask_name=None, use_conv=None):
    """The architecture (spec 9.3) of the network :func:`create_net_from_spec` builds.

    Validated as building the network would validate it (the layers are
    instantiated and their shapes computed), but no handler and no buffers are
    made: describing a large network costs no memory. The arguments and the
    errors are those of :func:`create_net_from_spec`.

    Returns:
        dict: the architecture, as ``Network.from_architecture`` takes it.
    """
    from brainstorm.structure.architecture import (generate_architecture,
                                                   instantiate_layers_from_architecture)
    projection, positions = _spec_graph(task_type, in_shape, out_shape, spec, data_name,
                                        targets_name, mask_name, use_conv)
    try:
        architecture = generate_architecture(projection)
        instantiate_layers_from_architecture(architecture)
    except (LayerValidationError, NetworkValidationError, StructureValidationError) as error:
        raise _located_build_error(spec, positions, error) from error
    return architecture


def _spec_graph(task_type, in_shape, out_shape, spec, data_name, targets_name, mask_name,
                use_conv):
    """The spec's layers wired from the input to the projection.

    Returns:
        tuple: the projection layer (any layer of the graph names it) and, per layer
        name, its (character position, token) in ``spec`` for error messages.
    """
    from brainstorm import layers
    parsed = parse_spec(spec)
    input_layer, projection = get_in_out_layers(task_type, in_shape, out_shape,
                                                data_name=data_name,
                                                targets_name=targets_name,
                                                mask_name=mask_name, use_conv=use_conv)
    current = input_layer - data_name
    names = _spec_layer_names(parsed, projection)
    positions = {}
    for (letter, kwargs, position), name in zip(parsed, names):
        bidirectional = kwargs.pop('bidirectional', False)
        type_name = LAYER_LETTERS[letter]
        factory = getattr(layers, type_name, None)
        if factory is None:
            raise NetworkValidationError(f"spec {spec!r}: position {position}: layer type "
                                         f"{type_name} ({letter!r}) is not available")
        positions[name] = (position, _token_at(spec, position))
        layer = factory(name=name, **kwargs)
        if bidirectional:
            layer = layers.Bidirectional(layer, name=name)
            for half in ('_forward', '_reverse'):
                positions[name + half] = positions[name]
        if mask_name is not None and (bidirectional or kwargs.get('reverse')):
            # a reversed layer must know where each sequence ends
            input_layer - mask_name >> 'mask' - layer
        current = current >> layer
    current >> projection
    return projection, positions


def _spec_layer_names(parsed, projection):
    """The names brainstorm 0.5 gives the spec's layers (``FullyConnected_1``, ...).

    Computed before the layers exist (a Bidirectional layer needs its name), as
    :func:`~brainstorm.structure.architecture.unique_layer_names` would name them
    unnamed, after the input and output layers already wired to ``projection``.
    """
    from types import SimpleNamespace

    from brainstorm.structure.architecture import unique_layer_names
    from brainstorm.structure.construction import collect_connected_layers
    placeholders = [SimpleNamespace(name=None, layer_type=LAYER_LETTERS[letter])
                    for letter, _, _ in parsed]
    names = unique_layer_names(collect_connected_layers(projection) + placeholders)
    return [names[id(placeholder)] for placeholder in placeholders]


def _token_at(spec, position):
    """The layer token starting at ``position`` (up to the next capital letter)."""
    end = position + 1
    while end < len(spec) and not spec[end].isupper():
        end += 1
    return ''.join(spec[position:end].split())


def _located_build_error(spec, positions, error):
    message = str(error)
    for name, (position, token) in positions.items():
        if f"layer {name!r}" in message:
            return NetworkValidationError(f"spec {spec!r}: position {position}: {token!r} "
                                          f"cannot be built: {message}")
    return NetworkValidationError(f"spec {spec!r}: the network cannot be built: {message}")


def _spec_initializers(net):
    """Pattern dict for ``net.initialize`` as documented in create_net_from_spec."""
    from brainstorm.initializers import DenseSqrtFanInOut, Gaussian
    initializers = {'default': Gaussian(), 'fallback': Gaussian()}
    for name, layer in net.layers.items():
        activation = net.architecture[name].get('activation')
        if layer.parameter_shapes and activation in DenseSqrtFanInOut.scales:
            initializers[name] = DenseSqrtFanInOut(activation)
        elif layer.layer_type == 'BatchNorm':
            # start as the identity: a random scale or running deviation could be negative
            initializers[name] = {parameter: 1.0 if parameter in ('gamma', 'sigma') else 0.0
                                  for parameter in layer.parameter_shapes}
    return initializers
