"""Shapes of buffers: concrete structures and the templates layers match them against.

A ``BufferStructure`` is a shape whose leading entries may be the placeholders
``'T'`` (sequence length) and ``'B'`` (batch size):

* ``(3,)``            constant size (buffer type 0), e.g. parameters
* ``('B', 3)``        batch sized (buffer type 1)
* ``('T', 'B', 3)``   time sized (buffer type 2)

A ``StructureTemplate`` describes what a layer accepts as input; besides 'T'
and 'B' it may contain ``'F'`` (any single feature dimension) and ``'...'``
(any number of further feature dimensions).
"""

from brainstorm.errors import StructureValidationError
from brainstorm.utils import product

_PLACEHOLDERS = ('T', 'B')


class BufferStructure:
    """The shape template of one buffer.

    Args:
        *shape: ``'T'``/``'B'`` placeholders followed by positive ints.
        context_size (int): extra time steps kept after the last one (time
            sized buffers only); recurrent layers read step t-1 = -1 there.
        is_backward_only (bool): the buffer lives in the backward buffers
            (delta scratch), not in the forward ones.
        is_transient (bool): the buffer matters only inside its layer's backward
            pass, which writes all of it before reading it (the deltas of an
            activation, say). Its content is undefined when that pass starts and
            after it ends, so the BufferManager lets the transient buffers of all
            layers share memory (one region per buffer type, as large as the
            largest) and does not zero them. Implies ``is_backward_only``; no
            context.
    """

    def __init__(self, *shape, context_size=0, is_backward_only=False, is_transient=False):
        shape = tuple(shape)
        if shape[:2] == ('T', 'B'):
            self.buffer_type = 2
            feature_shape = shape[2:]
        elif shape[:1] == ('B',):
            self.buffer_type = 1
            feature_shape = shape[1:]
        else:
            self.buffer_type = 0
            feature_shape = shape
        for entry in feature_shape:
            if isinstance(entry, bool) or not isinstance(entry, int) or entry < 1:
                raise StructureValidationError(
                    f"invalid buffer shape {shape!r}: feature dimensions must be positive "
                    f"ints after the optional 'T', 'B' placeholders, got {entry!r}")
        if context_size and self.buffer_type != 2:
            raise StructureValidationError(
                f"context_size={context_size} given for {shape!r}; only time sized "
                f"('T', 'B', ...) buffers can have a context")
        if is_transient and context_size:
            raise StructureValidationError(
                f"a transient buffer {shape!r} cannot have a context: its content is "
                f"not kept from one pass to the next")
        self.shape = shape
        self.feature_shape = tuple(feature_shape)
        self.feature_size = product(feature_shape)
        self.context_size = int(context_size)
        self.is_transient = bool(is_transient)
        self.is_backward_only = bool(is_backward_only) or self.is_transient

    @classmethod
    def from_template(cls, shape, context_size=0, is_backward_only=False):
        """Build from a shape; a shape without placeholders means ('T', 'B', *shape)."""
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if shape[:1] not in (('T',), ('B',)):
            shape = ('T', 'B') + shape
        return cls(*shape, context_size=context_size, is_backward_only=is_backward_only)

    def get_shape(self, time_size, batch_size):
        """The concrete shape for a batch of ``batch_size`` sequences of ``time_size`` steps."""
        if self.buffer_type == 2:
            return (time_size + self.context_size, batch_size) + self.feature_shape
        if self.buffer_type == 1:
            return (batch_size,) + self.feature_shape
        return self.feature_shape

    def to_json(self):
        """A JSON-friendly list form of the shape."""
        return list(self.shape)

    def __eq__(self, other):
        return (isinstance(other, BufferStructure) and self.shape == other.shape and
                self.context_size == other.context_size and
                self.is_backward_only == other.is_backward_only and
                self.is_transient == other.is_transient)

    def __hash__(self):
        return hash((self.shape, self.context_size, self.is_backward_only, self.is_transient))

    def __repr__(self):
        extras = ''
        if self.context_size:
            extras += f', context_size={self.context_size}'
        if self.is_transient:
            extras += ', is_transient=True'
        elif self.is_backward_only:
            extras += ', is_backward_only=True'
        return f"BufferStructure({', '.join(map(repr, self.shape))}{extras})"


class StructureTemplate:
    """A pattern that input structures must match.

    Entries: ``'T'``, ``'B'``, ``'F'`` (one feature dimension of any size), an
    int (that exact size), ``'...'`` (zero or more further feature dimensions).

    Examples:
        ``StructureTemplate('T', 'B', '...')`` accepts any time sized buffer;
        ``StructureTemplate('T', 'B', 'F', 'F', 'F')`` accepts time sized images.
    """

    def __init__(self, *shape):
        self.shape = tuple(shape)
        if '...' in self.shape and self.shape.index('...') != len(self.shape) - 1:
            raise StructureValidationError(f"'...' must be last in a template, got {self.shape}")

    def matches(self, structure):
        """True if ``structure`` (a BufferStructure) fits this template."""
        shape = structure.shape
        template = self.shape
        if template and template[-1] == '...':
            fixed = template[:-1]
            if len(shape) < len(fixed):
                return False
            shape = shape[:len(fixed)]
            template = fixed
        if len(shape) != len(template):
            return False
        for expected, actual in zip(template, shape):
            if expected in _PLACEHOLDERS:
                if actual != expected:
                    return False
            elif expected == 'F':
                if actual in _PLACEHOLDERS:
                    return False
            elif expected != actual:
                return False
        return True

    def __repr__(self):
        return f"StructureTemplate{self.shape!r}"
