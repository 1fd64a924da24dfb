"""The rows of ``bstorm runs``: what each run directory in a folder says about itself.

A row is read from the run's own files only: ``status.json`` (status, epochs, best
value, test scores), ``experiment.yaml`` (seed and every resolved value) and the
time ``experiment.yaml`` was written (the start). The ``differs`` entry holds the
resolved values in which the listed runs disagree (dotted key paths, as ``--set``
takes them), which is how runs started with different ``--set`` values tell apart.
"""

import datetime
import json
import math

import yaml

from bstorm_cli.experiment import run_dir
from bstorm_cli.experiment.run_lookup import run_directories, started
from bstorm_cli.experiment.yaml_loader import format_path

#: resolved keys that differ between any two runs and say nothing about them
IGNORED_KEYS = ('name', 'output', 'description')

#: what ``bstorm runs --sort`` accepts -> the row entry it sorts by
SORT_KEYS = {'started': 'started', 'name': 'name', 'status': 'status', 'epochs': 'epochs',
             'best': 'best_value'}


def _read_json(path):
    try:
        value = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _read_experiment(path):
    try:
        value = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError):
        return {}
    return value if isinstance(value, dict) else {}


def flatten(value, path=()):
    """{dotted key path: leaf value} of a nested resolved experiment."""
    if isinstance(value, dict) and value:
        items = {}
        for key, item in value.items():
            items.update(flatten(item, path + (str(key),)))
        return items
    if isinstance(value, list) and value:
        items = {}
        for position, item in enumerate(value):
            items.update(flatten(item, path + (position,)))
        return items
    return {format_path(path): value}


def _number(value):
    return value if isinstance(value, (int, float)) and not (
        isinstance(value, float) and math.isnan(value)) else None


def _criterion(status):
    """'max' or 'min': how the run judged its best value (runs written before
    status.json named it: inferred from the log's name as bstorm train infers it)."""
    from bstorm_cli.experiment.checks import named_as_maximized
    criterion = status.get('best_criterion')
    if criterion in ('max', 'min'):
        return criterion
    log = status.get('best_log')
    if not isinstance(log, str):
        return None
    return 'max' if named_as_maximized(log) else 'min'


def _sort_key(entry):
    if entry != 'best_value':
        return lambda row: row[entry]
    # the best run first, whatever each run's criterion (highest accuracy, lowest loss)
    return lambda row: -row[entry] if row['best_criterion'] == 'max' else row[entry]


def run_row(folder):
    """One run's row (without ``differs``) and its flattened resolved experiment."""
    status = _read_json(folder / run_dir.STATUS_FILE)
    resolved = _read_experiment(folder / run_dir.EXPERIMENT_FILE)
    start = started(folder)
    row = {
        'name': folder.name, 'path': str(folder), 'status': status.get('status'),
        'started': datetime.datetime.fromtimestamp(start).isoformat(timespec='seconds'),
        'epochs': status.get('epochs'), 'best_log': status.get('best_log'),
        'best_criterion': _criterion(status),
        'best_value': _number(status.get('best_value')), 'best_epoch': status.get('best_epoch'),
        'test': status.get('test'), 'seed': resolved.get('seed'),
    }
    return row, flatten({key: value for key, value in resolved.items()
                         if key not in IGNORED_KEYS})


def list_runs(folder, sort='started', reverse=False):
    """The rows of every run directory in ``folder``, sorted by ``sort`` (see SORT_KEYS)."""
    rows, flats = [], []
    for path in run_directories(folder):
        row, flat = run_row(path)
        rows.append(row)
        flats.append(flat)
    keys = set().union(*flats) if flats else set()
    differing = sorted(key for key in keys
                       if len({json.dumps(flat.get(key), sort_keys=True, default=str)
                               for flat in flats}) > 1)
    for row, flat in zip(rows, flats):
        row['differs'] = {key: flat.get(key) for key in differing}
    entry = SORT_KEYS[sort]
    present = [row for row in rows if row[entry] is not None]
    missing = [row for row in rows if row[entry] is None]
    present.sort(key=_sort_key(entry), reverse=reverse)
    return present + missing
