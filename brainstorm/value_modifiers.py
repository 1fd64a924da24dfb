"""Value modifiers: small in-place changes to parameters or gradients.

A network calls its weight modifiers on views into the parameters after every
update (``set_weight_modifiers``) and its gradient modifiers on views into the
gradients after every backward pass (``set_gradient_modifiers``). A modifier
changes the view in place with handler operations only, so it runs unchanged
on every handler and allocates nothing after its first call.

Call convention (brainstorm 0.5's)::

    modifier(handler, view)                          # weight and gradient modifiers
    modifier(handler, view, parameters=param_view)   # gradient modifiers that need
                                                     # the parameters (needs_parameters)

``parameters`` is the parameter view belonging to the gradient ``view``; the
decay modifiers (:class:`L1Decay`, :class:`L2Decay`) need it and say so with
``needs_parameters = True``. :class:`GradientModifier` is the base class of a
user's gradient modifier, called ``modifier(handler, parameters, gradients)`` as
in 0.5 (or ``modifier(handler, gradients)`` if its ``__call__`` takes only those
two). Every
modifier is seedable: it has its own random state ``rnd`` (drawn from
``global_rnd``), as in 0.5. Before use the
network sets ``modifier.layer_name`` and ``modifier.view_name`` (not part of
the description) so that error messages can say which parameter is affected.

Weight layout (as in :func:`brainstorm.initializers.get_fans`): dense weights
are ``(in_size, size)`` with one column per unit; convolution weights are
``(num_filters, kh, kw, in_channels)`` with one filter per unit.
"""

import math

import numpy as np

from brainstorm.errors import NetworkValidationError, ValidationError
from brainstorm.randomness import Seedable

__all__ = ['ValueModifier', 'GradientModifier', 'ClipValues', 'ConstrainL2Norm', 'FreezeValues',
           'L1Decay', 'L2Decay', 'MaskValues']

# clip_t takes finite bounds only; this stands in for "no upper bound" and is
# representable in float32.
_NO_UPPER_BOUND = float(np.finfo(np.float32).max)


def _check_number(modifier, name, value, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
            not math.isfinite(value) or (positive and value <= 0):
        expected = "a positive finite number" if positive else "a finite number"
        raise ValidationError(
            f"{type(modifier).__name__}: {name} must be {expected}, got {value!r}")


class ValueModifier(Seedable):
    """Base class of the modifiers of parameters or gradients.

    Subclasses implement ``__call__(handler, view)`` (or, with
    ``needs_parameters = True``, ``__call__(handler, view, parameters=None)``)
    and change ``view`` in place using only operations of ``handler``.

    Attributes:
        layer_name (Optional[str]): name of the layer whose buffer is modified;
            set by the network, used in messages, not described.
        view_name (Optional[str]): name of the parameter (e.g. ``'W'``); the same.
        rnd (RandomState): this modifier's random state (not described).
    """

    __undescribed__ = {'layer_name': None, 'view_name': None}
    #: whether a gradient modifier is called with ``parameters=`` the parameter view
    needs_parameters = False

    def __init__(self):
        super().__init__()
        self.layer_name = None
        self.view_name = None

    def __call__(self, handler, view, parameters=None):
        """Modify ``view`` in place.

        Args:
            handler (brainstorm.handlers.base_handler.Handler): does all the work.
            view (array_type): the parameter or gradient view to modify.
            parameters (Optional[array_type]): for gradient modifiers, the
                parameter view of the same shape as ``view``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def _where(self):
        """Say which parameter this modifier acts on, for messages."""
        if self.layer_name is None and self.view_name is None:
            return "an unnamed parameter"
        return f"parameter {self.view_name!r} of layer {self.layer_name!r}"

    def _error(self, message):
        return NetworkValidationError(f"{type(self).__name__} on {self._where()}: {message}")

    def _require_same_shape(self, name, shape, view):
        if tuple(shape) != tuple(view.shape):
            raise self._error(f"{name} has shape {tuple(shape)}, but the parameter has "
                              f"shape {tuple(view.shape)}")


class _HandlerCopy:
    """A numpy array's copy in a handler's memory, made on first use and kept.

    A new copy is made when a different handler asks (after ``set_handler``).
    """

    def __init__(self):
        self.handler = None
        self.array = None

    def get(self, handler, values):
        if self.handler is not handler:
            self.array = handler.create_from_numpy(np.asarray(values, dtype=np.float64))
            self.handler = handler
        return self.array


class ClipValues(ValueModifier):
    """Clip (limit) the values to the interval ``[low, high]``.

    Example:
        >>> net.set_weight_modifiers(RnnLayer={'HR': ClipValues()})

    Args:
        low (float): lower limit. Defaults to -1.0.
        high (float): upper limit. Defaults to 1.0.
    """

    def __init__(self, low=-1.0, high=1.0):
        super().__init__()
        self.low = low
        self.high = high
        self._check()

    def _check(self):
        _check_number(self, 'low', self.low)
        _check_number(self, 'high', self.high)
        if self.low > self.high:
            raise ValidationError(
                f"ClipValues: low ({self.low}) must not be greater than high ({self.high})")

    def __call__(self, handler, view, parameters=None):
        self._check()
        handler.clip_t(view, self.low, self.high, view)


class ConstrainL2Norm(ValueModifier):
    """Limit the L2 norm of the incoming weights of every unit.

    A unit whose weight vector has an L2 norm above ``limit`` gets it rescaled
    to norm ``limit`` (the spec's "squared norm equals the limit" is read as
    the norm itself, matching "norm less than or equal to a limit"); other
    units are unchanged. Units are the columns of ``(in_size, size)`` weights
    (the norm runs over the inputs, axis 0) and the filters of convolution
    weights (the norm runs over all axes but the first). 1-D views (biases)
    are left unchanged.

    Example:
        >>> net.set_weight_modifiers(RnnLayer={'HX': ConstrainL2Norm(1.0)})

    Args:
        limit (float): the largest allowed norm, > 0.
    """

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        _check_number(self, 'limit', limit, positive=True)

    def __call__(self, handler, view, parameters=None):
        _check_number(self, 'limit', self.limit, positive=True)
        if len(view.shape) < 2:
            return  # biases: no incoming weights to constrain
        if len(view.shape) == 2:
            weights, summed_axis = view, 0
            norms_shape = (1, view.shape[1])
        else:
            weights, summed_axis = view.reshape(view.shape[0], -1), 1
            norms_shape = (view.shape[0], 1)
        squares = handler._scratch('ConstrainL2Norm.squares', weights.shape)
        divisors = handler._scratch('ConstrainL2Norm.divisors', norms_shape)
        handler.mult_tt(weights, weights, squares)
        handler.sum_t(squares, summed_axis, divisors)
        handler.sqrt_t(divisors, divisors)
        # divisor = max(norm / limit, 1): shrinks only the units above the limit
        handler.mult_st(1.0 / self.limit, divisors, divisors)
        handler.clip_t(divisors, 1.0, _NO_UPPER_BOUND, divisors)
        handler.divide_mv(weights, divisors, weights)


class FreezeValues(ValueModifier):
    """Keep the values from changing at all.

    Each call resets the view to fixed values: ``weights`` if given, otherwise
    the values the view held when this modifier first saw it. Without
    ``weights``, one modifier may be shared by several parameters: it
    remembers each (``layer_name``, ``view_name``) separately. Remembered
    values are not part of the description.

    Example:
        >>> net.set_weight_modifiers(RnnLayer={'HR': FreezeValues()})

    Args:
        weights (Optional[array_like]): the values to keep, of the
            parameter's shape. Defaults to None.
    """

    __undescribed__ = {'_copies': None, '_remembered': None}

    def __init__(self, weights=None):
        super().__init__()
        self.weights = None if weights is None else np.array(weights, dtype=np.float64)
        self._init_state()

    def _init_state(self):
        self._copies = _HandlerCopy()
        self._remembered = {}

    def __init_from_description__(self, description):
        super().__init_from_description__(description)
        self._init_state()

    def __call__(self, handler, view, parameters=None):
        if self.weights is not None:
            self._require_same_shape('weights', np.shape(self.weights), view)
            handler.copy_to(self._copies.get(handler, self.weights), view)
            return
        key = (self.layer_name, self.view_name)
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] is handler:
            frozen = remembered[1]
            self._require_same_shape('the remembered value', frozen.shape, view)
            handler.copy_to(frozen, view)
            return
        if remembered is not None:  # the network changed handlers: move the copy over
            frozen = handler.create_from_numpy(remembered[0].get_numpy_copy(remembered[1]))
            self._require_same_shape('the remembered value', frozen.shape, view)
            handler.copy_to(frozen, view)
        else:
            frozen = handler.allocate(view.shape)
            handler.copy_to(view, frozen)
        self._remembered[key] = (handler, frozen)


class GradientModifier(ValueModifier):
    """Base class of a gradient modifier (brainstorm 0.5's).

    Installed with ``net.set_gradient_modifiers``; called after every backward
    pass as ``modifier(handler, parameters, gradients)`` with the parameter and
    gradient views of one parameter, and changes ``gradients`` in place with
    handler operations. A subclass whose ``__call__`` takes only
    ``(handler, gradients)`` is called that way.
    """

    #: whether __call__ takes (handler, parameters, gradients); set per subclass
    takes_parameters_and_gradients = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        import inspect
        try:
            parameters = list(inspect.signature(cls.__call__).parameters.values())
        except (TypeError, ValueError):
            return
        positional = [p for p in parameters[1:]
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        cls.takes_parameters_and_gradients = len(positional) >= 3 or any(
            p.kind == p.VAR_POSITIONAL for p in parameters)

    def __call__(self, handler, parameters, gradients):
        """Modify the gradient view ``gradients`` in place (``parameters``: their weights)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")


class L1Decay(ValueModifier):
    """L1 weight decay, a gradient modifier: ``gradients += factor * sign(parameters)``.

    Example:
        >>> net.set_gradient_modifiers(Hid={'W': L1Decay(1e-4)})

    Args:
        factor (float): strength of the decay.
    """

    needs_parameters = True

    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        _check_number(self, 'factor', factor)

    def __call__(self, handler, view, parameters=None):
        _require_parameters(self, view, parameters)
        signs = handler._scratch('L1Decay.signs', tuple(view.shape))
        handler.sign_t(parameters, signs)
        handler.mult_add_st(self.factor, signs, view)


class L2Decay(ValueModifier):
    """L2 weight decay, a gradient modifier: ``gradients += factor * parameters``.

    Example:
        >>> net.set_gradient_modifiers(Hid={'W': L2Decay(1e-4)})

    Args:
        factor (float): strength of the decay.
    """

    needs_parameters = True

    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        _check_number(self, 'factor', factor)

    def __call__(self, handler, view, parameters=None):
        _require_parameters(self, view, parameters)
        handler.mult_add_st(self.factor, parameters, view)


def _require_parameters(modifier, view, parameters):
    if parameters is None:
        raise modifier._error(
            "it is a gradient modifier and needs the parameter values; install it with "
            "set_gradient_modifiers (called as modifier(handler, gradients, "
            "parameters=parameter_view))")
    modifier._require_same_shape('the parameter view', parameters.shape, view)


class MaskValues(ValueModifier):
    """Multiply the values elementwise with a fixed mask (zeros clamp weights to 0).

    Example:
        >>> net.set_weight_modifiers(RnnLayer={'HR': MaskValues(M)})

    Args:
        mask (array_like): the factors, of the parameter's shape.
    """

    __undescribed__ = {'_copies': None}

    def __init__(self, mask):
        super().__init__()
        try:
            self.mask = np.array(mask, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(f"MaskValues: mask must be numeric, got {mask!r}") from None
        self._copies = _HandlerCopy()

    def __init_from_description__(self, description):
        super().__init_from_description__(description)
        self._copies = _HandlerCopy()

    def __call__(self, handler, view, parameters=None):
        self._require_same_shape('the mask', np.shape(self.mask), view)
        handler.mult_tt(view, self._copies.get(handler, self.mask), view)
