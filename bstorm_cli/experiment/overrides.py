"""``--set key.path=value``: overrides applied to an experiment before it is validated.

The value is read with the experiment loader (so ``1e-3`` is a float, ``[1, 2]`` a
list, ``{type: Adam}`` a mapping, ``yes`` a string). Paths are dotted keys with list
indices as ``[2]`` or ``.2``: ``trainer.hooks[1].max_epochs=5``. A path may add a key
the file leaves out; the merged document is then validated as a whole, so a misspelt
key gets the same "unknown key ... did you mean" error as one in the file, located at
the ``--set`` argument.
"""

import re

from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.experiment.yaml_loader import format_path, load_yaml

_SEGMENT = re.compile(r'([^.\[\]]+)|\[(-?\d+)\]')


def parse_path(text, argument):
    """'a.b[2].c' -> ('a', 'b', 2, 'c'); digits after a dot are list indices too."""
    where = Location(f"--set {argument}")
    if not text or text.startswith('.') or text.endswith('.') or '..' in text:
        raise BadInputError(f"invalid key path {text!r}: expected dotted keys like "
                            f"trainer.stepper.learning_rate", where)
    path, position = [], 0
    while position < len(text):
        if text[position] == '.':
            position += 1
        match = _SEGMENT.match(text, position)
        if not match:
            raise BadInputError(f"invalid key path {text!r} at character {position + 1}: "
                                f"expected a key or [index]", where)
        key, index = match.groups()
        if index is not None:
            path.append(int(index))
        elif key.isdigit():
            path.append(int(key))
        else:
            path.append(key)
        position = match.end()
    return tuple(path)


def parse_override(argument):
    """'a.b=v' -> (path tuple, parsed value)."""
    if not isinstance(argument, str) or '=' not in argument:
        raise BadInputError(f"expected KEY.PATH=VALUE, got {argument!r}",
                            Location(f"--set {argument}"),
                            hint="for example --set trainer.stepper.learning_rate=0.01")
    key_text, _, value_text = argument.partition('=')
    path = parse_path(key_text.strip(), argument)
    value, _ = load_yaml(value_text, f"--set {argument}") if value_text.strip() else (None, None)
    return path, value


class OptionOverride(str):
    """A ``key=value`` override that a command-line option stands for (``--seed 3``).

    Errors about the value it sets name the option the user typed, not a ``--set``
    they never wrote.
    """

    def __new__(cls, text, option):
        override = super().__new__(cls, text)
        override.option = option
        return override


def override_label(argument):
    """How an error names where an override came from: its option or its --set."""
    return getattr(argument, 'option', None) or f"--set {argument}"


def apply_overrides(document, arguments):
    """Apply ``--set`` arguments to ``document`` (changed in place).

    Returns:
        dict: override path -> the argument that set it (for locating errors).

    Raises:
        BadInputError: a malformed argument, or a path that runs through a value that
            is neither a mapping nor a list, or an index past the end of a list.
    """
    origins = {}
    for argument in arguments:
        path, value = parse_override(argument)
        where = Location(override_label(argument), path=format_path(path))
        target = document
        for depth, key in enumerate(path[:-1]):
            target = _step(target, key, path[:depth + 1], where, create=True)
        _assign(target, path[-1], value, path, where)
        origins[path] = argument
    return origins


def _step(target, key, path_so_far, where, create):
    if isinstance(target, dict):
        if isinstance(key, int):
            key = str(key)
        if key not in target or target[key] is None:
            if not create:
                raise BadInputError(f"no key {key!r} here", where)
            target[key] = {}
        return target[key]
    if isinstance(target, list):
        if not isinstance(key, int):
            raise BadInputError(f"{format_path(path_so_far[:-1]) or 'the document'} is a list; "
                                f"expected an index like [0], got {key!r}", where)
        if not -len(target) <= key < len(target):
            raise BadInputError(f"index {key} is out of range: "
                                f"{format_path(path_so_far[:-1])} has {len(target)} items",
                                where)
        return target[key]
    raise BadInputError(f"{format_path(path_so_far[:-1]) or 'the document'} is "
                        f"{_what(target)}, so it has no key {key!r}", where)


def _assign(target, key, value, path, where):
    if isinstance(target, dict):
        target[str(key) if isinstance(key, int) else key] = value
    elif isinstance(target, list):
        if isinstance(key, int) and key == len(target):
            target.append(value)
            return
        _step(target, key, path, where, create=False)
        target[key] = value
    else:
        raise BadInputError(f"{format_path(path[:-1]) or 'the document'} is {_what(target)}, "
                            f"so it has no key {key!r}", where)


def _what(value):
    from bstorm_cli.experiment.schemas import describe_value
    return describe_value(value)


class OverlayIndex:
    """Positions of a document with overrides: override paths point at their --set."""

    def __init__(self, base_index, origins):
        self.base = base_index
        self.origins = origins
        self.file_name = base_index.file_name

    def locate(self, path):
        path = tuple(path)
        for override_path, argument in self.origins.items():
            if path[:len(override_path)] == override_path:
                return Location(override_label(argument), 0, 0, format_path(path))
        return self.base.locate(path)
