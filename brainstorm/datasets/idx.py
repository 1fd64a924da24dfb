"""MNIST and Fashion-MNIST from their four idx files (plain or gzipped).

An idx file starts with a magic number ``00 00 TT DD`` (TT: element type, DD: number
of dimensions), then DD big-endian uint32 sizes, then the elements in C order.

Output layout (``normalized_split/{training,validation,test}/``):

- ``default``: float32 ``(1, B, 784)`` (``flatten=True``) or ``(1, B, 28, 28, 1)``
  (TNHWC), scaled to [0, 1] or standardised (attribute ``normalization``);
- ``targets``: int32 ``(1, B, 1)``, class indices 0..9.

Training is the first 60,000 - ``validation_size`` training images, validation the
last ``validation_size`` (10,000 by default), test the 10,000 t10k images.
"""

import math
import pathlib

import numpy as np

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError

IDX_ELEMENT_TYPES = {0x08: np.dtype('u1'), 0x09: np.dtype('i1'), 0x0B: np.dtype('>i2'),
                     0x0C: np.dtype('>i4'), 0x0D: np.dtype('>f4'), 0x0E: np.dtype('>f8')}

# The four files, keyed by role: (accepted base names, expected number of dimensions).
IDX_FILES = {
    'train_images': (('train-images-idx3-ubyte', 'train-images.idx3-ubyte'), 3),
    'train_labels': (('train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'), 1),
    'test_images': (('t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'), 3),
    'test_labels': (('t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'), 1),
}

# md5 of the gzipped files as published by the datasets' authors (only these are
# published; plain files and re-compressed copies are recorded, not verified).
PUBLISHED_MD5 = {
    'mnist': {
        'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
        'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
        't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
        't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
    },
    'fashion-mnist': {
        'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
        't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
        't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
    },
}

# sha256 of the decompressed data of the published gzipped files: a re-compressed copy
# (Debian's dataset-fashion-mnist package re-compresses the authors' files) has another
# md5 but the same data, and is accepted by its data.
PUBLISHED_CONTENT_SHA256 = {
    'mnist': {},
    'fashion-mnist': {
        'train-images-idx3-ubyte.gz':
            'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        'train-labels-idx1-ubyte.gz':
            'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        't10k-images-idx3-ubyte.gz':
            '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        't10k-labels-idx1-ubyte.gz':
            '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
}

DATASET_ATTRIBUTES = {
    'mnist': {
        'source': 'MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and '
                  'Christopher J.C. Burges, http://yann.lecun.com/exdb/mnist/',
        'license': 'CC BY-SA 3.0 (as stated by the MNIST authors)',
        'description': 'MNIST 28x28 grey-scale handwritten digits, 10 classes',
        'label_names': [str(digit) for digit in range(10)],
    },
    'fashion-mnist': {
        'source': 'Fashion-MNIST, Han Xiao, Kashif Rasul and Roland Vollgraf (Zalando '
                  'Research), https://github.com/zalandoresearch/fashion-mnist',
        'license': 'MIT',
        'description': 'Fashion-MNIST 28x28 grey-scale images of clothing, 10 classes',
        'label_names': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                        'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    },
}


def parse_idx(data, path):
    """Decode the bytes of an idx file into a numpy array.

    Args:
        data: the (decompressed) file contents.
        path: the file, for error messages.

    Returns:
        numpy array with the file's shape and element type (native byte order).

    Raises:
        FileFormatError: wrong magic number, unknown element type, or a file whose
            length does not match its header (truncated or padded).
    """
    if len(data) < 4:
        raise FileFormatError(f"{path}: too short for an idx file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_ELEMENT_TYPES:
        raise FileFormatError(f"{path}: not an idx file (magic number {data[:4].hex()}, "
                              "expected 0000TTDD with TT an idx element type)")
    dtype = IDX_ELEMENT_TYPES[data[2]]
    ndim = data[3]
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise FileFormatError(f"{path}: truncated idx header ({len(data)} bytes, "
                              f"expected {header_bytes})")
    shape = tuple(int(size) for size in np.frombuffer(data, '>u4', count=ndim, offset=4))
    # Python integers: a hostile header's sizes overflow int64
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        state = 'truncated' if len(data) < expected else 'longer than its header says'
        raise FileFormatError(f"{path}: {state}: {len(data)} bytes, expected {expected} "
                              f"for shape {shape}")
    array = np.frombuffer(data, dtype, offset=header_bytes).reshape(shape)
    return array.astype(dtype.newbyteorder('='), copy=False)


def read_idx(path):
    """Read an idx file, plain or gzipped (see ``parse_idx``)."""
    return parse_idx(_writer.read_maybe_compressed(path), path)


def _locate(folder, role):
    names, _ = IDX_FILES[role]
    candidates = [name + suffix for name in names for suffix in ('', '.gz')]
    return _writer.find_file(folder, candidates, f"{role.replace('_', ' ')} idx file")


def _read_role(path, role):
    array = read_idx(path)
    _, ndim = IDX_FILES[role]
    if array.ndim != ndim or array.dtype != np.uint8:
        raise FileFormatError(f"{path}: expected {ndim}-d unsigned bytes for the "
                              f"{role.replace('_', ' ')}, found {array.ndim}-d {array.dtype}")
    if role.endswith('images') and array.shape[1:] != (28, 28):
        raise FileFormatError(f"{path}: expected 28x28 images, found {array.shape[1:]}")
    if role.endswith('labels') and array.size and array.max() > 9:
        raise FileFormatError(f"{path}: labels must be 0..9, found {int(array.max())}")
    return array


def _prepare_idx_dataset(name, source, output, progress, overwrite, flatten, normalization,
                         validation_size, verify_checksums):
    source = pathlib.Path(source).expanduser()
    output = _writer.check_output(output, overwrite)
    paths = {role: _locate(source, role) for role in IDX_FILES}
    total_steps = len(paths) + 2
    checksums = []
    arrays = {}
    for step, (role, path) in enumerate(paths.items()):
        _writer.report(progress, step, total_steps, f'reading {path.name}')
        checksums.append(_writer.verify_checksum(
            path, PUBLISHED_MD5[name].get(path.name), verify_checksums,
            PUBLISHED_CONTENT_SHA256[name].get(path.name)))
        arrays[role] = _read_role(path, role)
    for split in ('train', 'test'):
        images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
        if len(images) != len(labels):
            raise DataError(f"{source}: {len(images)} {split} images but {len(labels)} labels")
    training_total = len(arrays['train_images'])
    _writer.split_sizes_check(training_total, validation_size, f'{name} in {source}')
    training_count = training_total - validation_size

    _writer.report(progress, len(paths), total_steps, 'normalizing images')
    all_images = np.concatenate([arrays['train_images'], arrays['test_images']])
    all_images = all_images[..., np.newaxis]  # NHWC with one channel
    all_images, normalization_attributes = _writer.scale_or_standardize(
        all_images, training_count, normalization, channel_axis=-1, where=name)
    if flatten:
        all_images = all_images.reshape(len(all_images), -1)
    all_labels = np.concatenate([arrays['train_labels'], arrays['test_labels']]).astype(np.int32)

    attributes = dict(DATASET_ATTRIBUTES[name])
    attributes.update(normalization_attributes)
    attributes.update({'checksums': checksums, 'layout': 'flat' if flatten else 'TNHWC',
                       'converter': 'brainstorm.datasets.idx'})
    _writer.report(progress, len(paths) + 1, total_steps, f'writing {output.name}')
    _writer.write_classification_file(output, attributes, overwrite, all_images, all_labels,
                                      training_count, training_total)
    _writer.report(progress, total_steps, total_steps, 'done')
    return output


def prepare_mnist(source, output, progress=None, *, overwrite=False, flatten=True,
                  normalization='scale', validation_size=10000, verify_checksums=True):
    """Convert the four MNIST idx files into a brainstorm HDF5 dataset.

    Args:
        source: folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or
            ``.gz`` (the ``train-images.idx3-ubyte`` spelling is accepted too).
        output: the HDF5 file to create.
        progress: optional callable ``progress(done, total, what)``.
        overwrite: replace an existing ``output``.
        flatten: images as ``(1, B, 784)`` (True) or ``(1, B, 28, 28, 1)`` (False).
        normalization: ``'scale'`` (to [0, 1]) or ``'standardize'`` (training mean and
            standard deviation).
        validation_size: how many of the last training images form the validation split.
        verify_checksums: raise DataError when a ``.gz`` file with a published md5
            differs from it (False: record the difference in the ``checksums`` attribute).

    Returns:
        pathlib.Path of the written file.

    Raises:
        DataError: a file is missing, or the output exists and ``overwrite`` is False.
        FileFormatError: a file is not an idx file of the expected kind, or truncated.
    """
    return _prepare_idx_dataset('mnist', source, output, progress, overwrite, flatten,
                                normalization, validation_size, verify_checksums)


def prepare_fashion_mnist(source, output, progress=None, *, overwrite=False, flatten=True,
                          normalization='scale', validation_size=10000,
                          verify_checksums=True):
    """Convert the four Fashion-MNIST idx files; arguments as for ``prepare_mnist``."""
    return _prepare_idx_dataset('fashion-mnist', source, output, progress, overwrite, flatten,
                                normalization, validation_size, verify_checksums)
