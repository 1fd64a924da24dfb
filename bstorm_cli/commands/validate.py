"""``bstorm validate EXPERIMENT.yaml``: every schema and semantic problem at once, nothing run."""

import tempfile

import click

from bstorm_cli import console
from bstorm_cli.commands._common import problem_limit, set_option, verbose_option
from bstorm_cli.exit_codes import ExitStatus


def validate_experiment(path, overrides=(), verbose=False):
    """Load, validate and build everything ``train`` would; return a short summary dict.

    Raises:
        BadInputError / MultipleBadInputError: every problem found.
    """
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.experiment.setup import build_run
    experiment = load_experiment(path, overrides, problem_limit(verbose))
    with tempfile.TemporaryDirectory(prefix='bstorm-validate-') as folder:
        setup = build_run(experiment, folder, limit=problem_limit(verbose))
        try:
            return {
                'experiment': str(path),
                'name': experiment.name,
                'parameters': int(setup.network.buffer_manager.parameter_size),
                'iterators': {name: iterator.length
                              for name, iterator in setup.sources.iterators.items()},
                'data': str(setup.sources.path),
            }
        finally:
            setup.close()


@click.command('validate', epilog="""\b
Example:
  bstorm validate configs/quickstart.yaml
  bstorm validate my.yaml --set trainer.stepper.learning_rate=0.01
  bstorm validate my.yaml --set seed=3 --print > resolved.yaml""")
@click.argument('experiment', metavar='EXPERIMENT.yaml')
@set_option
@click.option('--print', 'print_resolved', is_flag=True,
              help='Print the resolved experiment (defaults filled in, --set applied) as '
                   'YAML; comments name where overridden values came from.')
@verbose_option
def validate_command(experiment, overrides, print_resolved, verbose):
    """Check an experiment file: schema, data file, shapes, hooks and buffer paths.

    Builds everything a training run would (data iterators, network, stepper,
    hooks) without training, and reports every problem it finds, one line each.
    """
    summary = validate_experiment(experiment, overrides, verbose)
    if print_resolved:
        from bstorm_cli.experiment.document import load_experiment
        from bstorm_cli.experiment.resolved_yaml import annotated_yaml
        loaded = load_experiment(experiment, overrides, problem_limit(verbose))
        click.echo(f"# resolved experiment: {experiment}\n"
                   + annotated_yaml(loaded.resolved, loaded.index.origins), nl=False)
        return ExitStatus.OK
    batches = ', '.join(f"{name}: {length} batches" for name, length in
                        summary['iterators'].items())
    console.out().print(f"{experiment}: valid ({summary['parameters']:,} parameters; "
                        f"{batches})", markup=False, highlight=False)
    return ExitStatus.OK
