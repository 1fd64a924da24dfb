"""Mask: y = x * mask, for time steps (mask (T, B, 1)) or single features (mask of x's shape).

Typical use: zero the per-step losses of padded time steps before a Loss layer.
The mask gets no deltas.

Buffers:
    inputs.default    ('T', 'B', ...)          any feature shape
    inputs.mask       ('T', 'B', 1) or the shape of inputs.default
    outputs.default   ('T', 'B', ...)          the shape of inputs.default
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper
from brainstorm.utils import flatten_time_and_features

__all__ = ['Mask']


def Mask(name=None):
    """Create a layer that multiplies its 'default' input with its 'mask' input.

    Example:
        >>> mask = Mask(name='Masked')
        >>> out - 'loss' >> mask >> Loss()
        >>> inp - 'mask' >> 'mask' - mask
    """
    return ConstructionWrapper.create('Mask', name=name)


class MaskLayerImpl(Layer):
    expected_inputs = {'default': StructureTemplate('T', 'B', '...'),
                       'mask': StructureTemplate('T', 'B', '...')}
    computes_no_input_deltas_for = ('mask',)

    def setup(self, kwargs, in_shapes):
        shape = in_shapes['default'].shape
        mask_features = in_shapes['mask'].feature_shape
        if mask_features not in ((1,), in_shapes['default'].feature_shape):
            raise LayerValidationError(
                f"{self._label()}: mask has feature shape {mask_features}; expected (1,) "
                f"(one value per time step) or {in_shapes['default'].feature_shape} (one per "
                f"feature, like default)")
        outputs = OrderedDict(default=BufferStructure(*shape))
        return outputs, OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        # flattened, a (T*B, 1) mask broadcasts over the features; a full one matches
        self.handler.mult_mv(flatten_time_and_features(buffers.inputs.default),
                             flatten_time_and_features(buffers.inputs.mask),
                             flatten_time_and_features(buffers.outputs.default))

    def backward_pass(self, buffers):
        self.handler.mult_add_mv(flatten_time_and_features(buffers.output_deltas.default),
                                 flatten_time_and_features(buffers.inputs.mask),
                                 flatten_time_and_features(buffers.input_deltas.default))
