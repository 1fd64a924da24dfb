"""Where an output file came from: network file and its hash, data, date, bstorm version.

``bstorm predict`` and ``bstorm extract`` store these as attributes of the HDF5 files
they write (as comment lines of a CSV file, in a JSON file next to a ``.npy``), so a
file of predictions can be traced to the exact network that made it.
"""

import datetime
import hashlib
import pathlib


def file_sha256(path, chunk_bytes=1 << 20):
    """The SHA-256 hex digest of a file, read in chunks (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b''):
            digest.update(chunk)
    return digest.hexdigest()


def provenance(network_path, data_path, where='', buffer_name=''):
    """The provenance attributes of an output file (all values are strings).

    Args:
        network_path: the network file that produced the output.
        data_path: the data file (or ``builtin:NAME``) it was applied to.
        where (str): the group or split of the data file that was read ('' for all).
        buffer_name (str): the network buffer(s) written.

    Returns:
        dict[str, str]: network_file, network_sha256, data_file, data_split,
        buffer, created (ISO 8601, UTC), bstorm_version.
    """
    from brainstorm import __version__
    network_path = pathlib.Path(network_path)
    data_text = str(data_path)
    if not data_text.startswith('builtin:'):
        data_text = str(pathlib.Path(data_path).resolve())
    return {'network_file': str(network_path.resolve()),
            'network_sha256': file_sha256(network_path),
            'data_file': data_text,
            'data_split': where or '',
            'buffer': buffer_name,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'),
            'bstorm_version': __version__}
