"""Start, resume and run a study with one or several worker processes."""

import dataclasses
import pathlib
import subprocess
import sys

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, RunFailedError
from bstorm_cli.exit_codes import ExitStatus
from bstorm_cli.tuning import study as study_module


@dataclasses.dataclass
class TuneRequest:
    """What ``bstorm tune EXPERIMENT.yaml`` was asked to do.

    Attributes:
        experiment (str): the experiment file.
        overrides (tuple[str]): ``--set`` values applied to every trial.
        space_file (Optional[str]): ``--space FILE`` instead of the ``search:`` section.
        out (Optional[str]): the folder the study folder is created in.
        trials (int): trials in the study (all workers together).
        timeout (Optional[float]): seconds after which no worker starts a new trial.
        jobs (int): worker processes.
        seed (Optional[int]): the sampler's seed.
        pruner (str): one of ``study.PRUNERS``.
        startup_trials (int): trials that finish before the median pruner prunes.
        warmup_epochs (int): epochs of every trial that are never pruned.
        verbose (bool): print every problem.
    """

    experiment: str
    overrides: tuple = ()
    space_file: str = None
    out: str = None
    trials: int = 20
    timeout: float = None
    jobs: int = 1
    seed: int = None
    pruner: str = 'median'
    startup_trials: int = 5
    warmup_epochs: int = 0
    verbose: bool = False


def start_study(request):
    """Validate the experiment and its space, create the study folder; return it."""
    from bstorm_cli.commands._common import problem_limit
    from bstorm_cli.commands.train import _output_folder
    from bstorm_cli.commands.validate import validate_experiment
    from bstorm_cli.experiment import checks, run_dir
    from bstorm_cli.experiment.document import load_experiment
    from bstorm_cli.tuning.space import search_space
    limit = problem_limit(request.verbose)
    experiment = load_experiment(request.experiment, request.overrides, limit)
    dimensions = search_space(experiment, request.space_file, limit)
    validate_experiment(request.experiment, request.overrides, request.verbose)
    best_log, criterion = checks.best_log(experiment)
    if best_log is None:
        raise BadInputError("the experiment monitors no value for the study to optimize",
                            experiment.locate('best'),
                            hint="add a MonitorScores or MonitorLoss hook, or set best.log")
    settings = {
        'format': study_module.SETTINGS_FORMAT, 'version': 1,
        'name': experiment.name,
        'experiment': str(pathlib.Path(request.experiment).resolve()),
        'overrides': [str(item) for item in request.overrides],
        'space_file': request.space_file,
        'dimensions': [{'key': item.key, 'spec': item.spec} for item in dimensions],
        'best_log': best_log, 'direction': 'maximize' if criterion == 'max' else 'minimize',
        'seed': request.seed, 'trials': request.trials,
        'pruner': {'type': request.pruner, 'startup_trials': request.startup_trials,
                   'warmup_epochs': request.warmup_epochs},
        'created': run_dir.timestamp(),
    }
    folder = run_dir.create_run_directory(_output_folder(experiment, request.out),
                                          f"{experiment.name}-study")
    study_module.create_study(folder, settings)
    console.err().print(f"study folder: {folder}", markup=False, highlight=False)
    return folder


def prepare_resume(folder, trials=None):
    """Make a stopped study ready to go on; return how many trials are left to run.

    Trials that a kill left 'running' are marked failed, and every trial that was
    interrupted (killed or Ctrl-C) is queued again with the same parameters, once.
    ``trials`` replaces the study's total number of trials.
    """
    from optuna.trial import TrialState
    study, settings = study_module.load_study(folder, repair=True)
    if trials is not None:
        settings['trials'] = trials
        from bstorm_cli.experiment import run_dir
        run_dir.write_json(pathlib.Path(folder) / study_module.SETTINGS_FILE, settings)
    all_trials = study.get_trials(deepcopy=False)
    retried = {trial.user_attrs.get('retry_of') for trial in all_trials} - {None}
    interrupted = []
    for trial in all_trials:
        if trial.state == TrialState.RUNNING:  # its process was killed
            study.tell(trial.number, state=TrialState.FAIL)
            interrupted.append(trial.number)
        elif trial.state == TrialState.FAIL and trial.user_attrs.get('interrupted'):
            interrupted.append(trial.number)  # stopped by Ctrl-C
    for trial in all_trials:
        if trial.number in interrupted and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={'retry_of': trial.number},
                                skip_if_exists=False)
    not_counted = set(interrupted) | retried
    done = sum(1 for trial in study.get_trials(deepcopy=False)
               if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or
               (trial.state == TrialState.FAIL and trial.number not in not_counted))
    return max(0, settings['trials'] - done)


def run_workers(folder, trials, timeout, jobs):
    """Run ``trials`` trials in ``jobs`` processes; return an ExitStatus."""
    from bstorm_cli.tuning.worker import work
    if trials <= 0:
        return ExitStatus.OK
    jobs = max(1, min(jobs, trials))
    if jobs == 1:
        work(folder, trials, timeout, 0)
        return ExitStatus.OK
    shares = [trials // jobs + (1 if index < trials % jobs else 0) for index in range(jobs)]
    processes = [subprocess.Popen([sys.executable, '-m', 'bstorm_cli.tuning.worker',
                                   str(folder), str(share),
                                   'none' if timeout is None else str(timeout), str(index)])
                 for index, share in enumerate(shares)]
    codes = []
    for process in processes:
        while True:
            try:
                codes.append(process.wait())
                break
            except KeyboardInterrupt:  # the workers got the Ctrl-C too; let them finish
                continue
    if any(code == ExitStatus.INTERRUPTED for code in codes):
        raise KeyboardInterrupt
    if any(code != 0 for code in codes):
        raise RunFailedError(f"{sum(code != 0 for code in codes)} of {jobs} workers "
                             f"failed (exit codes {codes}); the study in {folder} keeps "
                             f"their finished trials")
    return ExitStatus.OK
