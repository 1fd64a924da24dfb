"""``bstorm tune EXPERIMENT.yaml``: search hyper-parameters with Optuna (extra ``[tune]``)."""

import click

from bstorm_cli.commands._common import set_option, verbose_option


@click.command('tune', epilog="""\b
Examples:
  bstorm tune configs/quickstart.yaml --trials 20 --seed 1
  bstorm tune my.yaml --space space.yaml --jobs 2 --set trainer.hooks[1].max_epochs=10
  bstorm tune --resume runs/quickstart-study-20240101-120000
  bstorm tune --show runs/quickstart-study-20240101-120000 --json""")
@click.argument('experiment', required=False, metavar='EXPERIMENT.yaml')
@click.option('--space', 'space_file', default=None, metavar='FILE',
              help="A YAML file with the search space (instead of the experiment's "
                   "search: section).")
@set_option
@click.option('--out', '-o', default=None, metavar='DIR',
              help="Folder for the study folder (default: the experiment's 'output', "
                   "else ./runs).")
@click.option('--trials', '-n', type=click.IntRange(min=1), default=None,
              help='Trials in the study, all workers together (default 20; with --resume: '
                   'the new total).')
@click.option('--timeout', type=click.FloatRange(min=0, min_open=True), default=None,
              metavar='SECONDS', help='Start no new trial after this many seconds.')
@click.option('--jobs', '-j', type=click.IntRange(min=1), default=1, show_default=True,
              help='Worker processes on this machine sharing the study.')
@click.option('--seed', type=click.IntRange(min=0), default=None,
              help="Seed of the sampler: the same seed suggests the same values (with "
                   "--jobs 1). The experiment's own seed is set with --set seed=N.")
@click.option('--pruner', type=click.Choice(['median', 'hyperband', 'none']),
              default='median', show_default=True,
              help='Stops trials whose value after an epoch is worse than the others\'.')
@click.option('--pruner-startup', 'startup_trials', type=click.IntRange(min=0), default=5,
              show_default=True, help='Trials that finish before the median pruner prunes.')
@click.option('--pruner-warmup', 'warmup_epochs', type=click.IntRange(min=0), default=0,
              show_default=True, help='Epochs of each trial that are never pruned.')
@click.option('--resume', default=None, metavar='STUDY',
              help='Go on with a stopped study (killed, Ctrl-C, or to add --trials).')
@click.option('--show', default=None, metavar='STUDY', help="Print a study's table and exit.")
@click.option('--json', 'as_json', is_flag=True, help='Print the trials as JSON.')
@verbose_option
def tune_command(experiment, space_file, overrides, out, trials, timeout, jobs, seed, pruner,
                 startup_trials, warmup_epochs, resume, show, as_json, verbose):
    """Search the hyper-parameters of an experiment with Optuna.

    Every trial is an ordinary run directory inside the study folder; its value
    is the experiment's best: log (maximized or minimized by its criterion),
    reported after every epoch so the pruner can stop bad trials early. The
    study lives in a journal file that survives a kill: --resume goes on.
    Needs the extra: pip install '.[tune]'. See docs/tuning.md.

    \b
    The space is the experiment's search: section (or --space FILE), e.g.
      search:
        trainer.stepper.learning_rate: {type: float, low: 0.001, high: 0.5, log: true}
        network.spec: {type: categorical, choices: ["F100 F100", "F200 D F200 D"]}
    """
    from bstorm_cli import tuning
    from bstorm_cli.tuning.runner import TuneRequest
    given = [name for name, value in (('EXPERIMENT', experiment), ('--resume', resume),
                                      ('--show', show)) if value is not None]
    if len(given) != 1:
        raise click.UsageError("give one of EXPERIMENT.yaml, --resume STUDY or --show STUDY")
    if show is not None:
        return tuning.show(show, as_json)
    if resume is not None:
        if space_file or overrides or out or seed is not None or pruner != 'median':
            raise click.UsageError("--resume goes on with the study as it was started; it "
                                   "takes only --trials, --timeout, --jobs and --json")
        return tuning.tune(resume=resume, trials=trials, timeout=timeout, jobs=jobs,
                           as_json=as_json)
    request = TuneRequest(experiment=experiment, overrides=tuple(overrides),
                          space_file=space_file, out=out,
                          trials=20 if trials is None else trials, timeout=timeout,
                          jobs=jobs, seed=seed, pruner=pruner, startup_trials=startup_trials,
                          warmup_epochs=warmup_epochs, verbose=verbose)
    return tuning.tune(request, as_json=as_json)
