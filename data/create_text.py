#!/usr/bin/env python
"""Convert a text or XML file (e.g. enwik8) into byte sequences (brainstorm.datasets.text)."""

import _script
from brainstorm.datasets import prepare_text

if __name__ == '__main__':
    parser = _script.make_parser(
        'Convert a text file (plain, .gz, .bz2, .xz or a one-file .zip such as enwik8.zip) '
        'into byte-level sequences with next-byte targets, for the hutter_lstm example.',
        'python data/create_text.py --source enwik8.zip -o Hutter.hdf5 --length 100',
        'Hutter.hdf5', 'the text file')
    parser.add_argument('--length', type=int, default=100, help='bytes per sequence (T)')
    parser.add_argument('--fractions', type=float, nargs=3, default=(0.9, 0.05, 0.05),
                        metavar=('TRAINING', 'VALIDATION', 'TEST'),
                        help='shares of the file for the three splits (default 0.9 0.05 0.05)')
    _script.main(prepare_text, parser, lambda arguments: dict(
        sequence_length=arguments.length, split_fractions=tuple(arguments.fractions)))
