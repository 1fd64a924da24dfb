"""Input: the layer that holds the data given to the network.

Buffers: ``outputs.<name>`` for every entry of ``out_shapes``, time sized
('T', 'B', *shape) unless the shape starts with 'B' (batch sized).
It has no inputs, parameters or internals; its passes do nothing.
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.layers.base_layer import Layer
from brainstorm.structure.buffer_structure import BufferStructure
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Input']


def Input(out_shapes):
    """Create the Input layer (always named 'Input').

    Args:
        out_shapes (dict[str, tuple]): data name -> feature shape, e.g.
            ``{'default': (784,), 'targets': (1,)}``; a shape may also be
            written with placeholders, ``('T', 'B', 784)``.

    Example:
        >>> inp = Input(out_shapes={'default': (28, 28, 1), 'targets': (1,)})
    """
    return ConstructionWrapper.create('Input', name='Input', out_shapes=out_shapes)


class InputLayerImpl(Layer):
    expected_inputs = {}
    expected_kwargs = {'out_shapes'}

    def setup(self, kwargs, in_shapes):
        out_shapes = kwargs.get('out_shapes')
        if not isinstance(out_shapes, dict) or not out_shapes:
            raise LayerValidationError(f"{self._label()}: out_shapes must be a non-empty dict "
                                       f"of name -> shape, got {out_shapes!r}")
        outputs = OrderedDict()
        for name, shape in out_shapes.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise LayerValidationError(f"{self._label()}: data names must be identifiers, "
                                           f"got {name!r}")
            if isinstance(shape, int) and not isinstance(shape, bool):
                shape = (shape,)
            if not isinstance(shape, (tuple, list)):
                raise LayerValidationError(f"{self._label()}: shape of {name!r} must be a "
                                           f"tuple of ints, got {shape!r}")
            outputs[name] = BufferStructure.from_template(tuple(shape))
        return outputs, OrderedDict(), OrderedDict()

    def forward_pass(self, buffers, training_pass=True):
        """Nothing to compute: the network copies the data into the outputs."""

    def backward_pass(self, buffers):
        """Nothing to propagate: inputs have no parameters."""
