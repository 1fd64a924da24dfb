"""What ``bstorm info`` shows about a network: layers, shapes, parameters and memory.

Pure data (lists and dicts); the command renders it as tables or JSON.
"""

import numpy as np

from brainstorm.tools.network_info import shared_transient_memory
from brainstorm.utils import product


def _shape_text(structure):
    return '(' + ', '.join(str(entry) for entry in structure.shape) + ')'


def _count(structure):
    return int(np.prod(structure.feature_shape)) if structure.buffer_type == 0 else 0


def layer_rows(network):
    """One dict per layer: name, type, inputs, outputs, parameters, parameter count."""
    rows = []
    for name, layer in network.layers.items():
        parameters = {key: _shape_text(structure)
                      for key, structure in layer.parameter_shapes.items()}
        rows.append({
            'name': name,
            'type': layer.layer_type,
            'inputs': {key: _shape_text(structure) for key, structure in layer.in_shapes.items()},
            'outputs': {key: _shape_text(structure) for key, structure in layer.out_shapes.items()},
            'parameters': parameters,
            'parameter_count': sum(int(np.prod(structure.feature_shape))
                                   for structure in layer.parameter_shapes.values()),
        })
    return rows


def memory_bytes(network, time_size, batch_size):
    """Bytes of the forward and backward buffers for ``batch_size`` sequences of T steps.

    What the network's BufferManager allocates for that size: transient internals
    (shared by all layers) count once, as large as the largest layer's.

    Returns:
        dict: 'parameters', 'gradients', 'forward' (outputs and forward internals,
        parameters excluded), 'backward' (deltas and backward internals) and 'total'.
    """
    itemsize = np.dtype(network.handler.dtype).itemsize
    totals = {'parameters': 0, 'gradients': 0, 'forward': 0, 'backward': 0}
    for layer in network.layers.values():
        for structure in layer.parameter_shapes.values():
            size = product(structure.get_shape(time_size, batch_size))
            totals['parameters'] += size
            totals['gradients'] += size
        for structure in layer.out_shapes.values():
            size = product(structure.get_shape(time_size, batch_size))
            totals['forward'] += size
            totals['backward'] += size  # output deltas
        for structure in layer.internal_shapes.values():
            if not structure.is_transient:
                size = product(structure.get_shape(time_size, batch_size))
                totals['backward' if structure.is_backward_only else 'forward'] += size
    totals['backward'] += shared_transient_memory(network.layers.values(), time_size,
                                                  batch_size, 1)
    result = {key: value * itemsize for key, value in totals.items()}
    result['total'] = sum(result.values())
    return result


def network_summary(network, time_size=1, batch_size=1):
    """Everything ``bstorm info`` reports, as one JSON-friendly dict."""
    rows = layer_rows(network)
    return {
        'layers': rows,
        'parameter_count': sum(row['parameter_count'] for row in rows),
        'output_name': network.output_name,
        'dtype': np.dtype(network.handler.dtype).name,
        'time_size': time_size,
        'batch_size': batch_size,
        'memory_bytes': memory_bytes(network, time_size, batch_size),
    }


def human_bytes(count):
    """1536 -> '1.5 KiB'."""
    value = float(count)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if value < 1024 or unit == 'GiB':
            return f"{value:.0f} {unit}" if unit == 'B' else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
