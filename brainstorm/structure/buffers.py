"""The BufferManager: one flat buffer per buffer type, and the views into them.

Memory is kept in six flat arrays: forward and backward, each for the
constant (0), batch sized (1) and time sized (2) buffer types (plus the shared
regions of transient internals, below). Every array of
the layout is a contiguous segment of one of them; time sized arrays have
shape (T + context_size, B, *features). The constant forward buffer starts with
all parameters, so ``net.buffer.parameters`` is one contiguous array, and the
constant backward buffer starts with the gradients in the same order.

A layer's inputs are views of the outputs they are connected to (excluding the
context slots), and its input deltas are views of those outputs' deltas: that
is why backward passes accumulate.

Transient internals (``BufferStructure(is_transient=True)``: backward-only
arrays that a layer writes and reads within its own backward pass) live in a
third group, one region per buffer type that all layers share, sized for the
layer that needs most: each layer's transient arrays start at the region's
start, one after the other. In a CNN, every convolution's
activation deltas fit in the memory of the largest one.
"""

from collections import OrderedDict

from brainstorm.structure.buffer_views import BufferView
from brainstorm.utils import product

FORWARD, BACKWARD, TRANSIENT = 'forward', 'backward', 'transient'
LAYER_FIELDS = ('inputs', 'outputs', 'parameters', 'internals',
                'input_deltas', 'output_deltas', 'gradients')


class _Slot:
    """One array of the layout: where it lives and its structure."""

    __slots__ = ('direction', 'structure', 'index', 'feature_start')

    def __init__(self, direction, structure, index, feature_start):
        self.direction = direction
        self.structure = structure
        self.index = index
        self.feature_start = feature_start


def physical_memory_bytes():
    """This machine's physical memory in bytes (None where the OS does not say)."""
    import os
    try:
        return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(parameter_size, handler):
    """Refuse, before allocating, a network whose parameters and gradients alone need
    more than the machine's physical memory (a typo like ``F1000000 F1000000`` would
    otherwise end in a MemoryError or in swapping).

    Raises:
        NetworkValidationError: naming the parameter count and both sizes.
    """
    import numpy as np
    from brainstorm.errors import NetworkValidationError
    available = physical_memory_bytes()
    needed = 2 * int(parameter_size) * np.dtype(getattr(handler, 'dtype', np.float32)).itemsize
    if available is not None and needed > available:
        raise NetworkValidationError(
            f"the network has {int(parameter_size):,} parameters: they and their gradients "
            f"need {needed / 2 ** 30:,.1f} GiB, more than this machine's memory "
            f"({available / 2 ** 30:,.1f} GiB)")


def _buffer_key(slot):
    return slot.direction, slot.structure.buffer_type


class BufferManager:
    """Allocates the network's memory through a handler and builds the buffer views.

    Args:
        layers (OrderedDict[str, Layer]): layer implementations in topological order.
        handler (Handler): allocates and fills the memory.
    """

    def __init__(self, layers, handler):
        self.layers = layers
        self.handler = handler
        self.time_size = 0
        self.batch_size = 0
        self._slots = OrderedDict()   # (layer, field, name) -> _Slot
        self._order = {}              # (direction, buffer_type) -> [slot keys] in memory order
        self._capacity = {}
        self._memory = {}
        self.gradient_tail = 0
        self.gradients_with_tail = None
        self._plan_layout()
        check_fits_in_memory(self.parameter_size, handler)
        self._plan_clearing()
        self.views = None
        self.resize(1, 1)

    # ---- layout -------------------------------------------------------------------------
    def _add_slot(self, key, direction, structure):
        buffer_key = (direction, structure.buffer_type)
        order = self._order.setdefault(buffer_key, [])
        # a transient array follows only the earlier transient arrays of its own layer:
        # those of one layer are alive together, those of different layers never are
        start = sum(self._slots[k].structure.feature_size for k in order
                    if direction != TRANSIENT or k[0] == key[0])
        self._slots[key] = _Slot(direction, structure, len(order), start)
        order.append(key)

    def _plan_layout(self):
        from brainstorm.structure.buffer_structure import BufferStructure
        # parameters first, so that all of them form one contiguous array
        for layer_name, layer in self.layers.items():
            for name, structure in layer.parameter_shapes.items():
                self._add_slot((layer_name, 'parameters', name), FORWARD, structure)
                self._add_slot((layer_name, 'gradients', name), BACKWARD, structure)
        self.parameter_size = sum(s.feature_size for s in
                                  (layer.parameter_shapes[n] for layer in self.layers.values()
                                   for n in layer.parameter_shapes))
        for layer_name, layer in self.layers.items():
            for name, structure in layer.out_shapes.items():
                self._add_slot((layer_name, 'outputs', name), FORWARD, structure)
                delta = BufferStructure(*structure.shape, context_size=structure.context_size)
                self._add_slot((layer_name, 'output_deltas', name), BACKWARD, delta)
            for name, structure in layer.internal_shapes.items():
                direction = (TRANSIENT if structure.is_transient else
                             BACKWARD if structure.is_backward_only else FORWARD)
                self._add_slot((layer_name, 'internals', name), direction, structure)

    def get_layout(self):
        """The memory layout as nested dicts in the form of spec 9.4.

        '@slice' counts feature units within the buffer of the array's
        direction and type; inputs and input deltas show the slice of the
        output they view. Transient internals are marked ``'@transient': True``;
        their slices count within the region they share, where each layer's
        first one starts at 0.
        """
        layout = {}
        for layer_index, (layer_name, layer) in enumerate(self.layers.items()):
            node = {'@type': 'BufferView', '@index': layer_index}
            for field_index, field in enumerate(LAYER_FIELDS):
                child = {'@type': 'BufferView', '@index': field_index}
                for index, (name, key) in enumerate(self._field_keys(layer_name, field)):
                    slot = self._slots[key]
                    entry = {'@type': 'array', '@index': index,
                             '@slice': (slot.feature_start,
                                        slot.feature_start + slot.structure.feature_size),
                             '@shape': slot.structure.shape}
                    if slot.structure.context_size:
                        entry['@context_size'] = slot.structure.context_size
                    if slot.structure.is_transient:
                        entry['@transient'] = True
                    child[name] = entry
                node[field] = child
            layout[layer_name] = node
        return layout

    def _field_keys(self, layer_name, field):
        """(name, slot key) pairs of one field of one layer."""
        layer = self.layers[layer_name]
        if field in ('inputs', 'input_deltas'):
            target = 'outputs' if field == 'inputs' else 'output_deltas'
            sources = {in_name: (source, out_name)
                       for in_name, source, out_name in layer.incoming}
            return [(name, (sources[name][0], target, sources[name][1]))
                    for name in layer.in_shapes]
        names = {'outputs': layer.out_shapes, 'output_deltas': layer.out_shapes,
                 'parameters': layer.parameter_shapes, 'gradients': layer.parameter_shapes,
                 'internals': layer.internal_shapes}[field]
        return [(name, (layer_name, field, name)) for name in names]

    # ---- memory ---------------------------------------------------------------------------
    def set_gradient_tail(self, size):
        """Keep ``size`` spare elements right after the gradients (default 0).

        ``gradients_with_tail`` is then one contiguous array of the gradients and
        the spare elements, so a message can carry a few numbers with them (the
        data-parallel reduction sends its stop flag that way). The constant
        backward memory is allocated again (its content, recomputed by every
        backward pass, is not kept) and every view is rebuilt.

        Args:
            size (int): number of spare elements.
        """
        size = int(size)
        if size == self.gradient_tail:
            return
        self.gradient_tail = size
        key = (BACKWARD, 0)
        needed = max(self._needed_size(key, self.time_size, self.batch_size), 1)
        self._memory[key] = self.handler.zeros((needed,))
        self._capacity[key] = needed
        self._plan_clearing()
        self._build_views()

    def _segment_size(self, key, time_size, batch_size):
        return product(self._slots[key].structure.get_shape(time_size, batch_size))

    def _needed_size(self, buffer_key, time_size, batch_size):
        """Elements the memory of ``buffer_key`` needs for that size (with the gradient
        tail in the constant backward buffer; a transient region as its largest layer)."""
        keys = self._order.get(buffer_key, ())
        sizes = [self._segment_size(k, time_size, batch_size) for k in keys]
        if buffer_key[0] == TRANSIENT:  # the largest layer's need
            per_layer = {}
            for key, size in zip(keys, sizes):
                per_layer[key[0]] = per_layer.get(key[0], 0) + size
            return max(per_layer.values())
        return sum(sizes) + (self.gradient_tail if buffer_key == (BACKWARD, 0) else 0)

    def resize(self, time_size, batch_size):
        """Make room for ``batch_size`` sequences of ``time_size`` steps; rebuild the views.

        Memory grows when needed and is reused when the new size fits; the
        constant buffers (parameters, gradients) are never touched.
        """
        if (time_size, batch_size) == (self.time_size, self.batch_size):
            return
        for buffer_key in self._order:
            if buffer_key[1] == 0 and buffer_key in self._memory:
                continue
            needed = self._needed_size(buffer_key, time_size, batch_size)
            if self._capacity.get(buffer_key, -1) < needed:
                self._memory[buffer_key] = self.handler.zeros((max(needed, 1),))
                self._capacity[buffer_key] = max(needed, 1)
        self.time_size, self.batch_size = time_size, batch_size
        self._build_views()

    def _build_views(self):
        time_size, batch_size = self.time_size, self.batch_size
        arrays = {}
        for buffer_key, keys in self._order.items():
            memory = self._memory[buffer_key]
            offset, layer_name = 0, None
            for key in keys:
                if buffer_key[0] == TRANSIENT and key[0] != layer_name:
                    offset, layer_name = 0, key[0]  # each layer from the region's start
                offset += self._gap_before(buffer_key, key, offset)
                structure = self._slots[key].structure
                shape = structure.get_shape(time_size, batch_size)
                size = product(shape)
                arrays[key] = memory[offset:offset + size].reshape(shape)
                offset += size
        self._arrays = arrays
        parameter_memory = self._memory.get((FORWARD, 0))
        gradient_memory = self._memory.get((BACKWARD, 0))
        if parameter_memory is None:
            parameter_memory = self.handler.zeros((0,))
        if gradient_memory is None:
            gradient_memory = parameter_memory
        self.parameters = parameter_memory[:self.parameter_size]
        self.gradients = gradient_memory[:self.parameter_size]
        self.gradients_with_tail = (gradient_memory[:self.parameter_size + self.gradient_tail]
                                    if self.gradient_tail else None)
        layer_views = OrderedDict()
        for layer_name, layer in self.layers.items():
            fields = OrderedDict()
            for field in LAYER_FIELDS:
                children = OrderedDict()
                for name, key in self._field_keys(layer_name, field):
                    array = arrays[key]
                    if field in ('inputs', 'input_deltas') and \
                            self._slots[key].structure.context_size:
                        array = array[:time_size]
                    children[name] = array
                if field in ('outputs', 'output_deltas'):
                    for alias, target in layer.output_aliases.items():
                        children[alias] = children[target]
                full = None
                if field in ('parameters', 'gradients') and children:
                    keys = [key for _, key in self._field_keys(layer_name, field)]
                    memory = self.parameters if field == 'parameters' else self.gradients
                    start = self._slots[keys[0]].feature_start
                    stop = self._slots[keys[-1]].feature_start + \
                        self._slots[keys[-1]].structure.feature_size
                    full = memory[start:stop]
                fields[field] = BufferView(children, full, name=f"{layer_name}.{field}")
            layer_views[layer_name] = BufferView(fields, name=layer_name)
        root = OrderedDict(layer_views)
        root['parameters'] = self.parameters
        root['gradients'] = self.gradients
        self.views = BufferView(root)

    def slots_with_context(self):
        """(layer name, field, name, array) for every forward array that has context slots."""
        for key, slot in self._slots.items():
            if slot.direction == FORWARD and slot.structure.context_size:
                yield key + (self._arrays[key],)

    def clear_backward_buffers(self):
        """Zero every delta, gradient and backward-only internal.

        Gradients of layers that overwrite them (``Layer.overwrites_gradients``)
        are left as they are: their backward pass sets every value. So are
        transient internals, which their layer writes before it reads them.
        """
        for (direction, buffer_type), memory in self._memory.items():
            if direction != BACKWARD:
                continue
            if buffer_type == 0:
                for start, stop in self._constant_ranges_to_clear:
                    self.handler.fill(memory[start:stop], 0.0)
            else:
                self.handler.fill(memory, 0.0)

    def _gap_before(self, buffer_key, key, offset):
        """Elements to skip before ``key``'s array: the gradient tail, right after the
        gradients (which come first in the constant backward buffer)."""
        end_of_tail = self.parameter_size + self.gradient_tail
        if buffer_key == (BACKWARD, 0) and key[1] != 'gradients' and offset < end_of_tail:
            return end_of_tail - offset
        return 0

    def _plan_clearing(self):
        """The (start, stop) element ranges of the constant backward buffer to zero.

        Everything except the gradients of layers that overwrite them, as few
        ranges as possible.
        """
        keys = self._order.get((BACKWARD, 0), [])
        ranges = []
        for key in keys:
            layer_name, field, _ = key
            slot = self._slots[key]
            if field == 'gradients' and self.layers[layer_name].overwrites_gradients:
                continue
            start, stop = slot.feature_start, slot.feature_start + slot.structure.feature_size
            if field != 'gradients':  # behind the gradient tail
                start, stop = start + self.gradient_tail, stop + self.gradient_tail
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], stop)
            else:
                ranges.append((start, stop))
        self._constant_ranges_to_clear = ranges

    def context_size_of(self, key):
        return self._slots[key].structure.context_size

    def set_memory_from(self, other):
        """Copy the parameter values of another manager (same layout) into this one."""
        values = other.handler.get_numpy_copy(other.parameters)
        self.handler.set_from_numpy(self.parameters, values)
