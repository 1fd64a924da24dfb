"""Standard public datasets as brainstorm HDF5 files, and the embedded digits dataset.

Every converter has the signature ``prepare_<name>(source, output, progress=None,
**options)``: ``source`` is the dataset's standard files (a folder or a file, as the
converter's docstring says), ``output`` the HDF5 file to create, ``progress`` an
optional callable ``progress(done, total, what)`` (the engine never prints; the CLI
renders it). Each returns the written path, writes atomically (a temporary file in
the destination folder, renamed at the end), never replaces an existing file unless
``overwrite=True``, and raises ``DataError`` / ``FileFormatError`` naming the file
and what is wrong.

``DATASETS`` maps the names the CLI accepts (``bstorm data prepare NAME``) to them.
``digits_path()`` is the small real dataset that ships with the package.
"""

from brainstorm.datasets.cifar import prepare_cifar10, prepare_cifar100
from brainstorm.datasets.digits import digits_path, prepare_digits
from brainstorm.datasets.idx import prepare_fashion_mnist, prepare_mnist
from brainstorm.datasets.text import prepare_text
from brainstorm.datasets.ucr import prepare_ucr

DATASETS = {
    'mnist': prepare_mnist,
    'fashion-mnist': prepare_fashion_mnist,
    'cifar10': prepare_cifar10,
    'cifar100': prepare_cifar100,
    'text': prepare_text,
    'ucr': prepare_ucr,
    'digits': prepare_digits,
}

__all__ = ['DATASETS', 'digits_path', 'prepare_cifar10', 'prepare_cifar100',
           'prepare_digits', 'prepare_fashion_mnist', 'prepare_mnist', 'prepare_text',
           'prepare_ucr']
