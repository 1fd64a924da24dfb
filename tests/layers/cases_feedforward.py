"""LayerCases of the feed-forward layers and the losses."""

import numpy as np

from tests.layers.cases import LayerCase


def class_indices(classes):
    """input_data maker: integer class labels in [0, classes), shape (T, B, 1)."""
    def make(shape, rnd):
        return rnd.randint(0, classes, size=shape).astype(np.float64)
    return make


def binary(shape, rnd):
    """input_data maker: 0/1 values."""
    return (rnd.uniform(size=shape) < 0.5).astype(np.float64)


def probabilities(shape, rnd):
    """input_data maker: values in [0.1, 0.9], away from the clipping at 0 and 1."""
    return rnd.uniform(0.1, 0.9, size=shape)


def gates(shape, rnd):
    """input_data maker: values in (0, 1) like sigmoid outputs."""
    return rnd.uniform(0.05, 0.95, size=shape)


def named_case(name, layer_type, kwargs, in_shapes, time_steps=3, batch_size=2, **options):
    """A LayerCase with the id '<name>-T<time_steps>-B<batch_size>[-<suffix>]'.

    Also used by cases_conv.py. ``suffix`` (optional) ends the id; the other
    options are LayerCase fields.
    """
    suffix = options.pop('suffix', '')
    case_id = f"{name}-T{time_steps}-B{batch_size}" + (f"-{suffix}" if suffix else '')
    return LayerCase(case_id, layer_type, kwargs, in_shapes, time_steps=time_steps,
                     batch_size=batch_size, **options)


_case = named_case

#: every activation name the layers accept (also used by cases_conv.py)
ACTIVATIONS = ('linear', 'rel', 'sigmoid', 'tanh', 'el')

CASES = [
    _case('input', 'Input', {'out_shapes': {'default': (3,), 'targets': (1,)}}, {}),
    _case('no_op', 'NoOp', {}, {'default': (2, 3)}),
    *[_case('fully_connected', 'FullyConnected', {'size': 3, 'activation': activation},
            {'default': (4,)}, suffix=activation) for activation in ACTIVATIONS],
    _case('fully_connected', 'FullyConnected', {'size': (2, 2), 'activation': 'tanh'},
          {'default': (2, 3, 2)}, time_steps=2, batch_size=3, suffix='image-tanh'),
    _case('fully_connected', 'FullyConnected', {'size': 20, 'activation': 'sigmoid'},
          {'default': (12,)}, time_steps=2, batch_size=2, suffix='large-sigmoid'),
    _case('dropout', 'Dropout', {'drop_prob': 0.5}, {'default': (4,)}, suffix='training'),
    _case('dropout', 'Dropout', {'drop_prob': 0.3}, {'default': (2, 2)}, suffix='test',
          training_pass=False),
    *[_case('elementwise', 'Elementwise', {'activation': activation}, {'default': (2, 2)},
            suffix=activation) for activation in ACTIVATIONS],
    _case('highway', 'Highway', {}, {'H': (3,), 'T': (3,), 'x': (3,)},
          input_data={'T': gates}),
    _case('merge', 'Merge', {}, {'inputs_1': (2,), 'inputs_2': (3,)}),
    _case('merge', 'Merge', {}, {'inputs_1': (2, 2), 'inputs_2': (2, 1)}, suffix='image'),
    _case('mask', 'Mask', {}, {'default': (3,), 'mask': (1,)}, input_data={'mask': binary},
          suffix='steps'),
    _case('mask', 'Mask', {}, {'default': (2, 2), 'mask': (2, 2)},
          input_data={'mask': binary}, suffix='features'),
    # factor 1: the backward pass is then the true gradient (test_finite_differences
    # checks other factors against factor * finite differences)
    _case('deltas_scaling', 'DeltasScaling', {'factor': 1.0}, {'default': (3,)}),
    _case('l1_decay', 'L1Decay', {'factor': 0.3}, {'default': (2, 2)}),
    _case('l2_decay', 'L2Decay', {'factor': 0.3}, {'default': (2, 2)}),
    _case('loss', 'Loss', {'importance': 0.7}, {'default': (2,)}),
    _case('loss', 'Loss', {}, {'default': (1,)}, time_steps=1, batch_size=4,
          suffix='importance1'),
    _case('softmax_ce', 'SoftmaxCE', {}, {'default': (4,), 'targets': (1,)},
          input_data={'targets': class_indices(4)}),
    _case('softmax_ce', 'SoftmaxCE', {}, {'default': (2, 2, 3), 'targets': (2, 2, 1)},
          input_data={'targets': class_indices(3)}, suffix='per-pixel'),
    _case('sigmoid_ce', 'SigmoidCE', {}, {'default': (3,), 'targets': (3,)},
          input_data={'targets': binary}),
    _case('sigmoid_ce', 'SigmoidCE', {}, {'default': (2, 2), 'targets': (2, 2)},
          input_data={'targets': probabilities}, suffix='image-soft'),
    _case('binomial_cross_entropy', 'BinomialCrossEntropy', {},
          {'default': (3,), 'targets': (3,)},
          input_data={'default': probabilities, 'targets': binary}),
    _case('squared_difference', 'SquaredDifference', {},
          {'inputs_1': (2, 2), 'inputs_2': (2, 2)}),
    _case('squared_error', 'SquaredError', {}, {'default': (3,), 'targets': (3,)}),
]
