#!/usr/bin/env python
"""Convert the four Fashion-MNIST idx files into Fashion-MNIST.hdf5 (brainstorm.datasets.idx)."""

import _script
from brainstorm.datasets import prepare_fashion_mnist

if __name__ == '__main__':
    _script.main_idx_images(
        prepare_fashion_mnist,
        'Convert Fashion-MNIST (train/t10k images and labels, idx format, plain or .gz).',
        'python data/create_fashion_mnist.py --source /usr/share/datasets/fashion-mnist '
        '--no-verify',
        'Fashion-MNIST.hdf5')
