"""A network as a Graphviz graph: DOT text, rendered to SVG/PNG/PDF by ``dot`` when present."""

import os
import shutil
import subprocess

from bstorm_cli.errors import BadInputError, Location, RunFailedError
from brainstorm.utils import temporary_file_beside

FORMATS = ('dot', 'svg', 'png', 'pdf')


def network_to_dot(network):
    """DOT text of ``network`` (the engine's ``brainstorm.tools.network_to_dot``)."""
    from brainstorm.tools import network_to_dot as engine_network_to_dot
    return engine_network_to_dot(network)


def write_atomically(path, data):
    """Write bytes or text to ``path`` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInputError("the output folder does not exist", Location(str(path)))
    handle, temporary = temporary_file_beside(path)
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
