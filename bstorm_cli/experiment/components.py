"""The component kinds of an experiment file and the engine classes behind each ``type``.

An experiment names engine objects as ``{type: Name, argument: value, ...}``, with the
constructor's own argument names. This module says, for each kind of component, which
names exist and what callable builds them; the schemas in ``schemas/<kind>.schema.json``
describe their arguments (a test checks both agree, defaults included).

Arguments that the CLI supplies itself are not written in experiment files; they are
listed in ``INJECTED_ARGUMENTS`` (the wrapped iterator, the data arrays of a source, a
layer's name, which is its key in the layer graph).
"""

import importlib
import inspect

#: the kinds of components, in the order the reference documents them
KINDS = ('layer', 'iterator', 'initializer', 'modifier', 'scorer', 'stepper', 'schedule',
         'hook', 'handler')

#: a short human description of each kind (used in messages and the reference)
KIND_DESCRIPTIONS = {
    'layer': 'a layer of the network graph (brainstorm.layers)',
    'iterator': 'a data iterator or augmentation in an iterator chain '
                '(brainstorm.data_iterators)',
    'initializer': 'a parameter initializer (brainstorm.initializers)',
    'modifier': 'a weight or gradient modifier (brainstorm.value_modifiers)',
    'scorer': 'a scorer for monitoring and evaluation (brainstorm.scorers)',
    'stepper': 'the training stepper (brainstorm.training.steppers)',
    'schedule': 'a schedule for a stepper attribute (brainstorm.training.schedules)',
    'hook': 'a trainer hook (brainstorm.hooks)',
    'handler': 'the handler that does the arithmetic (brainstorm.handlers)',
}

#: base classes and helpers that are not components themselves
_NOT_COMPONENTS = {'DataIterator', 'Initializer', 'ValueModifier', 'Scorer', 'Handler',
                   'Hook', 'TrainingStepper', 'Schedule', 'Monitor'}

#: components an experiment file cannot express, with the reason (the docs list them)
EXCLUDED = {
    'hook': {'InfoUpdater': 'needs a Sacred run object, which a YAML file cannot hold; '
                            'use it from Python'},
}

#: constructor arguments the CLI fills in, per kind (never written in experiment files)
INJECTED_ARGUMENTS = {
    'layer': {'name'},
    'iterator': {'iter', 'named_data'},
}

#: keys that are part of the file's structure, not constructor arguments
STRUCTURAL_KEYS = {
    'layer': {'type', 'outgoing'},
}


def _public_classes(module_name, base_name=None):
    """name -> class of the public classes of ``module_name`` (by ``__all__``)."""
    module = importlib.import_module(module_name)
    names = getattr(module, '__all__', None) or [
        name for name in vars(module) if not name.startswith('_')]
    found = {}
    for name in names:
        value = getattr(module, name, None)
        if not inspect.isclass(value) or name in _NOT_COMPONENTS or name.startswith('_'):
            continue
        if base_name and not any(base.__name__ == base_name for base in value.__mro__):
            continue
        if inspect.isabstract(value):
            continue
        found[name] = value
    return found


def _layers():
    import brainstorm.layers as layers
    return {name: getattr(layers, name) for name in layers.__all__ if name not in layers.HELPERS}


def _iterators():
    return _public_classes('brainstorm.data_iterators', 'DataIterator')


def _initializers():
    return _public_classes('brainstorm.initializers', 'Initializer')


def _modifiers():
    return _public_classes('brainstorm.value_modifiers', 'ValueModifier')


def _scorers():
    return _public_classes('brainstorm.scorers', 'Scorer')


def _steppers():
    return _public_classes('brainstorm.training.steppers', 'TrainingStepper')


def _schedules():
    return _public_classes('brainstorm.training.schedules', 'Schedule')


def _hooks():
    return _public_classes('brainstorm.hooks', 'Hook')


def _handlers():
    import brainstorm.handlers as handlers
    found = {}
    for name in ('NumpyHandler', 'DebugHandler', 'PyCudaHandler'):
        try:
            found[name] = getattr(handlers, name)
        except (AttributeError, ImportError):  # a handler this installation lacks
            continue
    return found


_FINDERS = {'layer': _layers, 'iterator': _iterators, 'initializer': _initializers,
            'modifier': _modifiers, 'scorer': _scorers, 'stepper': _steppers,
            'schedule': _schedules, 'hook': _hooks, 'handler': _handlers}

_cache = {}


def component_classes(kind):
    """name -> class (or layer factory) of every component of ``kind``.

    A kind whose engine module is not importable yields an empty dict.
    """
    if kind not in _cache:
        try:
            found = _FINDERS[kind]()
        except ImportError:
            found = {}
        _cache[kind] = {name: value for name, value in found.items()
                        if name not in EXCLUDED.get(kind, {})}
    return dict(_cache[kind])


def constructor_parameters(kind, name):
    """The ``inspect.Parameter``s an experiment file may set for component ``name``.

    Leaves out ``self``, the arguments the CLI injects and ``*args``/``**kwargs``.
    """
    target = component_classes(kind)[name]
    signature = inspect.signature(target)
    injected = INJECTED_ARGUMENTS.get(kind, set())
    return [parameter for parameter in signature.parameters.values()
            if parameter.name not in injected and parameter.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


#: how a constructor argument is spelled in a file when its name is taken by the
#: component's ``type`` key (Pooling2D's own ``type``, 'max' or 'avg', is ``type_``)
RESERVED_SUFFIX = '_'


def file_key(argument_name):
    """The key that sets constructor argument ``argument_name`` in an experiment file."""
    return argument_name + RESERVED_SUFFIX if argument_name == 'type' else argument_name


def argument_name(key):
    """The constructor argument that file key ``key`` sets (inverse of :func:`file_key`)."""
    return 'type' if key == 'type' + RESERVED_SUFFIX else key


def default_as_json(value):
    """A constructor default as it is written in a schema and an experiment file.

    Tuples become lists and numpy dtypes (``numpy.float32``) their names ('float32');
    everything else is kept.
    """
    import numpy as np
    if isinstance(value, tuple):
        return [default_as_json(item) for item in value]
    if isinstance(value, type) and issubclass(value, np.generic) or isinstance(value, np.dtype):
        return np.dtype(value).name
    return value
