"""draw_network: DOT text, rendering through `dot`, and the error when it is missing."""

import os
import stat
import sys

import pytest

from brainstorm import Network, layers
from brainstorm.errors import BrainstormError, ValidationError
from brainstorm.tools import create_net_from_spec, draw_network, get_in_out_layers


@pytest.fixture
def net():
    return create_net_from_spec('classification', 4, 3, 'F5 D', mask_name='mask')


def test_dot_file_has_a_node_per_layer_and_an_edge_per_connection(net, tmp_path):
    target = tmp_path / 'net.dot'
    draw_network(net, str(target))
    text = target.read_text()
    assert text.startswith('digraph network {') and text.rstrip().endswith('}')
    for name, layer in net.layers.items():
        assert f'"{name}" [label="{name}\\n{layer.layer_type}\\n' in text
    edges = [line.strip() for line in text.splitlines() if '->' in line and '[label="' not in
             line.split('->')[0]]
    expected = ['"Input" -> "Output" [label="targets -> targets"];',
                '"Input" -> "Mask" [label="mask -> mask"];',
                '"Input" -> "FullyConnected";', '"FullyConnected" -> "Dropout";',
                '"Dropout" -> "Output_projection";', '"Output_projection" -> "Output";',
                '"Output" -> "Mask" [label="loss -> default"];', '"Mask" -> "Loss";']
    assert sorted(edges) == sorted(expected)
    assert 'default: 5' in text  # output shapes in the node labels


def test_names_are_quoted_for_dot(tmp_path):
    inp, out = get_in_out_layers('regression', 2, 1)
    net = Network.from_layer(inp >> layers.FullyConnected(2, name='say "hi" \\o/') >> out)
    target = tmp_path / 'net.gv'
    draw_network(net, target)
    assert '"say \\"hi\\" \\\\o/" -> "Output_projection";' in target.read_text()


@pytest.mark.parametrize('file_name', ['net.png', 'net.svg', 'net.pdf'])
def test_rendered_formats_without_dot_raise_a_clear_error(net, tmp_path, monkeypatch,
                                                          file_name):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    with pytest.raises(ValidationError) as info:
        draw_network(net, tmp_path / file_name)
    assert str(info.value) == ("Graphviz 'dot' is not installed; write a .dot file instead or "
                               "install graphviz")
    assert os.listdir(tmp_path) == []
    draw_network(net, tmp_path / 'still.dot')   # .dot needs no graphviz
    assert os.listdir(tmp_path) == ['still.dot']


def _fake_dot(folder, script):
    """A stand-in `dot` program: a Python script (PATH holds nothing else)."""
    folder.mkdir()
    program = folder / 'dot'
    program.write_text(f"#!{sys.executable}\nimport sys, pathlib\n{script}")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


def test_rendering_pipes_the_dot_text_to_dot(net, tmp_path, monkeypatch):
    # a stand-in `dot` that records its arguments and copies stdin to the -o file
    _fake_dot(tmp_path / 'bin',
              "target = pathlib.Path(sys.argv[3])\n"
              "(target.parent / 'args.txt').write_text(sys.argv[1])\n"
              "target.write_bytes(sys.stdin.buffer.read())\n")
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    draw_network(net, tmp_path / 'net.svg')
    draw_network(net, tmp_path / 'net.dot')
    assert (tmp_path / 'args.txt').read_text().strip() == '-Tsvg'
    assert (tmp_path / 'net.svg').read_text() == (tmp_path / 'net.dot').read_text()
    assert sorted(os.listdir(tmp_path)) == ['args.txt', 'bin', 'net.dot', 'net.svg']


def test_failing_dot_raises_and_leaves_nothing(net, tmp_path, monkeypatch):
    _fake_dot(tmp_path / 'bin', "sys.stderr.write('syntax error in line 1')\nsys.exit(3)\n")
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    with pytest.raises(BrainstormError, match='exit status 3.*syntax error in line 1'):
        draw_network(net, tmp_path / 'net.png')
    assert os.listdir(tmp_path) == ['bin']


@pytest.mark.parametrize('file_name', ['net.jpg', 'net'])
def test_unsupported_extension_is_rejected(net, tmp_path, file_name):
    with pytest.raises(ValidationError, match=r"use one of \.dot, \.gv, \.png, \.svg, \.pdf"):
        draw_network(net, tmp_path / file_name)
