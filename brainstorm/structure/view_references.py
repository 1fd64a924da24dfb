"""Resolving pattern dicts (initializers, modifiers) to individual parameters (spec 8.1).

A pattern dict maps layer patterns to a value or to a sub-dict of parameter
patterns. Patterns are names with ``*`` wildcards; ``'default'`` matches what
no other pattern matches and ``'fallback'`` gives a second choice (for
initializers that fail on some shapes). Every parameter must end up with at
most one value (exactly one where ``allow_unmatched`` is False) and at most one
fallback; a pattern that matches nothing is an error, since it is almost
always a typo.
"""

import difflib
from fnmatch import fnmatchcase

from brainstorm.errors import NetworkValidationError

SPECIAL = ('default', 'fallback')


def _matches(pattern, name):
    return fnmatchcase(name, pattern)


def _check_patterns_match(patterns, names, where, what):
    for pattern in patterns:
        if pattern in SPECIAL:
            continue
        if not isinstance(pattern, str):
            raise NetworkValidationError(f"{what} patterns must be strings, got {pattern!r}")
        if not any(_matches(pattern, name) for name in names):
            close = difflib.get_close_matches(pattern, list(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NetworkValidationError(
                f"{what} pattern {pattern!r}{where} matches nothing (candidates: "
                f"{', '.join(names) or 'none'}){hint}")


def resolve_references(parameter_names, patterns, what, allow_fallback=True,
                       allow_unmatched=False, layer_defaults=None):
    """Resolve ``patterns`` for every parameter.

    Args:
        parameter_names (dict[str, list[str]]): layer name -> its parameter names.
        patterns (dict): the user's pattern dict.
        what (str): 'initializer' or 'modifier', for messages.
        allow_fallback (bool): whether 'fallback' entries are allowed.
        allow_unmatched (bool): parameters may be left without a value (None).
        layer_defaults (Optional[dict]): layer -> parameter -> value used for
            parameters no layer pattern matches, before the 'default' pattern.

    Returns:
        dict[str, dict[str, tuple]]: layer -> parameter -> (value, fallback).

    Raises:
        NetworkValidationError: ambiguous, missing or non-matching patterns.
    """
    if not allow_fallback and 'fallback' in patterns:
        raise NetworkValidationError(f"'fallback' is not allowed for {what}s")
    _check_patterns_match(patterns, list(parameter_names), '', what)
    result = {}
    for layer_name, names in parameter_names.items():
        result[layer_name] = {}
        layer_matches = [(pattern, value) for pattern, value in patterns.items()
                         if pattern not in SPECIAL and _matches(pattern, layer_name)]
        for pattern, value in layer_matches:
            if isinstance(value, dict):
                _check_patterns_match(value, names, f" (under layer pattern {pattern!r})", what)
                if not allow_fallback and 'fallback' in value:
                    raise NetworkValidationError(f"'fallback' is not allowed for {what}s "
                                                 f"(under {pattern!r})")
        for parameter_name in names:
            candidates, fallbacks = [], []
            for pattern, value in layer_matches:
                if isinstance(value, dict):
                    inner = [(f"{pattern}.{sub}", sub_value) for sub, sub_value in value.items()
                             if sub not in SPECIAL and _matches(sub, parameter_name)]
                    if not inner and 'default' in value:
                        inner = [(f"{pattern}.default", value['default'])]
                    candidates.extend(inner)
                    if 'fallback' in value:
                        fallbacks.append((f"{pattern}.fallback", value['fallback']))
                else:
                    candidates.append((pattern, value))
            layer_default = (layer_defaults or {}).get(layer_name, {})
            if not candidates and parameter_name in layer_default:
                candidates.append((f"{layer_name} layer's own default",
                                   layer_default[parameter_name]))
            if not candidates and 'default' in patterns:
                candidates.append(('default', patterns['default']))
            if 'fallback' in patterns:
                fallbacks.append(('fallback', patterns['fallback']))
            path = f"{layer_name}.parameters.{parameter_name}"
            if len(candidates) > 1:
                raise NetworkValidationError(
                    f"{path} is matched by more than one {what} pattern: "
                    f"{', '.join(repr(p) for p, _ in candidates)}; each parameter must match "
                    f"exactly one")
            if len(fallbacks) > 1:
                raise NetworkValidationError(
                    f"{path} has more than one fallback: "
                    f"{', '.join(repr(p) for p, _ in fallbacks)}")
            if not candidates and not allow_unmatched:
                raise NetworkValidationError(
                    f"no {what} for {path}; add it to the dict or give a 'default'")
            value = candidates[0][1] if candidates else None
            fallback = fallbacks[0][1] if fallbacks else None
            result[layer_name][parameter_name] = (value, fallback)
    return result


def order_and_check(modifiers, where):
    """A modifier or a list of them -> a list of ValueModifier objects (order kept)."""
    from brainstorm.value_modifiers import ValueModifier
    items = list(modifiers) if isinstance(modifiers, (list, tuple)) else [modifiers]
    for item in items:
        if not isinstance(item, ValueModifier):
            raise NetworkValidationError(f"{where}: expected a ValueModifier (or a list of "
                                         f"them), got {item!r}")
    return items
