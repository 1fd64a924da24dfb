"""An experiment file read, overridden, validated against the schemas and completed.

:func:`load_experiment` is the one entry point the commands use: YAML (positions kept)
-> ``--set`` overrides -> schema validation of the merged document (all problems at
once) -> defaults filled in. What it returns is the *resolved* experiment that a run
directory stores.
"""

import dataclasses
import pathlib

from bstorm_cli.errors import BadInputError, Location, MultipleBadInputError
from bstorm_cli.experiment import overrides as overrides_module
from bstorm_cli.experiment import schemas, user_components
from bstorm_cli.experiment.yaml_loader import load_yaml_file


@dataclasses.dataclass
class Experiment:
    """A validated experiment.

    Attributes:
        path (pathlib.Path): the experiment file.
        document (dict): the document as written plus overrides (no defaults).
        resolved (dict): ``document`` with every default filled in.
        index: ``locate(path) -> Location`` for the document's values.
        overrides (list[str]): the ``--set`` arguments applied.
    """

    path: pathlib.Path
    document: dict
    resolved: dict
    index: object
    overrides: list

    @property
    def folder(self):
        """The folder relative paths in the file are resolved against."""
        return self.path.resolve().parent

    @property
    def name(self):
        """The experiment's name: its ``name`` entry or the file name without extension."""
        return self.resolved.get('name') or self.path.stem

    def locate(self, *path):
        """Location of the value at ``path`` (keys and indices)."""
        return self.index.locate(path)

    def error(self, message, *path, hint=None):
        """A BadInputError about the value at ``path``."""
        return BadInputError(message, self.locate(*path), hint)


def raise_problems(problems, limit=None):
    """Raise one BadInputError or a MultipleBadInputError for a list of problems."""
    problems = schemas.sort_problems(problems)
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    raise MultipleBadInputError(problems, limit)


def load_experiment(path, set_arguments=(), limit=None):
    """Read, override, validate and complete the experiment file at ``path``.

    Args:
        path: the YAML file.
        set_arguments: ``--set key.path=value`` strings, applied in order.
        limit (Optional[int]): how many problems to print (the rest are counted).

    Raises:
        BadInputError / MultipleBadInputError: every problem found, located.
    """
    path = pathlib.Path(path)
    document, index = load_yaml_file(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise BadInputError(f"expected a mapping of experiment sections (data, network, "
                            f"trainer, ...), got {schemas.describe_value(document)}",
                            Location(str(path), 1, 1))
    origins = overrides_module.apply_overrides(document, list(set_arguments))
    index = overrides_module.OverlayIndex(index, origins)
    raise_problems(schemas.validate_document(document, index), limit)
    resolved = schemas.fill_defaults(document)
    experiment = Experiment(path=path, document=document, resolved=resolved, index=index,
                            overrides=list(set_arguments))
    raise_problems(user_components.check_and_import(experiment), limit)
    return experiment
