"""One failing process ends the whole job: ``comm.Abort`` instead of a hang.

When one process of a data-parallel training raises, the others wait in the next
collective for ever. :func:`abort_on_error` turns any exception that leaves its
block into one line on stderr, ``error: rank R of K: <cause>``, and
``comm.Abort(exit code)``: the MPI launcher then ends every process, and its exit
code is the failing process's. (A process killed by a signal is noticed by the
launcher itself, which ends the others.)
"""

import contextlib
import os
import sys
import time


@contextlib.contextmanager
def abort_on_error(comm, describe=None, exit_code=None):
    """Within the block, an exception on this process aborts every process of ``comm``.

    Args:
        comm (mpi4py.MPI.Comm): the processes that train together.
        describe (Optional[callable]): ``describe(error)`` returns the message
            (default ``'<Type>: <text>'``).
        exit_code (Optional[callable]): ``exit_code(error)`` returns the code to
            abort with (default 1; 130 for KeyboardInterrupt).
    """
    try:
        yield
    except BaseException as error:  # noqa: B902 -- any failure must end the job
        if isinstance(error, SystemExit) and not error.code:
            raise
        message = describe(error) if describe is not None else \
            f"{type(error).__name__}: {error}"
        code = exit_code(error) if exit_code is not None else \
            (130 if isinstance(error, KeyboardInterrupt) else 1)
        sys.stderr.write(f"error: rank {comm.Get_rank()} of {comm.Get_size()}: "
                         f"{message}\n")
        sys.stderr.flush()
        # the launcher forwards a rank's output asynchronously; Abort can tear the job
        # down before it has passed the line on, so give it a moment (only on failure)
        time.sleep(0.3)
        comm.Abort(int(code) or 1)
        os._exit(int(code) or 1)  # Abort may return before the launcher ends this process


__all__ = ['abort_on_error']
