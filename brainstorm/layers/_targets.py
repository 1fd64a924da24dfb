"""The check shared by the layers whose 'targets' input matches 'default' elementwise
(SigmoidCE, SquaredError, BinomialCrossEntropy)."""

from brainstorm.errors import LayerValidationError


def shape_of_default_and_targets(layer, in_shapes):
    """Return the full shape of the 'default' input, which 'targets' must share.

    Args:
        layer (Layer): the layer being set up (names it in the error message).
        in_shapes (dict[str, BufferStructure]): the layer's input structures.

    Returns:
        tuple: ``in_shapes['default'].shape``, e.g. ``('T', 'B', 5)``.

    Raises:
        LayerValidationError: if the shape of 'targets' differs.
    """
    shape = in_shapes['default'].shape
    if in_shapes['targets'].shape != shape:
        raise LayerValidationError(f"{layer._label()}: targets have shape "
                                   f"{in_shapes['targets'].shape}, expected {shape} "
                                   f"(the shape of default)")
    return shape
