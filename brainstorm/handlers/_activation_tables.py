"""The handler's activation tables: ``handler.act_func['rel']`` and relatives (brainstorm 0.5).

brainstorm 0.5 handlers held four dicts from activation name to operation:

* ``act_func[name](x, y)``: ``y = f(x)``;
* ``act_func_deriv[name](x, y, dy, dx)``: ``dx = dy * f'`` (from ``y``);
* ``inplace_act_func[name](x)``: ``x = f(x)``;
* ``inplace_act_func_deriv[name](y, dy)``: ``dy = dy * f'`` (from ``y``).

Here each is a read-only mapping bound to its handler, created on access (a
handler keeps no extra state, so its description is unchanged). The first two
are also callable with the name, this project's method form:
``handler.act_func('rel')(x, y)``.
"""

from collections.abc import Mapping


class ActivationTable(Mapping):
    """Read-only mapping activation name -> operation of one handler.

    Args:
        handler (Handler): the handler whose operations are returned.
        kind (str): 'act_func', 'act_func_deriv', 'inplace_act_func' or
            'inplace_act_func_deriv'.
    """

    def __init__(self, handler, kind):
        self._handler = handler
        self._kind = kind

    def __getitem__(self, name):
        if name not in _names():
            raise KeyError(_unknown(name))
        handler = self._handler
        if self._kind == 'act_func':
            return handler._linear if name == 'linear' else getattr(handler, name)
        if self._kind == 'act_func_deriv':
            return handler._linear_deriv if name == 'linear' else \
                getattr(handler, name + '_deriv')
        if self._kind == 'inplace_act_func':
            if name == 'linear':
                return _identity
            function = getattr(handler, name)
            return lambda x: function(x, x)
        if name == 'linear':
            return _no_change
        derivative = getattr(handler, name + '_deriv')
        return lambda y, dy: derivative(None, y, dy, dy)

    def __call__(self, name):
        """The method form ``handler.act_func(name)``; an unknown name is a ValidationError."""
        if name not in _names():
            from brainstorm.errors import ValidationError
            raise ValidationError(_unknown(name))
        return self[name]

    def __iter__(self):
        return iter(_names())

    def __len__(self):
        return len(_names())

    def __repr__(self):
        return f"<{self._kind} of {type(self._handler).__name__}: {', '.join(self)}>"


def _names():
    from brainstorm.handlers.base_handler import ACTIVATION_FUNCTIONS
    return ACTIVATION_FUNCTIONS


def _unknown(name):
    return (f"unknown activation function {name!r}; expected one of "
            f"{', '.join(_names())}")


def _identity(x):
    return x


def _no_change(y, dy):
    return None
