"""CIFAR-10 and CIFAR-100 from the "python version" archives (``.tar.gz`` of pickles).

The batches are Python pickles, and a pickle can run any code while it loads.
They are read with ``RestrictedUnpickler``, which resolves only the three globals a
pickled numpy array needs; anything else (``os.system``, ``builtins.eval``, ...)
makes the archive a ``FileFormatError`` before a single foreign call is made.
Nothing is extracted to disk: members are read from the archive in memory.

Output layout (``normalized_split/{training,validation,test}/``):

- ``default``: float32 ``(1, B, 32, 32, 3)`` (TNHWC), standardised per channel with
  the training split's mean and standard deviation (attributes ``mean``, ``std``) or
  scaled to [0, 1] (attribute ``normalization``);
- ``targets``: int32 ``(1, B, 1)`` class indices (CIFAR-100: fine or coarse labels).

Training is the first 50,000 - ``validation_size`` training images, validation the
last ``validation_size`` (10,000 by default, i.e. CIFAR-10's ``data_batch_5``), test
the 10,000 test images.
"""

import io
import pathlib
import pickle
import tarfile
import zlib

import numpy as np

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError

try:  # numpy >= 2 moved the pickle helper; importing numpy.core there warns
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct

# (module, name) -> object: the only globals a CIFAR batch may refer to.
ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
}

MAX_MEMBER_BYTES = 512 * 1024 * 1024  # the largest real member (CIFAR-100 train) is ~155 MB
IMAGE_SHAPE = (32, 32, 3)
IMAGE_VALUES = 32 * 32 * 3

ARCHIVES = {
    'cifar10': {
        'archive_names': ('cifar-10-python.tar.gz',),
        'folder': 'cifar-10-batches-py',
        'training_members': tuple(f'data_batch_{index}' for index in range(1, 6)),
        'test_members': ('test_batch',),
        'meta_member': 'batches.meta',
        'published_md5': 'c58f30108f718f92721af3b95e74349a',
        'attributes': {
            'source': 'CIFAR-10, Alex Krizhevsky, Vinod Nair and Geoffrey Hinton, '
                      'https://www.cs.toronto.edu/~kriz/cifar.html',
            'license': 'no license stated by the authors; cite Krizhevsky (2009), '
                       'Learning Multiple Layers of Features from Tiny Images',
            'description': 'CIFAR-10 32x32 colour images, 10 classes',
        },
    },
    'cifar100': {
        'archive_names': ('cifar-100-python.tar.gz',),
        'folder': 'cifar-100-python',
        'training_members': ('train',),
        'test_members': ('test',),
        'meta_member': 'meta',
        'published_md5': 'eb9058c3a382ffc7106e4002c42a8d85',
        'attributes': {
            'source': 'CIFAR-100, Alex Krizhevsky, Vinod Nair and Geoffrey Hinton, '
                      'https://www.cs.toronto.edu/~kriz/cifar.html',
            'license': 'no license stated by the authors; cite Krizhevsky (2009), '
                       'Learning Multiple Layers of Features from Tiny Images',
            'description': 'CIFAR-100 32x32 colour images, 100 fine / 20 coarse classes',
        },
    },
}


class RefusedPickleContent(pickle.UnpicklingError):
    """The pickle asks for something a CIFAR batch never holds."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only ``ALLOWED_GLOBALS`` and no persistent ids."""

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedPickleContent(
                f"refused to load the global {module}.{name}: only numpy arrays, lists, "
                "numbers and strings may appear in a CIFAR batch") from None

    def persistent_load(self, persistent_id):
        raise RefusedPickleContent("refused a persistent id: not part of a CIFAR batch")


def restricted_loads(data, where):
    """Unpickle ``data`` with ``RestrictedUnpickler``; any failure is a FileFormatError.

    Python 2 strings are decoded as latin-1 (what numpy expects for array data).
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding='latin1').load()
    except RefusedPickleContent as error:
        raise FileFormatError(f"{where}: {error}") from None
    except Exception as error:  # noqa: BLE001 - every way a broken pickle can fail
        raise FileFormatError(f"{where}: not a readable CIFAR pickle "
                              f"({type(error).__name__}: {error})") from None


def _plain_keys(batch, where):
    """The batch dict with str keys (the real files have Python 2 str keys)."""
    if not isinstance(batch, dict):
        raise FileFormatError(f"{where}: expected a dict, found {type(batch).__name__}")
    return {key.decode('latin1') if isinstance(key, bytes) else key: value
            for key, value in batch.items()}


def _find_archive(source, names):
    source = pathlib.Path(source).expanduser()
    if source.is_dir():
        return _writer.find_file(source, names, 'CIFAR python-version archive')
    if not source.is_file():
        raise DataError(f"{source}: file not found (expected {' or '.join(names)})")
    return source


def _read_member(archive, archive_path, folder, name):
    where = f"{archive_path}:{folder}/{name}"
    try:
        member = archive.getmember(f'{folder}/{name}')
    except KeyError:
        raise FileFormatError(f"{where}: missing from the archive") from None
    if not member.isfile():
        raise FileFormatError(f"{where}: is not a regular file in the archive")
    if member.size > MAX_MEMBER_BYTES:
        raise FileFormatError(f"{where}: {member.size} bytes, more than a CIFAR batch has")
    try:
        return archive.extractfile(member).read(), where
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise FileFormatError(f"{where}: corrupt or truncated archive ({error})") from None


def _label_list(batch, key, where, class_count):
    if key not in batch:
        raise FileFormatError(f"{where}: no {key!r} entry")
    labels = np.asarray(batch[key])
    if labels.ndim != 1 or labels.dtype.kind not in 'iu':
        raise FileFormatError(f"{where}: {key!r} must be a list of integers")
    if labels.size and (labels.min() < 0 or labels.max() >= class_count):
        raise FileFormatError(f"{where}: {key!r} must be in 0..{class_count - 1}, "
                              f"found {labels.min()}..{labels.max()}")
    return labels.astype(np.int32)


def _batch_arrays(data, where, label_key, class_count):
    batch = _plain_keys(restricted_loads(data, where), where)
    images = batch.get('data')
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 \
            or images.shape[1] != IMAGE_VALUES:
        raise FileFormatError(f"{where}: 'data' must be a uint8 array (N, {IMAGE_VALUES})")
    labels = _label_list(batch, label_key, where, class_count)
    if len(labels) != len(images):
        raise FileFormatError(f"{where}: {len(images)} images but {len(labels)} labels")
    # Rows hold 1024 red, 1024 green, 1024 blue values, each image row-major: NCHW -> NHWC.
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _label_names(meta_bytes, where, key, class_count):
    meta = _plain_keys(restricted_loads(meta_bytes, where), where)
    names = meta.get(key)
    if not isinstance(names, list) or len(names) != class_count:
        raise FileFormatError(f"{where}: {key!r} must list {class_count} names")
    return [name.decode('latin1') if isinstance(name, bytes) else str(name) for name in names]


def _prepare_cifar(name, source, output, progress, overwrite, normalization, validation_size,
                   verify_checksums, label_kind):
    spec = ARCHIVES[name]
    output = _writer.check_output(output, overwrite)
    archive_path = _find_archive(source, spec['archive_names'])
    if name == 'cifar10':
        label_key, names_key, class_count = 'labels', 'label_names', 10
    elif label_kind == 'fine':
        label_key, names_key, class_count = 'fine_labels', 'fine_label_names', 100
    elif label_kind == 'coarse':
        label_key, names_key, class_count = 'coarse_labels', 'coarse_label_names', 20
    else:
        raise DataError(f"cifar100: label_kind must be 'fine' or 'coarse', got {label_kind!r}")

    members = spec['training_members'] + spec['test_members']
    total_steps = len(members) + 4
    _writer.report(progress, 0, total_steps, f'checking {archive_path.name}')
    checksum = _writer.verify_checksum(archive_path, spec['published_md5'], verify_checksums)
    images, labels = [], []
    try:
        with tarfile.open(archive_path, 'r:gz') as archive:
            for step, member in enumerate(members, start=1):
                _writer.report(progress, step, total_steps, f'reading {member}')
                data, where = _read_member(archive, archive_path, spec['folder'], member)
                batch_images, batch_labels = _batch_arrays(data, where, label_key, class_count)
                images.append(batch_images)
                labels.append(batch_labels)
            _writer.report(progress, len(members) + 1, total_steps, 'reading label names')
            meta_bytes, where = _read_member(archive, archive_path, spec['folder'],
                                             spec['meta_member'])
            label_names = _label_names(meta_bytes, where, names_key, class_count)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise FileFormatError(f"{archive_path}: corrupt or truncated archive ({error})") from None

    training_total = sum(len(batch) for batch in labels[:len(spec['training_members'])])
    _writer.split_sizes_check(training_total, validation_size, f'{name} in {archive_path}')
    training_count = training_total - validation_size
    _writer.report(progress, len(members) + 2, total_steps, 'normalizing images')
    all_images, normalization_attributes = _writer.scale_or_standardize(
        np.concatenate(images), training_count, normalization, channel_axis=-1, where=name)
    del images
    all_labels = np.concatenate(labels)

    attributes = dict(spec['attributes'])
    attributes.update(normalization_attributes)
    attributes.update({'label_names': label_names, 'checksums': [checksum],
                       'layout': 'TNHWC', 'converter': 'brainstorm.datasets.cifar'})
    if name == 'cifar100':
        attributes['label_kind'] = label_kind
    _writer.report(progress, len(members) + 3, total_steps, f'writing {output.name}')
    _writer.write_classification_file(output, attributes, overwrite, all_images, all_labels,
                                      training_count, training_total)
    _writer.report(progress, total_steps, total_steps, 'done')
    return output


def prepare_cifar10(source, output, progress=None, *, overwrite=False,
                    normalization='standardize', validation_size=10000,
                    verify_checksums=True):
    """Convert ``cifar-10-python.tar.gz`` into a brainstorm HDF5 dataset.

    Args:
        source: the archive, or a folder holding ``cifar-10-python.tar.gz``.
        output: the HDF5 file to create.
        progress: optional callable ``progress(done, total, what)``.
        overwrite: replace an existing ``output``.
        normalization: ``'standardize'`` (per channel, training statistics) or
            ``'scale'`` (to [0, 1]).
        validation_size: how many of the last training images form the validation split.
        verify_checksums: raise DataError when the archive differs from the published
            md5 (False: record the difference in the ``checksums`` attribute).

    Returns:
        pathlib.Path of the written file.

    Raises:
        DataError: the archive is missing or differs from the published one, or the
            output exists and ``overwrite`` is False.
        FileFormatError: the archive is corrupt, lacks a member, or holds a pickle
            that is not a plain CIFAR batch (such as one that would call code).
    """
    return _prepare_cifar('cifar10', source, output, progress, overwrite, normalization,
                          validation_size, verify_checksums, label_kind='fine')


def prepare_cifar100(source, output, progress=None, *, overwrite=False,
                     normalization='standardize', validation_size=10000,
                     verify_checksums=True, label_kind='fine'):
    """Convert ``cifar-100-python.tar.gz``; arguments as for ``prepare_cifar10``.

    Args:
        label_kind: ``'fine'`` (100 classes) or ``'coarse'`` (20 superclasses) as targets.
    """
    return _prepare_cifar('cifar100', source, output, progress, overwrite, normalization,
                          validation_size, verify_checksums, label_kind)
