#!/usr/bin/env python
"""Convert a UCR/UEA .ts problem (TRAIN and TEST files) into HDF5 (brainstorm.datasets.ucr)."""

import _script
from brainstorm.datasets import prepare_ucr

if __name__ == '__main__':
    parser = _script.make_parser(
        'Convert a UCR/UEA time-series classification problem from its .ts files; '
        'variable lengths are padded and marked by a "mask" input.',
        'python data/create_ucr.py --source JapaneseVowels/JapaneseVowels_TRAIN.ts '
        '-o JapaneseVowels.hdf5',
        'UCR.hdf5', 'PROBLEM_TRAIN.ts (PROBLEM_TEST.ts beside it), or their folder')
    parser.add_argument('--problem', help='problem name where the folder holds several')
    parser.add_argument('--validation-fraction', type=float, default=0.2,
                        help='share of each class of TRAIN held out for validation')
    parser.add_argument('--raw', action='store_true',
                        help='keep the values as they are instead of standardising them')
    _script.main(prepare_ucr, parser, lambda arguments: dict(
        problem=arguments.problem, validation_fraction=arguments.validation_fraction,
        normalization='none' if arguments.raw else 'standardize'))
