"""Naming a run directory on the command line: a path, ``latest``, or a name prefix.

Every command that takes a run directory (``train --resume``, ``plot``, ``runs``, and
``evaluate``/``extract``/``info``/``draw-net`` in place of a network file) accepts:

- a path to the run directory;
- ``latest``: the newest run directory under ``./runs``;
- a prefix of a run's name, as ``quickstart-2026`` or ``runs/quickstart``: the newest
  run directory whose name starts with it (without a folder part: in ``./runs``, else
  in the current folder), so a shell glob that matched several runs is not needed.

"Newest" is by start time: the time the run wrote its ``experiment.yaml``.
"""

import pathlib

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, Location

#: the run folder ``latest`` and bare prefixes look in
DEFAULT_RUNS_FOLDER = 'runs'
LATEST = 'latest'


def is_run_directory(path):
    """Whether ``path`` is a run directory (it holds the resolved experiment.yaml)."""
    from bstorm_cli.experiment.run_dir import EXPERIMENT_FILE, STATUS_FILE
    path = pathlib.Path(path)
    return path.is_dir() and (path / EXPERIMENT_FILE).is_file() and \
        (path / STATUS_FILE).is_file()


def started(path):
    """When the run in ``path`` started (seconds since the epoch)."""
    from bstorm_cli.experiment.run_dir import EXPERIMENT_FILE
    return (pathlib.Path(path) / EXPERIMENT_FILE).stat().st_mtime


def run_directories(folder):
    """The run directories directly in ``folder``, oldest first."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.iterdir() if is_run_directory(path)),
                  key=lambda path: (started(path), path.name))


def _split(text):
    """(folder, name prefix); a bare prefix looks in ./runs, else in the current folder."""
    path = pathlib.Path(text)
    if len(path.parts) > 1:
        return path.parent, path.name
    default = pathlib.Path(DEFAULT_RUNS_FOLDER)
    if not any(run.name.startswith(text) or text == LATEST
               for run in run_directories(default)) and run_directories('.'):
        return pathlib.Path('.'), text
    return default, text


def resolve_run_directory(text, what='run directory'):
    """The run directory ``text`` names (a path, ``latest`` or a name prefix).

    Raises:
        BadInputError: nothing matches; the message lists what there is.
    """
    path = pathlib.Path(text)
    if path.is_dir():
        return path
    folder, prefix = _split(text)
    runs = run_directories(folder)
    if prefix == LATEST:
        if not runs:
            raise BadInputError(f"no run directories in {folder}/ for 'latest'",
                                Location(str(text)))
        return runs[-1]
    matches = [run for run in runs if run.name.startswith(prefix)]
    if not matches:
        names = ', '.join(run.name for run in runs[-5:])
        raise BadInputError(f"no such {what}, and no run in {folder}/ is named "
                            f"{prefix}...", Location(str(text)),
                            hint=f"newest runs: {names}; or use 'latest'" if runs else None)
    if len(matches) > 1:
        console.err().print(f"{text} matches {len(matches)} runs; using the newest, "
                            f"{matches[-1]}", markup=False, highlight=False)
    return matches[-1]


def names_a_run(text):
    """Whether a command argument that is not an existing file names a run directory."""
    path = pathlib.Path(text)
    if path.is_dir():
        return True
    if path.exists() or path.suffix.lower() in ('.yaml', '.yml', '.h5', '.hdf5', '.hdf'):
        return False
    folder, prefix = _split(text)
    return prefix == LATEST or any(run.name.startswith(prefix)
                                   for run in run_directories(folder))


def network_of_run(text):
    """The best network file of the run directory ``text`` names."""
    from bstorm_cli.experiment.run_dir import BEST_NETWORK
    folder = resolve_run_directory(text)
    if not is_run_directory(folder):
        runs = run_directories(folder)
        raise BadInputError("not a run directory (no experiment.yaml and status.json)",
                            Location(str(folder)),
                            hint=f"it holds {len(runs)} runs; name one of them, e.g. "
                                 f"{runs[-1]}" if runs else None)
    network = folder / BEST_NETWORK
    if not network.is_file():
        raise BadInputError(f"the run saved no {BEST_NETWORK} yet (it ends the first "
                            f"epoch with one)", Location(str(folder)))
    return network
