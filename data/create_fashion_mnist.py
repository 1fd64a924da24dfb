#!/usr/bin/env python
"""Convert the four Fashion-MNIST idx files into Fashion-MNIST.hdf5 (brainstorm.datasets.idx)."""

import _script
from brainstorm.datasets import prepare_fashion_mnist

if __name__ == '__main__':
    parser = _script.make_parser(
        'Convert Fashion-MNIST (train/t10k images and labels, idx format, plain or .gz).',
        'python data/create_fashion_mnist.py --source /usr/share/datasets/fashion-mnist '
        '--no-verify',
        'Fashion-MNIST.hdf5', 'folder holding train-images-idx3-ubyte[.gz] and the three others')
    parser.add_argument('--images', action='store_true',
                        help='store (1, B, 28, 28, 1) images instead of (1, B, 784) vectors')
    parser.add_argument('--standardize', action='store_true',
                        help='standardise with the training mean/std instead of scaling to [0, 1]')
    parser.add_argument('--no-verify', action='store_true',
                        help='accept .gz files whose md5 differs from the published one')
    _script.add_validation_size(parser)
    _script.main(prepare_fashion_mnist, parser, lambda arguments: dict(
        validation_size=arguments.validation_size,
        flatten=not arguments.images, verify_checksums=not arguments.no_verify,
        normalization='standardize' if arguments.standardize else 'scale'))
