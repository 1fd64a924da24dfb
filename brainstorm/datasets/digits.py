"""The embedded default dataset: UCI optical recognition of handwritten digits, 8x8.

1,797 images (the UCI ``optdigits`` test set, as shipped by scikit-learn in
``sklearn/datasets/data/digits.csv.gz``): 64 pixel counts in 0..16, then the label.
E. Alpaydin and C. Kaynak, licensed CC BY 4.0 (see ``DIGITS_LICENSE.txt``).

``brainstorm/datasets/digits.hdf5`` is made from that CSV by ``data/create_digits.py``
(i.e. ``prepare_digits``). Layout, with a fixed seeded split of 1,297 / 250 / 250:

- ``normalized_split/{training,validation,test}/default``: float32 ``(1, B, 64)``,
  pixel counts divided by 16 (values in [0, 1]);
- ``normalized_split/{training,validation,test}/targets``: int32 ``(1, B, 1)``, 0..9;
- ``image_split/{training,validation,test}/{default,targets}``: the same samples with
  ``default`` as TNHWC images ``(1, B, 8, 8, 1)``, for convolutional networks.
"""

import pathlib

import numpy as np

from brainstorm.datasets import _writer
from brainstorm.errors import DataError, FileFormatError
from brainstorm.datasets.text import read_text_bytes

DIGITS_FILE_NAME = 'digits.hdf5'
SAMPLE_COUNT = 1797
SPLIT_SEED = 1998
VALIDATION_SIZE = 250
TEST_SIZE = 250

DIGITS_ATTRIBUTES = {
    'source': 'UCI Machine Learning Repository: Optical Recognition of Handwritten Digits '
              '(test set, 1,797 samples), '
              'https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits',
    'authors': 'E. Alpaydin and C. Kaynak (1998)',
    'license': 'CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)',
    'description': '8x8 images of handwritten digits; each pixel counts the set pixels of a '
                   '4x4 block of a 32x32 bitmap (0..16); 10 classes',
    'label_names': [str(digit) for digit in range(10)],
    'normalization': 'scale',
    'normalization_description': 'pixel counts divided by 16, in [0, 1]',
    'split_seed': SPLIT_SEED,
    'converter': 'brainstorm.datasets.digits',
}


def digits_path():
    """Path of the embedded ``digits.hdf5`` (installed with the package).

    Raises:
        DataError: the file is missing (a broken installation).
    """
    path = pathlib.Path(__file__).resolve().with_name(DIGITS_FILE_NAME)
    if not path.is_file():
        raise DataError(f"{path}: the embedded digits dataset is missing; reinstall "
                        "brainstorm or run data/create_digits.py")
    return path


def read_digits_csv(path):
    """Read the scikit-learn digits CSV (plain or gzipped).

    Returns:
        (pixels uint8 (N, 64) in 0..16, labels int32 (N,) in 0..9).

    Raises:
        DataError: the file is missing.
        FileFormatError: rows without 65 integer columns or values out of range.
    """
    text = read_text_bytes(path).decode('ascii', errors='replace')
    rows = [line for line in text.splitlines() if line.strip()]
    try:
        table = np.array([[int(value) for value in row.split(',')] for row in rows])
    except ValueError as error:
        raise FileFormatError(f"{path}: expected comma-separated integers ({error})") from None
    if table.ndim != 2 or table.shape[1] != 65:
        raise FileFormatError(f"{path}: expected rows of 64 pixels and a label, "
                              f"found {table.shape}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise FileFormatError(f"{path}: pixels must be 0..16 and labels 0..9")
    return pixels.astype(np.uint8), labels.astype(np.int32)


def _find_csv(source):
    source = pathlib.Path(source).expanduser()
    if source.is_dir():
        return _writer.find_file(source, ('digits.csv.gz', 'digits.csv'), 'digits CSV')
    if not source.is_file():
        raise DataError(f"{source}: file not found (expected digits.csv.gz)")
    return source


def prepare_digits(source, output, progress=None, *, overwrite=False):
    """Convert scikit-learn's ``digits.csv.gz`` into the embedded dataset's layout.

    Args:
        source: ``digits.csv.gz`` (or ``digits.csv``), or a folder holding it.
        output: the HDF5 file to create.
        progress: optional callable ``progress(done, total, what)``.
        overwrite: replace an existing ``output``.

    Returns:
        pathlib.Path of the written file.
    """
    csv_path = _find_csv(source)
    output = _writer.check_output(output, overwrite)
    _writer.report(progress, 0, 2, f'reading {csv_path.name}')
    pixels, labels = read_digits_csv(csv_path)
    if len(labels) != SAMPLE_COUNT:
        raise FileFormatError(f"{csv_path}: expected {SAMPLE_COUNT} samples, "
                              f"found {len(labels)}")
    order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
    training_count = len(labels) - VALIDATION_SIZE - TEST_SIZE
    chosen = {'training': order[:training_count],
              'validation': order[training_count:training_count + VALIDATION_SIZE],
              'test': order[training_count + VALIDATION_SIZE:]}
    scaled = pixels.astype(np.float32) / np.float32(16.0)
    _writer.report(progress, 1, 2, f'writing {output.name}')
    with _writer.dataset_file(output, DIGITS_ATTRIBUTES, overwrite) as h5file:
        for split, indices in chosen.items():
            targets = labels[indices][np.newaxis, :, np.newaxis]
            flat = scaled[indices][np.newaxis]
            _writer.write_split(h5file, 'normalized_split', split,
                                {'default': flat, 'targets': targets}, compression='gzip')
            _writer.write_split(h5file, 'image_split', split,
                                {'default': flat.reshape(1, -1, 8, 8, 1), 'targets': targets},
                                compression='gzip')
    _writer.report(progress, 2, 2, 'done')
    return output
