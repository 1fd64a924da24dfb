"""The bstorm command group and ``main()``, the one place that maps errors to exit codes."""

import sys
import traceback

import click

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, CliError, RunFailedError
from bstorm_cli.exit_codes import ExitStatus


@click.group(context_settings={'help_option_names': ['-h', '--help'], 'max_content_width': 100},
             epilog="""\b
Example:
  bstorm train configs/quickstart.yaml
  bstorm validate my_experiment.yaml""")
@click.option('--debug', is_flag=True, help='Show the full traceback of errors.')
@click.option('--color', type=click.Choice(['auto', 'always', 'never']), default='auto',
              show_default=True, help='Colour in terminal output.')
@click.version_option(package_name='brainstorm', prog_name='bstorm')
@click.pass_context
def cli(context, debug, color):
    """bstorm: train, evaluate and inspect brainstorm networks from YAML experiment files."""
    context.ensure_object(dict)
    context.obj['debug'] = debug
    console.configure(color)


def _register_commands():
    from bstorm_cli.commands import ALL_COMMANDS
    for command in ALL_COMMANDS:
        cli.add_command(command)


def _error_lines_for(error):
    """Engine errors that mean bad input become one line like the CLI's own."""
    from brainstorm.errors import DataError, FileFormatError, ValidationError
    if isinstance(error, (ValidationError, DataError, FileFormatError)):
        return [f"error: {error}"]
    return None


def resource_error_line(error):
    """One line for a resource failure (disk full, permission, out of memory), or None."""
    if isinstance(error, MemoryError):
        return "error: out of memory" + (f" ({error})" if str(error) else '')
    if isinstance(error, OSError) and error.strerror:
        where = error.filename or ''
        return f"error: {where}{': ' if where else ''}{error.strerror}"
    if isinstance(error, OSError):  # h5py's: no errno, the cause inside a long message
        text = ' '.join(str(error).split())
        if 'errno = 28' in text or 'No space left' in text:
            return f"error: no space left on the device ({text})"
        return f"error: {text or type(error).__name__}"
    return None


def main(argv=None):
    """Run bstorm and exit with its status (see ``exit_codes.ExitStatus``).

    ``argv`` None: this process is ``bstorm`` (console script, ``python -m``); a
    finished ``bstorm train`` then keeps SIGINT and SIGTERM ignored until the process
    has exited. With ``argv`` (main called as a function, as tests do) the caller gets
    its signal handlers back before the SystemExit.
    """
    try:
        _main(argv)
    finally:
        if argv is not None:
            from bstorm_cli import interrupts
            interrupts.release()


def _main(argv):
    _register_commands()
    debug = '--debug' in (sys.argv[1:] if argv is None else argv)
    status = ExitStatus.OK
    try:
        result = cli.main(args=argv, prog_name='bstorm', standalone_mode=False)
        if isinstance(result, int):
            status = result
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort (it prints 'Aborted!' and exits 1 in standalone
        # mode); here both mean interrupted, and the command has saved what it could
        if debug:
            traceback.print_exc()
        console.print_error_lines(['error: interrupted'])
        status = ExitStatus.INTERRUPTED
    except click.exceptions.ClickException as error:
        if debug:
            traceback.print_exc()
        error.show()
        status = error.exit_code
    except click.exceptions.Exit as error:
        status = error.exit_code
    except CliError as error:
        if debug:
            traceback.print_exc()
        console.print_error_lines(error.lines())
        status = ExitStatus.RUN_FAILED if isinstance(error, RunFailedError) else \
            ExitStatus.BAD_INPUT if isinstance(error, BadInputError) else ExitStatus.RUN_FAILED
    except Exception as error:  # the one boundary: anything else is an internal error
        if debug:
            traceback.print_exc()
        lines = _error_lines_for(error)
        resource_line = resource_error_line(error)
        if resource_line is not None:
            console.print_error_lines([resource_line])
            status = ExitStatus.RUN_FAILED
        elif lines is not None:
            console.print_error_lines(lines)
            status = ExitStatus.BAD_INPUT
        else:
            console.print_error_lines(
                [f"internal error: {type(error).__name__}: {error}; rerun with --debug for "
                 f"the traceback"])
            status = ExitStatus.RUN_FAILED
    sys.exit(int(status))
