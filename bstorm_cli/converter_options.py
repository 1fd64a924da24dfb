"""A dataset converter's options as the CLI shows them, and its errors in CLI terms.

``bstorm data prepare NAME --help`` lists the keyword options of converter NAME (from
its signature and its docstring's ``Args:`` section), each as ``--option NAME=VALUE``.
The converters are engine functions whose messages name their Python keywords
(``overwrite=True``, ``verify_checksums=False``); :func:`cli_terms` rewrites those into
the flags a CLI user types (``--overwrite``, ``--option verify_checksums=false``).
"""

import inspect
import re
import textwrap

#: keyword-only parameters that are CLI flags of their own, not --option values
FLAG_PARAMETERS = {'overwrite': '--overwrite'}


def keyword_options(converter):
    """name -> default of the converter's keyword-only options (flags excluded)."""
    return {parameter.name: parameter.default
            for parameter in inspect.signature(converter).parameters.values()
            if parameter.kind == inspect.Parameter.KEYWORD_ONLY
            and parameter.name not in FLAG_PARAMETERS}


def argument_descriptions(converter):
    """name -> its text in the docstring's ``Args:`` section (continuation lines joined)."""
    lines = (inspect.getdoc(converter) or '').splitlines()
    descriptions, current, inside, indent = {}, None, False, None
    for line in lines:
        if line.strip() == 'Args:':
            inside = True
            continue
        if not inside:
            continue
        if line.strip() and not line.startswith(' '):
            break  # the next section (Returns:, Raises:)
        if not line.strip():
            continue
        stripped = line.strip()
        this_indent = len(line) - len(line.lstrip())
        match = re.match(r'(\w+)(?: \([^)]*\))?: ?(.*)', stripped)
        if match and (indent is None or this_indent <= indent):
            indent = this_indent
            current = match.group(1)
            descriptions[current] = match.group(2)
        elif current is not None:
            descriptions[current] += ' ' + stripped
    return descriptions


def _yaml_text(value):
    if value is True or value is False:
        return 'true' if value else 'false'
    if value is None:
        return 'null'
    return str(value)


def _wrapped(head, text, indent):
    text = re.sub(r'``([^`]*)``', r'\1', text)  # reST literals read better plain
    return textwrap.fill(f"{head}  {text}".rstrip(), width=88, break_on_hyphens=False,
                         initial_indent=" " * indent,
                         subsequent_indent=' ' * (indent + 4))


def options_help(name, converter):
    """The text ``bstorm data prepare NAME --help`` adds: the source and every option."""
    descriptions = argument_descriptions(converter)
    lines = [f"The {name} converter:", ""]
    if 'source' in descriptions:
        lines += [_wrapped('--source', descriptions['source'], 2), ""]
    options = keyword_options(converter)
    if not options:
        lines.append("  It has no options.")
        return '\n'.join(lines)
    lines.append("  Options (--option NAME=VALUE, repeatable):")
    for option, default in options.items():
        lines.append(_wrapped(f"{option}={_yaml_text(default)}",
                              descriptions.get(option, ''), 4))
    return '\n'.join(lines)


def cli_terms(message, converter):
    """``message`` with the converter's Python keywords written as CLI flags."""
    for parameter, flag in FLAG_PARAMETERS.items():
        message = re.sub(rf'\b(pass |with )?{parameter}=True\b',
                         lambda match: f"{match.group(1) or ''}{flag}", message)
    for option in keyword_options(converter):
        message = re.sub(rf'(?<![-\w]){option}=(\w+)',
                         lambda match, o=option: f"--option {o}={match.group(1).lower()}"
                         if match.group(1) in ('True', 'False', 'None')
                         else f"--option {o}={match.group(1)}", message)
    return message
