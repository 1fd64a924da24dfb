"""``bstorm data prepare NAME --source DIR -o FILE``: standard datasets -> HDF5 files."""

import inspect

import click

from bstorm_cli import console
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


@click.group('data', epilog="""\b
Example:
  bstorm data prepare mnist --source ~/Downloads/mnist -o data/MNIST.hdf5
  bstorm data list""")
def data_group():
    """Prepare the standard datasets as HDF5 files of the documented layout."""


def _datasets():
    from brainstorm.datasets import DATASETS
    return DATASETS


@data_group.command('list', epilog="""\b
Example:
  bstorm data list""")
def list_command():
    """List the datasets `bstorm data prepare` converts."""
    for name, converter in _datasets().items():
        summary = (inspect.getdoc(converter) or '').split('\n')[0]
        console.out().print(f"{name:15} {summary}", markup=False, highlight=False)
    return ExitStatus.OK


def _parse_option(text):
    from bstorm_cli.experiment.yaml_loader import load_yaml
    if '=' not in text:
        raise BadInputError(f"expected NAME=VALUE, got {text!r}", Location(f"--option {text}"))
    key, _, value = text.partition('=')
    parsed, _ = load_yaml(value, f"--option {text}")
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key.strip().replace('-', '_'), parsed


class _PrepareCommand(click.Command):
    """``prepare``, whose ``--help`` after a dataset name also lists that converter's
    source and options (``bstorm data prepare mnist --help``)."""

    def parse_args(self, context, args):
        if args and args[0] in _datasets() and any(arg in ('--help', '-h') for arg in args):
            from bstorm_cli.converter_options import options_help
            click.echo(self.get_help(context))
            click.echo('\n' + options_help(args[0], _datasets()[args[0]]))
            context.exit()
        return super().parse_args(context, args)


@data_group.command('prepare', cls=_PrepareCommand, epilog="""\b
Examples:
  bstorm data prepare mnist --source ~/Downloads/mnist -o data/MNIST.hdf5
  bstorm data prepare cifar10 --source cifar-10-python.tar.gz -o data/CIFAR-10.hdf5
  bstorm data prepare text --source enwik8.zip -o data/Hutter.hdf5
  bstorm data prepare ucr --source JapaneseVowels/ -o data/JapaneseVowels.hdf5 \\
      --option problem=JapaneseVowels
  bstorm data prepare mnist --help     # the mnist converter's source and options""")
@click.argument('name', metavar='NAME')
@click.option('--source', '-s', required=True, metavar='PATH',
              help="The dataset's original files (a folder or archive; see the converter).")
@click.option('--output', '-o', required=True, metavar='FILE.hdf5', help='File to create.')
@click.option('--option', 'options', multiple=True, metavar='NAME=VALUE',
              help="A converter option, e.g. --option sequence_length=50 (repeatable).")
@click.option('--overwrite', is_flag=True, help='Replace an existing output file.')
def prepare_command(name, source, output, options, overwrite):
    """Convert dataset NAME (see `bstorm data list`) from its original files in
    --source into an HDF5 file with the splits brainstorm's experiments read.
    `bstorm data prepare NAME --help` lists NAME's options; docs/datasets.md says
    where each dataset can be had."""
    from brainstorm.errors import BrainstormError
    from bstorm_cli.converter_options import cli_terms, keyword_options
    from bstorm_cli.experiment.schemas import _did_you_mean
    datasets = _datasets()
    if name not in datasets:
        raise BadInputError(f"unknown dataset {name!r} (known: {', '.join(datasets)})",
                            hint=_did_you_mean(name, datasets))
    converter = datasets[name]
    keyword_arguments = dict(_parse_option(text) for text in options)
    accepted = list(keyword_options(converter))
    for key in keyword_arguments:
        if key not in accepted:
            raise BadInputError(f"the {name} converter has no option {key!r} (options: "
                                f"{', '.join(accepted) or 'none'})",
                                Location(f"--option {key}"), hint=_did_you_mean(key, accepted))
    progress_console = console.err()
    with progress_console.status(f"preparing {name}") as status:
        def progress(done, total, what):
            status.update(f"{name}: {what} ({done}/{total})")
        try:
            written = converter(source, output, progress=progress, overwrite=overwrite,
                                **keyword_arguments)
        except BrainstormError as error:
            raise BadInputError(cli_terms(str(error), converter)) from error
        except TypeError as error:
            raise BadInputError(cli_terms(f"{name}: {error}", converter)) from error
    console.out().print(str(written), markup=False, highlight=False)
    return ExitStatus.OK
