"""When a training run counts as diverged, and what is kept of it.

A run has diverged when its parameters or one of its losses are no longer finite (NaN
or infinite), or when a ``StopOnNan`` hook stopped it. A diverged run:

- keeps the checkpoint, ``last.h5`` and ``best.h5`` of the last epoch whose state was
  finite: they are never overwritten with non-finite parameters;
- writes the non-finite network beside them, as ``diverged.h5``, for inspection;
- ends with status ``diverged`` in ``status.json`` and exit status
  :attr:`~bstorm_cli.exit_codes.ExitStatus.DIVERGED`.

The best value of the watched log is never a non-finite one (see ``training_run``).
"""

import math

from bstorm_cli.progress import latest_numbers

DIVERGED_NETWORK = 'diverged.h5'
#: hook type whose stop means divergence
NAN_STOPPER = 'StopOnNan'


def _is_loss(name):
    return 'loss' in name.rsplit('.', 1)[-1].lower()


class DivergenceCheck:
    """Decides whether a run has diverged.

    Args:
        nan_stopper_names (Iterable[str]): names of the run's ``StopOnNan`` hooks; a stop
            reason starting with one of them means divergence.
    """

    def __init__(self, nan_stopper_names=()):
        self.nan_stopper_names = tuple(nan_stopper_names)

    @classmethod
    def for_hooks(cls, hooks):
        return cls(hook.name for hook in hooks if type(hook).__name__ == NAN_STOPPER)

    def reason(self, network, logs, stop_reason=None):
        """Why the run diverged (one line), or None if it has not.

        Args:
            network (brainstorm.structure.Network): its parameters are checked.
            logs (dict): the trainer's logs; the latest value of every loss is checked.
            stop_reason (Optional[str]): why the trainer stopped, if it did.
        """
        for part in (stop_reason or '').split('; '):
            if any(part.startswith(name + ':') for name in self.nan_stopper_names):
                return part
        if not network.handler.is_fully_finite(network.buffer.parameters):
            return 'NaN or infinite values in the parameters'
        for name, value in latest_numbers(logs):
            if _is_loss(name) and not math.isfinite(value):
                return f"the loss {name} is {value}"
        return None
