"""Carrying the recurrent state from one window of long sequences to the next (truncated BPTT).

With a :class:`CarriedState` attached (``net.carried_state = CarriedState()``;
``Trainer(stepper, carry_state=True)`` attaches one while it trains), every forward
pass that is given no explicit context starts from the state the previous forward
pass ended with (the forward context is carried); the backward pass stays within
its window (the gradients are not carried: truncated back-propagation through time).

Where to start afresh comes with the data: a batch may hold a per-column reset
signal under :data:`RESET_NAME`, a ``(B,)`` bool array (``SequenceWindows`` yields
one: every column at the first window of a pass, and each column where a new
sequence starts). ``Network.provide_external_data`` takes it out of the data and
hands it to :meth:`CarriedState.reset`; a network without a carried state ignores
it, so the same iterator also serves training that restarts every window.

Layers that run backwards in time (``reverse=True``) start every window from zero:
their state at the end of a window belongs to the window before it, not after.
"""

import numpy as np

#: name of the per-column reset signal in a batch
RESET_NAME = '@reset'


def split_reset_signal(data):
    """Take the reset signal out of a batch.

    Args:
        data (dict): name -> array, possibly with the item :data:`RESET_NAME`.

    Returns:
        tuple: (the batch without it (``data`` itself when it has none), the (B,)
        bool reset signal or None).
    """
    if not hasattr(data, 'keys') or RESET_NAME not in data:
        return data, None
    rest = {name: value for name, value in data.items() if name != RESET_NAME}
    return rest, np.asarray(data[RESET_NAME], dtype=bool).reshape(-1)


class CarriedState:
    """The context a network hands from one forward pass to the next.

    Attributes:
        context (Optional[dict]): what the next forward pass starts from, as made by
            ``Network.get_context()`` (layer name -> {'outputs.default': (1, B, size)
            array, ...}), without the layers that run backwards in time; None: zeros.
    """

    def __init__(self):
        self.context = None

    def reset(self, columns=None):
        """Start afresh: every column (``columns`` None) or those where ``columns`` is True.

        Args:
            columns (Optional[numpy.ndarray]): (B,) bool, the per-column reset signal.
        """
        if columns is None or self.context is None or np.all(columns):
            self.context = None
            return
        if not np.any(columns):
            return
        for slots in self.context.values():
            for values in slots.values():
                if values.shape[1] != columns.shape[0]:
                    # a batch of another size cannot continue these sequences
                    self.context = None
                    return
                values[:, columns] = 0.0

    def remember(self, net):
        """Keep the state the network's last forward pass ended with."""
        context = net.get_context()
        for name, layer in net.layers.items():
            if getattr(layer, 'reverse', False):
                context.pop(name, None)
        self.context = context

    def snapshot(self):
        """A copy of the current context (to restore after a detour, e.g. a validation pass)."""
        if self.context is None:
            return None
        return {name: {slot: values.copy() for slot, values in slots.items()}
                for name, slots in self.context.items()}
