#!/usr/bin/env python
"""Convert cifar-100-python.tar.gz into CIFAR-100.hdf5 (see brainstorm.datasets.cifar)."""

import _script
from brainstorm.datasets import prepare_cifar100

if __name__ == '__main__':
    parser = _script.make_parser(
        'Convert CIFAR-100 from the python-version archive (pickles are read with a '
        'restricted unpickler).',
        'python data/create_cifar100.py --source cifar-100-python.tar.gz --labels coarse',
        'CIFAR-100.hdf5', 'cifar-100-python.tar.gz, or the folder holding it')
    parser.add_argument('--labels', choices=('fine', 'coarse'), default='fine',
                        help='targets: 100 fine classes or 20 coarse superclasses')
    parser.add_argument('--scale', action='store_true',
                        help='scale to [0, 1] instead of standardising per channel')
    parser.add_argument('--no-verify', action='store_true',
                        help='accept an archive whose md5 differs from the published one')
    _script.add_validation_size(parser)
    _script.main(prepare_cifar100, parser, lambda arguments: dict(
        validation_size=arguments.validation_size,
        verify_checksums=not arguments.no_verify, label_kind=arguments.labels,
        normalization='scale' if arguments.scale else 'standardize'))
