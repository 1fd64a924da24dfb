"""One process at a time in a run directory: an advisory lock that names its holder.

``bstorm train`` holds ``RUN_DIR/.lock`` (``fcntl.flock``, released by the kernel when
the process ends, however it ends) from the moment the run directory exists until the
process exits. A second ``bstorm train --resume`` of the same run is refused with exit 2
and is told which process holds it (pid, host, command, since when): the file's text.

Holding the lock also makes it safe to delete what a killed writer left behind: the
temporary files (``.NAME.*.tmp``) of atomic writes that never reached their rename.
"""

import json
import os
import pathlib
import socket

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, Location

LOCK_FILE = '.lock'
#: temporary files of run_dir's atomic writes: '.' + final name + random part + '.tmp'
TEMPORARY_PATTERN = '.*.tmp'


class RunLock:
    """The exclusive lock of one run directory (a context manager).

    Args:
        folder (pathlib.Path): the run directory (it exists).
        command_line (str): what the holder runs, shown to whoever is refused.
    """

    def __init__(self, folder, command_line):
        self.folder = pathlib.Path(folder)
        self.command_line = command_line
        self._descriptor = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()

    def acquire(self):
        """Take the lock or raise BadInputError naming the holder."""
        import fcntl
        path = self.folder / LOCK_FILE
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise BadInputError(f"cannot lock the run directory: {error.strerror}",
                                Location(str(self.folder))) from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise BadInputError(f"this run is in use by {holder}", Location(str(self.folder)),
                                hint="wait for it to end (or stop it); one process at a "
                                     "time trains in a run directory") from None
        holder = {'pid': os.getpid(), 'host': socket.gethostname(),
                  'command': self.command_line, 'since': _now()}
        os.ftruncate(descriptor, 0)
        os.write(descriptor, (json.dumps(holder) + '\n').encode('utf-8'))
        self._descriptor = descriptor

    def release(self):
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None


def _now():
    import datetime
    return datetime.datetime.now().isoformat(timespec='seconds')


def _read_holder(descriptor):
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        holder = json.loads(os.read(descriptor, 4096).decode('utf-8'))
        return (f"process {holder['pid']} on {holder['host']} ({holder['command']}) "
                f"since {holder['since']}")
    except (OSError, ValueError, KeyError, TypeError):
        return 'another process'


def remove_stale_temporaries(folder):
    """Delete temporary files left by killed writes; call only while holding the lock.

    Returns:
        list[str]: the names removed.
    """
    removed = []
    for path in pathlib.Path(folder).glob(TEMPORARY_PATTERN):
        try:
            path.unlink()
        except OSError as error:
            console.err().print(f"warning: cannot remove {path}: {error.strerror}",
                                markup=False, highlight=False)
            continue
        removed.append(path.name)
    return removed
