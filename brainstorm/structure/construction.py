"""Wiring layers with ``>>`` and ``-`` before a network exists.

Layer factories (``FullyConnected(100)``) return a ``ConstructionWrapper``: a
record of the layer type, its name and kwargs, and its connections. Connecting

* ``a >> b``           wires a's output 'default' to b's input 'default';
* ``a - 'out' >> b``   picks a's output named 'out';
* ``a >> 'in' - b``    picks b's input named 'in'.

(``-`` binds tighter than ``>>``, so no parentheses are needed.) A chain
evaluates to its right-most layer, so ``inp >> FullyConnected(10) >> out``
wires the whole path. ``Network.from_layer(any_layer_of_the_graph)`` collects
everything connected to it.
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
        """Create a wrapper, dropping kwargs that are None (meaning 'use the default')."""
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


class _OutputSelection:
    """``layer - 'out_name'``: a layer with one of its outputs picked."""

    def __init__(self, layer, out_name):
        self.layer = layer
        self.out_name = out_name

    def __rshift__(self, other):
        if isinstance(other, ConstructionWrapper):
            target, in_name = other, 'default'
        elif isinstance(other, _InputSelection):
            target, in_name = other.layer, other.in_name
        else:
            return NotImplemented
        self.layer._connect(self.out_name, target, in_name)
        return target


class _InputSelection:
    """``'in_name' - layer``: a layer with one of its inputs picked."""

    def __init__(self, layer, in_name):
        self.layer = layer
        self.in_name = in_name

    def __rshift__(self, other):
        raise NetworkValidationError(
            f"cannot continue a chain after selecting input {self.in_name!r} of "
            f"{self.layer._label()}; write the connection as `source >> '{self.in_name}' - "
            f"layer` and start a new chain from the layer")


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
