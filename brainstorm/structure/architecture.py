"""Architectures: the JSON-serialisable description of a layer graph (spec 9.3).

``{layer_name: {'@type': 'FullyConnected', '@outgoing_connections':
{'default': ['Other', 'Loss.targets']}, 'size': 10, ...}}``

``Network.from_layer``, ``from_architecture`` and ``from_hdf5`` all go through
:func:`validate_architecture` and :func:`instantiate_layers_from_architecture`.
"""

import difflib
import json
from collections import OrderedDict

from brainstorm.errors import NetworkValidationError
from brainstorm.structure.construction import collect_connected_layers


def _jsonable(value):
    """Tuples become lists so the architecture equals its JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def unique_layer_names(layers):
    """Name every layer the way brainstorm 0.5 does.

    A layer's base name is its ``name=`` or else its type. A base name used by
    one layer stays bare; when several layers share one, *all* of them get
    ``_1``, ``_2``, ... in creation order, skipping a name that another layer
    already holds. So ``Input >> FullyConnected(2) >> FullyConnected(3)`` has
    ``Input``, ``FullyConnected_1``, ``FullyConnected_2``.

    Args:
        layers (list[ConstructionWrapper]): the layers, in creation order.

    Returns:
        dict: ``id(layer) -> name``.
    """
    def base_of(layer):
        return layer.name or layer.layer_type

    counts = {}
    for layer in layers:
        counts[base_of(layer)] = counts.get(base_of(layer), 0) + 1
    names = {id(layer): base_of(layer) for layer in layers if counts[base_of(layer)] == 1}
    taken = set(names.values())
    next_suffix = {}
    for layer in layers:
        base = base_of(layer)
        if counts[base] == 1:
            continue
        suffix = next_suffix.get(base, 1)
        while f"{base}_{suffix}" in taken:
            suffix += 1
        names[id(layer)] = f"{base}_{suffix}"
        taken.add(names[id(layer)])
        next_suffix[base] = suffix + 1
    return names


def generate_architecture(some_layer):
    """Build the architecture dict of the graph ``some_layer`` belongs to.

    Layer names follow :func:`unique_layer_names` (brainstorm 0.5's rule).
    """
    layers = collect_connected_layers(some_layer)
    names = unique_layer_names(layers)

    def name_of(layer):
        return names[id(layer)]

    architecture = OrderedDict()
    for layer in layers:
        outgoing = OrderedDict()
        for out_name, target, in_name in layer.outgoing:
            reference = name_of(target) if in_name == 'default' else f"{name_of(target)}.{in_name}"
            outgoing.setdefault(out_name, []).append(reference)
        entry = {'@type': layer.layer_type, '@outgoing_connections': dict(outgoing)}
        entry.update(_jsonable(layer.layer_kwargs))
        architecture[name_of(layer)] = entry
    return dict(architecture)


def parse_connection(reference):
    """'Layer.input' -> ('Layer', 'input'); 'Layer' -> ('Layer', 'default')."""
    layer_name, _, in_name = reference.partition('.')
    return layer_name, in_name or 'default'


def _hint(name, candidates):
    close = difflib.get_close_matches(str(name), list(candidates), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def validate_architecture(architecture):
    """Check the graph of an architecture dict; raise NetworkValidationError on problems.

    Checks: it is a dict of layer dicts with a registered '@type'; exactly one
    'Input' layer of type Input; connections name existing layers; no input
    is connected twice; every layer is reachable from Input; no cycles.
    """
    from brainstorm.layers.base_layer import get_layer_class
    if not isinstance(architecture, dict) or not architecture:
        raise NetworkValidationError("an architecture must be a non-empty dict mapping layer "
                                     f"names to layer descriptions, got {architecture!r}")
    for name, entry in architecture.items():
        if not isinstance(name, str) or not name or '.' in name:
            raise NetworkValidationError(f"invalid layer name {name!r}: must be a non-empty "
                                         "string without '.'")
        if not isinstance(entry, dict) or '@type' not in entry:
            raise NetworkValidationError(f"layer {name!r}: expected a dict with an '@type' "
                                         f"entry, got {entry!r}")
        get_layer_class(entry['@type'], layer_name=name)
        connections = entry.get('@outgoing_connections', {})
        if not isinstance(connections, dict):
            raise NetworkValidationError(f"layer {name!r}: '@outgoing_connections' must be a "
                                         f"dict of output name -> list of inputs")
        for out_name, targets in connections.items():
            if isinstance(targets, str) or not isinstance(targets, (list, tuple)):
                raise NetworkValidationError(
                    f"layer {name!r}: outgoing connections of output {out_name!r} must be a "
                    f"list like ['Other.default'], got {targets!r}")
            for reference in targets:
                if not isinstance(reference, str):
                    raise NetworkValidationError(f"layer {name!r}: connection {reference!r} "
                                                 "is not a 'Layer.input' string")
                target, _ = parse_connection(reference)
                if target not in architecture:
                    raise NetworkValidationError(
                        f"layer {name!r}: output {out_name!r} connects to unknown layer "
                        f"{target!r}{_hint(target, architecture)}")
    inputs = [name for name, entry in architecture.items() if entry['@type'] == 'Input']
    if not inputs:
        raise NetworkValidationError("the network has no Input layer; every network needs "
                                     "exactly one, named 'Input'")
    if len(inputs) > 1:
        raise NetworkValidationError(f"the network has {len(inputs)} Input layers "
                                     f"({', '.join(inputs)}); exactly one is allowed")
    if inputs[0] != 'Input':
        raise NetworkValidationError(f"the Input layer is named {inputs[0]!r}; it must be "
                                     "named 'Input'")
    sources = {}
    for name, entry in architecture.items():
        for out_name, targets in entry.get('@outgoing_connections', {}).items():
            for reference in targets:
                key = parse_connection(reference)
                if key in sources:
                    raise NetworkValidationError(
                        f"input {key[1]!r} of layer {key[0]!r} is connected twice: from "
                        f"{sources[key][0]}.{sources[key][1]} and from {name}.{out_name}")
                sources[key] = (name, out_name)
    order = get_topological_order(architecture)
    reachable = _reachable_from_input(architecture)
    unreachable = [name for name in architecture if name not in reachable]
    if unreachable:
        raise NetworkValidationError(
            f"layer {unreachable[0]!r} is not connected to the Input layer; every layer must "
            f"receive data that comes from Input")
    return order


def _reachable_from_input(architecture):
    seen = {'Input'}
    stack = ['Input']
    while stack:
        name = stack.pop()
        for targets in architecture[name].get('@outgoing_connections', {}).values():
            for reference in targets:
                target, _ = parse_connection(reference)
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
    return seen


def get_topological_order(architecture):
    """Layer names so that every layer comes after all layers feeding it.

    Ties keep the order of the architecture dict. Raises NetworkValidationError
    naming a layer on a cycle.
    """
    incoming_count = {name: 0 for name in architecture}
    for entry in architecture.values():
        for targets in entry.get('@outgoing_connections', {}).values():
            for reference in targets:
                incoming_count[parse_connection(reference)[0]] += 1
    position = {name: index for index, name in enumerate(architecture)}
    ready = sorted((name for name, count in incoming_count.items() if count == 0),
                   key=position.get)
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        newly_ready = []
        for targets in architecture[name].get('@outgoing_connections', {}).values():
            for reference in targets:
                target = parse_connection(reference)[0]
                incoming_count[target] -= 1
                if incoming_count[target] == 0:
                    newly_ready.append(target)
        ready = sorted(ready + newly_ready, key=position.get)
    if len(order) != len(architecture):
        on_cycle = sorted(name for name in architecture if name not in order)
        raise NetworkValidationError(f"the connections form a cycle through layer(s) "
                                     f"{', '.join(on_cycle)}; networks must be acyclic")
    return order


def instantiate_layers_from_architecture(architecture):
    """Validate ``architecture`` and create its layer implementations, in topological order.

    Returns:
        OrderedDict[str, Layer]: layer name -> layer implementation.
    """
    from brainstorm.layers.base_layer import get_layer_class
    architecture = json.loads(json.dumps(architecture))  # plain, JSON-equal copy
    order = validate_architecture(architecture)
    incoming = {name: [] for name in architecture}
    for name, entry in architecture.items():
        for out_name, targets in entry.get('@outgoing_connections', {}).items():
            for reference in targets:
                target, in_name = parse_connection(reference)
                incoming[target].append((in_name, name, out_name))
    layers = OrderedDict()
    for name in order:
        entry = architecture[name]
        in_shapes = {}
        for in_name, source, out_name in incoming[name]:
            source_layer = layers[source]
            if out_name not in source_layer.out_shapes:
                raise NetworkValidationError(
                    f"layer {source!r} ({architecture[source]['@type']}) has no output "
                    f"{out_name!r} (it has {', '.join(source_layer.out_shapes)}); it was "
                    f"connected to {name}.{in_name}{_hint(out_name, source_layer.out_shapes)}")
            in_shapes[in_name] = source_layer.out_shapes[out_name]
        layer_class = get_layer_class(entry['@type'], layer_name=name)
        kwargs = {key: value for key, value in entry.items() if not key.startswith('@')}
        layers[name] = layer_class(name, in_shapes, incoming[name],
                                   entry.get('@outgoing_connections', {}), **kwargs)
    return layers
