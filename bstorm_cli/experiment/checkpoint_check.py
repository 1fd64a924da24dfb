"""What a checkpoint must hold, checked when it is opened, before anything is restored.

A checkpoint is our own file, but it may be damaged, hand-edited or foreign. Its
datasets are checked from their metadata before they are read (our writer never
compresses, so a dataset that declares more values than it stores is refused at
once), and the values resuming depends on are checked for their types, so a bad file
is one located exit-2 line at ``--resume``, not an error after training restarted.
"""

import numbers

import numpy as np

from bstorm_cli.errors import BadInputError

#: deepest nesting of groups in a checkpoint's state (ours has about 8)
MAX_STATE_DEPTH = 32


def check_dataset(dataset, location, name):
    """Refuse ``dataset`` from its metadata: compressed or declaring more than it stores."""
    if dataset.compression is not None or dataset.id.get_create_plist().get_nfilters():
        raise BadInputError(f"{name}: compressed datasets are not part of a checkpoint",
                            location)
    declared = int(dataset.size) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > max(stored, 0) and declared > 0:
        raise BadInputError(f"{name}: declares {int(dataset.size):,} values of "
                            f"{dataset.dtype.itemsize} bytes but stores {stored:,} bytes",
                            location)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_number_or_none(value):
    return value is None or (isinstance(value, numbers.Real) and
                             not isinstance(value, (bool, np.bool_)))


#: (path in the state, test, what is expected)
_EXPECTED = [
    (('run', 'epochs_done'), _is_int, 'an integer'),
    (('run', 'updates_done'), _is_int, 'an integer'),
    (('run', 'best_value'), _is_number_or_none, 'a number or null'),
    (('run', 'best_epoch'), lambda value: value is None or _is_int(value), 'an integer or null'),
    (('trainer', 'epoch_nr'), _is_int, 'an integer'),
    (('trainer', 'update_nr'), _is_int, 'an integer'),
    (('trainer', 'batches_done'), _is_int, 'an integer'),
    (('trainer', 'epoch_in_progress'), lambda value: isinstance(value, (bool, np.bool_)),
     'true or false'),
    (('trainer', 'logs'), lambda value: isinstance(value, dict), 'a group'),
    (('trainer', 'hooks'), lambda value: isinstance(value, dict), 'a group'),
    (('trainer', 'rolling_scores'), lambda value: isinstance(value, dict), 'a group'),
    (('trainer', 'stepper'), lambda value: isinstance(value, dict), 'a group'),
    (('global_rnd',), lambda value: isinstance(value, dict), 'a group'),
]


def check_contents(parameters, state, info, location):
    """Raise BadInputError for the first value of the wrong kind (naming its path)."""
    if not isinstance(info, dict):
        raise BadInputError("attribute 'info' must be a JSON object", location)
    if not isinstance(parameters, np.ndarray) or parameters.ndim != 1 or \
            parameters.dtype.kind != 'f':
        raise BadInputError("'parameters' must be a 1-D float dataset", location)
    if not isinstance(state, dict):
        raise BadInputError("'state' must be a group", location)
    for path, test, expected in _EXPECTED:
        value = state
        for key in path:
            if not isinstance(value, dict) or key not in value:
                raise BadInputError(f"state/{'/'.join(path)} is missing", location)
            value = value[key]
        if not test(value):
            shown = type(value).__name__ if isinstance(value, (dict, list, np.ndarray)) \
                else repr(value)
            raise BadInputError(f"state/{'/'.join(path)} must be {expected}, got {shown}",
                                location)
