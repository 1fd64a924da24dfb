"""Running recurrent layers backwards in time, and holding their state on padded steps.

Direction: with ``reverse=True`` a layer runs from the last step to the first;
step t then reads step t + 1, which at t = T - 1 is index T, the same context
slot (it IS index -1). The backward loop runs forward in time and reads the
deltas of step t - 1, which at t = 0 is the zeroed slot T again. So a reversed
layer needs no buffer of its own: only the loop order and the neighbour index
change (:class:`TimeOrder`).

Holding state: a clockwork unit that skips a step, and every unit at a step
whose ``mask`` input is 0 (padding), keeps the state of the previous step; its
delta passes on unchanged. With the padding at the end of a sequence, a
reversed layer thus keeps its context through the padding and starts each
sequence at its own last valid step (:class:`MaskHold`).
"""

from collections import OrderedDict

from brainstorm.errors import LayerValidationError
from brainstorm.structure.buffer_structure import BufferStructure, StructureTemplate
from brainstorm.utils import flatten_time_and_features


def read_direction_kwargs(layer, kwargs, in_shapes):
    """Check and return ``reverse`` (bool) of a layer that may run backwards in time.

    Also checks the optional 'mask' input: one value per step and sequence.

    Raises:
        LayerValidationError: if reverse is not a bool or the mask is not ('T', 'B', 1).
    """
    reverse = layer.get_kwarg(kwargs, 'reverse', False, bool)
    if 'mask' in in_shapes and in_shapes['mask'].feature_shape != (1,):
        raise LayerValidationError(f"{layer._label()}: input 'mask' must have feature shape "
                                   f"(1,) (one value per step and sequence), got "
                                   f"{in_shapes['mask'].feature_shape}")
    return reverse


def hold_internal(size, in_shapes):
    """The internal 'hold' ('T', 'B', size) a layer with a connected mask needs, as a dict."""
    if 'mask' not in in_shapes:
        return OrderedDict()
    return OrderedDict(hold=BufferStructure('T', 'B', size))


#: the inputs of Recurrent, Lstm and Gru: the sequence and, optionally, a mask
DIRECTED_INPUTS = {'default': StructureTemplate('T', 'B', '...')}
DIRECTED_OPTIONAL_INPUTS = {'mask': StructureTemplate('T', 'B', '...')}


class TimeOrder:
    """Loop order and neighbour steps of a layer running forward or backward in time.

    Args:
        time_size: T.
        reverse: run from step T - 1 down to 0 (the state flows from t + 1 to t).
    """

    def __init__(self, time_size, reverse):
        self.time_size = time_size
        self.reverse = reverse

    def forward_steps(self):
        """The steps in the order the forward pass computes them."""
        if self.reverse:
            return range(self.time_size - 1, -1, -1)
        return range(self.time_size)

    def backward_steps(self):
        """The steps in the order the backward pass visits them (the forward order reversed)."""
        if self.reverse:
            return range(self.time_size)
        return range(self.time_size - 1, -1, -1)

    def previous(self, t):
        """The step the state of step t comes from (T or -1: the context slot)."""
        return t + 1 if self.reverse else t - 1

    def next(self, t):
        """The step that reads the state of step t (T or -1: the zeroed delta slot)."""
        return t - 1 if self.reverse else t + 1


class MaskHold:
    """Where a step is padding (mask 0), every unit keeps the state of the previous step.

    Has the interface of ``_recurrent.Clock``: ``advance(t)`` (nothing to do) and
    ``condition(t)``, after which ``cond`` (B, size) is non-zero where the units
    keep their state.

    Args:
        handler: the layer's handler.
        mask: ('T', 'B', 1) input; a step counts where it is non-zero.
        hold: ('T', 'B', size) forward internal, 1 where held, 0 elsewhere.
        compute: fill ``hold`` from ``mask`` (the forward pass does; the backward
            pass reuses what the forward pass wrote).
    """

    def __init__(self, handler, mask, hold, compute=True):
        self.hold = hold
        self.cond = None
        if compute:
            flat_hold = flatten_time_and_features(hold)
            # hold = 1 - sign(|mask|): 1 on padding, 0 on every step that counts
            handler.broadcast_t(flatten_time_and_features(mask), 1, flat_hold)
            handler.abs_t(flat_hold, flat_hold)
            handler.sign_t(flat_hold, flat_hold)
            handler.mult_st(-1.0, flat_hold, flat_hold)
            handler.add_st(1.0, flat_hold, flat_hold)

    def advance(self, t):
        """Nothing to advance: the mask says all."""

    def condition(self, t):
        """Point ``cond`` at step t of the hold internal."""
        self.cond = self.hold[t]


def mask_hold(handler, buffers, compute):
    """The MaskHold of a layer whose 'mask' input is connected, else None."""
    if 'mask' not in buffers.inputs:
        return None
    return MaskHold(handler, buffers.inputs.mask, buffers.internals.hold, compute)
