"""Bidirectional: a recurrent layer and its reversed twin side by side, outputs merged.

Not a layer type of its own: ``Bidirectional(Lstm(32))`` builds three ordinary
layers, the given one (running forward in time), a copy of it with
``reverse=True`` and a Merge of the two outputs (the forward features first),
so networks with it save, load and export like any other.
"""

from brainstorm.errors import NetworkValidationError
from brainstorm.structure.construction import ConstructionWrapper

__all__ = ['Bidirectional']

#: the layer types that can run in both directions
DIRECTED_LAYER_TYPES = ('Recurrent', 'Lstm', 'Gru')


def Bidirectional(layer, name=None):
    """Run a recurrent layer forward and reversed on the same input; merge both outputs.

    Args:
        layer: an unconnected ``Recurrent``, ``Lstm`` or ``Gru`` (not reversed);
            it becomes the forward half.
        name (Optional[str]): names the three layers ``<name>_forward``,
            ``<name>_reverse`` and ``<name>`` (the Merge); defaults to the name
            of ``layer``. Without either, all three are named automatically.

    Returns:
        a group usable like a layer in ``>>`` chains: ``source >> group`` feeds
        both halves, ``group >> target`` reads the merged output ('T', 'B',
        2 * size), and ``source - 'mask' >> 'mask' - group`` gives both halves the
        mask, so the reversed half starts at each sequence's last valid step.

    Example:
        >>> bi = Bidirectional(Lstm(32), name='Bi')
        >>> inp - 'default' >> bi >> FullyConnected(9, name='Out')
        >>> inp - 'mask' >> 'mask' - bi
    """
    if not isinstance(layer, ConstructionWrapper) or \
            layer.layer_type not in DIRECTED_LAYER_TYPES:
        raise NetworkValidationError(f"Bidirectional needs a Recurrent, Lstm or Gru layer, got "
                                     f"{layer!r}")
    if layer.incoming or layer.outgoing:
        raise NetworkValidationError(f"Bidirectional needs an unconnected layer; "
                                     f"{layer._label()} is already connected")
    if layer.layer_kwargs.get('reverse'):
        raise NetworkValidationError(f"Bidirectional needs a forward layer; {layer._label()} "
                                     f"has reverse=True")
    return BidirectionalGroup(layer, name if name is not None else layer.name)


class BidirectionalGroup:
    """The three layers made by :func:`Bidirectional`.

    Attributes:
        forward: the given layer (runs forward in time).
        reverse: its copy with ``reverse=True``.
        merge: the Merge layer, [forward outputs, reverse outputs].
    """

    def __init__(self, layer, name):
        from brainstorm.layers import Merge
        if name is not None:
            layer.name = f"{name}_forward"
        self.forward = layer
        self.reverse = ConstructionWrapper(layer.layer_type,
                                           name=None if name is None else f"{name}_reverse",
                                           **dict(layer.layer_kwargs, reverse=True))
        self.merge = Merge(name=name)
        self.forward >> 'inputs_1' - self.merge
        self.reverse >> 'inputs_2' - self.merge

    def __rrshift__(self, source):
        # source >> group: `source` is a layer or `layer - 'output'`
        source >> self.forward
        source >> self.reverse
        return self.merge

    def __rshift__(self, other):
        return self.merge >> other

    def __sub__(self, out_name):
        return self.merge - out_name

    def __rsub__(self, in_name):
        if in_name != 'mask':
            raise NetworkValidationError(f"a Bidirectional group has the inputs 'default' "
                                         f"(through >>) and 'mask', not {in_name!r}")
        return _MaskSelection(self)

    def __repr__(self):
        return f"<Bidirectional {self.forward!r} {self.reverse!r} -> {self.merge!r}>"


class _MaskSelection:
    """``'mask' - group``: the mask inputs of both halves."""

    def __init__(self, group):
        self.group = group

    def __rrshift__(self, source):
        source >> 'mask' - self.group.forward
        source >> 'mask' - self.group.reverse
        return self.group.merge
