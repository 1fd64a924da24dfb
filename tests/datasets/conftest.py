"""Session fixtures: real datasets fetched once (see realdata.py) and converted once.

Each ``*_hdf5`` fixture converts the real files into a session temporary folder, so
every test reads one conversion (full MNIST takes about a second).
"""

import pytest

from brainstorm import datasets
from tests.datasets import realdata


def _converted(tmp_path_factory, converter, source, name, **options):
    output = tmp_path_factory.mktemp('converted') / f'{name}.hdf5'
    return converter(source, output, **options)


@pytest.fixture(scope='session')
def mnist_source():
    return realdata.require('mnist')


@pytest.fixture(scope='session')
def fashion_mnist_source():
    return realdata.require('fashion-mnist')


@pytest.fixture(scope='session')
def wikipedia_file():
    return realdata.require('wikipedia') / realdata.WIKIPEDIA_FILE


@pytest.fixture(scope='session')
def japanese_vowels_source():
    return realdata.require('japanese-vowels')


@pytest.fixture(scope='session')
def digits_csv():
    return realdata.require('digits') / 'digits.csv.gz'


@pytest.fixture(scope='session')
def mnist_hdf5(tmp_path_factory, mnist_source):
    return _converted(tmp_path_factory, datasets.prepare_mnist, mnist_source, 'MNIST')


@pytest.fixture(scope='session')
def fashion_mnist_hdf5(tmp_path_factory, fashion_mnist_source):
    # Debian re-compressed the .gz files: their md5s differ from the published ones, and
    # the converter accepts them because their decompressed data matches the published
    return _converted(tmp_path_factory, datasets.prepare_fashion_mnist, fashion_mnist_source,
                      'Fashion-MNIST')


@pytest.fixture(scope='session')
def wikipedia_hdf5(tmp_path_factory, wikipedia_file):
    return _converted(tmp_path_factory, datasets.prepare_text, wikipedia_file, 'Wikipedia',
                      sequence_length=100)


@pytest.fixture(scope='session')
def japanese_vowels_hdf5(tmp_path_factory, japanese_vowels_source):
    return _converted(tmp_path_factory, datasets.prepare_ucr, japanese_vowels_source,
                      'JapaneseVowels', problem='JapaneseVowels')
