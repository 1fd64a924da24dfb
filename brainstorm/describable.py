"""Descriptions: JSON-serialisable dicts from which objects are re-created.

A description of a ``Describable`` is a dict with the class name under ``'@type'``
and its (non-default, described) attributes. Basic types describe themselves.
Creating an object from a description only ever instantiates classes registered
here, by name: a description read from a file cannot name a module to import or
code to run.

Names (as in brainstorm 0.5, a user's class may share its name with a built-in
one, e.g. a user's own ``class Accuracy(Scorer)``):

* brainstorm's own classes, and any class whose name no other class has, are
  described by their plain class name (``'Accuracy'``);
* a user's class whose name another registered class also has is described by
  its full name, ``'<module>.<qualified name>'`` (``'my_scorers.Accuracy'``);
* loading resolves a full name to the registered class of that module and name,
  and a plain name to brainstorm's own class of that name, or to the only class
  of that name; a plain name shared by several user classes is an error that
  lists them. Nothing is ever imported to resolve a name.
"""

import numpy as np

from brainstorm.errors import DescriptionError

#: name -> classes of that name (in definition order) of every Describable subclass.
_REGISTRY = {}


def _full_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_built_in(cls):
    return cls.__module__ == 'brainstorm' or cls.__module__.startswith('brainstorm.')


def type_name_of(cls):
    """The ``'@type'`` that describes instances of ``cls`` (see the module docstring)."""
    classes = _REGISTRY.get(cls.__name__, [])
    if _is_built_in(cls) or all(other is cls for other in classes):
        return cls.__name__
    return _full_name(cls)


def resolve_type(type_name):
    """The registered class that ``'@type'`` ``type_name`` names.

    Raises:
        DescriptionError: if no registered class has that name, or several user
            classes share a plain name (naming them).
    """
    if not isinstance(type_name, str):
        raise DescriptionError(f"@type must be a class name, got {type_name!r}")
    if type_name in _REGISTRY:
        classes = _REGISTRY[type_name]
        built_in = [cls for cls in classes if _is_built_in(cls)]
        if len(classes) == 1 or len(built_in) == 1:
            return built_in[0] if built_in else classes[0]
        raise DescriptionError(
            f"@type {type_name!r} is ambiguous: it names "
            f"{', '.join(_full_name(cls) for cls in classes)}; describe the object again "
            f"(descriptions of such classes use the full name, e.g. "
            f"{_full_name(classes[-1])!r})")
    module, _, name = type_name.rpartition('.')
    for cls in _REGISTRY.get(name.rpartition('.')[2], []) if module else []:
        if _full_name(cls) == type_name:
            return cls
    import difflib
    close = difflib.get_close_matches(type_name, list(_REGISTRY), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise DescriptionError(f"unknown @type {type_name!r}: no Describable type of "
                           f"that name is registered{hint}")


def registered_types():
    """Return name -> class of the Describable types (a plain name: what it resolves to)."""
    types = {}
    for name in _REGISTRY:
        try:
            types[name] = resolve_type(name)
        except DescriptionError:
            continue
    return types


class Describable:
    """Base class for objects that can be described and re-created.

    Attributes:
        __undescribed__: set of attribute names left out of the description, or
            a dict mapping them to the value they get when the object is
            created from a description.
        __default_values__: dict of attribute -> default value; attributes equal
            to their default are left out of the description.
    """

    __undescribed__ = {}
    __default_values__ = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a class defined again at the same place (a reloaded module) replaces the old one
        classes = [other for other in _REGISTRY.get(cls.__name__, [])
                   if _full_name(other) != _full_name(cls)]
        _REGISTRY[cls.__name__] = classes + [cls]

    @classmethod
    def __get_all_undescribed__(cls):
        undescribed = {}
        for klass in reversed(cls.__mro__):
            entries = getattr(klass, '__undescribed__', {})
            if isinstance(entries, dict):
                undescribed.update(entries)
            else:
                undescribed.update({name: None for name in entries})
        return undescribed

    @classmethod
    def __get_all_default_values__(cls):
        defaults = {}
        for klass in reversed(cls.__mro__):
            defaults.update(getattr(klass, '__default_values__', {}))
        return defaults

    def __describe__(self):
        """Return a JSON-serialisable description of this object (a dict)."""
        description = {}
        undescribed = self.__get_all_undescribed__()
        defaults = self.__get_all_default_values__()
        for key, value in self.__dict__.items():
            if key in undescribed:
                continue
            if key in defaults and _equal(defaults[key], value):
                continue
            description[key] = get_description(value)
        description['@type'] = type_name_of(type(self))
        return description

    @classmethod
    def __new_from_description__(cls, description):
        """Create a new instance of ``cls`` from ``description`` (a dict)."""
        instance = cls.__new__(cls)
        for key, value in cls.__get_all_undescribed__().items():
            setattr(instance, key, value)
        for key, value in cls.__get_all_default_values__().items():
            setattr(instance, key, value)
        undescribed = cls.__get_all_undescribed__()
        for key, value in description.items():
            if key == '@type':
                continue
            _check_description_key(cls, key, undescribed)
            setattr(instance, key, create_from_description(value))
        instance.__init_from_description__(description)
        return instance

    def __init_from_description__(self, description):
        """Hook for extra initialisation after creation from a description."""


def _check_description_key(cls, key, undescribed):
    """A description sets only data attributes: no dunder names, nothing the class
    keeps out of descriptions, no method or property (a file must not rewire objects)."""
    from brainstorm.errors import DescriptionError
    attribute = getattr(cls, key, None) if isinstance(key, str) else None
    if not isinstance(key, str) or key.startswith('__') or key in undescribed or \
            callable(attribute) or isinstance(attribute, (property, classmethod,
                                                          staticmethod)):
        raise DescriptionError(f"{cls.__name__} description: the key {key!r} is not an "
                               f"attribute a description may set")


def _equal(a, b):
    try:
        result = a == b
        if isinstance(result, np.ndarray):
            return bool(result.all()) and np.shape(a) == np.shape(b)
        return bool(result)
    except (TypeError, ValueError):
        return False


def get_description(this):
    """Create a JSON-serialisable description of ``this``.

    Args:
        this: a Describable, or a basic value (None, bool, int, float, str),
            or a list/tuple/dict of those, or a numpy array or scalar.

    Returns:
        The description (basic types describe themselves; tuples become lists).

    Raises:
        TypeError: if ``this`` cannot be described.
    """
    if this is None or isinstance(this, (bool, str)):
        return this
    if isinstance(this, (int, float)):
        return this
    if isinstance(this, np.generic):
        return this.item()
    if isinstance(this, np.ndarray):
        return this.tolist()
    if isinstance(this, (list, tuple)):
        return [get_description(item) for item in this]
    if isinstance(this, dict):
        description = {}
        for key, value in this.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot describe a dict with the non-string key {key!r}")
            description[key] = get_description(value)
        return description
    if isinstance(this, Describable):
        return this.__describe__()
    raise TypeError(f"cannot describe an object of type {type(this).__name__}: "
                    f"it is neither a basic type nor a Describable")


def create_from_description(description):
    """Instantiate a new object from ``description``.

    Args:
        description: as made by :func:`get_description`.

    Returns:
        A new object; dicts with an ``'@type'`` become instances of the
        registered Describable class of that name.

    Raises:
        DescriptionError: if ``'@type'`` names no registered Describable type.
    """
    if isinstance(description, list):
        return [create_from_description(item) for item in description]
    if isinstance(description, dict):
        if '@type' not in description:
            return {key: create_from_description(value) for key, value in description.items()}
        return resolve_type(description['@type']).__new_from_description__(description)
    return description

