"""LayerCases of the image layers (Convolution2D, Pooling2D) and BatchNorm.

Shapes are tiny so that most buffers are checked element by element; the cases
cover both input-delta routes of the conv op (col2im for strides or few channels,
the transposed convolution for stride 1 with >= 8 channels), padding, non-square
kernels and strides, every activation, and max-pooling's test pass (no argmax)
followed by a backward pass.
"""

import functools

from tests.layers.cases_feedforward import ACTIVATIONS, named_case


def positive(shape, rnd):
    """init maker: values in [0.5, 1.5] (running standard deviations)."""
    return rnd.uniform(0.5, 1.5, size=shape)


# the image cases default to two time steps (T=2) to keep their buffers small
_case = functools.partial(named_case, time_steps=2)

CASES = [
    *[_case('convolution2d', 'Convolution2D',
            {'num_filters': 2, 'kernel_size': (2, 2), 'activation': activation},
            {'default': (3, 3, 2)}, suffix=f"k2-{activation}") for activation in ACTIVATIONS],
    _case('convolution2d', 'Convolution2D',
          {'num_filters': 3, 'kernel_size': 3, 'padding': 1, 'activation': 'tanh'},
          {'default': (4, 4, 2)}, suffix='k3-pad1-tanh'),
    _case('convolution2d', 'Convolution2D',
          {'num_filters': 2, 'kernel_size': (2, 3), 'stride': (2, 1), 'padding': 1,
           'activation': 'linear'},
          {'default': (5, 4, 1)}, time_steps=1, batch_size=3, suffix='k2x3-stride2x1-pad1'),
    _case('convolution2d', 'Convolution2D',
          {'num_filters': 2, 'kernel_size': (3, 3), 'padding': 2, 'activation': 'sigmoid'},
          {'default': (3, 3, 8)}, time_steps=1, batch_size=2,
          suffix='k3-pad2-8channels-sigmoid'),
    _case('pooling2d', 'Pooling2D', {'kernel_size': (2, 2), 'type': 'max', 'stride': (2, 2)},
          {'default': (4, 4, 2)}, suffix='max-k2-stride2'),
    _case('pooling2d', 'Pooling2D',
          {'kernel_size': (3, 3), 'type': 'max', 'stride': (2, 2), 'padding': 1},
          {'default': (5, 5, 2)}, time_steps=1, suffix='max-k3-stride2-pad1'),
    _case('pooling2d', 'Pooling2D', {'kernel_size': (2, 3), 'type': 'max'},
          {'default': (3, 4, 1)}, suffix='max-k2x3-overlapping'),
    # a test pass skips the argmax; the backward pass after it must compute it
    _case('pooling2d', 'Pooling2D',
          {'kernel_size': (3, 3), 'type': 'max', 'stride': (2, 2), 'padding': 1},
          {'default': (5, 5, 2)}, time_steps=1, suffix='max-k3-stride2-pad1-test',
          training_pass=False),
    _case('pooling2d', 'Pooling2D', {'kernel_size': (2, 3), 'type': 'max'},
          {'default': (3, 4, 1)}, suffix='max-k2x3-overlapping-test', training_pass=False),
    _case('pooling2d', 'Pooling2D', {'kernel_size': 2, 'type': 'avg', 'padding': 1},
          {'default': (3, 3, 2)}, suffix='avg-k2-pad1'),
    _case('pooling2d', 'Pooling2D', {'kernel_size': (3, 2), 'type': 'avg', 'stride': 2},
          {'default': (5, 4, 1)}, suffix='avg-k3x2-stride2'),
    *[_case('pooling2d', 'Pooling2D',
            {'kernel_size': 2, 'type': kind, 'stride': 2, 'padding': 2},
            {'default': (3, 3, 2)}, time_steps=1, suffix=f'{kind}-k2-pad2-padding-only-windows')
      for kind in ('max', 'avg')],
    _case('batch_norm', 'BatchNorm', {}, {'default': (3,)}, time_steps=3,
          suffix='training'),
    _case('batch_norm', 'BatchNorm', {'decay': 0.5, 'epsilon': 0.1}, {'default': (2, 2, 3)},
          suffix='image-training'),
    _case('batch_norm', 'BatchNorm', {}, {'default': (2, 3)}, suffix='inference',
          inits={'sigma': positive}, training_pass=False),
]
