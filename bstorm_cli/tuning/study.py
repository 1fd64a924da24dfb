"""A study folder: its settings, its Optuna storage, its sampler and pruner.

Layout of ``OUT/NAME-study-TIMESTAMP/``::

    study.json      what the study searches and how (experiment, --set values, the
                    space, direction, sampler seed, pruner, number of trials)
    journal.log     the Optuna storage (JournalStorage on a JournalFileBackend)
    NAME-trial-0000-TIMESTAMP/  ...   one ordinary run directory per trial

Why a journal file and not SQLite: ``--jobs N`` runs N worker processes that write
the same study at the same time. SQLite serializes writers with a database lock that
concurrent Optuna workers run into ("database is locked"), and a process killed in
the middle of a transaction can leave a journal that needs SQLite's recovery. Optuna's
JournalFileBackend is an append-only log: each change is one JSON line, appended and
fsync'd while holding a lock file (created with O_CREAT|O_EXCL, so exactly one process
holds it), and every process rebuilds the study by replaying the log. Several
processes on one machine are therefore safe, and a kill loses at most a partial last
line, which :func:`open_storage` trims when a study is resumed.
"""

import json
import os
import pathlib

from bstorm_cli.errors import BadInputError, Location

SETTINGS_FILE = 'study.json'
JOURNAL_FILE = 'journal.log'
STUDY_NAME = 'bstorm'
SETTINGS_FORMAT = 'bstorm-study'

#: the pruners --pruner offers
PRUNERS = ('median', 'hyperband', 'none')


def open_storage(folder, repair=False):
    """The study's JournalStorage; ``repair`` trims a partial last line (a killed write)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
    path = pathlib.Path(folder) / JOURNAL_FILE
    if repair:
        trim_partial_line(path)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def trim_partial_line(path):
    """Cut the journal after its last complete line (a process killed while appending)."""
    if not path.exists():
        return
    with open(path, 'rb+') as stream:
        data = stream.read()
        end = data.rfind(b'\n') + 1
        if end != len(data):
            stream.truncate(end)
            stream.flush()
            os.fsync(stream.fileno())


def make_pruner(settings):
    """The Optuna pruner described by ``settings['pruner']``."""
    import optuna
    pruner = settings['pruner']
    if pruner['type'] == 'median':
        return optuna.pruners.MedianPruner(n_startup_trials=pruner['startup_trials'],
                                           n_warmup_steps=pruner['warmup_epochs'])
    if pruner['type'] == 'hyperband':
        return optuna.pruners.HyperbandPruner(min_resource=max(1, pruner['warmup_epochs']))
    return optuna.pruners.NopPruner()


def make_sampler(settings, worker_index):
    """TPE, seeded with the study's seed plus the worker's index (one worker: the seed)."""
    import optuna
    seed = settings['seed']
    return optuna.samplers.TPESampler(seed=None if seed is None else seed + worker_index)


def load_study(folder, worker_index=0, repair=False):
    """(optuna.Study, settings) of the study in ``folder``."""
    import optuna
    settings = read_settings(folder)
    study = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(folder, repair),
                              sampler=make_sampler(settings, worker_index),
                              pruner=make_pruner(settings))
    return study, settings


def create_study(folder, settings):
    """Write ``study.json`` and create the study's storage in the new ``folder``."""
    import optuna
    from bstorm_cli.experiment import run_dir
    run_dir.write_json(pathlib.Path(folder) / SETTINGS_FILE, settings)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # bstorm prints its own lines
    optuna.create_study(study_name=STUDY_NAME, storage=open_storage(folder),
                        direction=settings['direction'])


def read_settings(folder):
    """The settings of the study in ``folder``; a folder that is not a study is bad input."""
    folder = pathlib.Path(folder)
    path = folder / SETTINGS_FILE
    if not folder.is_dir():
        raise BadInputError("no such study folder", Location(str(folder)))
    if not path.exists() or not (folder / JOURNAL_FILE).exists():
        raise BadInputError(f"not a bstorm tune study (no {SETTINGS_FILE} and "
                            f"{JOURNAL_FILE})", Location(str(folder)))
    try:
        settings = json.loads(path.read_text(encoding='utf-8'))
    except ValueError as error:
        raise BadInputError(f"cannot read the study settings ({error})",
                            Location(str(path))) from error
    if not isinstance(settings, dict) or settings.get('format') != SETTINGS_FORMAT:
        raise BadInputError("not a bstorm study settings file", Location(str(path)))
    return settings
