"""Options and helpers the commands share."""

import pathlib

import click

from bstorm_cli.errors import BadInputError, Location

set_option = click.option(
    '--set', 'overrides', multiple=True, metavar='KEY.PATH=VALUE',
    help='Override a value of the experiment (repeatable), e.g. '
         '--set trainer.stepper.learning_rate=0.01')
verbose_option = click.option('--verbose', is_flag=True,
                              help='List every problem (by default the first 20).')

#: problems printed before "N more; use --verbose"
PROBLEM_LIMIT = 20


def problem_limit(verbose):
    return None if verbose else PROBLEM_LIMIT


def is_network_file(path):
    """Whether ``path`` names an HDF5 network (by extension) rather than an experiment."""
    return pathlib.Path(path).suffix.lower() in ('.h5', '.hdf5', '.hdf')


def check_output_file(output, force):
    """Refuse to replace an existing ``output`` without ``--force``, or to write into a
    folder that does not exist (BadInputError located at the file)."""
    if pathlib.Path(output).exists() and not force:
        raise BadInputError("the file exists already; use --force to replace it",
                            Location(str(output)))
    if not pathlib.Path(output).resolve().parent.is_dir():
        raise BadInputError("the output folder does not exist", Location(str(output)))


def engine_file_error(error, path):
    """A BadInputError located at ``path`` for an engine FileFormatError/DataError."""
    text = str(error)
    prefix = f"{path}: "
    if text.startswith(prefix):
        text = text[len(prefix):]
    return BadInputError(text, Location(str(path)))


def load_network_file(path):
    """``Network.from_hdf5`` with its errors as one located line."""
    from brainstorm.errors import BrainstormError
    from brainstorm.structure.network import Network
    # a file's initializers and modifiers are re-created by Describable name, so their
    # classes must be registered first (Network.from_hdf5 does not import them itself)
    import brainstorm.initializers  # noqa: F401
    import brainstorm.value_modifiers  # noqa: F401
    from bstorm_cli.experiment.run_lookup import names_a_run, network_of_run
    if names_a_run(path):  # a run directory stands for its best network
        path = network_of_run(path)
    if not pathlib.Path(path).exists():
        raise BadInputError("no such file", Location(str(path)))
    try:
        return Network.from_hdf5(path)
    except BrainstormError as error:
        raise engine_file_error(error, path) from error


def network_from_experiment(path, overrides, verbose=False):
    """The initialized network an experiment describes (data is read for its shapes)."""
    from bstorm_cli.experiment import build
    from bstorm_cli.experiment.document import load_experiment
    from brainstorm.randomness import global_rnd
    experiment = load_experiment(path, overrides, problem_limit(verbose))
    global_rnd.set_seed(experiment.resolved['seed'])
    sources = None
    try:
        if 'layers' not in experiment.resolved['network']:
            sources = build.build_data(experiment)
        network = build.build_network(experiment, sources)
        build.initialize_network(experiment, network)
    finally:
        if sources is not None:
            sources.close()
    return network, experiment


def load_any_network(path, overrides=(), verbose=False):
    """A network from an HDF5 network file, a run directory or an experiment file."""
    from bstorm_cli.experiment.run_lookup import names_a_run
    if is_network_file(path) or names_a_run(path):
        if overrides:
            raise BadInputError("--set applies to experiment files, not to network files",
                                Location(str(path)))
        return load_network_file(path), None
    return network_from_experiment(path, overrides, verbose)
