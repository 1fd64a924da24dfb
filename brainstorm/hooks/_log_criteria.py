"""Reading a watched log entry and deciding 'best' for EarlyStopper and SaveBestNetwork."""

import math
import numbers

from brainstorm.errors import ValidationError


def check_criterion(owner, criterion, allowed=('min', 'max')):
    """Return ``criterion`` if it is one of ``allowed``, else raise ValidationError."""
    if criterion not in allowed:
        raise ValidationError(f"{owner}: criterion must be one of "
                              f"{', '.join(repr(item) for item in allowed)}, got {criterion!r}")
    return criterion


def check_log_name(owner, log_name):
    """Return ``log_name`` if it looks like ``'<hook name>.<entry>'``."""
    if not isinstance(log_name, str) or '.' not in log_name.strip('.'):
        raise ValidationError(f"{owner}: log_name must be '<hook name>.<entry>' such as "
                              f"'validation.Accuracy', got {log_name!r}")
    return log_name


def as_number(owner, log_name, value):
    """The float in a log entry; raises ValidationError for non-numbers (e.g. dicts)."""
    try:
        if isinstance(value, numbers.Real):
            return float(value)
        return float(value.item())
    except (AttributeError, TypeError, ValueError):
        raise ValidationError(f"{owner}: log {log_name!r} must hold numbers, found "
                              f"{type(value).__name__} {value!r}") from None


def best_index(values, criterion):
    """Index of the first best value (NaNs never best), or None if all are NaN."""
    best = None
    for index, value in enumerate(values):
        if math.isnan(value):
            continue
        if best is None or (value < values[best] if criterion == 'min'
                            else value > values[best]):
            best = index
    return best
