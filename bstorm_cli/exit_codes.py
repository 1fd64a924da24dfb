"""Exit statuses of every bstorm command."""

import enum


class ExitStatus(enum.IntEnum):
    """What a bstorm process returns to the shell."""

    OK = 0
    #: the run itself failed (diverged, crashed)
    RUN_FAILED = 1
    #: bad usage, bad experiment file, bad or missing data or network file
    BAD_INPUT = 2
    #: training diverged: NaN or infinite parameters or loss, or StopOnNan stopped it
    #: (the run keeps its last finite checkpoint; see docs/failure_model.md)
    DIVERGED = 3
    #: interrupted by Ctrl-C / SIGTERM (after writing a checkpoint); shell convention 128 + 2
    INTERRUPTED = 130
