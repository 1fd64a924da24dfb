"""L1Decay: loss[t, b] = factor * sum_f |x[t, b, f]|, an activity penalty (sparsity).

Connect its output to a Loss layer to add the penalty to the objective
(weight decay on parameters is the value modifier
``brainstorm.value_modifiers.L1Decay`` instead). At x = 0 the derivative
used is 0.

Buffers:
    inputs.default     ('T', 'B', ...)   any feature shape, flattened
    outputs.default    ('T', 'B', 1)     the penalty per step and sequence
    internals.absolute ('T', 'B', ...)   |x| (forward temporary)
    internals.dx       ('T', 'B', ...)   transient: sign(x) * dy
"""

from collections import OrderedDict

from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features

__all__ = ['L1Decay']


def L1Decay(factor=1.0, name=None):
    """Create a layer that computes an L1 penalty of its input.

    Args:
        factor (float): scales the penalty.
        name (Optional[str]): the layer name.

    Example:
        >>> hidden >> L1Decay(factor=1e-4) >> Loss()
    """
    return ConstructionWrapper.create('L1Decay', factor=factor, name=name)


class L1DecayLayerImpl(Layer):
    expected_kwargs = {'factor'}

    def setup(self, kwargs, in_shapes):
        return penalty_setup(self, kwargs, in_shapes, 'absolute')

    def forward_pass(self, buffers, training_pass=True):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        absolute = flatten_time_and_features(buffers.internals.absolute)
        outputs = flatten_time_and_features(buffers.outputs.default)
        handler.abs_t(inputs, absolute)
        handler.sum_t(absolute, 1, outputs)
        handler.mult_st(self.factor, outputs, outputs)

    def backward_pass(self, buffers):
        handler = self.handler
        inputs = flatten_time_and_features(buffers.inputs.default)
        output_deltas = flatten_time_and_features(buffers.output_deltas.default)
        dx = flatten_time_and_features(buffers.internals.dx)
        handler.sign_t(inputs, dx)
        handler.mult_mv(dx, output_deltas, dx)
        handler.mult_add_st(self.factor, dx,
                            flatten_time_and_features(buffers.input_deltas.default))


def penalty_setup(layer, kwargs, in_shapes, temporary_name):
    """The setup shared by the activity penalties L1Decay and L2Decay.

    Sets ``layer.factor`` from the kwargs and returns the buffers: a ('T', 'B', 1)
    output, no parameters, and two internals of the input's shape: the forward
    temporary ``temporary_name`` and the transient ``dx``.
    """
    layer.factor = float(layer.get_kwarg(kwargs, 'factor', 1.0, (int, float)))
    shape = in_shapes['default'].shape
    outputs = OrderedDict(default=BufferStructure('T', 'B', 1))
    internals = OrderedDict([(temporary_name, BufferStructure(*shape)),
                             ('dx', BufferStructure(*shape, is_transient=True))])
    return outputs, OrderedDict(), internals
