"""The search space of ``bstorm tune``: experiment key paths -> Optuna distributions.

The space is the experiment's ``search:`` section or a ``--space FILE`` (a YAML file
holding the same mapping, bare or under ``search:``)::

    search:
      trainer.stepper.learning_rate: {type: float, low: 0.001, high: 0.5, log: true}
      network.spec: {type: categorical, choices: ["F100 F100", "F200 D F200 D"]}

Each entry is checked twice before any trial runs: its own shape against the schema's
``distribution`` definition, and then every value it can produce at its edges (``low``,
``high``, each choice) is applied to the experiment exactly as a ``--set`` would be and
the whole experiment validated again. A problem is reported at the entry's place in
its file (``experiment.yaml:12:3: search.trainer.stepper.learning_rate``).
"""

import dataclasses
import json

from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.experiment import schemas
from bstorm_cli.experiment.overrides import OptionOverride, parse_path


@dataclasses.dataclass
class Dimension:
    """One searched value.

    Attributes:
        key (str): the experiment key path, as for ``--set`` (``trainer.stepper.learning_rate``).
        spec (dict): the distribution with its defaults: ``{type, low, high, log, step}``
            or ``{type: categorical, choices}``.
        location (Location): the entry's place, for error messages.
    """

    key: str
    spec: dict
    location: Location

    def distribution(self):
        """The Optuna distribution of this dimension."""
        import optuna
        spec = self.spec
        if spec['type'] == 'float':
            return optuna.distributions.FloatDistribution(
                spec['low'], spec['high'], log=spec['log'], step=spec['step'])
        if spec['type'] == 'int':
            return optuna.distributions.IntDistribution(
                spec['low'], spec['high'], log=spec['log'], step=spec['step'])
        return optuna.distributions.CategoricalDistribution(spec['choices'])

    def override(self, value):
        """The ``--set`` that gives this dimension ``value``, labelled by the entry."""
        return OptionOverride(f"{self.key}={json.dumps(value)}",
                              f"{self.location} = {json.dumps(value)}")

    def edge_values(self):
        """The values whose validity stands for the whole range."""
        if self.spec['type'] == 'categorical':
            return list(self.spec['choices'])
        return [self.spec['low'], self.spec['high']]


class _ShiftedIndex:
    """Positions of a bare space file, looked up with paths that start with 'search'."""

    def __init__(self, index):
        self.index = index
        self.file_name = index.file_name

    def locate(self, path):
        from bstorm_cli.experiment.yaml_loader import format_path
        location = self.index.locate(tuple(path)[1:])
        return dataclasses.replace(location, path=format_path(path))


def _space_from_file(space_file):
    from bstorm_cli.experiment.yaml_loader import load_yaml_file
    document, index = load_yaml_file(space_file)
    if isinstance(document, dict) and set(document) == {'search'}:
        return document['search'], index
    if not isinstance(document, dict):
        raise BadInputError(f"expected a mapping of key paths to distributions, got "
                            f"{schemas.describe_value(document)}", Location(str(space_file), 1, 1))
    return document, _ShiftedIndex(index)


def _range_problems(key, spec, locate):
    problems = []
    if spec['type'] == 'categorical':
        return problems
    low, high = spec['low'], spec['high']
    if low > high:
        problems.append(BadInputError(f"low ({low}) is above high ({high})",
                                      locate(('search', key, 'low'))))
    if spec['log'] and low <= 0:
        problems.append(BadInputError(f"a log scale needs low > 0, got {low}",
                                      locate(('search', key, 'low'))))
    if spec['log'] and spec.get('step') not in (None, 1):
        problems.append(BadInputError("log: true and a step cannot be combined (Optuna "
                                      "samples either on a log scale or on a grid)",
                                      locate(('search', key, 'step'))))
    return problems


def search_space(experiment, space_file=None, limit=None):
    """The dimensions to search, checked against the experiment.

    Args:
        experiment: the loaded Experiment (its ``search:`` section is used unless
            ``space_file`` is given).
        space_file (Optional[str]): a YAML file with the space.
        limit (Optional[int]): how many problems to print.

    Returns:
        list[Dimension]: in the order written.

    Raises:
        BadInputError / MultipleBadInputError: a malformed entry, a key path that is not
            in the experiment, or an edge value the experiment's schema rejects.
    """
    from bstorm_cli.experiment.document import load_experiment, raise_problems
    if space_file is not None:
        space, index = _space_from_file(space_file)
        raise_problems(_space_problems(space, index), limit)
    else:
        space, index = experiment.resolved.get('search'), experiment.index
        if not space:
            raise BadInputError("the experiment has no search: section and no --space "
                                "file was given", Location(str(experiment.path)),
                                hint="add e.g. search: {trainer.stepper.learning_rate: "
                                     "{type: float, low: 0.001, high: 0.5, log: true}}")
    filled = schemas.fill_defaults({'search': space})['search'] if space_file else space
    locate = index.locate
    dimensions, problems = [], []
    for key, spec in filled.items():
        spec = _with_distribution_defaults(spec)
        where = locate(('search', key))
        try:
            path = parse_path(key, key)
        except BadInputError as error:
            problems.append(BadInputError(error.message, where))
            continue
        if path[0] == 'search':
            problems.append(BadInputError("the search space cannot search itself", where))
            continue
        problems += _range_problems(key, spec, locate)
        dimensions.append(Dimension(key, spec, where))
    raise_problems(problems, limit)
    for dimension in dimensions:
        for value in dimension.edge_values():
            try:
                load_experiment(experiment.path, list(experiment.overrides) +
                                [dimension.override(value)], limit)
            except BadInputError as error:
                problems.append(error)
                break
    raise_problems(problems, limit)
    return dimensions


def _space_problems(space, index):
    """Schema problems of a space read from its own file (the experiment schema's
    ``search`` definition; the sections a space file does not have are not missing)."""
    return [problem for problem in schemas.validate_document({'search': space}, index)
            if problem.location.path.startswith('search')]


def _with_distribution_defaults(spec):
    spec = dict(spec)
    if spec['type'] == 'float':
        spec.setdefault('log', False)
        spec.setdefault('step', None)
    elif spec['type'] == 'int':
        spec.setdefault('log', False)
        spec.setdefault('step', 1)
    return spec
