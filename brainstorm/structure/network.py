"""The Network (spec 8.1 and 9.1.4): layers, their memory, and everything users do with them."""

import contextlib
import json
import os
from collections import OrderedDict

import numpy as np

from brainstorm.describable import create_from_description, get_description, type_name_of
from brainstorm.errors import (BrainstormError, DataError, DescriptionError, FileFormatError,
                               NetworkValidationError)
from brainstorm.randomness import Seedable
from brainstorm.structure.architecture import (generate_architecture,
                                               instantiate_layers_from_architecture)
from brainstorm.structure.buffers import BufferManager
from brainstorm.structure.view_references import (resolve_references, order_and_check)
from brainstorm.utils import temporary_file_beside

HDF5_FORMAT = 'brainstorm-network'
HDF5_FORMAT_VERSION = 1


def _default_handler():
    from brainstorm.handlers import NumpyHandler
    return NumpyHandler(np.float32)


class Network(Seedable):
    """A directed acyclic graph of layers with its memory (see spec 8.1).

    Create networks with :meth:`from_layer`, :meth:`from_architecture` or
    :meth:`from_hdf5`. ``net.buffer`` gives the live arrays (on the device),
    ``net.get(path)`` numpy copies.

    Attributes:
        layers (OrderedDict[str, Layer]): layer implementations, topologically sorted.
        architecture (dict): the architecture description (spec 9.3).
        handler (Handler): does all arithmetic and owns the memory.
        buffer (BufferView): live views: ``net.buffer.Layer.outputs.default``,
            ``net.buffer['Layer.parameters.W']``, ``net.buffer.parameters``.
        output_name (str): path of the default output that scorers use, e.g.
            'Output.outputs.predictions' (set by tools that build the net).
        data_parallel (Optional[brainstorm.parallel.DataParallel]): set while a
            data-parallel trainer trains this network: it sums the gradients of all
            processes after each backward pass (before the gradient modifiers) and
            combines the scorers' partial results. None otherwise.
        carried_state (Optional[CarriedState]): when set, forward passes without an
            explicit context continue from the state the previous one ended with
            (truncated BPTT over long sequences; see
            :mod:`brainstorm.training.carried_state`). None (default): zeros.
        data_description (dict): JSON-able facts about the data the network reads,
            saved with it: e.g. ``'alphabet'``, the byte value of each input index of
            a network trained on the text converter's output (what ``bstorm
            generate`` decodes with). Empty by default.
    """

    __undescribed__ = {'data_parallel': None}

    def __init__(self, layers, architecture, handler=None, seed=None):
        super().__init__(seed)
        self.layers = layers
        self.architecture = architecture
        self.handler = handler if handler is not None else _default_handler()
        for layer in self.layers.values():
            layer.set_handler(self.handler)
        self.buffer_manager = BufferManager(self.layers, self.handler)
        self.weight_modifiers = OrderedDict()
        self.gradient_modifiers = OrderedDict()
        self.initializers = OrderedDict()
        self.output_name = _guess_output_name(self.layers)
        self._input_layer = self.layers['Input']
        self._loss_layers = [name for name, layer in self.layers.items()
                             if layer.layer_type == 'Loss']
        self._forward_done = False
        self._compute_data_deltas = True
        self._layers_without_backward = frozenset()
        self.data_parallel = None
        self.carried_state = None
        self.data_description = {}

    # ---- creation -------------------------------------------------------------------------
    @classmethod
    def from_layer(cls, some_layer):
        """Create a network from any layer of a graph wired with ``>>`` (see construction)."""
        return cls.from_architecture(generate_architecture(some_layer))

    @classmethod
    def from_architecture(cls, architecture):
        """Create a network from an architecture dict (spec 9.3); validates it first."""
        layers = instantiate_layers_from_architecture(architecture)
        return cls(layers, json.loads(json.dumps(architecture)))

    @classmethod
    def from_hdf5(cls, filename):
        """Load a network saved with :meth:`save_as_hdf5`.

        Only JSON and numeric datasets are read; nothing in the file is
        executed or imported.

        Raises:
            FileFormatError: if the file is missing, not HDF5, not a
                brainstorm network, or its parameters do not fit.
        """
        import h5py
        filename = os.fspath(filename)
        with _open_network_file(filename) as (f, description):
            if 'parameters' not in f:
                raise FileFormatError(f"{filename}: dataset 'parameters' is missing")
            dataset = f['parameters']
            if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind != 'f' or \
                    dataset.ndim != 1:
                raise FileFormatError(f"{filename}: 'parameters' must be a 1-D float "
                                      f"dataset")
            net = cls._from_stored_description(description, filename)
            # the declared size is checked before anything is read: a small file
            # may declare a dataset of billions of values
            if dataset.shape != (net.buffer_manager.parameter_size,):
                raise FileFormatError(
                    f"{filename}: {dataset.shape[0]:,} parameters stored, but the "
                    f"architecture needs {net.buffer_manager.parameter_size:,} (truncated "
                    f"or foreign file)")
            parameters = dataset[()]
        net.handler.set_from_numpy(net.buffer.parameters, parameters.astype(net.handler.dtype))
        net.output_name = description.get('output_name', net.output_name)
        data_description = description.get('data_description', {})
        if not isinstance(data_description, dict):
            raise FileFormatError(f"{filename}: the stored data_description is not a mapping")
        net.data_description = data_description
        for kind, components in stored_components(description, filename).items():
            getattr(net, kind).update(components)
        return net

    @classmethod
    def _from_stored_description(cls, description, filename):
        if not isinstance(description, dict) or not isinstance(
                description.get('architecture'), dict):
            raise FileFormatError(f"{filename}: the network description has no architecture")
        try:
            return cls.from_architecture(description['architecture'])
        except (BrainstormError, TypeError, ValueError, KeyError, AttributeError) as error:
            raise FileFormatError(f"{filename}: the stored architecture is invalid: "
                                  f"{error}") from error
        except RecursionError:
            raise FileFormatError(f"{filename}: the stored architecture is nested too "
                                  f"deeply") from None

    def save_as_hdf5(self, filename, comment='', attributes=None):
        """Save description and parameters to ``filename`` (written atomically).

        Args:
            filename (str): target file; its folder must exist.
            comment (str): stored in the file's 'comment' attribute.
            attributes (Optional[dict[str, str]]): more file attributes, e.g. the
                experiment the network comes from (``bstorm`` stores it as JSON text
                under 'bstorm_experiment'); loading ignores them.
        """
        import h5py
        filename = os.fspath(filename)
        description = self._structure_description()
        handle, temporary = temporary_file_beside(filename)
        os.close(handle)
        try:
            with h5py.File(temporary, 'w') as f:
                f.attrs['format'] = HDF5_FORMAT
                f.attrs['format_version'] = HDF5_FORMAT_VERSION
                f.attrs['description'] = json.dumps(description)
                f.attrs['comment'] = comment
                f.attrs.update(attributes or {})
                f.create_dataset('parameters', data=self.get('parameters'))
            os.replace(temporary, filename)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise

    # ---- description (brainstorm.describable) ----------------------------------------------
    def _structure_description(self):
        description = {'architecture': self.architecture, 'output_name': self.output_name,
                       'initializers': get_description(self.initializers),
                       'weight_modifiers': get_description(self.weight_modifiers),
                       'gradient_modifiers': get_description(self.gradient_modifiers)}
        if self.data_description:
            description['data_description'] = self.data_description
        return description

    def __describe__(self):
        """``get_description(net)``: architecture, handler, initializers, modifiers, output name.

        The parameters are not part of a description (``save_as_hdf5`` stores them).
        """
        description = self._structure_description()
        description['handler'] = get_description(self.handler)
        description['@type'] = type_name_of(type(self))
        return description

    @classmethod
    def __new_from_description__(cls, description):
        """``create_from_description``: a new network with that structure (not initialized)."""
        import brainstorm.initializers  # noqa: F401  (register the described classes)
        import brainstorm.value_modifiers  # noqa: F401
        if not isinstance(description.get('architecture'), dict):
            raise DescriptionError("a Network description needs its 'architecture' (a dict)")
        net = cls.from_architecture(description['architecture'])
        if description.get('handler') is not None:
            net.set_handler(create_from_description(description['handler']))
        net.output_name = description.get('output_name', net.output_name)
        net.data_description = dict(description.get('data_description') or {})
        for kind in ('initializers', 'weight_modifiers', 'gradient_modifiers'):
            getattr(net, kind).update(create_from_description(description.get(kind) or {}))
        return net

    # ---- handler --------------------------------------------------------------------------
    def set_handler(self, new_handler):
        """Run on ``new_handler`` from now on; parameter values are kept."""
        parameters = self.get('parameters')
        self.handler = new_handler
        for layer in self.layers.values():
            layer.set_handler(new_handler)
        self.buffer_manager = BufferManager(self.layers, new_handler)
        new_handler.set_from_numpy(self.buffer.parameters, parameters.astype(new_handler.dtype))
        self._forward_done = False

    @property
    def compute_data_deltas(self):
        """bool: whether backward passes compute the deltas of the data (default True).

        The data are the buffers that no parameter influences: the Input layer's
        outputs and what layers without parameters make of them alone (a Dropout
        on the inputs, say). Their deltas reach no gradient, yet computing them is
        work: a first FullyConnected's product with its weights, a first
        convolution's transposed convolution, the input product of a first Lstm.
        Set to False, the backward pass skips that work; those delta buffers then
        stay zero, and every gradient is unchanged. Leave it True to read the
        deltas of the inputs (saliency, adversarial inputs, MonitorLayerDeltas on
        the first layers).
        """
        return self._compute_data_deltas

    @compute_data_deltas.setter
    def compute_data_deltas(self, value):
        self._compute_data_deltas = bool(value)
        influenced = _layers_influenced_by_parameters(self.layers)
        for name, layer in self.layers.items():
            if self._compute_data_deltas:
                layer.skipped_input_deltas = frozenset()
            else:
                layer.skipped_input_deltas = frozenset(
                    in_name for in_name, source, _ in layer.incoming
                    if source not in influenced)
        self._layers_without_backward = (
            frozenset() if self._compute_data_deltas
            else frozenset(name for name in self.layers if name not in influenced))

    # ---- access ---------------------------------------------------------------------------
    @property
    def buffer(self):
        """Live views of all buffers (see class docstring)."""
        return self.buffer_manager.views

    def get(self, buffer_path):
        """A numpy copy of the buffer at ``buffer_path`` (context slots left out).

        Raises:
            KeyError: if no buffer is found for the path.
        """
        if not isinstance(buffer_path, str):
            raise KeyError(f"buffer paths are dotted strings, got {buffer_path!r}")
        array = self.buffer[buffer_path]
        if not hasattr(array, 'shape') or hasattr(array, 'keys'):
            raise KeyError(f"{buffer_path!r} is a group of buffers, not one buffer")
        array = self.handler.get_numpy_copy(array)
        time_size = self.buffer_manager.time_size
        parts = buffer_path.split('.')
        if len(parts) == 3 and array.ndim >= 2:
            structure = _structure_of(self.layers[parts[0]], parts[1], parts[2])
            if structure is not None and structure.context_size:
                array = array[:time_size]
        return array

    def get_input(self, input_name):
        """A numpy copy of the named input currently provided to the network."""
        return self.get(f"Input.outputs.{input_name}")

    def get_loss_values(self):
        """Loss values of the last forward pass: 'total_loss' and one entry per Loss layer."""
        losses = OrderedDict()
        total = 0.0
        for name in self._loss_layers:
            value = float(self.handler.get_numpy_copy(self.buffer[name].outputs.loss).sum())
            losses[name] = value
            total += value
        result = OrderedDict(total_loss=total)
        if len(losses) > 1:
            result.update(losses)
        return result

    def get_context(self):
        """The state at the last time step of the last forward pass, for continuing sequences.

        A layer that runs backwards in time (``reverse=True``) ended its pass at
        step 0, so its state is that of the FIRST ``context_size`` steps: it
        continues into the data that comes before the last pass's.

        Returns:
            dict: layer name -> {'outputs.X' / 'internals.Y': numpy array of the
            last ``context_size`` steps}.
        """
        time_size = self.buffer_manager.time_size
        context = OrderedDict()
        for layer_name, field, name, array in self.buffer_manager.slots_with_context():
            size = array.shape[0] - time_size
            start = 0 if getattr(self.layers[layer_name], 'reverse', False) \
                else time_size - size
            values = self.handler.get_numpy_copy(array)[start:start + size]
            context.setdefault(layer_name, OrderedDict())[f"{field}.{name}"] = values
        return context

    # ---- running ----------------------------------------------------------------------------
    def provide_external_data(self, data, all_inputs=True):
        """Copy ``data`` (name -> array (T, B, ...)) into the outputs of the Input layer.

        A per-column reset signal in ``data`` (the item ``'@reset'`` that
        ``SequenceWindows`` yields) is not an input: it goes to the carried state
        (:attr:`carried_state`), or is ignored when there is none.

        Raises:
            DataError: on unknown names, missing names (when ``all_inputs``),
                wrong feature shapes, or inconsistent T / B.
        """
        from brainstorm.training.carried_state import split_reset_signal
        shapes = self._input_layer.out_shapes
        if not isinstance(data, dict) and not hasattr(data, 'keys'):
            raise DataError(f"expected a dict of named arrays, got {type(data).__name__}")
        data, reset = split_reset_signal(data)
        if reset is not None and self.carried_state is not None:
            self.carried_state.reset(reset)
        unknown = [name for name in data if name not in shapes]
        if unknown:
            import difflib
            close = difflib.get_close_matches(unknown[0], list(shapes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"the network has no input named {unknown[0]!r} (its inputs: "
                            f"{', '.join(shapes)}){hint}")
        if all_inputs:
            missing = [name for name in shapes if name not in data]
            if missing:
                raise DataError(f"input {missing[0]!r} was not provided (the network needs "
                                f"{', '.join(shapes)})")
        time_size = batch_size = None
        arrays = {}
        for name, value in data.items():
            array = value if hasattr(value, 'shape') else np.asarray(value)
            structure = shapes[name]
            expected = structure.feature_shape
            lead = 2 if structure.buffer_type == 2 else structure.buffer_type
            if tuple(array.shape[lead:]) != expected or array.ndim != lead + len(expected):
                template = ('T', 'B')[:lead] + expected
                raise DataError(f"input {name!r} has shape {tuple(array.shape)}, expected "
                                f"{template}")
            t = array.shape[0] if lead == 2 else None
            b = array.shape[lead - 1] if lead else None
            if t is not None:
                if time_size is not None and t != time_size:
                    raise DataError(f"input {name!r} has {t} time steps, other inputs "
                                    f"have {time_size}")
                time_size = t
            if b is not None:
                if batch_size is not None and b != batch_size:
                    raise DataError(f"input {name!r} has batch size {b}, other inputs "
                                    f"have {batch_size}")
                batch_size = b
            arrays[name] = array
        self.buffer_manager.resize(time_size or self.buffer_manager.time_size,
                                   batch_size or self.buffer_manager.batch_size)
        outputs = self.buffer.Input.outputs
        for name, array in arrays.items():
            if isinstance(array, np.ndarray) and array.dtype == self.handler.dtype:
                self.handler.set_from_numpy(outputs[name], array)
            elif isinstance(array, np.ndarray):
                self.handler.set_from_numpy(outputs[name], array.astype(self.handler.dtype))
            else:  # device array of the handler's type
                self.handler.copy_to(array, outputs[name])
        self._forward_done = False

    def forward_pass(self, training_pass=False, context=None):
        """Run all layers forward on the provided data.

        Args:
            training_pass (bool): layers like Dropout and BatchNorm behave as in training.
            context (Optional[dict]): a state from :meth:`get_context`, used as the
                state at t = -1; otherwise that of :attr:`carried_state` if there is
                one, else zeros.
        """
        carried = self.carried_state
        if context is None and carried is not None:
            context = carried.context
        self._set_context(context)
        buffers = self.buffer
        for name, layer in self.layers.items():
            layer.forward_pass(buffers[name], training_pass=training_pass)
        self._forward_done = True
        if carried is not None:
            carried.remember(self)

    def _set_context(self, context):
        time_size = self.buffer_manager.time_size
        for layer_name, field, name, array in self.buffer_manager.slots_with_context():
            slot = array[time_size:]
            values = None if context is None else context.get(layer_name, {}).get(
                f"{field}.{name}")
            if values is None:
                self.handler.fill(slot, 0.0)
                continue
            values = np.asarray(values)
            if values.shape != tuple(slot.shape):
                raise DataError(f"context for {layer_name}.{field}.{name} has shape "
                                f"{values.shape}, expected {tuple(slot.shape)} (same batch "
                                f"size as the data)")
            self.handler.set_from_numpy(slot, values.astype(self.handler.dtype))

    def backward_pass(self):
        """Compute all deltas and gradients (after a forward pass); apply gradient modifiers."""
        if not self._forward_done:
            raise NetworkValidationError("backward_pass() needs a forward_pass() on the same "
                                         "data first")
        self.buffer_manager.clear_backward_buffers()
        buffers = self.buffer
        for name, layer in reversed(self.layers.items()):
            if name not in self._layers_without_backward:
                layer.backward_pass(buffers[name])
        if self.data_parallel is not None:
            self.data_parallel.reduce_gradients(self)
        self.apply_gradient_modifiers()

    # ---- initialisation and modifiers -------------------------------------------------------
    def initialize(self, default_or_init_dict=None, seed=None, **kwargs):
        """Initialise all parameters (see spec 8.1 for the pattern rules).

        Args:
            default_or_init_dict: an initializer (the default for everything) or a
                dict layer pattern -> initializer or {parameter pattern: initializer}.
            seed (Optional[int]): makes the initialisation reproducible.
            **kwargs: more layer patterns; they take precedence over the dict.

        Raises:
            NetworkValidationError: if a parameter is matched ambiguously or not at all.

        Parameters with a layer-declared default (``Layer.parameter_defaults``,
        e.g. BatchNorm's gamma = 1) get it unless a layer pattern names them;
        the catch-all 'default' does not override it.
            InitializationError: if an initializer fails and no fallback works.
        """
        from brainstorm.initializers import evaluate_initializer
        from brainstorm.errors import InitializationError
        patterns = _merge_patterns(default_or_init_dict, kwargs)
        layer_defaults = {name: dict(layer.parameter_defaults)
                          for name, layer in self.layers.items() if layer.parameter_defaults}
        resolved = resolve_references(self._parameter_names(), patterns, 'initializer',
                                      allow_fallback=True, layer_defaults=layer_defaults)
        init_rnd = self.rnd.create_random_state(seed)
        for layer_name, parameter_names in self._parameter_names().items():
            for parameter_name in parameter_names:
                initializer, fallback = resolved[layer_name][parameter_name]
                view = self.buffer[layer_name].parameters[parameter_name]
                shape = tuple(view.shape)
                item_seed = init_rnd.generate_seed()
                used = initializer
                try:
                    values = evaluate_initializer(initializer, shape, seed=item_seed)
                except InitializationError as error:
                    if fallback is None:
                        raise InitializationError(
                            f"{layer_name}.parameters.{parameter_name} {shape}: {error}") \
                            from error
                    used = fallback
                    values = evaluate_initializer(fallback, shape, seed=item_seed)
                self.handler.set_from_numpy(view, np.asarray(values, dtype=self.handler.dtype))
                self.initializers.setdefault(layer_name, OrderedDict())[parameter_name] = \
                    used.tolist() if isinstance(used, np.ndarray) else used

    def _parameter_names(self):
        return OrderedDict((name, list(layer.parameter_shapes))
                           for name, layer in self.layers.items() if layer.parameter_shapes)

    def set_weight_modifiers(self, default_or_mod_dict=None, **kwargs):
        """Install value modifiers applied to the weights after every update (spec 8.1)."""
        self.weight_modifiers = self._resolve_modifiers(default_or_mod_dict, kwargs)

    def set_gradient_modifiers(self, default_or_mod_dict=None, **kwargs):
        """Install value modifiers applied to the gradients after every backward pass."""
        self.gradient_modifiers = self._resolve_modifiers(default_or_mod_dict, kwargs)

    def _resolve_modifiers(self, default_or_mod_dict, kwargs):
        patterns = _merge_patterns(default_or_mod_dict, kwargs)
        resolved = resolve_references(self._parameter_names(), patterns, 'modifier',
                                      allow_fallback=False, allow_unmatched=True)
        modifiers = OrderedDict()
        for layer_name, parameters in resolved.items():
            for parameter_name, (modifier, _) in parameters.items():
                if modifier is None:
                    continue
                items = order_and_check(modifier, f"{layer_name}.{parameter_name}")
                modifiers.setdefault(layer_name, OrderedDict())[parameter_name] = items
        return modifiers

    def apply_weight_modifiers(self):
        """Run the weight modifiers on the parameters now."""
        for layer_name, parameters in self.weight_modifiers.items():
            for parameter_name, modifiers in parameters.items():
                view = self.buffer[layer_name].parameters[parameter_name]
                for modifier in modifiers:
                    # one modifier object may serve several parameters (a 'default')
                    modifier.layer_name, modifier.view_name = layer_name, parameter_name
                    modifier(self.handler, view)

    def apply_gradient_modifiers(self):
        """Run the gradient modifiers on the gradients now."""
        for layer_name, parameters in self.gradient_modifiers.items():
            for parameter_name, modifiers in parameters.items():
                view = self.buffer[layer_name].gradients[parameter_name]
                weights = self.buffer[layer_name].parameters[parameter_name]
                for modifier in modifiers:
                    modifier.layer_name, modifier.view_name = layer_name, parameter_name
                    if modifier.needs_parameters:
                        modifier(self.handler, view, parameters=weights)
                    elif getattr(modifier, 'takes_parameters_and_gradients', False):
                        modifier(self.handler, weights, view)   # a 0.5 GradientModifier
                    else:   # brainstorm 0.5's call of a value modifier on gradients
                        modifier(self.handler, view)

    def __repr__(self):
        return (f"<Network: {len(self.layers)} layers, "
                f"{self.buffer_manager.parameter_size} parameters, handler "
                f"{type(self.handler).__name__}>")


def _layers_influenced_by_parameters(layers):
    """Names of the layers whose outputs depend on a trainable parameter.

    Args:
        layers (OrderedDict[str, Layer]): topologically sorted.

    Returns:
        set[str]: a layer is in it if it has a parameter that gets a gradient,
        or if one of its inputs comes from a layer in it.
    """
    influenced = set()
    for name, layer in layers.items():
        trainable = set(layer.parameter_shapes) - set(layer.computes_no_gradients_for)
        if trainable or any(source in influenced for _, source, _ in layer.incoming):
            influenced.add(name)
    return influenced


def _merge_patterns(default_or_dict, kwargs):
    if default_or_dict is None:
        patterns = {}
    elif isinstance(default_or_dict, dict):
        patterns = dict(default_or_dict)
    else:
        patterns = {'default': default_or_dict}
    patterns.update(kwargs)
    return patterns


def _structure_of(layer, field, name):
    table = {'outputs': layer.out_shapes, 'output_deltas': layer.out_shapes,
             'internals': layer.internal_shapes}.get(field, {})
    name = layer.output_aliases.get(name, name) if field in ('outputs', 'output_deltas') \
        else name
    return table.get(name)


def _guess_output_name(layers):
    """The path scorers read by default: the predictions of the (single) loss-computing layer."""
    for name, layer in layers.items():
        for candidate in ('predictions', 'probabilities'):
            if candidate in layer.out_shapes:
                return f"{name}.outputs.{candidate}"
    return ''


def _attr_text(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    return repr(value)


def _check_network_file_format(f, filename):
    """Raise FileFormatError unless the open HDF5 file ``f`` is a network file we read."""
    format_name = f.attrs.get('format')
    if isinstance(format_name, bytes):
        format_name = format_name.decode('utf-8', 'replace')
    # compare only text: '!=' on an opaque (np.void) attribute raises TypeError
    if not isinstance(format_name, str) or format_name != HDF5_FORMAT:
        raise FileFormatError(
            f"{filename}: not a brainstorm network file (attribute 'format' is "
            f"{_attr_text(f.attrs.get('format'))}, expected {HDF5_FORMAT!r})")
    version = f.attrs.get('format_version', -1)
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)):
        raise FileFormatError(f"{filename}: attribute 'format_version' must be an "
                              f"integer, got {_attr_text(version)}")
    version = int(version)
    if version > HDF5_FORMAT_VERSION:
        raise FileFormatError(f"{filename}: network file format version {version} "
                              f"is newer than this brainstorm supports "
                              f"({HDF5_FORMAT_VERSION})")


@contextlib.contextmanager
def _open_network_file(filename):
    """Open the brainstorm network file ``filename`` (a str) for reading.

    Yields:
        (h5py.File, dict): the open file, its format checked, and its stored description.

    Raises:
        FileFormatError: if the file is missing, not HDF5 or not a brainstorm network
            (also for an OSError of h5py while the caller reads the file).
    """
    import h5py
    if not os.path.exists(filename):
        raise FileFormatError(f"{filename}: no such file")
    try:
        with h5py.File(filename, 'r') as f:
            _check_network_file_format(f, filename)
            yield f, _read_json_attr(f, 'description', filename)
    except OSError as error:
        raise FileFormatError(f"{filename}: cannot be read as HDF5 ({error})") from error


def read_network_description(filename):
    """The description stored in a network file (architecture, output name, ...),
    read without its parameters and without building the network.

    Raises:
        FileFormatError: as :meth:`Network.from_hdf5`.
    """
    filename = os.fspath(filename)
    with _open_network_file(filename) as (_, description):
        pass
    if not isinstance(description, dict) or not isinstance(
            description.get('architecture'), dict):
        raise FileFormatError(f"{filename}: the network description has no architecture")
    return description


def stored_components(description, filename):
    """{kind: {name: object}} of the initializers and modifiers a network file stores.

    Raises:
        FileFormatError: a stored description is not one of registered components.
    """
    # the stored descriptions name these classes: make sure they are registered
    import brainstorm.initializers  # noqa: F401
    import brainstorm.value_modifiers  # noqa: F401
    components = {}
    for kind in ('initializers', 'weight_modifiers', 'gradient_modifiers'):
        if kind in description:
            try:
                components[kind] = dict(create_from_description(description[kind]))
            except (BrainstormError, TypeError, ValueError, KeyError, AttributeError,
                    RecursionError) as error:
                raise FileFormatError(f"{filename}: stored {kind} are invalid: "
                                      f"{error}") from error
    return components


def _read_json_attr(f, name, filename):
    if name not in f.attrs:
        raise FileFormatError(f"{filename}: attribute {name!r} is missing")
    text = f.attrs[name]
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not isinstance(text, str):
        raise FileFormatError(f"{filename}: attribute {name!r} is not text")
    try:
        return json.loads(text)
    except RecursionError:
        raise FileFormatError(f"{filename}: attribute {name!r} is nested too deeply") from None
    except ValueError as error:
        raise FileFormatError(f"{filename}: attribute {name!r} is not valid JSON "
                              f"({error})") from error
