"""LayerCases of Gru and of the reversed and masked recurrent layers (Recurrent, Lstm, Gru).

Every configuration runs with and without a random non-zero context. The mask
cases give the sequences of a batch uneven lengths (padding at the end), so
the held steps and, reversed, the start at each sequence's last valid step are
checked by finite differences, the contracts and on every handler.
"""

import numpy as np

from tests.layers.cases import LayerCase


def uneven_mask(lengths):
    """An input_data maker: mask[t, b] = 1 for t < lengths[b] (repeated for more columns)."""
    def make(shape, rnd):
        time_size, batch_size = shape[0], shape[1]
        columns = np.resize(np.asarray(lengths), batch_size)
        return (np.arange(time_size)[:, None] < columns[None, :]).astype(np.float64)[..., None]
    return make


# (layer type, size, activation, in feature shape, T, B, reverse, mask lengths or None)
_CONFIGS = [
    ('Gru', 3, 'tanh', (2,), 3, 2, False, None),
    ('Gru', 2, 'rel', (3, 1), 4, 1, False, None),
    ('Gru', 2, 'sigmoid', (2,), 1, 3, False, None),
    ('Gru', 3, 'tanh', (2,), 4, 2, True, None),
    ('Gru', 2, 'tanh', (2,), 4, 3, False, (4, 2, 1)),
    ('Gru', 2, 'el', (2,), 4, 3, True, (4, 2, 1)),
    ('Recurrent', 3, 'tanh', (2,), 4, 2, True, None),
    ('Recurrent', 2, 'tanh', (2,), 4, 3, False, (3, 4, 1)),
    ('Recurrent', 2, 'sigmoid', (2,), 4, 3, True, (3, 4, 1)),
    ('Lstm', 3, 'tanh', (2,), 4, 2, True, None),
    ('Lstm', 2, 'tanh', (2,), 4, 3, False, (2, 4, 1)),
    ('Lstm', 2, 'linear', (2,), 4, 3, True, (2, 4, 1)),
]


def _case_id(layer_type, size, activation, in_shape, time_steps, batch_size, reverse, lengths,
             context):
    shape = 'x'.join(map(str, in_shape))
    parts = [layer_type.lower(), str(size), f"in{shape}", f"T{time_steps}", f"B{batch_size}",
             activation]
    if reverse:
        parts.append('reverse')
    if lengths:
        parts.append('mask' + '.'.join(map(str, lengths)))
    if context:
        parts.append('context')
    return '-'.join(parts)


def _case(layer_type, size, activation, in_shape, time_steps, batch_size, reverse, lengths,
          context):
    kwargs = {'size': size, 'activation': activation}
    if reverse:
        kwargs['reverse'] = True
    in_shapes = {'default': in_shape}
    input_data = {}
    if lengths:
        in_shapes['mask'] = (1,)
        input_data['mask'] = uneven_mask(lengths)
    return LayerCase(id=_case_id(layer_type, size, activation, in_shape, time_steps,
                                 batch_size, reverse, lengths, context),
                     layer_type=layer_type, kwargs=kwargs, in_shapes=in_shapes,
                     time_steps=time_steps, batch_size=batch_size, input_data=input_data,
                     context=context)


CASES = [_case(*config, context) for config in _CONFIGS for context in (False, True)]
