"""Run directories: where a training run keeps everything, written so a kill loses nothing.

Layout of ``OUT/NAME-TIMESTAMP/`` (never reused: a second run started in the same
second gets ``-2``, ``-3``, ...)::

    experiment.yaml     the resolved experiment (all defaults and overrides filled in)
    command.txt         how the run was started
    logs.h5             trainer logs: one group per hook, one dataset per logged value
    last.h5             the network after the latest epoch (Network.from_hdf5)
    best.h5             the network at the best value of the watched log
    checkpoint.h5       network parameters, stepper, trainer, iterator and random states
    status.json         'running' / 'finished' / 'interrupted' / 'diverged' / 'failed',
                        epochs, best (informative: the checkpoint says where training is)
    .lock               held by the process training in the directory (run_lock)

Every file is written under a temporary name in the same folder and renamed with
``os.replace``, so a kill at any moment leaves the previous version readable.
"""

import datetime
import json
import os
import pathlib

import numpy as np
import yaml

from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.experiment.overrides import override_label
from brainstorm.utils import temporary_file_beside

EXPERIMENT_FILE = 'experiment.yaml'
LOGS_FILE = 'logs.h5'
LAST_NETWORK = 'last.h5'
BEST_NETWORK = 'best.h5'
CHECKPOINT_FILE = 'checkpoint.h5'
STATUS_FILE = 'status.json'
COMMAND_FILE = 'command.txt'
CHECKPOINT_FORMAT = 'bstorm-checkpoint'
CHECKPOINT_VERSION = 1


def timestamp():
    return datetime.datetime.now().strftime('%Y%m%d-%H%M%S')


def create_run_directory(output_folder, name):
    """Create and return a fresh ``output_folder/NAME-TIMESTAMP`` (parents as needed)."""
    output_folder = pathlib.Path(output_folder)
    try:
        output_folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInputError(f"cannot create the output folder: {error.strerror}",
                            Location(str(output_folder))) from error
    stem = f"{name}-{timestamp()}"
    for attempt in range(1, 1000):
        candidate = output_folder / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise BadInputError(f"cannot create a run directory: {error.strerror}",
                                Location(str(candidate))) from error
        return candidate
    raise BadInputError("no free run directory name", Location(str(output_folder)))


# ---- atomic writes -----------------------------------------------------------------------------

def _temporary_in(path):
    handle, temporary = temporary_file_beside(path)
    return handle, temporary


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (fsync'd temporary file, then rename)."""
    handle, temporary = _temporary_in(path)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def write_hdf5(path, fill):
    """Create the HDF5 file ``path`` atomically; ``fill(h5file)`` writes its contents."""
    import h5py
    handle, temporary = _temporary_in(path)
    os.close(handle)
    try:
        with h5py.File(temporary, 'w') as h5file:
            fill(h5file)
        with open(temporary, 'rb') as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + '\n')


def write_json_in_place_if_need_be(path, data):
    """:func:`write_json`, else (no space, no permission for a new file) overwrite the
    existing file in place; if that fails too, warn on stderr and go on."""
    try:
        write_json(path, data)
        return
    except OSError:
        pass
    try:
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(json.dumps(data, indent=2) + '\n')
    except OSError as error:
        from bstorm_cli import console
        console.err().print(f"warning: {path}: cannot record the status "
                            f"{data.get('status')!r}: {error.strerror}",
                            markup=False, highlight=False)


def write_experiment(path, resolved, source, overrides):
    """The resolved experiment as YAML, with where it came from in a comment."""
    header = f"# resolved experiment: {source}\n"
    if overrides:
        # as the user typed them: --seed 9 rather than the --set it stands for
        header += '# overrides: ' + ' '.join(override_label(item) for item in overrides) + '\n'
    header += '# every default is filled in; bstorm train --resume reads this file\n'
    write_text(path, header + yaml.safe_dump(resolved, sort_keys=False, default_flow_style=None,
                                             allow_unicode=True, width=100))


# ---- nested state <-> HDF5 ------------------------------------------------------------------

def _escape(key):
    return str(key).replace('%', '%25').replace('/', '%2F').replace('.', '%2E')


def _unescape(key):
    return key.replace('%2E', '.').replace('%2F', '/').replace('%25', '%')


def save_state(group, state):
    """Store a nested state (dicts, lists, tuples, numpy arrays and scalars, str, None).

    Arrays keep dtype and shape exactly; Python scalars go through JSON (exact for
    floats); numpy scalars are stored as 0-d arrays so their dtype is kept.
    """
    if isinstance(state, dict):
        group.attrs['@kind'] = 'dict'
        group.attrs['@keys'] = json.dumps([str(key) for key in state])
        for key, value in state.items():
            _save_item(group, _escape(key), value)
    elif isinstance(state, list) and state and all(
            type(item) in (int, float) for item in state):
        raise TypeError('numeric lists are stored as datasets by _save_item')
    elif isinstance(state, (list, tuple)):
        group.attrs['@kind'] = 'list' if isinstance(state, list) else 'tuple'
        group.attrs['@length'] = len(state)
        for position, value in enumerate(state):
            _save_item(group, str(position), value)
    else:
        raise TypeError(f"cannot store a state of type {type(state).__name__}")


def _is_number_list(value):
    return isinstance(value, list) and value and (
        all(type(item) is float for item in value) or all(type(item) is int for item in value))


def _save_item(group, name, value):
    if _is_number_list(value):  # logs: long lists of Python floats, kept exactly
        dataset = group.create_dataset(name, data=np.asarray(value))
        dataset.attrs['@list'] = True
    elif isinstance(value, (dict, list, tuple)):
        save_state(group.create_group(name), value)
    elif isinstance(value, np.ndarray):
        group.create_dataset(name, data=value)
    elif isinstance(value, np.generic):
        dataset = group.create_dataset(name, data=np.asarray(value))
        dataset.attrs['@scalar'] = True
    elif value is None or isinstance(value, (bool, int, float, str)):
        group.attrs['@json:' + name] = json.dumps(value)
    else:
        raise TypeError(f"cannot store {name!r} of type {type(value).__name__} in a checkpoint")


def load_state(group, check_dataset=None, depth=0):
    """The nested state stored by :func:`save_state`.

    Args:
        group (h5py.Group): where it is stored.
        check_dataset (Optional[callable]): ``check_dataset(dataset, name)`` is called
            before each dataset is read (to refuse hostile sizes).
        depth (int): nesting level of ``group`` (deeper than 32 is refused).
    """
    import h5py
    if depth > 32:
        raise ValueError(f"{group.name}: nested too deeply")
    kind = group.attrs.get('@kind', 'dict')
    items = {}
    for name, value in group.attrs.items():
        if name.startswith('@json:'):
            items[name[len('@json:'):]] = json.loads(value)
    for name, member in group.items():
        if isinstance(member, h5py.Group):
            items[name] = load_state(member, check_dataset, depth + 1)
            continue
        if check_dataset is not None:
            check_dataset(member, member.name)
        if member.attrs.get('@scalar', False):
            items[name] = member[()]
        elif member.attrs.get('@list', False):
            items[name] = member[()].tolist()
        else:
            items[name] = member[()]
    if kind in ('list', 'tuple'):
        values = [items[str(position)] for position in range(int(group.attrs['@length']))]
        return values if kind == 'list' else tuple(values)
    keys = json.loads(group.attrs['@keys']) if '@keys' in group.attrs else \
        [_unescape(name) for name in items]
    return {key: items[_escape(key)] for key in keys}


def save_checkpoint(path, parameters, state, info):
    """Write checkpoint.h5 atomically: parameters, nested state, and JSON info."""
    def fill(h5file):
        h5file.attrs['format'] = CHECKPOINT_FORMAT
        h5file.attrs['format_version'] = CHECKPOINT_VERSION
        h5file.attrs['info'] = json.dumps(info)
        h5file.create_dataset('parameters', data=parameters)
        save_state(h5file.create_group('state'), state)
    write_hdf5(path, fill)


def load_checkpoint(path):
    """(parameters, state, info) from checkpoint.h5; a bad file is a BadInputError."""
    import h5py
    from bstorm_cli.experiment import checkpoint_check
    location = Location(str(path))
    if not pathlib.Path(path).exists():
        raise BadInputError("no checkpoint in this run directory (the run was stopped "
                            "before its first checkpoint)", location)
    try:
        with h5py.File(path, 'r') as h5file:
            if h5file.attrs.get('format') != CHECKPOINT_FORMAT:
                raise BadInputError("not a bstorm checkpoint", location)
            info = json.loads(h5file.attrs['info'])
            parameters = h5file['parameters']
            checkpoint_check.check_dataset(parameters, location, 'parameters')
            parameters = parameters[()]
            state = load_state(h5file['state'], lambda dataset, name:
                               checkpoint_check.check_dataset(dataset, location, name))
    except (OSError, KeyError, ValueError, TypeError, AttributeError,
            RecursionError) as error:
        raise BadInputError(f"the checkpoint cannot be read ({error})", location) from error
    checkpoint_check.check_contents(parameters, state, info, location)
    return parameters, state, info


def checkpoint_is_finished(checkpoint):
    """True if ``checkpoint`` (parameters, state, info) was taken after training ended."""
    _, state, info = checkpoint
    trainer_state = state.get('trainer') if isinstance(state, dict) else None
    return info.get('reason') == 'finished' or (
        isinstance(trainer_state, dict) and trainer_state.get('finished') is True)


def complete_finished_run(folder, checkpoint):
    """Resuming a finished run: record it as finished (status.json); train nothing.

    ``last.h5`` was written before the checkpoint of the last epoch and stays as it is.
    """
    from bstorm_cli import console
    from bstorm_cli.exit_codes import ExitStatus
    _, state, info = checkpoint
    run_state = state.get('run', {})
    epochs, updates = run_state.get('epochs_done', 0), run_state.get('updates_done', 0)
    status_path = pathlib.Path(folder) / STATUS_FILE
    previous = read_status(status_path)
    if previous.get('status') != 'finished':
        previous.update({'status': 'finished', 'message': 'completed by --resume',
                         'epochs': epochs, 'updates': updates,
                         'best_value': run_state.get('best_value'),
                         'best_epoch': run_state.get('best_epoch'), 'time': timestamp()})
        write_json(status_path, previous)
    console.err().print(f"{folder}: this run already finished ({epochs} epochs, {updates} "
                        f"updates); there is nothing to resume", markup=False,
                        highlight=False)
    return ExitStatus.OK


def read_status(path):
    """status.json as a dict ({} when missing or unreadable: the checkpoint is what counts)."""
    try:
        status = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


# ---- logs ----------------------------------------------------------------------------------------

#: group of logs.h5 holding, per log, the epoch and update number of every entry
STEPS_GROUP = '@steps'


def save_logs(path, logs, steps=None):
    """Trainer logs (nested dicts of lists of numbers) as HDF5: groups and datasets.

    Args:
        path: the file to write (atomically).
        logs (dict): ``Trainer.logs``.
        steps (Optional[dict]): ``Trainer.log_steps``; stored under ``@steps/NAME/``
            as the datasets ``epoch_nr`` and ``update_nr``.
    """
    def fill(h5file):
        h5file.attrs['format'] = 'bstorm-logs'
        _write_logs(h5file, logs)
        if steps:
            group = h5file.create_group(STEPS_GROUP)
            for name, numbers in steps.items():
                entry = group.create_group(_escape(name))
                for key in ('epoch_nr', 'update_nr'):
                    entry.create_dataset(key, data=np.asarray(numbers[key], dtype=np.int64))
    write_hdf5(path, fill)


def _write_logs(group, logs):
    for key, value in logs.items():
        name = _escape(key)
        if isinstance(value, dict):
            _write_logs(group.create_group(name), value)
            continue
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            group.attrs['@json:' + name] = json.dumps(value, default=str)
            continue
        group.create_dataset(name, data=array)


def read_logs(path):
    """Flat {dotted log name: 1-D numpy array} of a logs.h5 file.

    Each dataset is checked from its metadata before it is read (see
    ``checkpoint_check.check_dataset``): a damaged or hostile file is a BadInputError.
    """
    import h5py
    from bstorm_cli.experiment.checkpoint_check import check_dataset
    found = {}

    def visit(name, member):
        if isinstance(member, h5py.Dataset) and not name.startswith(STEPS_GROUP + '/'):
            check_dataset(member, Location(str(path)), name)
            found['.'.join(_unescape(part) for part in name.split('/'))] = member[()]
    with h5py.File(path, 'r') as h5file:
        h5file.visititems(visit)
    return found


def read_log_steps(path):
    """{top-level log name: (epoch numbers, update numbers)} of a logs.h5 file ({} if the
    file predates them)."""
    import h5py
    steps = {}
    with h5py.File(path, 'r') as h5file:
        group = h5file.get(STEPS_GROUP)
        if not isinstance(group, h5py.Group):
            return steps
        from bstorm_cli.experiment.checkpoint_check import check_dataset
        for name, entry in group.items():
            try:
                numbers = []
                for key in ('epoch_nr', 'update_nr'):
                    check_dataset(entry[key], Location(str(path)), f"{name}/{key}")
                    numbers.append(np.asarray(entry[key][()]).ravel())
                steps[_unescape(name)] = tuple(numbers)
            except (KeyError, TypeError, AttributeError):
                continue
    return steps
