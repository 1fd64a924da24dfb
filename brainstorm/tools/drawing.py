"""Network diagrams as Graphviz DOT text, rendered by the ``dot`` program when asked."""

import os
import shutil
import subprocess

import numpy as np

from brainstorm.errors import BrainstormError, ValidationError
from brainstorm.structure.architecture import parse_connection
from brainstorm.utils import temporary_file_beside

#: file extension -> output format of ``dot -T``; None: write the DOT text itself
FORMATS = {'.dot': None, '.gv': None, '.png': 'png', '.svg': 'svg', '.pdf': 'pdf'}


def _quote(text):
    """A DOT double-quoted string (backslashes and quotes escaped)."""
    return '"' + str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def _shape_text(structure):
    return 'x'.join(str(entry) for entry in structure.feature_shape)


def network_to_dot(network):
    """Return the DOT text of the network's layer graph.

    One box per layer (name, type, output feature shapes and, for a layer with
    parameters, their count), one edge per connection; an edge is labelled
    'output -> input' unless both are 'default'.

    Args:
        network (brainstorm.structure.Network): the network.

    Returns:
        str: a ``digraph`` in the DOT language.
    """
    lines = ['digraph network {', '    rankdir=TB;',
             '    node [shape=box, style=rounded, fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];']
    for name, layer in network.layers.items():
        outputs = ', '.join(f"{output}: {_shape_text(structure)}"
                            for output, structure in layer.out_shapes.items())
        label = f"{name}\n{layer.layer_type}\n{outputs}"
        parameter_count = sum(int(np.prod(structure.feature_shape))
                              for structure in layer.parameter_shapes.values())
        if parameter_count:
            label += f"\n{parameter_count:,} parameters"
        lines.append(f"    {_quote(name)} [label={_quote(label)}];")
    for name in network.layers:
        connections = network.architecture[name].get('@outgoing_connections', {})
        for out_name, targets in connections.items():
            for reference in targets:
                target, in_name = parse_connection(reference)
                attributes = ''
                if (out_name, in_name) != ('default', 'default'):
                    attributes = f" [label={_quote(f'{out_name} -> {in_name}')}]"
                lines.append(f"    {_quote(name)} -> {_quote(target)}{attributes};")
    lines.append('}')
    return '\n'.join(lines) + '\n'


def draw_network(network, file_name='network.png'):
    """Write a diagram of a network to a file.

    The extension picks the format: '.dot' (or '.gv') writes the Graphviz DOT
    text and always works; '.png', '.svg' and '.pdf' are rendered by the
    Graphviz ``dot`` program, which must be installed (pygraphviz is not
    needed). The file is written under a temporary name and renamed when
    complete.

    Args:
        network (brainstorm.structure.Network): network to be drawn.
        file_name (Optional[str]): Defaults to 'network.png'.

    Raises:
        ValidationError: for an unsupported extension, or when a rendered
            format is asked for and ``dot`` is not installed.
        BrainstormError: if ``dot`` fails.
    """
    file_name = os.fspath(file_name)
    extension = os.path.splitext(file_name)[1].lower()
    if extension not in FORMATS:
        kind = repr(extension) if extension else 'a file without extension'
        raise ValidationError(f"{file_name}: cannot draw a network as {kind}; use one of "
                              f"{', '.join(FORMATS)}")
    output_format = FORMATS[extension]
    dot_text = network_to_dot(network)
    dot_program = shutil.which('dot') if output_format else None
    if output_format and dot_program is None:
        raise ValidationError("Graphviz 'dot' is not installed; write a .dot file instead or "
                              "install graphviz")
    handle, temporary = temporary_file_beside(file_name)
    os.close(handle)
    try:
        if output_format is None:
            with open(temporary, 'w', encoding='utf-8') as f:
                f.write(dot_text)
        else:
            result = subprocess.run([dot_program, f"-T{output_format}", '-o', temporary],
                                    input=dot_text.encode('utf-8'), capture_output=True,
                                    check=False)
            if result.returncode != 0:
                message = result.stderr.decode('utf-8', 'replace').strip()
                raise BrainstormError(f"Graphviz 'dot' failed to render {file_name} "
                                      f"(exit status {result.returncode}): {message}")
        os.replace(temporary, file_name)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
