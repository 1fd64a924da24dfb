"""The Layer base class (spec 9.1.2): shapes in, buffer structures out, passes via handler ops.

A layer implementation owns no memory. ``setup`` declares its outputs,
parameters and internals as ``BufferStructure``s; the network's BufferManager
allocates them and hands each pass a ``BufferView`` with the fields
``inputs, outputs, parameters, internals, input_deltas, output_deltas,
gradients``. Backward passes ADD into ``input_deltas`` and ``gradients``:
several consumers of one output accumulate their deltas in the same memory.

Subclasses named ``<Name>LayerImpl`` are registered as layer type ``<Name>``.
"""

import difflib
from collections import OrderedDict

from brainstorm.errors import LayerValidationError, NetworkValidationError
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate

_LAYER_TYPES = {}


def get_layer_class(type_name, layer_name=None):
    """The implementation class of layer type ``type_name`` ('FullyConnected', ...)."""
    import brainstorm.layers  # noqa: F401  (registers the built-in layers)
    if isinstance(type_name, str) and type_name in _LAYER_TYPES:
        return _LAYER_TYPES[type_name]
    close = difflib.get_close_matches(str(type_name), list(_LAYER_TYPES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f"layer {layer_name!r}: " if layer_name else ""
    raise NetworkValidationError(f"{where}unknown layer type {type_name!r}{hint}")


def registered_layer_types():
    """Name -> implementation class of every registered layer type."""
    import brainstorm.layers  # noqa: F401
    return dict(_LAYER_TYPES)


class Layer:
    """Base class of all layer implementations.

    Class attributes:
        expected_inputs (dict[str, StructureTemplate]): the inputs the layer
            needs; every one must be connected.
        optional_inputs (dict[str, StructureTemplate]): inputs that may be
            connected (a recurrent layer's 'mask'); ``in_shapes`` holds those that are.
            No input outside these two may be connected.
        expected_kwargs (set[str]): the kwargs the layer accepts.
        computes_no_input_deltas_for (tuple[str]): inputs that get no deltas
            (targets, masks).
        computes_no_gradients_for (tuple[str]): parameters without gradients.
        takes_no_output_deltas_from (tuple[str]): outputs whose deltas are
            ignored (e.g. predictions of a loss layer).
        output_aliases (dict[str, str]): extra names for outputs (old names
            kept working, e.g. SoftmaxCE's 'probabilities' for 'predictions').
        parameter_defaults (dict[str, float]): initial values of parameters that
            only make sense with one value (BatchNorm's scale 1 and shift 0);
            ``Network.initialize`` uses them instead of the catch-all
            ``'default'`` initializer, while an explicit pattern still wins.
        overwrites_gradients (bool): True if ``backward_pass`` SETS every gradient
            of the layer (each is written once, by one product or sum) instead of
            adding to it. The BufferManager then leaves these gradients out when
            it zeroes the backward buffers: for a large layer, that zeroing is a
            memory pass as long as its weight matrix. Input deltas are always added.

    Args:
        name (str): the layer's name.
        in_shapes (dict[str, BufferStructure]): structure of each input.
        incoming_connections: list of (input name, source layer, output name).
        outgoing_connections: dict output name -> list of 'Layer.input'.
        **kwargs: the layer's own arguments (checked against expected_kwargs).
    """

    expected_inputs = {'default': StructureTemplate('T', 'B', '...')}
    optional_inputs = {}
    expected_kwargs = set()
    computes_no_input_deltas_for = ()
    computes_no_gradients_for = ()
    takes_no_output_deltas_from = ()
    output_aliases = {}
    parameter_defaults = {}
    overwrites_gradients = False
    #: Names of inputs whose deltas nobody reads: the Network sets this when it is
    #: told not to compute the deltas of data (``Network.compute_data_deltas``).
    #: A layer may skip computing these input deltas; it is never wrong to compute them.
    skipped_input_deltas = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.endswith('LayerImpl'):
            _LAYER_TYPES[cls.__name__[:-len('LayerImpl')]] = cls

    def __init__(self, name, in_shapes, incoming_connections, outgoing_connections, **kwargs):
        self.name = name
        self.handler = None
        self.incoming = incoming_connections
        self.outgoing = outgoing_connections
        unknown = set(kwargs) - set(self.expected_kwargs)
        if unknown:
            key = sorted(unknown)[0]
            close = difflib.get_close_matches(key, sorted(self.expected_kwargs), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            accepted = ', '.join(sorted(self.expected_kwargs)) or 'none'
            raise LayerValidationError(f"{self._label()}: unexpected argument {key!r} "
                                       f"(accepted: {accepted}){hint}")
        self.kwargs = kwargs
        self.in_shapes = self._check_inputs(in_shapes)
        outputs, parameters, internals = self.setup(kwargs, self.in_shapes)
        self.out_shapes = OrderedDict(outputs)
        self.parameter_shapes = OrderedDict(parameters)
        self.internal_shapes = OrderedDict(internals)

    def _label(self):
        return f"layer {self.name!r} ({self.layer_type})"

    @property
    def layer_type(self):
        """The registered type name ('FullyConnected' for FullyConnectedLayerImpl)."""
        return type(self).__name__[:-len('LayerImpl')]

    def _check_inputs(self, in_shapes):
        missing = [name for name in self.expected_inputs if name not in in_shapes]
        if missing:
            raise NetworkValidationError(f"{self._label()}: input {missing[0]!r} is not "
                                         f"connected")
        known = dict(self.expected_inputs, **self.optional_inputs)
        unexpected = [name for name in in_shapes if name not in known]
        if unexpected:
            close = difflib.get_close_matches(unexpected[0], list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NetworkValidationError(
                f"{self._label()}: has no input {unexpected[0]!r} (its inputs: "
                f"{', '.join(known)}){hint}")
        connected = [name for name in known if name in in_shapes]
        for name in connected:
            if not known[name].matches(in_shapes[name]):
                raise LayerValidationError(
                    f"{self._label()}: input {name!r} has shape "
                    f"{in_shapes[name].shape}, which does not fit {known[name].shape}")
        return OrderedDict((name, in_shapes[name]) for name in connected)

    def setup(self, kwargs, in_shapes):
        """Declare buffers: return (outputs, parameters, internals) as name -> BufferStructure."""
        raise NotImplementedError(f"{type(self).__name__} must implement setup()")

    def set_handler(self, new_handler):
        """Use ``new_handler`` for all operations from now on."""
        self.handler = new_handler

    def forward_pass(self, buffers, training_pass=True):
        """Compute ``buffers.outputs`` (and internals) from inputs and parameters."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward_pass()")

    def backward_pass(self, buffers):
        """ADD the derivatives into ``buffers.input_deltas`` and ``buffers.gradients``."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward_pass()")

    def get_kwarg(self, kwargs, name, default, kind=None, allowed=None):
        """Read a kwarg with its default, checking its type / allowed values.

        Raises:
            LayerValidationError: naming the layer, the kwarg, the value and
                what was expected.
        """
        value = kwargs.get(name, default)
        if kind is not None:
            ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in
                                                   (kind if isinstance(kind, tuple) else (kind,)))
            if not ok:
                names = kind.__name__ if isinstance(kind, type) else \
                    ' or '.join(k.__name__ for k in kind)
                raise LayerValidationError(f"{self._label()}: {name} must be {names}, got "
                                           f"{value!r}")
        if allowed is not None and value not in allowed:
            close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise LayerValidationError(f"{self._label()}: {name} must be one of "
                                       f"{', '.join(map(repr, allowed))}, got {value!r}{hint}")
        return value


def shape_kwarg(layer, kwargs, name='size', default=None):
    """Read a size kwarg that may be an int or a tuple of ints; return a tuple."""
    value = kwargs.get(name, default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if (not isinstance(value, (tuple, list)) or not value or
            not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise LayerValidationError(f"{layer._label()}: {name} must be a positive int or a "
                                   f"tuple of positive ints, got {value!r}")
    return tuple(value)


__all__ = ['Layer', 'BufferStructure', 'StructureTemplate', 'get_layer_class',
           'registered_layer_types', 'shape_kwarg']
