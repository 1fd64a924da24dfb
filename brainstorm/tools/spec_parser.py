"""The grammar of ``create_net_from_spec`` lines (spec 8.3), parsed with positions.

A spec line is a sequence of layers. Each layer is one capital letter followed
by its arguments; whitespace is ignored everywhere (``'F 5 0'`` is ``'F50'``)::

    F [act] SIZE                       FullyConnected(SIZE, activation=act)
    R [act] SIZE [<|<>]                Recurrent(SIZE, activation=act)
    L [act] SIZE [<|<>]                Lstm(SIZE, activation=act)
    G [act] SIZE [<|<>]                Gru(SIZE, activation=act)
    B                                  BatchNorm()
    D [PROB]                           Dropout(drop_prob=PROB), default 0.5
    C [act] FILTERS ':' KERNEL [pN] [sN]   Convolution2D(FILTERS, (KERNEL, KERNEL),
                                           padding=N, stride=(N, N), activation=act)
    P [m|a] KERNEL [pN] [sN]           Pooling2D((KERNEL, KERNEL), type='max'|'avg',
                                           padding=N, stride=(N, N))

``act`` is one of ``l`` (linear), ``r`` (rel), ``s`` (sigmoid), ``t`` (tanh);
left out, the layer's own default applies. A recurrent layer followed by ``<``
runs reversed (``reverse=True``); followed by ``<>`` it is bidirectional
(``Bidirectional(...)``: a forward and a reversed layer of SIZE units each,
merged to 2 * SIZE features): ``'L32<>'``, ``'Gt16<'``. ``PROB`` is a decimal number in
[0, 1) such as ``.2``, ``0.25`` or ``0``. The ``p`` and ``s`` options may come in
either order, each at most once. Sizes, kernels and strides are positive
integers, paddings non-negative integers.

Example:
    >>> parse_spec('D.2 F1200 Cs32:5p2s2')
    [('D', {'drop_prob': 0.2}, 0), ('F', {'size': 1200}, 4),
     ('C', {'activation': 'sigmoid', 'num_filters': 32, 'kernel_size': (5, 5),
            'padding': 2, 'stride': (2, 2)}, 10)]
"""

import re

from brainstorm.errors import NetworkValidationError

#: layer letter -> name of the layer factory in brainstorm.layers
LAYER_LETTERS = {'F': 'FullyConnected', 'R': 'Recurrent', 'L': 'Lstm', 'G': 'Gru',
                 'B': 'BatchNorm', 'D': 'Dropout', 'C': 'Convolution2D', 'P': 'Pooling2D'}

#: the letters of recurrent layers, which take the direction suffixes
RECURRENT_LETTERS = 'RLG'

#: direction suffix -> what it sets in the parsed kwargs ('bidirectional' is not a
#: layer kwarg: create_net_from_spec turns it into Bidirectional(...)); longest first
DIRECTION_SUFFIXES = (('<>', 'bidirectional'), ('<', 'reverse'))

#: activation letter -> activation name of the layers
ACTIVATION_LETTERS = {'l': 'linear', 'r': 'rel', 's': 'sigmoid', 't': 'tanh'}

#: pooling letter -> Pooling2D type
POOLING_LETTERS = {'m': 'max', 'a': 'avg'}

_INTEGER = re.compile(r'\d+')
_PROBABILITY = re.compile(r'\d+(\.\d*)?|\.\d+')

_USAGE = {'F': "'F' needs a size after the optional activation, e.g. 'F100' or 'Ft100'",
          'R': "'R' needs a size after the optional activation, e.g. 'R100' or 'Rs100'; "
               "'<' after the size reverses it, '<>' makes it bidirectional ('R100<>')",
          'L': "'L' needs a size after the optional activation, e.g. 'L100' or 'Ll100'; "
               "'<' after the size reverses it, '<>' makes it bidirectional ('L100<>')",
          'G': "'G' needs a size after the optional activation, e.g. 'G100' or 'Gr100'; "
               "'<' after the size reverses it, '<>' makes it bidirectional ('G100<>')",
          'B': "'B' takes no arguments",
          'D': "'D' takes an optional dropout probability, e.g. 'D' or 'D.2'",
          'C': "'C' needs the number of filters and the kernel size, e.g. 'C32:5', 'Cr32:5p2s2'",
          'P': "'P' needs a kernel size after the optional type (m or a), e.g. 'P2', "
               "'Pa3s2p1'"}


class _Arguments:
    """The argument characters of one layer (whitespace removed) with their positions."""

    def __init__(self, spec, letter, letter_position, characters, end_position):
        self.spec = spec
        self.letter = letter
        self.letter_position = letter_position
        self.text = ''.join(character for character, _ in characters)
        self.positions = [position for _, position in characters] + [end_position]
        self.index = 0

    def error(self, message, index=None):
        index = self.index if index is None else index
        return _spec_error(self.spec, self.positions[index], message)

    def at_end(self):
        return self.index == len(self.text)

    def peek(self):
        return self.text[self.index] if not self.at_end() else ''

    def take_optional(self, table):
        """Consume one character if it is a key of ``table``; return its value or None."""
        character = self.peek()
        if character and character in table:
            self.index += 1
            return table[character]
        return None

    def take_integer(self, what, minimum=1):
        match = _INTEGER.match(self.text, self.index)
        if match is None:
            found = f"found {self.peek()!r}" if self.peek() else "found the end of the layer"
            raise self.error(f"expected {what} (an integer) in {self._token()!r}, {found}; "
                             f"{_USAGE[self.letter]}")
        value = int(match.group())
        if value < minimum:
            raise self.error(f"{what} must be at least {minimum}, got {value} in "
                             f"{self._token()!r}")
        self.index = match.end()
        return value

    def take_probability(self):
        match = _PROBABILITY.match(self.text, self.index)
        if match is None:
            return None
        value = float(match.group())
        if not 0.0 <= value < 1.0:
            raise self.error(f"dropout probability must be in [0, 1), got {match.group()!r} "
                             f"in {self._token()!r}")
        self.index = match.end()
        return value

    def expect_end(self):
        if not self.at_end():
            raise self.error(f"unexpected {self.peek()!r} in {self._token()!r}; "
                             f"{_USAGE[self.letter]}")

    def _token(self):
        return self.letter + self.text


def _spec_error(spec, position, message):
    return NetworkValidationError(f"spec {spec!r}: position {position}: {message}")


def _split_layers(spec):
    """Yield (letter, letter position, [(char, position)], end position) per layer."""
    current = None
    for position, character in enumerate(spec):
        if character.isspace():
            continue
        if character.isupper():
            if current is not None:
                # parse the layer before this one first: errors come in spec order
                yield current + (position,)
                current = None
            if character not in LAYER_LETTERS:
                raise _spec_error(spec, position, f"unknown layer letter {character!r} "
                                                  f"(expected one of {' '.join(LAYER_LETTERS)})")
            current = (character, position, [])
        elif current is None:
            raise _spec_error(spec, position, f"expected a layer letter (one of "
                                              f"{' '.join(LAYER_LETTERS)}), found {character!r}")
        else:
            current[2].append((character, position))
    if current is not None:
        yield current + (len(spec),)


def _parse_conv_pool_options(arguments, layer_args):
    """Read the optional 'pN' and 'sN' suffixes (any order, each once)."""
    while not arguments.at_end():
        option = arguments.peek()
        if option not in ('p', 's'):
            arguments.expect_end()
        if ('padding' if option == 'p' else 'stride') in layer_args:
            raise arguments.error(f"option {option!r} is given twice in "
                                  f"{arguments._token()!r}")
        arguments.index += 1
        if option == 'p':
            layer_args['padding'] = arguments.take_integer('a padding', minimum=0)
        else:
            stride = arguments.take_integer('a stride')
            layer_args['stride'] = (stride, stride)


def _parse_layer_arguments(arguments):
    letter = arguments.letter
    layer_args = {}
    if letter in 'FRLGC':
        activation = arguments.take_optional(ACTIVATION_LETTERS)
        if activation is not None:
            layer_args['activation'] = activation
    if letter in 'FRLG':
        layer_args['size'] = arguments.take_integer('a size')
        if letter in RECURRENT_LETTERS:
            for suffix, direction in DIRECTION_SUFFIXES:
                if arguments.text.startswith(suffix, arguments.index):
                    arguments.index += len(suffix)
                    layer_args[direction] = True
                    break
    elif letter == 'D':
        probability = arguments.take_probability()
        if probability is not None:
            layer_args['drop_prob'] = probability
    elif letter == 'C':
        layer_args['num_filters'] = arguments.take_integer('the number of filters')
        if arguments.peek() != ':':
            found = repr(arguments.peek()) if arguments.peek() else 'the end of the layer'
            raise arguments.error(f"expected ':' and the kernel size after the number of "
                                  f"filters in {arguments._token()!r}, found {found}; "
                                  f"{_USAGE['C']}")
        arguments.index += 1
        kernel = arguments.take_integer('a kernel size')
        layer_args['kernel_size'] = (kernel, kernel)
        _parse_conv_pool_options(arguments, layer_args)
    elif letter == 'P':
        pooling_type = arguments.take_optional(POOLING_LETTERS)
        if pooling_type is not None:
            layer_args['type'] = pooling_type
        kernel = arguments.take_integer('a kernel size')
        layer_args['kernel_size'] = (kernel, kernel)
        _parse_conv_pool_options(arguments, layer_args)
    arguments.expect_end()
    return layer_args


def parse_spec(spec):
    """Parse a spec line into its layers.

    Args:
        spec (str): e.g. ``'D.2 F1200 D F1200 D'`` (grammar in the module docstring).

    Returns:
        list[tuple[str, dict, int]]: one ``(letter, layer kwargs, position)`` per
        layer, in order; ``position`` is the index of the letter in ``spec`` and
        the kwargs are those of the layer factory named by ``LAYER_LETTERS``
        (only the ones the spec sets), except ``'bidirectional': True`` for a
        recurrent layer with the ``<>`` suffix. An empty or blank spec gives ``[]``.

    Raises:
        NetworkValidationError: ``"spec 'F50 X3': position 4: unknown layer
            letter 'X' (expected one of F R L G B D C P)"``: the character index
            of the first malformed token in ``spec`` and what was expected.
    """
    if not isinstance(spec, str):
        raise NetworkValidationError(f"a network spec must be a string like 'F100 F10', got "
                                     f"{type(spec).__name__} {spec!r}")
    layers = []
    for letter, position, characters, end_position in _split_layers(spec):
        arguments = _Arguments(spec, letter, position, characters, end_position)
        layers.append((letter, _parse_layer_arguments(arguments), position))
    return layers
