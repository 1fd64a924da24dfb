"""A text summary of a network: layers, shapes, parameter counts and memory."""

import numpy as np

from brainstorm.utils import product


def _shape_text(structure):
    entries = [str(entry) for entry in structure.shape]
    return '(' + ', '.join(entries) + (',)' if len(entries) == 1 else ')')


def _named_shapes(table):
    if not table:
        return 'none'
    return '; '.join(f"{name} {_shape_text(structure)}" for name, structure in table.items())


def _bytes_text(count):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if count < 1024 or unit == 'GiB':
            return f"{count:.0f} {unit}" if unit == 'B' else f"{count:.1f} {unit}"
        count /= 1024.0
    return f"{count:.1f} GiB"


def layer_memory(layer, time_size, batch_size, itemsize):
    """Bytes of one layer's forward and backward buffers for a given T and B.

    Forward: parameters, outputs (with their context slots) and forward
    internals. Backward: gradients, output deltas and backward-only internals.
    Inputs are views of other layers' outputs and cost nothing.

    Returns:
        tuple[int, int]: (forward bytes, backward bytes).
    """
    def size(structure):
        return product(structure.get_shape(time_size, batch_size))

    parameters = sum(size(s) for s in layer.parameter_shapes.values())
    outputs = sum(size(s) for s in layer.out_shapes.values())
    forward_internals = sum(size(s) for s in layer.internal_shapes.values()
                            if not s.is_backward_only)
    backward_internals = sum(size(s) for s in layer.internal_shapes.values()
                             if s.is_backward_only)
    forward = (parameters + outputs + forward_internals) * itemsize
    backward = (parameters + outputs + backward_internals) * itemsize
    return forward, backward


def transient_memory(layer, time_size, batch_size, itemsize):
    """Bytes of the layer's transient internals, per buffer type.

    These are part of :func:`layer_memory`'s backward bytes, but all layers
    share them: the network holds, per buffer type, only the largest layer's.

    Returns:
        dict[int, int]: buffer type -> bytes.
    """
    shared = {}
    for structure in layer.internal_shapes.values():
        if structure.is_transient:
            shared[structure.buffer_type] = shared.get(structure.buffer_type, 0) + \
                product(structure.get_shape(time_size, batch_size)) * itemsize
    return shared


def shared_transient_memory(layers, time_size, batch_size, itemsize):
    """Bytes of the regions that all layers' transient internals share.

    Per buffer type, the layer whose transient internals need most sets the
    region's size (as in the BufferManager).

    Args:
        layers (Iterable[Layer]): the network's layers.

    Returns:
        int: bytes of all shared regions together.
    """
    largest = {}
    for layer in layers:
        for buffer_type, count in transient_memory(layer, time_size, batch_size,
                                                   itemsize).items():
            largest[buffer_type] = max(largest.get(buffer_type, 0), count)
    return sum(largest.values())


def get_network_info(network, time_size=1, batch_size=1):
    """Describe the network: every layer with its shapes, parameters and memory.

    For each layer, in the order they run: name, type and settings, input and
    output shapes, parameter shapes with their sizes, and the memory of its
    buffers. Then the totals: parameters, and memory for ``time_size`` steps
    of ``batch_size`` sequences in the handler's dtype.

    Args:
        network (brainstorm.structure.Network): the network to describe.
        time_size (int): T for the memory figures. Defaults to 1.
        batch_size (int): B for the memory figures. Defaults to 1.

    Returns:
        str: several lines of text, ending without a newline.
    """
    itemsize = np.dtype(network.handler.dtype).itemsize
    dtype_name = np.dtype(network.handler.dtype).name
    lines = []
    total_parameters = total_forward = total_backward = 0
    for index, (name, layer) in enumerate(network.layers.items()):
        settings = ', '.join(f"{key}={value!r}" for key, value in sorted(layer.kwargs.items())
                             if key != 'out_shapes')
        lines.append(f"[{index}] {name} ({layer.layer_type}" +
                     (f": {settings})" if settings else ")"))
        if layer.in_shapes:
            lines.append(f"    inputs:      {_named_shapes(layer.in_shapes)}")
        lines.append(f"    outputs:     {_named_shapes(layer.out_shapes)}")
        if layer.parameter_shapes:
            counts = [(parameter_name, structure, product(structure.shape))
                      for parameter_name, structure in layer.parameter_shapes.items()]
            layer_total = sum(count for _, _, count in counts)
            listing = '; '.join(f"{parameter_name} {_shape_text(structure)} = {count:,}"
                                for parameter_name, structure, count in counts)
            lines.append(f"    parameters:  {listing}; total {layer_total:,}")
            total_parameters += layer_total
        forward, backward = layer_memory(layer, time_size, batch_size, itemsize)
        transient = transient_memory(layer, time_size, batch_size, itemsize)
        total_forward += forward
        total_backward += backward - sum(transient.values())  # the shared part: below
        shared = (f" ({_bytes_text(sum(transient.values()))} of it shared with other layers)"
                  if transient else '')
        lines.append(f"    memory:      forward {_bytes_text(forward)}, "
                     f"backward {_bytes_text(backward)}{shared}")
    total_backward += shared_transient_memory(network.layers.values(), time_size, batch_size,
                                              itemsize)
    header = [f"Network: {len(network.layers)} layers, {total_parameters:,} parameters "
              f"({_bytes_text(total_parameters * itemsize)} as {dtype_name}), handler "
              f"{type(network.handler).__name__}",
              f"Memory for time_size={time_size}, batch_size={batch_size}: forward "
              f"{_bytes_text(total_forward)}, backward {_bytes_text(total_backward)}, total "
              f"{_bytes_text(total_forward + total_backward)}", '']
    footer = ['', f"Total parameters: {total_parameters:,}"]
    return '\n'.join(header + lines + footer)


def print_network_info(network):
    """Print :func:`get_network_info` of the network (input, output and parameter shapes
    of every layer, parameter counts per layer and in total).

    Args:
        network (brainstorm.structure.Network): the network to describe.
    """
    print(get_network_info(network))
