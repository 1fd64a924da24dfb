#!/usr/bin/env python
"""Convert the four MNIST idx files into MNIST.hdf5 (see brainstorm.datasets.idx)."""

import _script
from brainstorm.datasets import prepare_mnist

if __name__ == '__main__':
    _script.main_idx_images(
        prepare_mnist,
        'Convert MNIST (train/t10k images and labels, idx format, plain or .gz).',
        'python data/create_mnist.py --source ~/Downloads/mnist -o MNIST.hdf5',
        'MNIST.hdf5')
