"""The spec-line grammar of create_net_from_spec: every token kind, whitespace, errors."""

import re

import pytest
from hypothesis import given, settings, strategies as st

from brainstorm.errors import NetworkValidationError
from brainstorm.tools import parse_spec

VALID = [
    ('', []),
    ('   \t\n', []),
    ('F50', [('F', {'size': 50}, 0)]),
    ('Fl5', [('F', {'activation': 'linear', 'size': 5}, 0)]),
    ('Fr5', [('F', {'activation': 'rel', 'size': 5}, 0)]),
    ('Fs5', [('F', {'activation': 'sigmoid', 'size': 5}, 0)]),
    ('Ft5', [('F', {'activation': 'tanh', 'size': 5}, 0)]),
    ('R7 Lt3', [('R', {'size': 7}, 0), ('L', {'activation': 'tanh', 'size': 3}, 3)]),
    ('G4 Gs5< Rt6<>', [('G', {'size': 4}, 0),
                       ('G', {'activation': 'sigmoid', 'size': 5, 'reverse': True}, 3),
                       ('R', {'activation': 'tanh', 'size': 6, 'bidirectional': True}, 8)]),
    ('Lr3 < >', [('L', {'activation': 'rel', 'size': 3, 'bidirectional': True}, 0)]),
    ('B', [('B', {}, 0)]),
    ('D', [('D', {}, 0)]),
    ('D.2', [('D', {'drop_prob': 0.2}, 0)]),
    ('D0.25', [('D', {'drop_prob': 0.25}, 0)]),
    ('D0', [('D', {'drop_prob': 0.0}, 0)]),
    ('D0.', [('D', {'drop_prob': 0.0}, 0)]),
    ('C32:3', [('C', {'num_filters': 32, 'kernel_size': (3, 3)}, 0)]),
    ('Cs32:5p2s2', [('C', {'activation': 'sigmoid', 'num_filters': 32, 'kernel_size': (5, 5),
                           'padding': 2, 'stride': (2, 2)}, 0)]),
    ('C8:3s2p0', [('C', {'num_filters': 8, 'kernel_size': (3, 3), 'stride': (2, 2),
                         'padding': 0}, 0)]),
    ('P2', [('P', {'kernel_size': (2, 2)}, 0)]),
    ('Pm3s2', [('P', {'type': 'max', 'kernel_size': (3, 3), 'stride': (2, 2)}, 0)]),
    ('Pa3p1s2', [('P', {'type': 'avg', 'kernel_size': (3, 3), 'padding': 1,
                        'stride': (2, 2)}, 0)]),
    # whitespace is ignored everywhere, also inside numbers and options
    ('  F 5 0\tD . 5 ', [('F', {'size': 50}, 2), ('D', {'drop_prob': 0.5}, 8)]),
    ('C 3 2 : 5 p 2 s 2', [('C', {'num_filters': 32, 'kernel_size': (5, 5), 'padding': 2,
                                  'stride': (2, 2)}, 0)]),
    ('F1D', [('F', {'size': 1}, 0), ('D', {}, 2)]),
    ('D.2 F1200 D F1200 D', [('D', {'drop_prob': 0.2}, 0), ('F', {'size': 1200}, 4),
                             ('D', {}, 10), ('F', {'size': 1200}, 12), ('D', {}, 18)]),
]


@pytest.mark.parametrize('spec, expected', VALID, ids=[repr(spec) for spec, _ in VALID])
def test_valid_specs_parse_to_layers_kwargs_and_positions(spec, expected):
    assert parse_spec(spec) == expected


def test_cifar_example_parses_to_conv_pool_sequence():
    layers = parse_spec('C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64')
    assert [letter for letter, _, _ in layers] == ['C', 'P', 'C', 'P', 'C', 'P', 'F']
    assert [kwargs.get('num_filters') for _, kwargs, _ in layers[::2]] == [32, 32, 64, None]
    assert all(kwargs == {'kernel_size': (3, 3), 'stride': (2, 2)}
               for _, kwargs, _ in layers[1::2])


def test_error_message_names_spec_position_and_letter():
    with pytest.raises(NetworkValidationError) as info:
        parse_spec('F50 X3')
    assert str(info.value) == ("spec 'F50 X3': position 4: unknown layer letter 'X' "
                               "(expected one of F R L G B D C P)")


MALFORMED = [
    # spec, position, fragment of the message
    ('X', 0, "unknown layer letter 'X'"),
    ('50', 0, "expected a layer letter"),
    ('  f50', 2, "expected a layer letter (one of F R L G B D C P), found 'f'"),
    ('F', 1, "expected a size"),
    ('Ft', 2, "expected a size"),
    ('Fx50', 1, "found 'x'"),
    ('F0', 1, "size must be at least 1, got 0"),
    ('F5x', 2, "unexpected 'x'"),
    ('F5.5', 2, "unexpected '.'"),
    ('R', 1, "'R' needs a size"),
    ('L t', 3, "'L' needs a size"),
    ('B3', 1, "'B' takes no arguments"),
    ('G', 1, "'G' needs a size"),
    ('L5<<', 3, "'<>' makes it bidirectional"),
    ('L5r', 2, "unexpected 'r'"),
    ('F5<', 2, "unexpected '<'"),
    ('D1', 1, "dropout probability must be in [0, 1)"),
    ('D 2.5', 2, "dropout probability must be in [0, 1)"),
    ('D.', 1, "unexpected '.'"),
    ('D.2.3', 3, "unexpected '.'"),
    ('Dr', 1, "unexpected 'r'"),
    ('C', 1, "expected the number of filters"),
    ('C32', 3, "expected ':' and the kernel size"),
    ('C32;3', 3, "expected ':' and the kernel size"),
    ('C32:', 4, "expected a kernel size"),
    ('C32:0', 4, "kernel size must be at least 1"),
    ('C0:3', 1, "number of filters must be at least 1"),
    ('C32:3p', 6, "expected a padding"),
    ('C32:3s0', 6, "stride must be at least 1"),
    ('C32:3p1p2', 7, "option 'p' is given twice"),
    ('C32:3s1 s2', 8, "option 's' is given twice"),
    ('C32:3q', 5, "unexpected 'q'"),
    ('Cx32:3', 1, "found 'x'"),
    ('P', 1, "expected a kernel size"),
    ('Pq2', 1, "found 'q'"),
    ('Pm', 2, "expected a kernel size"),
    ('P2x', 2, "unexpected 'x'"),
    ('Pm2 s', 5, "expected a stride"),
    # the first malformed token is reported, in spec order
    ('Fx5 X', 1, "found 'x'"),
    ('F5 Q Fx', 3, "unknown layer letter 'Q'"),
    ('F5 F', 4, "expected a size"),
]


@pytest.mark.parametrize('spec, position, fragment', MALFORMED,
                         ids=[repr(spec) for spec, _, _ in MALFORMED])
def test_malformed_specs_raise_with_position(spec, position, fragment):
    with pytest.raises(NetworkValidationError) as info:
        parse_spec(spec)
    message = str(info.value)
    assert message.startswith(f"spec {spec!r}: position {position}: ")
    assert fragment in message


@pytest.mark.parametrize('spec', [None, 12, ['F5'], b'F5'])
def test_non_string_spec_is_rejected(spec):
    with pytest.raises(NetworkValidationError, match='must be a string'):
        parse_spec(spec)


SPEC_ALPHABET = 'FRLBDCPXQfrlstmapq0123456789.:; \t'


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=SPEC_ALPHABET, max_size=16))
def test_any_string_parses_or_raises_a_positioned_error(spec):
    try:
        layers = parse_spec(spec)
    except NetworkValidationError as error:
        match = re.match(r"spec (.*): position (\d+): ", str(error))
        assert match is not None, str(error)
        assert 0 <= int(match.group(2)) <= len(spec)
        return
    positions = [position for _, _, position in layers]
    assert positions == sorted(positions)
    assert all(spec[position] in 'FRLBDCP' for position in positions)
