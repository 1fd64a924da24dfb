"""The two consoles: results to stdout, progress and errors to stderr.

Both are rich Consoles; when the stream is not a terminal (or --color never)
they write plain text without colour or markup codes.
"""

import sys

from rich.console import Console

_consoles = {}


def configure(color='auto'):
    """Create the consoles for ``color`` in {'auto', 'always', 'never'}."""
    force = {'always': True, 'never': False}.get(color)
    for name, stream in (('out', sys.stdout), ('err', sys.stderr)):
        _consoles[name] = Console(file=stream, force_terminal=force,
                                  no_color=(color == 'never'), highlight=False,
                                  soft_wrap=True)


def out():
    """The console for results (stdout)."""
    if 'out' not in _consoles:
        configure()
    return _consoles['out']


def err():
    """The console for progress, warnings and errors (stderr)."""
    if 'err' not in _consoles:
        configure()
    return _consoles['err']


def silence():
    """Send both consoles to the null device (the MPI processes other than rank 0)."""
    import os
    null = open(os.devnull, 'w')  # noqa: SIM115 -- open for the life of the process
    for name in ('out', 'err'):
        _consoles[name] = Console(file=null, force_terminal=False, no_color=True)


def print_error_lines(lines):
    """Print error lines verbatim (no markup interpretation) to stderr."""
    console = err()
    for line in lines:
        console.print(line, markup=False, highlight=False, style='red' if line.startswith(
            'error') else None)
