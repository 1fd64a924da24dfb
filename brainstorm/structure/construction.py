"""Wiring layers with ``>>`` and ``-`` before a network exists.

Layer factories (``FullyConnected(100)``) return a ``ConstructionWrapper``: a
record of the layer type, its name and kwargs, and its connections. Connecting

* ``a >> b``           wires a's output 'default' to b's input 'default';
* ``a - 'out' >> b``   picks a's output named 'out';
* ``a >> 'in' - b``    picks b's input named 'in';
* ``'in' - b - 'out'`` picks both, so ``a >> 'in' - b - 'out' >> c`` wires
  a.default -> b.in and b.out -> c.default (brainstorm 0.5's data-format forms).

(``-`` binds tighter than ``>>``, so no parentheses are needed.) A chain
evaluates to its right-most layer (with its output selection, if any), so
``inp >> FullyConnected(10) >> out`` wires the whole path.
``Network.from_layer(any_layer_of_the_graph)`` collects everything connected to it.
"""

import itertools

from brainstorm.errors import NetworkValidationError

_creation_counter = itertools.count()


class ConstructionWrapper:
    """A layer under construction: type, name, kwargs and its connections.

    Attributes:
        layer_type (str): the registered layer type, e.g. 'FullyConnected'.
        name (str | None): the layer name (None: chosen when the net is built).
        layer_kwargs (dict): the kwargs for the layer implementation.
        incoming (list[tuple]): (source wrapper, output name, input name).
        outgoing (list[tuple]): (output name, target wrapper, input name).
    """

    def __init__(self, layer_type, name=None, **layer_kwargs):
        if name is not None and (not isinstance(name, str) or not name or '.' in name):
            raise NetworkValidationError(
                f"invalid layer name {name!r} for a {layer_type} layer: a name must be a "
                f"non-empty string without '.'")
        self.layer_type = layer_type
        self.name = name
        self.layer_kwargs = layer_kwargs
        self.incoming = []
        self.outgoing = []
        self.creation_index = next(_creation_counter)

    @classmethod
    def create(cls, layer_type, name=None, **layer_kwargs):
        """Create a wrapper, dropping kwargs that are None (meaning 'use the default').

        Args:
            layer_type (str | type): a registered layer type name ('FullyConnected'),
                or a layer implementation class (``MyLayerImpl``, as in brainstorm
                0.5), whose type name is its class name without 'LayerImpl'.
            name (Optional[str]): the layer name.
            **layer_kwargs: the layer's arguments.
        """
        if isinstance(layer_type, type):
            layer_type = _registered_type_name(layer_type)
        kwargs = {key: value for key, value in layer_kwargs.items() if value is not None}
        return cls(layer_type, name=name, **kwargs)

    def _connect(self, out_name, target, in_name):
        for _, existing_target, existing_in in self.outgoing:
            if existing_target is target and existing_in == in_name:
                raise NetworkValidationError(
                    f"{target._label()}: input {in_name!r} is connected twice from "
                    f"{self._label()}")
        self.outgoing.append((out_name, target, in_name))
        target.incoming.append((self, out_name, in_name))

    def _label(self):
        return f"layer {self.name!r}" if self.name else f"a {self.layer_type} layer"

    def __rshift__(self, other):
        return _OutputSelection(self, 'default') >> other

    def __sub__(self, out_name):
        if not isinstance(out_name, str):
            return NotImplemented
        return _OutputSelection(self, out_name)

    def __rsub__(self, in_name):
        if not isinstance(in_name, str):
            return NotImplemented
        return _InputSelection(self, in_name)

    def __repr__(self):
        return f"<{self.layer_type} {self.name or '(unnamed)'}>"


def _registered_type_name(layer_class):
    """The type name of a layer implementation class, registering it if needed."""
    from brainstorm.layers.base_layer import Layer, _LAYER_TYPES
    if not issubclass(layer_class, Layer):
        raise NetworkValidationError(
            f"ConstructionWrapper.create: {layer_class.__name__} is not a layer "
            f"implementation (a subclass of brainstorm.layers.base_layer.Layer)")
    name = layer_class.__name__
    type_name = name[:-len('LayerImpl')] if name.endswith('LayerImpl') and \
        name != 'LayerImpl' else name
    registered = _LAYER_TYPES.setdefault(type_name, layer_class)
    if registered is not layer_class:
        raise NetworkValidationError(
            f"ConstructionWrapper.create: layer type {type_name!r} is already "
            f"{registered.__module__}.{registered.__qualname__}; name the class "
            f"{layer_class.__qualname__} differently")
    return type_name


class _OutputSelection:
    """``layer - 'out_name'``: a layer with one of its outputs picked."""

    def __init__(self, layer, out_name):
        self.layer = layer
        self.out_name = out_name

    def __rshift__(self, other):
        if isinstance(other, ConstructionWrapper):
            target, in_name = other, 'default'
        elif isinstance(other, _InOutSelection):
            self.layer._connect(self.out_name, other.layer, other.in_name)
            return _OutputSelection(other.layer, other.out_name)
        elif isinstance(other, _InputSelection):
            target, in_name = other.layer, other.in_name
        else:
            return NotImplemented
        self.layer._connect(self.out_name, target, in_name)
        return target


class _InputSelection:
    """``'in_name' - layer``: a layer with one of its inputs picked.

    As the start of a chain (``'in' - b >> c``) it stands for the layer itself.
    """

    def __init__(self, layer, in_name):
        self.layer = layer
        self.in_name = in_name

    def __sub__(self, out_name):
        if not isinstance(out_name, str):
            return NotImplemented
        return _InOutSelection(self.layer, self.in_name, out_name)

    def __rshift__(self, other):
        return _OutputSelection(self.layer, 'default') >> other


class _InOutSelection(_InputSelection):
    """``'in_name' - layer - 'out_name'``: a layer with an input and an output picked."""

    def __init__(self, layer, in_name, out_name):
        super().__init__(layer, in_name)
        self.out_name = out_name

    def __sub__(self, out_name):
        return NotImplemented

    def __rshift__(self, other):
        return _OutputSelection(self.layer, self.out_name) >> other


def collect_connected_layers(some_layer):
    """All wrappers connected to ``some_layer`` (directly or not), in creation order."""
    if isinstance(some_layer, (_OutputSelection, _InputSelection)):
        some_layer = some_layer.layer
    if not isinstance(some_layer, ConstructionWrapper):
        raise NetworkValidationError(
            f"expected a layer created by a layer factory (e.g. FullyConnected(10)), got "
            f"{type(some_layer).__name__}")
    seen = []
    seen_ids = set()
    stack = [some_layer]
    while stack:
        layer = stack.pop()
        if id(layer) in seen_ids:
            continue
        seen_ids.add(id(layer))
        seen.append(layer)
        stack.extend(source for source, _, _ in layer.incoming)
        stack.extend(target for _, target, _ in layer.outgoing)
    return sorted(seen, key=lambda layer: layer.creation_index)
