#!/usr/bin/env python
"""Rebuild brainstorm/datasets/digits.hdf5 from scikit-learn's digits.csv.gz.

The CSV is inside the scikit-learn wheel (sklearn/datasets/data/digits.csv.gz):
    pip download --no-deps --only-binary=:all: scikit-learn -d /tmp/skl
    unzip -o /tmp/skl/scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl
"""

import pathlib

import _script
from brainstorm.datasets import prepare_digits

EMBEDDED = pathlib.Path(__file__).resolve().parents[1] / 'brainstorm' / 'datasets' / 'digits.hdf5'

if __name__ == '__main__':
    parser = _script.make_parser(
        'Build the embedded UCI optical-digits dataset (1,797 8x8 images, CC BY 4.0).',
        'python data/create_digits.py --source /tmp/skl/sklearn/datasets/data/digits.csv.gz '
        '--overwrite', str(EMBEDDED), 'digits.csv.gz (or a folder holding it)')
    _script.main(prepare_digits, parser)
