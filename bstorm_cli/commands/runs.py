"""``bstorm runs [DIR]``: a table of the run directories in a folder."""

import json

import click
from rich.table import Table

from bstorm_cli import console
from bstorm_cli.exit_codes import ExitStatus


def _value(value):
    if value is None:
        return '-'
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value, default=str)


def _test_text(test):
    if not isinstance(test, dict):
        return '-'
    if 'error' in test:
        return 'not scored'
    return ' '.join(f"{name}={_value(value)}" for name, value in test.items()
                    if name != 'split')


def _study_folders(folder):
    """The ``bstorm tune`` study folders directly in ``folder``."""
    import pathlib
    from bstorm_cli.tuning.study import JOURNAL_FILE, SETTINGS_FILE
    return sorted(path for path in pathlib.Path(folder).iterdir()
                  if (path / SETTINGS_FILE).is_file() and (path / JOURNAL_FILE).is_file())


@click.command('runs', epilog="""\b
Examples:
  bstorm runs
  bstorm runs runs/ --sort best --reverse
  bstorm runs runs/quickstart-study-20240101-120000 --json""")
@click.argument('folder', default='runs', metavar='[DIR]')
@click.option('--sort', type=click.Choice(['started', 'name', 'status', 'epochs', 'best']),
              default='started', show_default=True,
              help="The column to sort by; 'best' puts the best run first by each run's "
                   "criterion (highest accuracy, lowest loss).")
@click.option('--reverse', is_flag=True, help='Reverse the order.')
@click.option('--json', 'as_json', is_flag=True, help='Print the rows as JSON.')
def runs_command(folder, sort, reverse, as_json):
    """List the run directories in DIR (default ./runs): status, start, epochs,
    best value, test score, seed, and the experiment values in which the runs
    differ (the --set values that set them apart)."""
    from bstorm_cli.errors import BadInputError, Location
    from bstorm_cli.experiment.run_listing import list_runs
    import pathlib
    if not pathlib.Path(folder).is_dir():
        raise BadInputError("no such folder", Location(folder))
    rows = list_runs(folder, sort, reverse)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return ExitStatus.OK
    out = console.out()
    studies = _study_folders(folder)
    if studies:  # their trials are run directories one level down
        names = ', '.join(path.name for path in studies)
        console.err().print(f"studies in {folder} (bstorm runs STUDY lists their trials): "
                            f"{names}", markup=False, highlight=False)
    if not rows:
        out.print(f"no run directories in {folder}", markup=False, highlight=False)
        return ExitStatus.OK
    table = Table(title=f"runs in {folder}", title_justify='left')
    for column in ('name', 'status', 'started', 'epochs', 'best', 'test', 'seed', 'differs'):
        table.add_column(column, justify='right' if column in ('epochs', 'seed') else 'left',
                         no_wrap=column != 'differs')
    for row in rows:
        best = '-' if row['best_value'] is None else \
            f"{row['best_log']}={row['best_value']:.4f}"
        differs = ' '.join(f"{key}={_short(value)}" for key, value in row['differs'].items())
        table.add_row(row['name'], _value(row['status']), row['started'].replace('T', ' '),
                      _value(row['epochs']), best, _test_text(row['test']),
                      _value(row['seed']), differs or '-')
    if not out.is_terminal:  # give the table room off a terminal (rich assumes 80 columns)
        from rich.console import Console
        out = Console(file=out.file, width=240, highlight=False, no_color=True)
    out.print(table)
    return ExitStatus.OK
