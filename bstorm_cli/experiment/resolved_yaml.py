"""The resolved experiment as YAML, each overridden value commented with its origin.

``bstorm validate --print`` shows what a run would store in its ``experiment.yaml``:
every default filled in and every ``--set`` (or option standing for one, such as
``--seed``) applied. A value that an override set carries a trailing comment naming
it (``learning_rate: 0.01  # --set trainer.stepper.learning_rate=0.01``); mappings and
lists are written in block style so each value has its own line to comment.
"""

import yaml

from bstorm_cli.experiment.overrides import override_label


def _scalar(value):
    """One YAML scalar as it appears after 'key: ' (quoted where YAML needs it)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    text = text.strip()
    if text.endswith('\n...') or text.endswith('...'):
        text = text[:-3].strip()
    return text


def _comment(path, origins):
    return f"  # {override_label(origins[path])}" if path in origins else ''


def _emit_mapping(mapping, path, indent, origins, lines, first_prefix=None):
    for position, (key, value) in enumerate(mapping.items()):
        head = first_prefix if position == 0 and first_prefix else ' ' * indent
        here = path + (key,)
        line = f"{head}{_scalar(key)}:"
        if isinstance(value, dict) and value:
            lines.append(line + _comment(here, origins))
            _emit_mapping(value, here, indent + 2, origins, lines)
        elif isinstance(value, list) and value:
            lines.append(line + _comment(here, origins))
            _emit_sequence(value, here, indent + 2, origins, lines)
        else:
            lines.append(f"{line} {_scalar(value)}{_comment(here, origins)}")


def _emit_sequence(sequence, path, indent, origins, lines):
    for position, value in enumerate(sequence):
        here = path + (position,)
        dash = ' ' * indent + '- '
        if isinstance(value, dict) and value:
            if here in origins:
                lines.append(' ' * indent + _comment(here, origins).strip())
            _emit_mapping(value, here, indent + 2, origins, lines, first_prefix=dash)
        elif isinstance(value, list) and value:
            lines.append(dash.rstrip() + _comment(here, origins))
            _emit_sequence(value, here, indent + 2, origins, lines)
        else:
            lines.append(f"{dash}{_scalar(value)}{_comment(here, origins)}")


def annotated_yaml(resolved, origins):
    """YAML text of ``resolved`` with a comment on each value an override set.

    Args:
        resolved (dict): the resolved experiment.
        origins (dict): override path (tuple) -> the ``--set`` argument that set it.
    """
    lines = []
    _emit_mapping(resolved, (), 0, origins, lines)
    return '\n'.join(lines) + '\n'
