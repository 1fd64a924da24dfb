"""Checks shared by Convolution2D and Pooling2D: image inputs, pair kwargs, output sizes.

Images are time sized NHWC buffers ``('T', 'B', height, width, channels)``. Along
each axis a kernel (or pooling window) of size k, with ``padding`` cells added on
both sides and moved by ``stride``, gives ``(size + 2 * padding - k) // stride + 1``
output positions, the same formula the handler's conv and pool ops use.
"""

from brainstorm.errors import LayerValidationError


def image_shape(layer, in_shapes, input_name='default'):
    """Return (height, width, channels) of an image input.

    Raises:
        LayerValidationError: if the input's feature shape is not 3-D.
    """
    feature_shape = in_shapes[input_name].feature_shape
    if in_shapes[input_name].buffer_type != 2 or len(feature_shape) != 3:
        raise LayerValidationError(
            f"{layer._label()}: input {input_name!r} must be an image ('T', 'B', height, "
            f"width, channels), got shape {in_shapes[input_name].shape}")
    return feature_shape


def pair_kwarg(layer, kwargs, name, default):
    """Read a kwarg that is a positive int or a pair of them; return a pair.

    Raises:
        LayerValidationError: naming the kwarg and its value otherwise.
    """
    value = kwargs.get(name, default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or
            not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise LayerValidationError(f"{layer._label()}: {name} must be a positive int or a "
                                   f"pair (rows, columns) of positive ints, got {value!r}")
    return tuple(value)


def padding_kwarg(layer, kwargs, default=0):
    """Read ``padding``: a non-negative int, the same on all four sides.

    Raises:
        LayerValidationError: if it is not a non-negative int.
    """
    value = kwargs.get('padding', default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LayerValidationError(f"{layer._label()}: padding must be a non-negative int "
                                   f"(cells added on every side), got {value!r}")
    return value


def output_size(layer, image_size, kernel_size, padding, stride, what='kernel_size'):
    """Return (out_height, out_width) for an image (height, width).

    Raises:
        LayerValidationError: if the kernel does not fit into the padded image.
    """
    sizes = []
    for axis, size, kernel, step in zip(('height', 'width'), image_size, kernel_size, stride):
        padded = size + 2 * padding
        if kernel > padded:
            raise LayerValidationError(
                f"{layer._label()}: {what} {tuple(kernel_size)} does not fit into the input: "
                f"its {axis} {size} with padding {padding} is {padded}, less than {kernel}")
        sizes.append((padded - kernel) // step + 1)
    return tuple(sizes)
