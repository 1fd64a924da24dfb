"""Everything a run needs, built from a validated experiment, with every problem collected.

``validate`` builds all of it and reports each problem; ``train`` builds it once more
in the run directory and starts the trainer. Building is deterministic for a given
seed (see :mod:`bstorm_cli.experiment.build`), which ``--resume`` relies on.
"""

import dataclasses
import pathlib

from bstorm_cli.errors import BadInputError
from bstorm_cli.experiment import build, checks
from bstorm_cli.experiment.document import raise_problems


@dataclasses.dataclass
class RunSetup:
    """The objects of one run.

    Attributes:
        experiment: the validated Experiment.
        sources (build.DataSources): data file and iterators.
        network (brainstorm.Network): initialized, on its handler.
        stepper: the training stepper.
        hooks (list): the experiment's hooks, in order.
        train_scorers (list): scorers evaluated on the training batches.
    """

    experiment: object
    sources: object = None
    network: object = None
    stepper: object = None
    hooks: list = dataclasses.field(default_factory=list)
    train_scorers: list = dataclasses.field(default_factory=list)

    def close(self):
        if self.sources is not None:
            self.sources.close()


FILE_ARGUMENTS = ('filename',)


def _hook_spec_in_folder(spec, folder):
    """Hook file names are relative to the run directory (never the current folder)."""
    spec = dict(spec)
    for key in FILE_ARGUMENTS:
        if isinstance(spec.get(key), str):
            path = pathlib.Path(spec[key])
            if not path.is_absolute():
                spec[key] = str(pathlib.Path(folder) / path)
    return spec


def build_run(experiment, run_folder, handler_override=None, limit=None):
    """Build data, network, stepper and hooks; raise every problem found at once.

    Args:
        experiment: a validated Experiment.
        run_folder: the folder that hook file names are relative to.
        handler_override (Optional[dict]): a handler component replacing ``handler``.
        limit (Optional[int]): how many problems to print.

    Raises:
        BadInputError / MultipleBadInputError.
    """
    from brainstorm.randomness import global_rnd
    resolved = experiment.resolved
    locate = experiment.index.locate
    problems = list(checks.check_training_setup(experiment))
    setup = RunSetup(experiment)
    global_rnd.set_seed(resolved['seed'])
    try:
        try:
            setup.sources = build.build_data(experiment)
        except BadInputError as error:
            problems.append(error)
        if setup.sources is not None:
            try:
                setup.network = build.build_network(experiment, setup.sources)
                setup.network.data_description = build.data_description(
                    setup.sources.attributes)
            except BadInputError as error:
                problems.append(error)
        if setup.network is not None:
            problems += checks.check_data_fits_network(experiment, setup.sources, setup.network)
            problems += checks.check_buffer_paths(experiment, setup.network)
            setup.network.compute_data_deltas = build.data_deltas_wanted(resolved)
            try:
                handler_spec = handler_override or resolved['handler']
                handler = build.build_handler(handler_spec, locate)
                setup.network.set_handler(handler)
                build.initialize_network(experiment, setup.network)
            except BadInputError as error:
                problems.append(error)
        trainer = resolved['trainer']
        try:
            setup.stepper = build.build_component('stepper', trainer['stepper'],
                                                  ('trainer', 'stepper'), locate)
        except BadInputError as error:
            problems.append(error)
        for position, spec in enumerate(trainer['hooks']):
            try:
                setup.hooks.append(build.build_component(
                    'hook', _hook_spec_in_folder(spec, run_folder),
                    ('trainer', 'hooks', position), locate))
            except BadInputError as error:
                problems.append(error)
        for position, spec in enumerate(trainer['train_scorers']):
            try:
                setup.train_scorers.append(build.build_component(
                    'scorer', spec, ('trainer', 'train_scorers', position), locate))
            except BadInputError as error:
                problems.append(error)
        raise_problems(problems, limit)
    except BaseException:
        setup.close()
        raise
    return setup
