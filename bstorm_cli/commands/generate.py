"""``bstorm generate NETWORK.h5``: sample text from a character model, streamed to stdout."""

import sys

import click

from bstorm_cli.commands._common import engine_file_error, load_network_file
from bstorm_cli.errors import BadInputError, Location
from bstorm_cli.exit_codes import ExitStatus


def _prime_bytes(prime):
    # the prime as typed, in UTF-8 (the bytes the text converter saw in a UTF-8 text)
    return prime.encode('utf-8', 'surrogateescape')


@click.command('generate', epilog="""\b
Examples:
  bstorm generate runs/hutter_lstm-20240101-120000/best.h5 --length 500 --prime "The "
  bstorm generate best.h5 -n 200 --temperature 0.5 --seed 7 > sample.txt""")
@click.argument('network', metavar='NETWORK.h5')
@click.option('--length', '-n', type=click.IntRange(min=0), default=200, show_default=True,
              help='Bytes to generate after the prime.')
@click.option('--temperature', '-t', type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help='Below 1: more likely bytes; above 1: more varied.')
@click.option('--prime', default='\n', show_default='a newline',
              help='Text the sampling continues (printed first).')
@click.option('--seed', type=click.IntRange(min=0), default=None,
              help='Seed of the draws: the same seed gives the same text.')
def generate_command(network, length, temperature, prime, seed):
    """Sample text from a network trained on `bstorm data prepare text` data.

    The network keeps its recurrent state from byte to byte; each byte is drawn
    from its prediction and written to stdout as soon as it is drawn. The alphabet
    comes from the network file (bstorm train stores the data file's).
    """
    from brainstorm.errors import DataError
    from brainstorm.tools import sample_text
    net = load_network_file(network)
    prime_bytes = _prime_bytes(prime)
    out = sys.stdout.buffer
    try:
        samples = sample_text(net, length, temperature=temperature, prime=prime_bytes,
                              seed=seed)
        first = next(samples, None)  # checks the network and the prime before printing
    except DataError as error:
        if 'prime' in str(error):
            raise BadInputError(str(error), Location('--prime')) from error
        raise engine_file_error(error, network) from error
    out.write(prime_bytes)
    if first is not None:
        out.write(bytes([first]))
        out.flush()
        for value in samples:
            out.write(bytes([value]))
            out.flush()
    out.write(b'\n')
    out.flush()
    return ExitStatus.OK
