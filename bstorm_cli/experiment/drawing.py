"""A network as a Graphviz graph: DOT text, rendered to SVG/PNG/PDF by ``dot`` when present."""

import os
import shutil
import subprocess
import tempfile

from bstorm_cli.errors import BadInputError, Location, RunFailedError

FORMATS = ('dot', 'svg', 'png', 'pdf')


def _quote(text):
    return '"' + str(text).replace('\\', '\\\\').replace('"', '\\"') + '"'


def network_to_dot(network):
    """DOT text: one box per layer (type and output shapes), one edge per connection."""
    lines = ['digraph network {', '  rankdir=TB;',
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for name, layer in network.layers.items():
        shapes = ', '.join(f"{out}: {tuple(structure.feature_shape)}"
                           for out, structure in layer.out_shapes.items())
        parameters = sum(structure.feature_size for structure in layer.parameter_shapes.values())
        label = f"{name}\\n{layer.layer_type}" + (f"\\n{shapes}" if shapes else '') + (
            f"\\n{parameters:,} parameters" if parameters else '')
        lines.append(f"  {_quote(name)} [label=\"{label}\"];")
    for name, layer in network.layers.items():
        for in_name, source, out_name in layer.incoming:
            label = '' if (in_name, out_name) == ('default', 'default') else \
                f" [label={_quote(out_name + ' → ' + in_name)}]"
            lines.append(f"  {_quote(source)} -> {_quote(name)}{label};")
    lines.append('}')
    return '\n'.join(lines) + '\n'


def write_atomically(path, data):
    """Write bytes or text to ``path`` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInputError("the output folder does not exist", Location(str(path)))
    handle, temporary = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                                         suffix='.tmp', dir=folder)
    try:
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data.encode('utf-8') if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def render(dot_text, output_format):
    """Bytes of ``dot_text`` rendered by Graphviz's ``dot`` in ``output_format``."""
    if output_format == 'dot':
        return dot_text.encode('utf-8')
    executable = shutil.which('dot')
    if executable is None:
        raise BadInputError(f"rendering {output_format.upper()} needs Graphviz's 'dot' "
                            f"program, which is not installed",
                            hint="install graphviz (e.g. apt install graphviz), or write "
                                 "DOT text with -o network.dot")
    try:
        result = subprocess.run([executable, f"-T{output_format}"], input=dot_text.encode(),
                                capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RunFailedError(f"dot failed: {error}") from error
    if result.returncode != 0:
        raise RunFailedError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
