"""``mpiexec -n K bstorm train``: one training run on K processes, written by rank 0.

:func:`current_world` tells whether this ``bstorm`` is one of several processes
started by an MPI launcher (without a launcher it returns a :class:`SingleProcess`
and never imports mpi4py). The train command runs its steps through the world:

* ``world.together(step)`` runs a step (load the experiment, build the run) on
  every process and agrees on its outcome: if it fails anywhere, rank 0 prints
  one error (its own, else the first failing rank's) and every process exits with
  that error's code, so no process is left waiting for the others;
* ``world.from_root(step)`` runs a step on rank 0 only (create the run directory)
  and gives every process its result;
* ``world.training_run(...)`` makes a :class:`ParallelTrainingRun`: the experiment's
  trainer made data parallel (:mod:`brainstorm.parallel`); rank 0 writes the run
  directory, logs, checkpoints and progress; the others take part in every
  collective step (the checkpoint's state) and write nothing there (their end-of-run
  files go to a private scratch folder that is removed). An exception on any
  process ends the job through ``comm.Abort`` with one ``error: rank R of K: ...``
  line and the exit code the error has without MPI.
"""

import pathlib
import shutil
import tempfile

import click

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, CliError, RunFailedError
from bstorm_cli.exit_codes import ExitStatus
from bstorm_cli.experiment.training_run import TrainingRun


class SingleProcess:
    """The world of a ``bstorm`` without an MPI launcher: every step runs here."""

    is_root = True
    size = 1

    def together(self, step):
        return step()

    def from_root(self, step):
        return step()

    def training_run(self, setup, folder, command_line, resume=False):
        return TrainingRun(setup, folder, command_line, resume=resume)


def current_world():
    """The processes this ``bstorm`` trains with: MpiWorld, or SingleProcess.

    Raises:
        BadInputError: started by an MPI launcher without mpi4py, or processes that do
            not form one MPI world (exit 2; nothing was written).
    """
    from brainstorm.errors import ParallelSetupError
    from brainstorm.parallel.launch import world_communicator
    try:
        comm = world_communicator()
    except ParallelSetupError as error:
        raise BadInputError(str(error), None) from error
    return SingleProcess() if comm is None else MpiWorld(comm)


def _check_cuda_aware_setting():
    from brainstorm.errors import ParallelSetupError
    from brainstorm.parallel.cuda_aware import cuda_aware_setting
    try:
        cuda_aware_setting()
    except ParallelSetupError as error:
        raise BadInputError(str(error), None) from error


def _first_line(error):
    if isinstance(error, CliError):
        return error.lines()[0].removeprefix('error: ')
    if isinstance(error, click.ClickException):
        return error.format_message()
    return f"{type(error).__name__}: {error}"


def _exit_code(error):
    if isinstance(error, (KeyboardInterrupt, click.exceptions.Abort)):
        return ExitStatus.INTERRUPTED
    if isinstance(error, BadInputError):
        return ExitStatus.BAD_INPUT
    if isinstance(error, click.ClickException):
        return error.exit_code
    from brainstorm.errors import DataError, FileFormatError, ValidationError
    if isinstance(error, (ValidationError, DataError, FileFormatError)):
        return ExitStatus.BAD_INPUT
    return ExitStatus.RUN_FAILED


class MpiWorld:
    """Several ``bstorm`` processes of one MPI world; rank 0 writes and prints.

    Choosing the world also chooses each process's GPU (its local rank on the node,
    unless ``BRAINSTORM_CUDA_DEVICE`` is set), checks ``BRAINSTORM_MPI_CUDA_AWARE``
    and silences the consoles of the other ranks (their errors still reach stderr).

    Args:
        comm (mpi4py.MPI.Comm): the world.
    """

    def __init__(self, comm):
        from brainstorm.parallel.devices import select_cuda_device
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.is_root = self.rank == 0
        select_cuda_device(comm)
        if not self.is_root:
            console.silence()
        # a misspelt BRAINSTORM_MPI_CUDA_AWARE is refused now, once and with exit 2,
        # not at the first gradient reduction after the run directory exists
        self.together(_check_cuda_aware_setting)

    def together(self, step):
        """Run ``step`` on every process; return its result or end all of them alike."""
        try:
            result, failure = step(), None
        except Exception as error:  # each failure is reported below, once
            result, failure = None, error
        outcomes = self.comm.allgather(
            None if failure is None else (_first_line(failure), int(_exit_code(failure))))
        failed = [(rank, outcome) for rank, outcome in enumerate(outcomes) if outcome]
        if not failed:
            return result
        if self.is_root and failure is not None:
            raise failure
        if self.is_root:
            rank, (message, code) = failed[0]
            error = (BadInputError if code == ExitStatus.BAD_INPUT else RunFailedError)(
                f"rank {rank} of {self.size}: {message}", None)
            raise error
        raise click.exceptions.Exit(failed[0][1][1])  # rank 0 reports it

    def from_root(self, step):
        """Run ``step`` on rank 0; every process gets its result (or its failure)."""
        return self.comm.bcast(self.together(step if self.is_root else lambda: None), root=0)

    def training_run(self, setup, folder, command_line, resume=False):
        return ParallelTrainingRun(self.comm, setup, folder, command_line, resume=resume)


class ParallelTrainingRun(TrainingRun):
    """A TrainingRun over the processes of ``comm``; only rank 0 writes ``folder``."""

    def __init__(self, comm, setup, folder, command_line, resume=False):
        self.comm = comm
        self.is_root = comm.Get_rank() == 0
        if not self.is_root:  # what TrainingRun writes at its end goes to scratch
            folder = pathlib.Path(tempfile.mkdtemp(prefix=f"bstorm-rank{comm.Get_rank()}-"))
        super().__init__(setup, folder, command_line, resume)

    def _make_trainer(self):
        from brainstorm.parallel.trainer import data_parallel
        return data_parallel(super()._make_trainer(), self.comm)

    def record_epoch(self, epoch_nr, update_nr, logs):
        if self.is_root:
            super().record_epoch(epoch_nr, update_nr, logs)
            return
        if self.divergence_reason(logs) is not None:  # as rank 0 decides, together
            raise StopIteration('diverged')
        self.epochs_done, self.updates_done = epoch_nr, update_nr
        self.write_checkpoint('epoch')

    def divergence_reason(self, logs):
        """Decided together: diverged on every process if on any (rank 0's reason)."""
        reasons = self.comm.allgather(super().divergence_reason(logs))
        return next((reason for reason in reasons if reason is not None), None)

    def write_checkpoint(self, reason):
        if self.is_root:
            super().write_checkpoint(reason)
        else:
            self.trainer.get_state()  # collective: the epoch's training pairs are gathered

    def write_status(self, status, message='', **keywords):
        if self.is_root:
            super().write_status(status, message, **keywords)

    def _stops_at_once(self):
        # mpiexec passes a Ctrl-C on to every rank; rank 0 alone stops at once, after
        # writing the status, and its Abort ends the others (were another rank first,
        # its Abort could end rank 0 before rank 0 had written the status)
        return self.is_root

    def execute(self, checkpoint=None):
        """Train on every process; an exception anywhere aborts the whole job."""
        from brainstorm.parallel.faults import abort_on_error
        try:
            with abort_on_error(self.comm, _first_line, _exit_code):
                return super().execute(checkpoint)
        finally:
            if not self.is_root:
                shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ['current_world', 'SingleProcess', 'MpiWorld', 'ParallelTrainingRun']
