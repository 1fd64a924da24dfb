"""Character-level (byte-level) text data, as for the spec's ``hutter_lstm`` example.

Any text or XML file (enwik8, a Wikipedia dump excerpt, a book) is read as bytes,
plain or compressed (``.gz``, ``.bz2``, or a ``.zip`` holding one file). The bytes
that occur form the alphabet; every byte becomes its index in that alphabet.

Output layout (``split/{training,validation,test}/``):

- ``default``: uint8 ``(T, B, 1)`` alphabet indices, ``T = sequence_length``;
- ``targets``: uint8 ``(T, B, 1)``, the same text shifted by one byte
  (``targets[t, b] == default[t + 1, b]`` and the last step holds the next byte).

Sequence ``b`` of a split covers bytes ``b*T .. b*T + T`` of that split, so the
sequences are consecutive pieces of the text. The splits are consecutive parts of the
file (by default 90 % / 5 % / 5 %, enwik8's usual 90M / 5M / 5M). uint8 keeps enwik8's
arrays at 1 byte per character (an alphabet never has more than 256 entries).

Root attributes: ``alphabet`` (uint8 array: the byte value of each index),
``alphabet_size``, ``sequence_length``, ``split_bytes``, ``source``, ``license``,
``description``.
"""

import bz2
import gzip
import lzma
import pathlib
import zipfile
import zlib

import numpy as np

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError

ENWIK8_ATTRIBUTES = {
    'source': 'enwik8: the first 10^8 bytes of the English Wikipedia XML dump of '
              '2006-03-03, used by the Hutter Prize, http://prize.hutter1.net/',
    'license': 'Wikipedia text: CC BY-SA and GFDL',
}


def read_text_bytes(path):
    """All bytes of a text file, decompressing ``.gz``, ``.bz2``, ``.xz`` and ``.zip``.

    Raises:
        DataError: the file is missing or unreadable.
        FileFormatError: the compressed data is corrupt or a zip holds not one file.
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected a text file)")
    try:
        with open(path, 'rb') as stream:
            head = stream.read(6)
        if head[:2] == b'\x1f\x8b':
            with gzip.open(path, 'rb') as stream:
                return _writer.read_limited(stream, path)
        if head[:3] == b'BZh':
            with bz2.open(path, 'rb') as stream:
                return _writer.read_limited(stream, path)
        if head[:6] == b'\xfd7zXZ\x00':
            with lzma.open(path, 'rb') as stream:
                return _writer.read_limited(stream, path)
        if head[:4] == b'PK\x03\x04':
            with zipfile.ZipFile(path) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) != 1:
                    raise FileFormatError(f"{path}: a zip archive must hold exactly one "
                                          f"file, found {len(members)}")
                if members[0].file_size > _writer.MAX_DECOMPRESSED_BYTES:
                    raise FileFormatError(f"{path}: its file declares "
                                          f"{members[0].file_size:,} bytes; refused (more "
                                          f"than {_writer.MAX_DECOMPRESSED_BYTES:,})")
                with archive.open(members[0]) as stream:
                    return _writer.read_limited(stream, path)
        with open(path, 'rb') as stream:
            return stream.read()
    except (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, gzip.BadGzipFile) as error:
        raise FileFormatError(f"{path}: corrupt or truncated compressed data ({error})") from None
    except OSError as error:
        # bz2 reports corrupt data as a plain OSError ("Invalid data stream").
        raise FileFormatError(f"{path}: cannot be read ({error})") from None


def _check_arguments(sequence_length, split_fractions, where):
    if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)) \
            or sequence_length < 1:
        raise DataError(f"{where}: sequence_length must be a positive integer, "
                        f"got {sequence_length!r}")
    fractions = tuple(split_fractions)
    if len(fractions) != 3 or any(not 0 < fraction < 1 for fraction in fractions) \
            or abs(sum(fractions) - 1.0) > 1e-9:
        raise DataError(f"{where}: split_fractions must be three numbers in (0, 1) that sum "
                        f"to 1 (training, validation, test), got {split_fractions!r}")
    return fractions


def byte_sequences(indices, sequence_length):
    """Cut a 1-d index array into time-major input and target sequences.

    Args:
        indices: uint8 array (N,) of alphabet indices.
        sequence_length: T.

    Returns:
        (inputs, targets), each uint8 (T, B, 1) with B = (N - 1) // T; targets are
        the inputs shifted by one position in the text.
    """
    count = (len(indices) - 1) // sequence_length
    used = count * sequence_length
    inputs = indices[:used].reshape(count, sequence_length).T[..., np.newaxis]
    targets = indices[1:used + 1].reshape(count, sequence_length).T[..., np.newaxis]
    return np.ascontiguousarray(inputs), np.ascontiguousarray(targets)


def prepare_text(source, output, progress=None, *, overwrite=False, sequence_length=100,
                 split_fractions=(0.9, 0.05, 0.05), license=None, description=None):
    """Convert a text file into byte-level sequences for language modelling.

    Args:
        source: a text or XML file, plain or ``.gz`` / ``.bz2`` / ``.xz`` / single-file
            ``.zip`` (e.g. ``enwik8.zip``).
        output: the HDF5 file to create.
        progress: optional callable ``progress(done, total, what)``.
        overwrite: replace an existing ``output``.
        sequence_length: T, the number of bytes per sequence.
        split_fractions: fractions of the file for training, validation and test,
            taken as consecutive parts in that order.
        license: the ``license`` attribute to record (default: enwik8's when the
            file is enwik8, else "that of the source file").
        description: the ``description`` attribute (default: names the file).

    Returns:
        pathlib.Path of the written file.

    Raises:
        DataError: bad arguments, a missing source, a split too short for one
            sequence, or an existing output without ``overwrite``.
        FileFormatError: corrupt compressed data.
    """
    source = pathlib.Path(source).expanduser()
    fractions = _check_arguments(sequence_length, split_fractions, str(source))
    output = _writer.check_output(output, overwrite)
    _writer.report(progress, 0, 4, f'reading {source.name}')
    text = np.frombuffer(read_text_bytes(source), dtype=np.uint8)

    _writer.report(progress, 1, 4, 'building the alphabet')
    alphabet = np.flatnonzero(np.bincount(text, minlength=256)).astype(np.uint8)
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[alphabet] = np.arange(len(alphabet), dtype=np.uint8)
    indices = lookup[text]

    training_end = int(len(text) * fractions[0])
    validation_end = training_end + int(len(text) * fractions[1])
    parts = {'training': indices[:training_end],
             'validation': indices[training_end:validation_end],
             'test': indices[validation_end:]}
    for split, part in parts.items():
        if len(part) < sequence_length + 1:
            raise DataError(f"{source}: the {split} part has {len(part)} bytes, too few for "
                            f"one sequence of length {sequence_length} plus its target")

    is_enwik8 = source.name.split('.')[0] == 'enwik8'
    attributes = {
        'source': ENWIK8_ATTRIBUTES['source'] if is_enwik8 else f'the text file {source.name}',
        'license': license or (ENWIK8_ATTRIBUTES['license'] if is_enwik8
                               else 'that of the source file'),
        'description': description or f'byte-level sequences of {source.name} for '
                                      'next-byte prediction',
        'alphabet': alphabet,
        'alphabet_size': len(alphabet),
        'sequence_length': int(sequence_length),
        'split_bytes': np.array([len(part) for part in parts.values()], dtype=np.int64),
        'converter': 'brainstorm.datasets.text',
    }
    _writer.report(progress, 2, 4, f'writing {output.name}')
    with _writer.dataset_file(output, attributes, overwrite) as h5file:
        for split, part in parts.items():
            inputs, targets = byte_sequences(part, sequence_length)
            _writer.write_split(h5file, 'split', split, {'default': inputs, 'targets': targets})
    _writer.report(progress, 4, 4, 'done')
    return output
