"""Shared pieces of every dataset converter: safe output files, attributes, progress.

A converter never leaves a half-written file behind and never replaces a file the
user already has unless asked to: it writes into a temporary file in the
destination folder and moves it into place only after the last byte is written.

Layout written by the converters (spec chapter 3): every array is ``(T, B, ...)``,
``T = 1`` for non-sequential data, images ``TNHWC``; classification data lives in
``normalized_split/{training,validation,test}/{default,targets}``, text in
``split/{training,validation,test}/{default,targets}``.
"""

import contextlib
import gzip
import hashlib
import json
import os
import pathlib

import h5py
import numpy as np

from brainstorm.errors import DataError, FileFormatError
from brainstorm.utils import temporary_file_beside

SPLIT_NAMES = ('training', 'validation', 'test')
READ_BLOCK_BYTES = 1 << 20


def report(progress, done, total, what):
    """Call the optional progress callback ``progress(done, total, what)``."""
    if progress is not None:
        progress(done, total, what)


def check_output(output, overwrite):
    """Return ``output`` as an absolute Path after checking it may be written.

    Raises:
        DataError: the file exists and ``overwrite`` is False, or its folder is missing.
    """
    output = pathlib.Path(output).expanduser().absolute()
    if output.exists() and not overwrite:
        raise DataError(f"{output}: the output file exists already; "
                        "choose another name or pass overwrite=True")
    if output.is_dir():
        raise DataError(f"{output}: is a folder, expected the name of an HDF5 file")
    if not output.parent.is_dir():
        raise DataError(f"{output.parent}: the output folder does not exist")
    return output


def _move_into_place(temporary, output, overwrite):
    if overwrite:
        os.replace(temporary, output)
        return
    # A hard link fails if the name appeared meanwhile, so nothing is clobbered even
    # when another process wrote the same name after check_output.
    try:
        os.link(temporary, output)
    except FileExistsError:
        raise DataError(f"{output}: the output file appeared while converting; "
                        "it was left as it is (pass overwrite=True to replace it)") from None
    except OSError:
        # File systems without hard links: check and rename (a tiny race remains).
        if output.exists():
            raise DataError(f"{output}: the output file exists already") from None
        os.replace(temporary, output)
        return
    os.unlink(temporary)


@contextlib.contextmanager
def dataset_file(output, attributes, overwrite=False):
    """Open a new HDF5 file to fill; it appears at ``output`` only if the block succeeds.

    Args:
        output: path of the HDF5 file to create.
        attributes: dict of root attributes, at least ``source``, ``license`` and
            ``description`` (strings). Lists of strings become string arrays, lists of
            numbers numeric arrays, other lists and dicts JSON text.
        overwrite: replace an existing ``output``.

    Yields:
        an ``h5py.File`` open for writing (a temporary file in the same folder).

    Raises:
        DataError: the output exists and ``overwrite`` is False.
    """
    output = check_output(output, overwrite)
    for required in ('source', 'license', 'description'):
        if required not in attributes:
            raise ValueError(f"dataset attributes must include {required!r}")
    handle, temporary = temporary_file_beside(output, suffix='.partial')
    os.close(handle)
    try:
        with h5py.File(temporary, 'w') as h5file:
            yield h5file
            for key, value in attributes.items():
                h5file.attrs[key] = _attribute_value(value)
        _move_into_place(temporary, output, overwrite)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _attribute_value(value):
    """HDF5-friendly form: str lists as string arrays, other containers as JSON text."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        return np.array(value, dtype=h5py.string_dtype())
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(item, (int, float, np.number)) and not isinstance(item, bool)
            for item in value):
        return np.asarray(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def write_split(h5file, group_name, split_name, arrays, compression=None):
    """Write ``arrays`` (dict name -> (T, B, ...) array) to ``group_name/split_name/``."""
    group = h5file.require_group(group_name).require_group(split_name)
    for name, array in arrays.items():
        options = {}
        if compression is not None:
            options = dict(compression=compression, shuffle=True)
        group.create_dataset(name, data=array, **options)


def write_classification_file(output, attributes, overwrite, samples, labels, training_count,
                              training_total):
    """Write ``normalized_split`` training/validation/test of one sample per class label.

    The samples are ordered training (the first ``training_count``), validation (up to
    ``training_total``), then test; each split is stored as ``default`` ``(1, B, ...)``
    and ``targets`` ``(1, B, 1)``.

    Args:
        output: the HDF5 file to create (see :func:`dataset_file`).
        attributes (dict): the file's attributes.
        overwrite (bool): replace an existing ``output``.
        samples (numpy.ndarray): ``(N, ...)`` inputs of all three splits.
        labels (numpy.ndarray): ``(N,)`` class indices, in the order of ``samples``.
        training_count (int): samples in the training split.
        training_total (int): samples in the training and validation splits together.
    """
    bounds = {'training': (0, training_count),
              'validation': (training_count, training_total),
              'test': (training_total, len(labels))}
    with dataset_file(output, attributes, overwrite) as h5file:
        for split, (start, stop) in bounds.items():
            write_split(h5file, 'normalized_split', split, {
                'default': samples[np.newaxis, start:stop],
                'targets': labels[np.newaxis, start:stop, np.newaxis]})


def split_sizes_check(total, validation_size, where):
    """Check that ``validation_size`` leaves a training split; raise DataError if not."""
    if not isinstance(validation_size, (int, np.integer)) or isinstance(validation_size, bool):
        raise DataError(f"{where}: validation_size must be an integer, got {validation_size!r}")
    if not 0 <= validation_size < total:
        raise DataError(f"{where}: validation_size must be between 0 and {total - 1} "
                        f"(the training file has {total} samples), got {validation_size}")


def file_digest(path, algorithm='md5'):
    """Hex digest of a file's bytes, read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(READ_BLOCK_BYTES), b''):
            digest.update(block)
    return digest.hexdigest()


def content_digest(path):
    """sha256 of a file's data: of its decompressed bytes when it is gzip data."""
    return hashlib.sha256(read_maybe_compressed(path)).hexdigest()


def verify_checksum(path, published_md5, verify, content_sha256=None):
    """Compare a source file with its published md5; return a provenance note.

    A compressed file whose md5 differs is still accepted when its decompressed data
    has the sha256 ``content_sha256``: a distribution that re-compressed the authors'
    files (Debian's dataset-fashion-mnist) changes the archive, not the data.

    Args:
        path: the source file.
        published_md5: the published md5 hex digest, or None where none is published.
        verify: raise on a mismatch (else only record it).
        content_sha256: the sha256 of the published file's decompressed data, or None.

    Returns:
        a dict ``{'file', 'md5', 'status'}`` for the output's ``checksums`` attribute.

    Raises:
        DataError: ``verify`` and the file differs from the published one.
    """
    path = pathlib.Path(path)
    md5 = file_digest(path, 'md5')
    if published_md5 is None:
        status = 'no published checksum'
    elif md5 == published_md5:
        status = 'matches the published md5'
    elif content_sha256 is not None and content_digest(path) == content_sha256:
        status = ('re-compressed copy: the md5 differs from the published one, the '
                  'decompressed data matches the published data (sha256)')
    elif verify:
        raise DataError(
            f"{path}: md5 {md5} differs from the published {published_md5}; the file is "
            "corrupt or a re-packed copy (re-packed copies, e.g. from a Linux distribution, "
            "can be converted with verify_checksums=False)")
    else:
        status = f'differs from the published md5 {published_md5} (not verified on request)'
    return {'file': path.name, 'md5': md5, 'status': status}


#: most bytes a converter decompresses from one file (a few-KB "zip bomb" can expand to
#: terabytes); the largest published source (enwik9) is 1 GB
MAX_DECOMPRESSED_BYTES = 2 ** 31


def read_limited(stream, path, limit=None):
    """All bytes of the (decompressing) binary ``stream``, at most ``limit`` of them.

    Raises:
        FileFormatError: the data expands to more than ``limit`` bytes.
    """
    limit = MAX_DECOMPRESSED_BYTES if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileFormatError(f"{path}: decompresses to more than {limit:,} bytes; "
                              f"refused (a corrupt file or a compression bomb)")
    return data


def read_maybe_compressed(path):
    """Return the bytes of ``path``, gunzipping it first when it is gzip data.

    Raises:
        DataError: the file is missing or unreadable.
        FileFormatError: the file looks gzipped but is truncated or corrupt.
    """
    path = pathlib.Path(path)
    try:
        with open(path, 'rb') as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    if raw[:2] != b'\x1f\x8b':
        return raw
    try:
        import io
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            return read_limited(stream, path)
    except FileFormatError:
        raise
    except (OSError, EOFError, ValueError) as error:
        raise FileFormatError(f"{path}: corrupt or truncated gzip data ({error})") from None


def find_file(folder, candidates, what):
    """Return the first of ``candidates`` (names) that exists in ``folder``.

    Raises:
        DataError: none exists; the message lists what was looked for.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder (expected the folder holding the {what})")
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: no {what} found; looked for {', '.join(candidates)}")


def scale_or_standardize(images, training_count, normalization, channel_axis, where):
    """Turn uint8 images into float32 in place-friendly steps.

    Args:
        images: uint8 array (N, ...).
        training_count: the first ``training_count`` samples are the training split;
            standardisation statistics come from them only.
        normalization: ``'scale'`` (divide by 255, values in [0, 1]) or
            ``'standardize'`` (per channel: subtract the training mean, divide by the
            training standard deviation).
        channel_axis: axis of ``images`` that holds the channels (``-1`` for NHWC).
        where: dataset name for error messages.

    Returns:
        (float32 array, dict of attributes describing the normalisation).
    """
    if normalization == 'scale':
        result = images.astype(np.float32)
        result *= np.float32(1.0 / 255.0)
        return result, {'normalization': 'scale',
                        'normalization_description': 'pixel values divided by 255, in [0, 1]'}
    if normalization == 'standardize':
        result = images.astype(np.float32)
        result *= np.float32(1.0 / 255.0)
        axes = tuple(axis for axis in range(result.ndim) if axis != channel_axis % result.ndim)
        training = result[:training_count]
        mean = training.mean(axis=axes, dtype=np.float64)
        std = training.std(axis=axes, dtype=np.float64)
        std[std == 0] = 1.0
        shape = [1] * result.ndim
        shape[channel_axis] = -1
        result -= mean.astype(np.float32).reshape(shape)
        result /= std.astype(np.float32).reshape(shape)
        return result, {'normalization': 'standardize',
                        'normalization_description':
                            'pixel values divided by 255, then per channel the training '
                            'mean subtracted and divided by the training standard deviation',
                        'mean': mean.astype(np.float32), 'std': std.astype(np.float32)}
    raise DataError(f"{where}: normalization must be 'scale' or 'standardize', "
                    f"got {normalization!r}")
