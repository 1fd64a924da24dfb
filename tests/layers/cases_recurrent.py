"""LayerCases of the recurrent layers: Recurrent, Lstm, Clockwork, ClockworkLstm.

Every configuration is checked with and without a random non-zero context:
the t = 0 terms of the backward passes read the forward context slots, which a
zero context cannot test. Clockwork periods include ones that do not divide T.
"""

import numpy as np

from tests.layers.cases import LayerCase


def timing_init(periods):
    """An init giving the first units the listed periods (repeated for more units)."""
    def init(shape, rnd):
        return np.resize(np.asarray(periods, dtype=np.float64), shape)
    return init


# (layer type, size, activation, in feature shape, T, B, extra case fields)
_CONFIGS = [
    ('Recurrent', 3, 'tanh', (2,), 3, 2, {}),
    ('Recurrent', 2, 'rel', (2, 2), 4, 1, {}),
    ('Recurrent', 3, 'sigmoid', (1,), 1, 3, {}),
    ('Lstm', 3, 'tanh', (2,), 3, 2, {}),
    ('Lstm', 2, 'linear', (3, 1), 4, 2, {}),
    ('Lstm', 2, 'sigmoid', (2,), 1, 3, {}),
    ('Clockwork', 4, 'tanh', (2,), 5, 2, {'inits': {'timing': timing_init([1, 2, 3, 5])}}),
    ('Clockwork', 3, 'el', (2, 2), 4, 2, {'inits': {'timing': timing_init([3, 1, 2])}}),
    ('ClockworkLstm', 4, 'tanh', (2,), 5, 2,
     {'inits': {'timing': timing_init([1, 2, 3, 4])}}),
    ('ClockworkLstm', 3, 'tanh', (2, 1), 4, 1, {'inits': {'timing': timing_init([3, 2, 1])}}),
]


def _case_id(layer_type, size, activation, in_shape, time_steps, batch_size, context):
    shape = 'x'.join(map(str, in_shape))
    suffix = '-context' if context else ''
    return (f"{layer_type.lower()}-{size}-in{shape}-T{time_steps}-B{batch_size}-{activation}"
            f"{suffix}")


CASES = [
    LayerCase(id=_case_id(layer_type, size, activation, in_shape, time_steps, batch_size,
                          context),
              layer_type=layer_type, kwargs={'size': size, 'activation': activation},
              in_shapes={'default': in_shape}, time_steps=time_steps,
              batch_size=batch_size, context=context, **extra)
    for layer_type, size, activation, in_shape, time_steps, batch_size, extra in _CONFIGS
    for context in (False, True)
]
