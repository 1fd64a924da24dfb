"""``bstorm train``: run an experiment into a new run directory, or resume one."""

import json
import pathlib

import click

from bstorm_cli import console
from bstorm_cli.commands._common import problem_limit, set_option
from bstorm_cli.progress_lines import DEFAULT_INTERVAL
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.experiment.run_lock import RunLock, remove_stale_temporaries
from bstorm_cli.interrupts import settle, terminate_as_interrupt

HANDLERS = {'numpy': {'type': 'NumpyHandler'}, 'pycuda': {'type': 'PyCudaHandler'}}


def _option_overrides(seed, handler):
    """--seed and --handler are shorthands for --set, so the run records them."""
    from bstorm_cli.experiment.overrides import OptionOverride
    extra = []
    if seed is not None:
        extra.append(OptionOverride(f"seed={seed}", f"--seed {seed}"))
    if handler == 'pycuda':
        from bstorm_cli.experiment.components import component_classes
        if 'PyCudaHandler' not in component_classes('handler'):
            raise BadInputError("PyCudaHandler is not available in this installation",
                                Location('--handler pycuda'),
                                hint="install the GPU extra on a machine with CUDA: "
                                     "pip install '.[gpu]'")
    if handler is not None:
        extra.append(OptionOverride(f"handler={json.dumps(HANDLERS[handler])}",
                                    f"--handler {handler}"))
    return extra


def _output_folder(experiment, out):
    if out is not None:
        return pathlib.Path(out)
    configured = experiment.resolved.get('output')
    if configured:
        path = pathlib.Path(configured).expanduser()
        return path if path.is_absolute() else experiment.folder / path
    return pathlib.Path.cwd() / 'runs'


def _absolute_paths(experiment):
    """The resolved experiment with its data file made absolute (the run dir is elsewhere)."""
    import copy
    from bstorm_cli.experiment.build import BUILTIN_PREFIX
    resolved = copy.deepcopy(experiment.resolved)
    data_file = resolved['data']['file']
    if not data_file.startswith(BUILTIN_PREFIX):
        path = pathlib.Path(data_file).expanduser()
        resolved['data']['file'] = str(path if path.is_absolute()
                                       else (experiment.folder / path).resolve())
    resolved['name'] = experiment.name
    resolved['output'] = None
    return resolved


def start_run(experiment_path, overrides, out, verbose, world=None, prepare=None,
              ends_process=False):
    """Validate, create the run directory, build and train; return (status, run).

    ``world`` (``experiment.parallel_run``) runs the steps on every MPI process
    together; by default there is one process. Rank 0 holds the run directory's lock.
    ``prepare(run)``, when given, is called with the TrainingRun before it trains
    (``bstorm tune`` attaches its pruning listener there, ``--quiet`` its display
    options). ``ends_process``: the process exits after the run (``bstorm train``), so
    once the run has written its outcome, SIGINT and SIGTERM stay ignored until it has
    (see :mod:`bstorm_cli.interrupts`).
    """
    from bstorm_cli.experiment import run_dir
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.experiment.parallel_run import SingleProcess
    from bstorm_cli.experiment.training_run import current_command_line
    world = world or SingleProcess()
    experiment = world.together(
        lambda: load_experiment(experiment_path, overrides, problem_limit(verbose)))
    with terminate_as_interrupt(until_exit=ends_process):
        output = _output_folder(experiment, out)
        # the folders this run creates above its run directory, deepest first: a run
        # that fails before it starts removes them again if they are still empty
        new_folders = [path for path in (output, *output.parents) if not path.exists()]
        folder = world.from_root(lambda: run_dir.create_run_directory(
            output, experiment.name))
        lock = RunLock(folder, current_command_line())
        try:
            if world.is_root:
                lock.acquire()
            return _train_in(folder, experiment, experiment_path, overrides, verbose, world,
                             prepare)
        except BaseException:
            if world.is_root:
                _discard_if_unstarted(folder, new_folders)
            raise
        finally:
            lock.release()


def _train_in(folder, experiment, experiment_path, overrides, verbose, world, prepare):
    from bstorm_cli.experiment import run_dir
    from bstorm_cli.experiment.setup import build_run
    from bstorm_cli.experiment.training_run import current_command_line
    setup = world.together(lambda: build_run(experiment, folder, limit=problem_limit(verbose)))
    try:
        experiment.resolved = _absolute_paths(experiment)
        if world.is_root:
            run_dir.write_experiment(folder / run_dir.EXPERIMENT_FILE, experiment.resolved,
                                     str(experiment_path), list(overrides))
            run_dir.write_text(folder / run_dir.COMMAND_FILE, current_command_line() + '\n')
        run = world.training_run(setup, folder, current_command_line())
        if prepare is not None:
            prepare(run)
        if not run.display_options.get('quiet'):
            console.err().print(f"run directory: {folder}", markup=False, highlight=False)
        return run.execute(), run
    finally:
        setup.close()


def _discard_if_unstarted(folder, new_folders=()):
    """Remove a run directory that holds no checkpoint yet (only files this run wrote),
    then those of ``new_folders`` (created for it, deepest first) that are empty."""
    from bstorm_cli.experiment import run_dir
    from bstorm_cli.experiment.run_lock import LOCK_FILE
    if (folder / run_dir.CHECKPOINT_FILE).exists():
        return
    remove_stale_temporaries(folder)
    for name in (run_dir.EXPERIMENT_FILE, run_dir.COMMAND_FILE, run_dir.STATUS_FILE,
                 run_dir.LOGS_FILE, LOCK_FILE):
        try:
            (folder / name).unlink()
        except OSError:
            pass
    for path in (folder, *new_folders):
        try:
            path.rmdir()
        except OSError:  # not empty (a started run, another run's files): keep it
            return


def resume_run(folder, verbose, world=None, prepare=None, ends_process=False):
    """Continue the run in ``folder`` from its checkpoint; return (status, run).

    Under MPI (``world``) the run continues on any number of processes; rank 0 holds
    the run directory's lock. A run whose checkpoint says it finished returns
    (status, None). ``folder`` may be ``latest`` or a run-name prefix;
    ``prepare(run)`` and ``ends_process`` as for :func:`start_run`.
    """
    from bstorm_cli.experiment import run_dir
    from bstorm_cli.experiment.parallel_run import SingleProcess
    from bstorm_cli.experiment.run_lookup import resolve_run_directory
    from bstorm_cli.experiment.training_run import current_command_line
    world = world or SingleProcess()
    folder = pathlib.Path(world.together(lambda: resolve_run_directory(folder)))
    lock = RunLock(folder, current_command_line())

    def take_the_run():
        if folder.is_dir():
            lock.acquire()
            remove_stale_temporaries(folder)  # of writes a kill cut short

    with terminate_as_interrupt(until_exit=ends_process):
        try:
            world.from_root(take_the_run)
            checkpoint, experiment, setup = world.together(lambda: _load_run(folder, verbose))
            if setup is None:  # the checkpoint is of a finished run
                status = world.from_root(
                    lambda: run_dir.complete_finished_run(folder, checkpoint))
                settle()
                return status, None
            try:
                run = world.training_run(setup, folder, current_command_line(), resume=True)
                if prepare is not None:
                    prepare(run)
                return run.execute(checkpoint), run
            finally:
                setup.close()
        finally:
            lock.release()


def _load_run(folder, verbose):
    """Checkpoint, experiment and built setup of the run directory ``folder`` (experiment
    and setup None when the checkpoint says the training had finished)."""
    from bstorm_cli.experiment import run_dir
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.experiment.setup import build_run
    if not folder.is_dir():
        raise BadInputError("no such run directory", Location(str(folder)))
    experiment_file = folder / run_dir.EXPERIMENT_FILE
    if not experiment_file.exists():
        raise BadInputError(f"not a run directory (no {run_dir.EXPERIMENT_FILE})",
                            Location(str(folder)))
    # the checkpoint, not status.json, says where training stands: a kill between the
    # last epoch's checkpoint and the final status leaves status.json at 'running'
    checkpoint = run_dir.load_checkpoint(folder / run_dir.CHECKPOINT_FILE)
    if run_dir.checkpoint_is_finished(checkpoint):
        return checkpoint, None, None
    experiment = load_experiment(experiment_file, (), problem_limit(verbose))
    return checkpoint, experiment, build_run(experiment, folder, limit=problem_limit(verbose))


def _dry_run(experiment_path, overrides, verbose):
    """``--dry-run``: one batch forward and backward, no run directory."""
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.experiment.dry_run import dry_run
    from bstorm_cli.experiment.network_info import human_bytes
    from bstorm_cli.exit_codes import ExitStatus
    experiment = load_experiment(experiment_path, overrides, problem_limit(verbose))
    summary = dry_run(experiment, problem_limit(verbose))
    memory = summary['memory_bytes']
    out = console.out()
    for line in (f"{experiment_path}: dry run passed; nothing was written",
                 f"parameters: {summary['parameters']:,}",
                 f"one batch (T={summary['time_size']}, B={summary['batch_size']}) forward "
                 f"and backward in {summary['seconds'] * 1000:.1f} ms, loss "
                 f"{summary['loss']:.4f}",
                 f"memory for T={summary['time_size']}, B={summary['batch_size']}: "
                 f"{human_bytes(memory['total'])} (parameters "
                 f"{human_bytes(memory['parameters'])}, gradients "
                 f"{human_bytes(memory['gradients'])}, forward "
                 f"{human_bytes(memory['forward'])}, backward "
                 f"{human_bytes(memory['backward'])})"):
        out.print(line, markup=False, highlight=False)
    return ExitStatus.OK


@click.command('train', epilog="""\b
Examples:
  bstorm train configs/quickstart.yaml
  bstorm train configs/quickstart.yaml --set trainer.stepper.learning_rate=0.05 --out /tmp/runs
  bstorm train --resume runs/quickstart-20240101-120000
  bstorm train --resume latest
  bstorm train configs/quickstart.yaml --dry-run""")
@click.argument('experiment', required=False, metavar='EXPERIMENT.yaml')
@set_option
@click.option('--out', '-o', default=None, metavar='DIR',
              help="Folder for the run directory (default: the experiment's 'output', "
                   "else ./runs).")
@click.option('--resume', default=None, metavar='RUN_DIR',
              help='Continue an interrupted run from its checkpoint, in its directory '
                   "('latest' or a run-name prefix name one under ./runs).")
@click.option('--handler', type=click.Choice(sorted(HANDLERS)), default=None,
              help='Run on this handler (the same as --set handler={type: ...}).')
@click.option('--seed', type=click.IntRange(min=0, max=2 ** 32 - 1), default=None,
              help='Seed for everything random (the same as --set seed=N).')
@click.option('--quiet', '-q', is_flag=True,
              help='Print no progress, rows or summary; only errors and the result lines.')
@click.option('--progress-interval', type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_INTERVAL, show_default=True, metavar='SECONDS',
              help='Seconds between two progress lines when stderr is not a terminal (or '
                   'with --verbose).')
@click.option('--dry-run', is_flag=True,
              help='Build everything, run one batch forward and backward, report the '
                   'memory the network takes; write no run directory.')
@click.option('--verbose', is_flag=True,
              help='List every problem (by default the first 20), and print progress lines '
                   'on a terminal too (instead of the bar).')
def train_command(experiment, overrides, out, resume, handler, seed, quiet, progress_interval,
                  dry_run, verbose):
    """Train the network of an experiment file.

    Creates OUT/NAME-TIMESTAMP/ with the resolved experiment, the logs, the last
    and the best network and a checkpoint after every epoch. Ctrl-C or SIGTERM
    stop after the current update with a checkpoint (exit 130); --resume
    continues exactly where the run stopped. A run whose parameters or loss
    become NaN or infinite ends 'diverged' (exit 3) and keeps its last finite
    checkpoint.
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose contradict each other; give one")
    from bstorm_cli.experiment.parallel_run import current_world
    world = current_world()

    def prepare(run):
        run.display_options = {'quiet': quiet, 'verbose': verbose,
                               'interval': progress_interval}

    if resume is not None:
        if experiment is not None or overrides or out or handler or seed is not None or \
                dry_run:
            raise click.UsageError("--resume continues a run as it was started; give only "
                                   "--resume RUN_DIR (no EXPERIMENT, --set, --out, "
                                   "--handler, --seed or --dry-run)")
        status, run = resume_run(resume, verbose, world, prepare, ends_process=True)
        if run is None:  # it had already finished
            return status
    elif dry_run:
        if experiment is None:
            raise click.UsageError("--dry-run needs an EXPERIMENT.yaml")
        return _dry_run(experiment, tuple(overrides) + tuple(_option_overrides(seed, handler)),
                        verbose)
    else:
        if experiment is None:
            raise click.UsageError("give an EXPERIMENT.yaml to train, or --resume RUN_DIR")
        status, run = start_run(experiment, tuple(overrides) + tuple(
            _option_overrides(seed, handler)), out, verbose, world, prepare,
            ends_process=True)
    if not world.is_root:
        return status
    for line in run.result_lines():
        console.out().print(line, markup=False, highlight=False)
    return status
