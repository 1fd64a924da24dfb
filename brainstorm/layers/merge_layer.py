"""Merge: y = concatenate(inputs_1, inputs_2) along the last feature axis.

The two inputs must agree in every axis but the last; images (T, B, H, W, C)
are thus merged along their channels.

Buffers:
    inputs.inputs_1   ('T', 'B', ..., N1)
    inputs.inputs_2   ('T', 'B', ..., N2)
    outputs.default   ('T', 'B', ..., N1 + N2)
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Merge']


def Merge(name=None):
    """Create a layer that concatenates its inputs 'inputs_1' and 'inputs_2'.

    Example:
        >>> merge = Merge(name='Both')
        >>> inp >> FullyConnected(20) >> 'inputs_1' - merge
        >>> inp >> FullyConnected(30) >> 'inputs_2' - merge    # merge outputs 50 features
    """
    return ConstructionWrapper.create('Merge', name=name)


class MergeLayerImpl(Layer):
    expected_inputs = {'inputs_1': StructureTemplate('T', 'B', 'F', '...'),
                       'inputs_2': StructureTemplate('T', 'B', 'F', '...')}

    def setup(self, kwargs, in_shapes):
        first = in_shapes['inputs_1'].feature_shape
        second = in_shapes['inputs_2'].feature_shape
        if first[:-1] != second[:-1] or len(first) != len(second):
            raise LayerValidationError(
                f"{self._label()}: inputs_1 {first} and inputs_2 {second} must have the same "
                f"feature shape except in the last axis")
        merged = first[:-1] + (first[-1] + second[-1],)
        outputs = OrderedDict(default=BufferStructure('T', 'B', *merged))
        return outputs, OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        self.handler.merge_tt(buffers.inputs.inputs_1, buffers.inputs.inputs_2,
                              buffers.outputs.default)

    def backward_pass(self, buffers):
        self.handler.split_add_tt(buffers.output_deltas.default, buffers.input_deltas.inputs_1,
                                  buffers.input_deltas.inputs_2)
