"""L2Decay: loss[t, b] = factor * 0.5 * sum_f x[t, b, f]^2, an activity penalty.

Connect its output to a Loss layer to add the penalty to the objective
(weight decay on parameters is the value modifier
``brainstorm.value_modifiers.L2Decay`` instead).

Buffers:
    inputs.default     ('T', 'B', ...)   any feature shape, flattened
    outputs.default    ('T', 'B', 1)     the penalty per step and sequence
    internals.squares  ('T', 'B', ...)   x^2 (forward temporary)
    internals.dx       ('T', 'B', ...)   transient: x * dy
"""

from brainstorm.layers.base_layer import Layer
from brainstorm.layers.l1_decay_layer import penalty_setup
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features

__all__ = ['L2Decay']


def L2Decay(factor=1.0, name=None):
    """Create a layer that computes a squared-L2 penalty of its input.

    Args:
        factor (float): scales the penalty.
        name (Optional[str]): the layer name.

    Example:
        >>> hidden >> L2Decay(factor=1e-4) >> Loss()
    """
    return ConstructionWrapper.create('L2Decay', factor=factor, name=name)


class L2DecayLayerImpl(Layer):
    expected_kwargs = {'factor'}

    def setup(self, kwargs, in_shapes):
        return penalty_setup(self, kwargs, in_shapes, 'squares')

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        squares = flatten_time_and_features(buffers.internals.squares)
        outputs = flatten_time_and_features(buffers.outputs.default)
        handler.mult_tt(inputs, inputs, squares)
        handler.sum_t(squares, 1, outputs)
        handler.mult_st(0.5 * self.factor, outputs, outputs)

    def backward_pass(self, buffers):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        output_deltas = flatten_time_and_features(buffers.output_deltas.default)
        dx = flatten_time_and_features(buffers.internals.dx)
        handler.mult_mv(inputs, output_deltas, dx)
        handler.mult_add_st(self.factor, dx,
                            flatten_time_and_features(buffers.input_deltas.default))
