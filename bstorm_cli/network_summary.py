"""The experiment a network file came from, stored in the file by ``bstorm train``.

``last.h5`` and ``best.h5`` carry one extra attribute, ``bstorm_experiment``: JSON
text with the experiment's name and seed, the epoch and update the parameters are
from, the watched log with the best value so far and its epoch, and the bstorm
version. ``bstorm info NETWORK.h5`` shows it. Loading a network ignores it, and files
without it (saved from Python, or by other tools) load as before.
"""

import json

ATTRIBUTE = 'bstorm_experiment'


def summary_attributes(experiment_name, seed, epoch, update, best_log, best_value,
                       best_epoch):
    """The file attributes :meth:`Network.save_as_hdf5` stores for a CLI-saved network."""
    from brainstorm import __version__
    return {ATTRIBUTE: json.dumps({
        'name': experiment_name, 'seed': seed, 'epoch': epoch, 'update': update,
        'best_log': best_log, 'best_value': best_value, 'best_epoch': best_epoch,
        'bstorm_version': __version__})}


def read_summary(path):
    """The stored summary of network file ``path`` as a dict, or None when it has none.

    Only JSON is read; a malformed attribute counts as none.
    """
    import h5py
    try:
        with h5py.File(path, 'r') as h5file:
            text = h5file.attrs.get(ATTRIBUTE)
    except OSError:
        return None
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not isinstance(text, str):
        return None
    try:
        summary = json.loads(text)
    except ValueError:
        return None
    return summary if isinstance(summary, dict) else None


def summary_line(summary):
    """One line for people: experiment NAME (seed S), epoch E, best LOG = V (epoch B)."""
    parts = [f"experiment {summary.get('name')} (seed {summary.get('seed')})",
             f"epoch {summary.get('epoch')} (update {summary.get('update')})"]
    if summary.get('best_log') and isinstance(summary.get('best_value'), (int, float)):
        parts.append(f"best {summary['best_log']} = {summary['best_value']:.4f} "
                     f"(epoch {summary.get('best_epoch')})")
    return ', '.join(parts)
