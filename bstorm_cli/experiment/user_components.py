"""Components of the user's own, named by import path: ``type: mypkg.hooks:MyHook``.

An experiment may name a class (for a layer: its factory function) of a module it
lists in the top-level ``imports:`` key, for layers, hooks, scorers, initializers,
modifiers, steppers, iterators and schedules. Listing a module is what makes
importing it allowed: a file from someone else cannot run code by naming a module
it does not list, and loading a network or a run directory never imports anything.

When an experiment is loaded, :func:`check_and_import` checks every ``MODULE:NAME``
against ``imports:`` and imports the listed modules (located errors otherwise).
:func:`build` then creates such a component like a built-in one: its arguments are
checked against the constructor's signature, with the same located "unknown key" /
"missing required key" errors the schemas give built-ins. An argument that is a
``{type: ...}`` mapping (or a list of them) is built as the component its type names
(a schedule, a scorer, ...); other values are passed as they are.
"""

import difflib
import importlib
import inspect
import re

from bstorm_cli.errors import BadInputError

#: ``module.path:ClassName``, the form the schemas accept for a user component
IMPORT_PATH = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_]\w*$')

#: kind -> (module, base class name) a user component of that kind must derive from
BASES = {
    'hook': ('brainstorm.hooks.base', 'Hook'),
    'scorer': ('brainstorm.scorers', 'Scorer'),
    'initializer': ('brainstorm.initializers', 'Initializer'),
    'modifier': ('brainstorm.value_modifiers', 'ValueModifier'),
    'stepper': ('brainstorm.training.steppers', 'TrainingStepper'),
    'iterator': ('brainstorm.data_iterators', 'DataIterator'),
    'schedule': ('brainstorm.training.schedules', 'Schedule'),
}
#: modules listed in the ``imports:`` of experiments loaded by this process
_trusted = set()


def is_import_path(type_name):
    return isinstance(type_name, str) and ':' in type_name


def class_name(type_name):
    """The class part of a type ('MyHook' for 'mypkg.hooks:MyHook'; built-ins unchanged)."""
    return type_name.rpartition(':')[2] if is_import_path(type_name) else type_name


def _typed_nodes(value, path=()):
    """(path, mapping) of every mapping with a string ``type`` in a document."""
    if isinstance(value, dict):
        if isinstance(value.get('type'), str):
            yield path, value
        for key, item in value.items():
            yield from _typed_nodes(item, path + (key,))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _typed_nodes(item, path + (position,))


def check_and_import(experiment):
    """Check every ``MODULE:NAME`` type against ``imports:``; import the listed modules.

    Returns:
        list[BadInputError]: located problems (nothing is imported when there are any
        for a module's own listing).
    """
    from brainstorm.layers.base_layer import registered_layer_types
    listed = experiment.resolved.get('imports') or []
    problems = []
    for position, module_name in enumerate(listed):
        before = registered_layer_types()
        try:
            importlib.import_module(module_name)
        except Exception as error:  # the user's module: any failure is a bad input
            problems.append(experiment.error(
                f"cannot import {module_name!r}: {type(error).__name__}: {error}",
                'imports', position,
                hint="the module must be importable from the current folder or PYTHONPATH"))
            continue
        after = registered_layer_types()
        replaced = [name for name in before if after[name] is not before[name]]
        if replaced:
            problems.append(experiment.error(
                f"{module_name!r} replaces the layer type {replaced[0]!r}", 'imports',
                position, hint=f"name its LayerImpl class differently from "
                               f"{replaced[0]}LayerImpl"))
            continue
        _trusted.add(module_name)
    for path, node in _typed_nodes(experiment.document):
        if not is_import_path(node['type']):
            continue
        module_name = node['type'].partition(':')[0]
        if module_name not in listed:
            problems.append(experiment.error(
                f"module {module_name!r} is not listed in imports:, so it is not imported",
                *path, 'type',
                hint=f"if you trust it, add `imports: [{module_name}]` at the top of the file"))
    return problems


def resolve(kind, type_name, location):
    """The class (a layer: factory) that ``MODULE:NAME`` names; checked against its kind."""
    module_name, _, name = type_name.partition(':')
    if module_name not in _trusted:
        raise BadInputError(f"module {module_name!r} is not listed in imports:", location)
    module = importlib.import_module(module_name)
    target = getattr(module, name, None)
    if target is None:
        public = [key for key in vars(module) if not key.startswith('_')]
        close = difflib.get_close_matches(name, public, n=1)
        raise BadInputError(f"module {module_name!r} has no {name!r}", location,
                            f"did you mean {close[0]!r}?" if close else None)
    if kind == 'layer':
        if not callable(target):
            raise BadInputError(f"{type_name} is not a layer factory", location)
        return target
    if kind not in BASES:
        raise BadInputError(f"a {kind} cannot be named by import path", location)
    base = getattr(importlib.import_module(BASES[kind][0]), BASES[kind][1])
    if not inspect.isclass(target) or not issubclass(target, base):
        raise BadInputError(f"{type_name} is not a {kind}: expected a subclass of "
                            f"{BASES[kind][0]}.{BASES[kind][1]}", location)
    return target


def check_arguments(target, type_name, spec, path, locate, injected=(), skip=('type',)):
    """Raise a located BadInputError if ``spec``'s keys do not fit ``target``'s signature."""
    parameters = {name: parameter
                  for name, parameter in inspect.signature(target).parameters.items()
                  if name not in injected}
    takes_any = any(parameter.kind == inspect.Parameter.VAR_KEYWORD
                    for parameter in parameters.values())
    named = {name for name, parameter in parameters.items()
             if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL,
                                       inspect.Parameter.VAR_KEYWORD)}
    for key in spec:
        if key in skip or key in named or takes_any:
            continue
        close = difflib.get_close_matches(key, sorted(named), n=1)
        raise BadInputError(f"unknown key {key!r} for {type_name}", locate(path + (key,)),
                            f"did you mean {close[0]!r}?" if close else
                            f"{type_name} takes: {', '.join(sorted(named)) or 'nothing'}")
    for name in sorted(named):
        parameter = parameters[name]
        if parameter.default is inspect.Parameter.empty and name not in spec:
            raise BadInputError(f"missing required key {name!r} of {type_name}", locate(path))


def build(kind, spec, path, locate, injected=None):
    """Create the user component ``spec`` ({type: MODULE:NAME, ...}) of ``kind``."""
    from bstorm_cli.experiment.build import engine_errors, error_text
    type_name = spec['type']
    target = resolve(kind, type_name, locate(path + ('type',)))
    injected = dict(injected or {})
    check_arguments(target, type_name, spec, path, locate, injected=set(injected))
    arguments = {key: _nested(value, path + (key,), locate)
                 for key, value in spec.items() if key != 'type'}
    arguments.update(injected)
    try:
        return target(**arguments)
    except engine_errors() as error:
        raise BadInputError(f"{type_name}: {error_text(error)}", locate(path)) from error


def _kind_of(type_name, location):
    """The component kind a nested ``type`` names (no layers or handlers nest)."""
    from bstorm_cli.experiment import components
    if is_import_path(type_name):
        target = resolve_any(type_name, location)
        for kind, (module_name, base_name) in BASES.items():
            if issubclass(target, getattr(importlib.import_module(module_name), base_name)):
                return kind
        return None
    for kind in components.KINDS:
        if kind not in ('layer', 'handler') and type_name in components.component_classes(kind):
            return kind
    return None


def resolve_any(type_name, location):
    """The class ``MODULE:NAME`` names, of any kind."""
    module_name, _, name = type_name.partition(':')
    if module_name not in _trusted:
        raise BadInputError(f"module {module_name!r} is not listed in imports:", location)
    target = getattr(importlib.import_module(module_name), name, None)
    if not inspect.isclass(target):
        raise BadInputError(f"module {module_name!r} has no class {name!r}", location)
    return target


def _nested(value, path, locate):
    """An argument of a user component: ``{type: ...}`` mappings (and lists of them) are
    built as the component their type names (a schedule, a scorer, ...); the rest is kept."""
    from bstorm_cli.experiment.build import build_component
    if isinstance(value, list):
        return [_nested(item, path + (position,), locate) for position, item in
                enumerate(value)]
    if not isinstance(value, dict) or not isinstance(value.get('type'), str):
        return value
    kind = _kind_of(value['type'], locate(path + ('type',)))
    if kind is None:
        return value
    return build_component(kind, value, path, locate)


def registered_layers(layers, locate):
    """``network.layers`` with each ``MODULE:NAME`` type replaced by its registered name.

    The factory is called once with the layer's arguments (checked against its
    signature first): the ConstructionWrapper it returns names the registered type.
    """
    from brainstorm.layers.base_layer import registered_layer_types
    from bstorm_cli.experiment.build import engine_errors, error_text
    result = {}
    for name, spec in layers.items():
        if not is_import_path(spec.get('type')):
            result[name] = spec
            continue
        path = ('network', 'layers', name)
        factory = resolve('layer', spec['type'], locate(path + ('type',)))
        check_arguments(factory, spec['type'], spec, path, locate, injected={'name'},
                        skip=('type', 'outgoing'))
        arguments = {key: value for key, value in spec.items() if key not in ('type',
                                                                               'outgoing')}
        try:
            wrapper = factory(name=name, **arguments)
        except engine_errors() as error:
            raise BadInputError(f"{spec['type']}: {error_text(error)}", locate(path)) \
                from error
        layer_type = getattr(wrapper, 'layer_type', None)
        if layer_type not in registered_layer_types():
            raise BadInputError(f"{spec['type']} did not return a layer of a registered "
                                f"type (a ConstructionWrapper of a <Name>LayerImpl)",
                                locate(path + ('type',)))
        result[name] = dict(spec, type=layer_type)
    return result
