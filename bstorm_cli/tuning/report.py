"""The table of a study's trials (parameters, value, state, time) and its best trial."""

import math
import pathlib

from rich.table import Table

from bstorm_cli import console


def _seconds(trial):
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _finite(value):
    return None if value is None or not math.isfinite(value) else value


def study_summary(folder):
    """A JSON-ready dict: settings, every trial and the best one (None if none completed)."""
    from optuna.trial import TrialState
    from bstorm_cli.tuning.study import load_study
    study, settings = load_study(folder)
    trials = []
    for trial in study.get_trials(deepcopy=False):
        trials.append({
            'number': trial.number, 'state': trial.state.name.lower(),
            'value': _finite(trial.value) if trial.state == TrialState.COMPLETE else None,
            'params': dict(trial.params), 'seconds': _seconds(trial),
            'epochs': max(trial.intermediate_values, default=None),
            'run_dir': trial.user_attrs.get('run_dir'),
            'error': trial.user_attrs.get('error'),
            'retry_of': trial.user_attrs.get('retry_of'),
            'worker': trial.user_attrs.get('worker')})
    complete = [trial for trial in trials if trial['state'] == 'complete'
                and trial['value'] is not None]
    best = None
    if complete:
        pick = max if settings['direction'] == 'maximize' else min
        best = pick(complete, key=lambda trial: trial['value'])
    return {'study': str(folder), 'experiment': settings['experiment'],
            'objective': settings['best_log'], 'direction': settings['direction'],
            'keys': [item['key'] for item in settings['dimensions']],
            'trials': trials, 'best': best}


def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _header(key, keys):
    """The last part of a key path, unless two searched keys end alike."""
    last = key.split('.')[-1]
    return last if sum(1 for other in keys if other.split('.')[-1] == last) == 1 else key


def print_summary(summary):
    """The trials table and the best trial, on stdout."""
    table = Table(title=f"study {summary['study']}: {summary['direction']} "
                        f"{summary['objective']}", title_justify='left')
    table.add_column('trial', justify='right')
    for key in summary['keys']:
        table.add_column(_header(key, summary['keys']), justify='right')
    table.add_column('value', justify='right')
    table.add_column('state')
    table.add_column('epochs', justify='right')
    table.add_column('time', justify='right')
    table.add_column('run directory')
    for trial in summary['trials']:
        table.add_row(str(trial['number']),
                      *[_cell(trial['params'].get(key)) for key in summary['keys']],
                      _cell(trial['value']), trial['state'], _cell(trial['epochs']),
                      '-' if trial['seconds'] is None else f"{trial['seconds']:.1f}s",
                      pathlib.Path(trial['run_dir']).name if trial['run_dir'] else '-')
    out = console.out()
    if not out.is_terminal:  # a pipe or a file gets the whole table, not one cut to 80
        from rich.console import Console
        out = Console(file=out.file, width=240, no_color=True, highlight=False)
    out.print(table)
    best = summary['best']
    if best is None:
        out.print("no trial completed", markup=False, highlight=False)
        return
    values = ', '.join(f"{key}={_cell(value)}" for key, value in best['params'].items())
    out.print(f"best trial {best['number']}: {summary['objective']} = {best['value']:.4f} "
              f"({values})", markup=False, highlight=False)
    out.print(f"best run directory: {best['run_dir']}", markup=False, highlight=False)
