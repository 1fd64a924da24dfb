"""Shared command-line plumbing of the ``data/create_*.py`` scripts.

Each script names a converter of ``brainstorm.datasets`` and its extra options; this
module parses the arguments, renders the converter's progress with rich (on stderr),
and turns a bad input into one ``error: ...`` line and exit status 2.
"""

import argparse
import pathlib
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

try:
    import brainstorm  # noqa: F401 - installed (pip install -e . or a wheel)
except ImportError:  # run from a checkout without installing: use the checkout's package
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from brainstorm.errors import BrainstormError  # noqa: E402

EXIT_BAD_INPUT = 2


def make_parser(description, example, default_output, source_help):
    """An ArgumentParser with the options every script shares."""
    parser = argparse.ArgumentParser(
        description=description, epilog=f'example:\n  {example}',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--source', required=True, help=source_help)
    parser.add_argument('-o', '--output', default=default_output,
                        help=f'HDF5 file to create (default: {default_output})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the output file if it exists')
    return parser


def add_validation_size(parser):
    """The --validation-size option of the image converters (default 10,000)."""
    parser.add_argument('--validation-size', type=int, default=10000,
                        help='last training images held out for validation (default 10000)')


def run(converter, arguments, **options):
    """Call ``converter(source, output, progress, overwrite=..., **options)``; exit code."""
    console = Console(stderr=True)
    try:
        with Progress(TextColumn('{task.description}'), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress_bar:
            task = progress_bar.add_task('starting', total=None)

            def progress(done, total, what):
                progress_bar.update(task, completed=done, total=total, description=what)

            output = converter(arguments.source, arguments.output, progress,
                               overwrite=arguments.overwrite, **options)
    except BrainstormError as error:
        console.print(f'error: {error}', markup=False, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        console.print('interrupted; no output was written')
        return 130
    console.print(f'wrote {output}', markup=False, highlight=False, soft_wrap=True)
    return 0


def main(converter, parser, options_from_arguments=lambda arguments: {}):
    """Parse ``sys.argv``, run the converter and exit with its status."""
    arguments = parser.parse_args()
    sys.exit(run(converter, arguments, **options_from_arguments(arguments)))


def main_idx_images(converter, description, example, default_output):
    """Run an idx-format image converter (MNIST and Fashion-MNIST) from ``sys.argv``.

    Both take the same options: --images, --standardize, --no-verify and
    --validation-size besides the shared ones.
    """
    parser = make_parser(
        description, example, default_output,
        'folder holding train-images-idx3-ubyte[.gz] and the three others')
    parser.add_argument('--images', action='store_true',
                        help='store (1, B, 28, 28, 1) images instead of (1, B, 784) vectors')
    parser.add_argument('--standardize', action='store_true',
                        help='standardise with the training mean/std instead of scaling to [0, 1]')
    parser.add_argument('--no-verify', action='store_true',
                        help='accept .gz files whose md5 differs from the published one')
    add_validation_size(parser)
    main(converter, parser, lambda arguments: dict(
        validation_size=arguments.validation_size,
        flatten=not arguments.images, verify_checksums=not arguments.no_verify,
        normalization='standardize' if arguments.standardize else 'scale'))
