"""Turning a validated experiment into engine objects: data, network, trainer, hooks.

Every constructor error is reported at the place in the file that caused it, as a
one-line :class:`~bstorm_cli.errors.BadInputError`. Objects are built in a fixed
order after ``global_rnd.set_seed(seed)`` (iterators, then the network and its
initialization, then stepper and hooks), so the same experiment builds the same
objects: that is what makes ``--resume`` exact.
"""

import contextlib
import dataclasses
import inspect
import pathlib

import numpy as np

from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.experiment import components, schemas, user_components

BUILTIN_PREFIX = 'builtin:'
#: data files that ship with brainstorm, usable as ``data.file: builtin:NAME``
BUILTIN_DATA = {'digits': 'brainstorm.datasets.digits:digits_path'}
SOURCE_ITERATORS = ('Minibatches', 'Online', 'Undivided', 'SequenceWindows')


def engine_errors():
    """The engine exception types that mean "bad input" (a tuple for ``except``)."""
    from brainstorm.errors import BrainstormError
    return (BrainstormError, TypeError, ValueError, KeyError)


def error_text(error):
    """The message of an engine exception without KeyError's quotes."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


@contextlib.contextmanager
def located_engine_errors(where):
    """Inside, an engine error (:func:`engine_errors`) becomes a BadInputError with
    its text, located at ``where(error)`` (a Location); an environment variable's bad
    value (EnvironmentSettingError) is not located in the experiment file."""
    from brainstorm.errors import EnvironmentSettingError
    try:
        yield
    except engine_errors() as error:
        location = None if isinstance(error, EnvironmentSettingError) else where(error)
        raise BadInputError(error_text(error), location) from error


# ---- components -------------------------------------------------------------------------------

def _nested_kind(kind, property_schema):
    """The component kind a property holds ('scorer' for a list of scorers), or None."""
    if not isinstance(property_schema, dict):
        return None
    for candidate in (property_schema, property_schema.get('items')):
        if not isinstance(candidate, dict) or '$ref' not in candidate:
            continue
        reference = candidate['$ref']
        if reference == '#':
            return kind
        if reference.endswith('#/$defs/initializer_value'):
            return 'initializer'
        if reference.endswith('#/$defs/number_or_schedule'):
            return 'schedule'
        if reference.endswith('.schema.json'):
            return reference[:-len('.schema.json')]
    return None


def build_component(kind, spec, path, locate, injected=None):
    """Create the component ``spec`` ({type: Name, arg: value}) of ``kind``.

    Nested components (a hook's scorers, an initializer's sub_initializer, a
    schedule for a stepper attribute, a wrapped handler) are built first.

    Args:
        kind (str): 'hook', 'initializer', ...
        spec (dict): the validated component mapping.
        path (tuple): its JSON path, for error locations.
        locate: callable path -> Location.
        injected (Optional[dict]): arguments the CLI supplies (``iter``, data arrays).

    Raises:
        BadInputError: the constructor rejected the arguments.
    """
    type_name = spec['type']
    target = components.component_classes(kind).get(type_name)
    if target is None and user_components.is_import_path(type_name):
        return user_components.build(kind, spec, path, locate, injected)
    if target is None:
        raise BadInputError(f"unknown {kind} type {type_name!r}", locate(path + ('type',)),
                            schemas._did_you_mean(type_name, components.component_classes(kind)))
    definition = schemas.component_definition(kind, type_name) or {}
    properties = definition.get('properties', {})
    arguments = {}
    for key, value in spec.items():
        if key in components.STRUCTURAL_KEYS.get(kind, ()) or key == 'type':
            continue
        arguments[components.argument_name(key)] = _build_value(
            kind, properties.get(key), value, path + (key,), locate)
    if kind == 'handler' and 'dtype' in arguments:
        arguments['dtype'] = np.dtype(arguments['dtype']).type
    arguments.update(injected or {})
    try:
        return target(**arguments)
    except engine_errors() as error:
        raise BadInputError(f"{type_name}: {error_text(error)}", locate(path)) from error


def _build_value(kind, property_schema, value, path, locate):
    nested = _nested_kind(kind, property_schema)
    if nested is None:
        return _plain(value)
    if isinstance(value, dict) and 'type' in value:
        return build_component(nested, value, path, locate)
    if isinstance(value, list) and all(isinstance(item, dict) and 'type' in item
                                       for item in value):
        return [build_component(nested, item, path + (position,), locate)
                for position, item in enumerate(value)]
    return _plain(value)


def _plain(value):
    """Lists of numbers become tuples where constructors expect shapes (kept as lists)."""
    return value


# ---- data ---------------------------------------------------------------------------------------

def resolve_data_path(file_text, folder, location):
    """The data file named by ``data.file``: 'builtin:digits' or a path (relative to folder)."""
    if file_text.startswith(BUILTIN_PREFIX):
        name = file_text[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_DATA:
            raise BadInputError(f"unknown built-in dataset {name!r} (built-in: "
                                f"{', '.join(BUILTIN_PREFIX + n for n in BUILTIN_DATA)})",
                                location, schemas._did_you_mean(name, BUILTIN_DATA))
        import importlib
        module_name, function_name = BUILTIN_DATA[name].split(':')
        return pathlib.Path(getattr(importlib.import_module(module_name), function_name)())
    path = pathlib.Path(file_text).expanduser()
    if not path.is_absolute():
        path = pathlib.Path(folder) / path
    return path


def open_data_file(path, location):
    """Open an HDF5 data file for reading; a missing or foreign file is a BadInputError."""
    import h5py
    if not path.exists():
        raise BadInputError(f"data file {str(path)!r} does not exist", location,
                            hint=_prepare_hint(path))
    if path.is_dir():
        raise BadInputError(f"data file {str(path)!r} is a folder, expected an HDF5 file",
                            location)
    try:
        return h5py.File(path, 'r')
    except OSError as error:
        raise BadInputError(f"data file {str(path)!r} is not a readable HDF5 file "
                            f"({_short_os_error(error)})", location) from error


def _prepare_hint(path):
    return ("create it with `bstorm data prepare NAME --source DIR -o FILE` "
            "(see `bstorm data prepare --help`)")


def _short_os_error(error):
    text = str(error)
    return text.split('(')[0].strip().rstrip(',') or type(error).__name__


@dataclasses.dataclass
class DataSources:
    """The open data file and one iterator per name in ``data.iterators``."""

    path: pathlib.Path
    h5file: object
    iterators: dict
    attributes: dict

    def close(self):
        try:
            self.h5file.close()
        except Exception:  # closing a file that h5py already closed
            pass


def _split_group(h5file, data, name, chain_spec, locate):
    group_name = data.get('group') or ''
    split = chain_spec.get('split') or name
    full = f"{group_name}/{split}".strip('/')
    import h5py
    where = ('data', 'iterators', name, 'split') if chain_spec.get('split') else \
        ('data', 'iterators', name)
    if group_name and group_name not in h5file:
        groups = [key for key in h5file if isinstance(h5file[key], h5py.Group)]
        raise BadInputError(f"the data file has no group {group_name!r} (groups: "
                            f"{', '.join(groups) or 'none'})", locate(('data', 'group')),
                            schemas._did_you_mean(group_name, groups))
    parent = h5file[group_name] if group_name else h5file
    if split not in parent or not isinstance(parent[split], h5py.Group):
        splits = [key for key in parent if isinstance(parent[key], h5py.Group)]
        raise BadInputError(f"the data file has no split group {full!r} (found: "
                            f"{', '.join(splits) or 'none'})", locate(where),
                            schemas._did_you_mean(split, splits) or
                            ("set split: to one of them" if splits else None))
    group = parent[split]
    datasets = {key: group[key] for key in group if isinstance(group[key], h5py.Dataset)}
    names = chain_spec.get('names')
    if names is not None:
        for position, item in enumerate(names):
            if item not in datasets:
                raise BadInputError(f"split {full!r} has no dataset {item!r} (datasets: "
                                    f"{', '.join(datasets)})",
                                    locate(('data', 'iterators', name, 'names', position)),
                                    schemas._did_you_mean(item, datasets))
        datasets = {key: datasets[key] for key in names}
    if not datasets:
        raise BadInputError(f"split {full!r} holds no datasets", locate(where))
    return datasets


def build_data(experiment):
    """Open the data file and build every iterator chain of ``data.iterators``.

    Raises:
        BadInputError: missing or foreign file, missing groups or datasets, shapes
            that do not fit, or settings an iterator rejects.
    """
    data = experiment.resolved['data']
    locate = experiment.index.locate
    path = resolve_data_path(data['file'], experiment.folder, locate(('data', 'file')))
    h5file = open_data_file(path, locate(('data', 'file')))
    try:
        iterators = {}
        for name, chain_spec in data['iterators'].items():
            datasets = _split_group(h5file, data, name, chain_spec, locate)
            iterators[name] = _build_chain(name, chain_spec['chain'], datasets, locate)
        attributes = {key: _attribute(value) for key, value in h5file.attrs.items()}
    except BaseException:
        h5file.close()
        raise
    return DataSources(path=path, h5file=h5file, iterators=iterators, attributes=attributes)


#: data file attributes a network keeps (``Network.data_description``): what decodes its
#: inputs and outputs (the text converter's alphabet, class names)
DESCRIBING_ATTRIBUTES = ('alphabet', 'label_names')


def data_description(attributes):
    """The attributes of a data file worth saving with a network trained on it."""
    return {key: attributes[key] for key in DESCRIBING_ATTRIBUTES
            if isinstance(attributes.get(key), list) and attributes[key]}


def _attribute(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if isinstance(value, np.ndarray):
        return [_attribute(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _build_chain(name, chain, datasets, locate):
    base = ('data', 'iterators', name, 'chain')
    first = chain[0]['type']
    if first not in SOURCE_ITERATORS:
        raise BadInputError(f"an iterator chain starts with a source "
                            f"({', '.join(SOURCE_ITERATORS)}), got the wrapper {first!r}",
                            locate(base + (0, 'type')),
                            hint=f"put {{type: Minibatches}} before {first}")
    iterator = None
    for position, spec in enumerate(chain):
        if position and spec['type'] in SOURCE_ITERATORS:
            raise BadInputError(f"{spec['type']} is a source; only the first iterator of a "
                                f"chain reads data, the others wrap it",
                                locate(base + (position, 'type')))
        injected = dict(datasets) if position == 0 else {'iter': iterator}
        iterator = build_component('iterator', spec, base + (position,), locate, injected)
    return iterator


# ---- network --------------------------------------------------------------------------------

def infer_out_shape(task_type, sources, training_name, targets_name, location):
    """Number of classes (classification) or targets feature shape from the data."""
    attributes = sources.attributes
    iterator = sources.iterators[training_name]
    if targets_name not in iterator.data_shapes:
        raise BadInputError(f"the training data has no item {targets_name!r} to infer the "
                            f"output shape from (items: {', '.join(iterator.data_shapes)})",
                            location, hint="set network.out_shape")
    if task_type != 'classification':
        return list(iterator.data_shapes[targets_name][2:])
    for key in ('label_names', 'alphabet'):
        if isinstance(attributes.get(key), list) and attributes[key]:
            return len(attributes[key])
    if isinstance(attributes.get('alphabet_size'), int):
        return attributes['alphabet_size']
    targets = _find_dataset(iterator, targets_name)
    if targets is None:
        raise BadInputError("cannot infer the number of classes", location,
                            hint="set network.out_shape")
    from bstorm_cli.experiment.data_values import storage_problems
    problem = storage_problems(targets_name, targets)
    if problem:
        raise BadInputError(problem, location)
    largest = 0
    step = max(1, 1_000_000 // max(1, int(np.prod(targets.shape[2:])) * targets.shape[0]))
    for start in range(0, targets.shape[1], step):
        largest = max(largest, int(np.max(targets[:, start:start + step])))
    return largest + 1


def _find_dataset(iterator, name):
    while iterator is not None:
        for attribute in ('named_data', 'data'):
            store = getattr(iterator, attribute, None)
            if isinstance(store, dict) and name in store:
                return store[name]
        iterator = getattr(iterator, 'iter', None)
    return None


def build_network(experiment, sources=None):
    """Create (but do not initialize) the network of ``experiment``.

    ``sources`` are needed for a ``spec`` network whose shapes are read from the data.
    """
    network_spec = experiment.resolved['network']
    locate = experiment.index.locate
    if 'layers' in network_spec:
        return _network_from_layers(network_spec, locate)
    from brainstorm import tools
    arguments, keywords = _spec_arguments(experiment, sources)
    with located_engine_errors(lambda error: locate(('network', 'spec'))):
        return tools.create_net_from_spec(*arguments, **keywords)


def build_architecture(experiment, sources=None):
    """The architecture (spec 9.3) of the network of ``experiment``, validated as
    :func:`build_network` validates it, with nothing allocated.

    Returns:
        tuple: the architecture dict and the network's ``output_name`` (None: the
        network's default).
    """
    from brainstorm.structure.architecture import instantiate_layers_from_architecture
    network_spec = experiment.resolved['network']
    locate = experiment.index.locate
    if 'layers' in network_spec:
        architecture = _architecture_of_layers(network_spec, locate)
        with _located_at_a_layer(network_spec, locate):
            instantiate_layers_from_architecture(architecture)
        return architecture, network_spec.get('output_name') or None
    from brainstorm.tools.network_building import create_architecture_from_spec
    arguments, keywords = _spec_arguments(experiment, sources)
    with located_engine_errors(lambda error: locate(('network', 'spec'))):
        return create_architecture_from_spec(*arguments, **keywords), None


def _spec_arguments(experiment, sources):
    """The arguments of ``create_net_from_spec`` for a ``network.spec`` experiment, with
    the shapes a null ``in_shape``/``out_shape`` leaves to the training data."""
    network_spec = experiment.resolved['network']
    locate = experiment.index.locate
    training_name = experiment.resolved['trainer']['training_iterator']
    in_shape, out_shape = network_spec['in_shape'], network_spec['out_shape']
    if (in_shape is None or out_shape is None) and (
            sources is None or training_name not in sources.iterators):
        raise BadInputError(f"cannot infer the network's shapes: no iterator named "
                            f"{training_name!r} in data.iterators",
                            locate(('trainer', 'training_iterator')))
    if in_shape is None:
        shapes = sources.iterators[training_name].data_shapes
        data_name = network_spec['data_name']
        if data_name not in shapes:
            raise BadInputError(f"the training data has no item {data_name!r} (items: "
                                f"{', '.join(shapes)})", locate(('network', 'data_name')),
                                schemas._did_you_mean(data_name, shapes))
        in_shape = list(shapes[data_name][2:]) or [1]
    if out_shape is None:
        out_shape = infer_out_shape(network_spec['task_type'], sources, training_name,
                                    network_spec['targets_name'], locate(('network',)))
    keywords = dict(data_name=network_spec['data_name'],
                    targets_name=network_spec['targets_name'],
                    mask_name=network_spec['mask_name'], use_conv=network_spec['use_conv'])
    return (network_spec['task_type'], _shape(in_shape), _shape(out_shape),
            network_spec['spec']), keywords


def data_deltas_wanted(resolved):
    """The experiment's ``Network.compute_data_deltas``.

    As set in ``network.compute_data_deltas``; if unset (null), only when a
    MonitorLayerDeltas hook is there to read them: otherwise they are work whose
    result nobody sees.
    """
    setting = resolved['network'].get('compute_data_deltas')
    if setting is not None:
        return setting
    return any(hook.get('type') == 'MonitorLayerDeltas'
               for hook in resolved['trainer']['hooks'])


def _shape(shape):
    return tuple(shape) if isinstance(shape, list) else shape


def architecture_from_layers(layers):
    """The spec 9.3 architecture dict of a ``network.layers`` mapping."""
    architecture = {}
    for name, spec in layers.items():
        entry = {'@type': spec['type']}
        outgoing = spec.get('outgoing', {})
        if isinstance(outgoing, list):
            outgoing = {'default': outgoing}
        entry['@outgoing_connections'] = {key: list(value) for key, value in outgoing.items()}
        for key, value in spec.items():
            if key not in ('type', 'outgoing'):
                entry[components.argument_name(key)] = value
        if spec['type'] == 'Input':
            entry['out_shapes'] = {key: list(value) if value[:2] == ['T', 'B'] else
                                   ['T', 'B'] + list(value)
                                   for key, value in spec['out_shapes'].items()}
        architecture[name] = entry
    return architecture


def _architecture_of_layers(network_spec, locate):
    return architecture_from_layers(
        user_components.registered_layers(network_spec['layers'], locate))


def _located_at_a_layer(network_spec, locate):
    return located_engine_errors(lambda error: _layer_location(error, network_spec, locate))


def _network_from_layers(network_spec, locate):
    from brainstorm.structure.network import Network
    architecture = _architecture_of_layers(network_spec, locate)
    with _located_at_a_layer(network_spec, locate):
        network = Network.from_architecture(architecture)
    if network_spec.get('output_name'):
        network.output_name = network_spec['output_name']
    return network


def _layer_location(error, network_spec, locate):
    """The location of the layer an engine error names ("layer 'H1': ..."), if any."""
    text = error_text(error)
    for name in network_spec['layers']:
        if f"'{name}'" in text or text.startswith(f"{name}:") or text.startswith(f"{name} "):
            return locate(('network', 'layers', name))
    return locate(('network', 'layers'))


def build_handler(spec, locate, path=('handler',)):
    """The handler component (NumpyHandler, DebugHandler(NumpyHandler), PyCudaHandler)."""
    return build_component('handler', spec, path, locate)


def pattern_dict(kind, patterns, path, locate):
    """An initializer or modifier pattern dict with its components built."""
    value_kind = kind
    result = {}
    for pattern, value in patterns.items():
        where = path + (pattern,)
        if isinstance(value, dict) and 'type' not in value:
            result[pattern] = {name: _pattern_value(value_kind, item, where + (name,), locate)
                               for name, item in value.items()}
        else:
            result[pattern] = _pattern_value(value_kind, value, where, locate)
    return result


def _pattern_value(kind, value, path, locate):
    if isinstance(value, dict):
        return build_component(kind, value, path, locate)
    if isinstance(value, list) and kind == 'modifier':
        return [build_component(kind, item, path + (position,), locate)
                for position, item in enumerate(value)]
    if isinstance(value, list):
        return np.asarray(value, dtype=np.float64)
    return value


DEFAULT_GRAPH_INITIALIZERS = {'default': {'type': 'Gaussian', 'std': 0.1}}


def initialize_network(experiment, network):
    """Apply ``initializers`` and the modifiers of ``experiment`` to ``network``."""
    resolved = experiment.resolved
    locate = experiment.index.locate
    patterns = resolved.get('initializers')
    if patterns is None and 'layers' in resolved['network']:
        patterns = DEFAULT_GRAPH_INITIALIZERS
    if patterns is not None:
        initializers = pattern_dict('initializer', patterns, ('initializers',), locate)
        try:
            network.initialize(initializers, seed=None)
        except engine_errors() as error:
            raise BadInputError(error_text(error), locate(('initializers',))) from error
    for section, setter in (('weight_modifiers', network.set_weight_modifiers),
                            ('gradient_modifiers', network.set_gradient_modifiers)):
        if resolved.get(section):
            modifiers = pattern_dict('modifier', resolved[section], (section,), locate)
            try:
                setter(modifiers)
            except engine_errors() as error:
                raise BadInputError(error_text(error), locate((section,))) from error


def signature_defaults(target):
    """name -> default of a callable's parameters (for tests and the reference)."""
    return {name: parameter.default
            for name, parameter in inspect.signature(target).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def location_of(experiment, *path):
    """Shorthand: the Location of ``path`` in ``experiment``."""
    return experiment.index.locate(path) if experiment is not None else Location()


# ---- data for evaluate / extract ------------------------------------------------------------

def _split_paths(h5file, candidates):
    """'GROUP/SPLIT' of every split group under the candidate groups (for messages)."""
    import h5py
    found = []
    for candidate in candidates:
        parent = h5file[candidate] if candidate else h5file
        for key in parent:
            path = f"{candidate}/{key}".strip('/')
            if isinstance(parent[key], h5py.Group) and path not in candidates:
                found.append(path)
    return sorted(found)


def network_split(data_argument, split, group, network, batch_size):
    """A Minibatches iterator over ``split`` of a data file, with the network's inputs.

    Args:
        data_argument (str): a path or 'builtin:NAME'.
        split (str): the split group ('test', 'validation', ...).
        group (Optional[str]): the group holding the splits; None: the one whose
            ``split`` fits the network's inputs (names and feature shapes).
        network: the network the data is for.
        batch_size (int): sequences per batch.

    Returns:
        (iterator, h5py.File, group path): close the file when done.
    """
    import h5py
    from brainstorm.data_iterators import Minibatches
    location = Location(data_argument)
    path = resolve_data_path(data_argument, pathlib.Path.cwd(), location)
    h5file = open_data_file(path, location)
    try:
        inputs = network.layers['Input'].out_shapes
        candidates = []
        if group is not None:
            if group and group not in h5file:
                raise BadInputError(f"no group {group!r} in the file", location,
                                    schemas._did_you_mean(group, list(h5file)))
            candidates = [group]
        else:
            candidates = [''] + [key for key in h5file if isinstance(h5file[key], h5py.Group)]
        problems = []
        for candidate in candidates:
            parent = h5file[candidate] if candidate else h5file
            if split not in parent or not isinstance(parent[split], h5py.Group):
                continue
            datasets = {name: parent[split][name] for name in inputs
                        if name in parent[split]}
            where = f"{candidate}/{split}".strip('/')
            missing = [name for name in inputs if name not in datasets]
            not_arrays = [name for name, member in datasets.items()
                          if not isinstance(member, h5py.Dataset) or
                          member.dtype.kind not in 'biuf']
            if not_arrays:
                problems.append(f"{where}: {', '.join(not_arrays)} must be numeric datasets")
                continue
            if missing:
                problems.append(f"{where} lacks {', '.join(missing)}")
                continue
            wrong = [f"{name} has feature shape {tuple(datasets[name].shape[2:])}, the "
                     f"network expects {tuple(inputs[name].feature_shape)}"
                     for name in inputs
                     if tuple(datasets[name].shape[2:]) != tuple(inputs[name].feature_shape)]
            if wrong:
                problems.append(f"{where}: {'; '.join(wrong)}")
                continue
            from bstorm_cli.experiment.data_values import class_label_items, value_problems
            labels = class_label_items(network)
            for name, dataset in datasets.items():
                message = value_problems(name, dataset, labels.get(name))
                if message:
                    raise BadInputError(f"{where}: {message}", location)
            try:
                iterator = Minibatches(batch_size, shuffle=False, **datasets)
            except engine_errors() as error:
                raise BadInputError(error_text(error), location) from error
            return iterator, h5file, where
        if not problems:
            splits = _split_paths(h5file, candidates)
            names = sorted({path.split('/')[-1] for path in splits})
            raise BadInputError(f"no split {split!r} in the file"
                                + (f" under {group!r}" if group else '')
                                + (f" (splits: {', '.join(splits)})" if splits else ''),
                                location,
                                hint=schemas._did_you_mean(split, names) or
                                "choose one with --split (and --group)")
        raise BadInputError(f"split {split!r} does not fit the network: "
                            f"{' / '.join(problems)}", location)
    except BaseException:
        h5file.close()
        raise
