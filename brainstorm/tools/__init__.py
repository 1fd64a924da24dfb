"""Tools (spec 8.3): building networks quickly, evaluating, extracting, describing, drawing.

A package whose modules each hold one concern; every tool is importable from
here (``brainstorm.tools.create_net_from_spec``):

* ``network_building``: :func:`get_in_out_layers`, :func:`create_net_from_spec`
  (its grammar lives in ``spec_parser``: :func:`parse_spec`);
* ``extraction``: :func:`evaluate`, :func:`extract`, :func:`extract_and_save`;
* ``network_info``: :func:`get_network_info`, :func:`print_network_info`;
* ``drawing``: :func:`draw_network` (and :func:`network_to_dot`);
* ``data_preparation``: :func:`shuffle_data`, :func:`split`;
* ``sampling``: :func:`sample_text` from a character model.
"""

from brainstorm.tools.data_preparation import shuffle_data, split
from brainstorm.tools.drawing import draw_network, network_to_dot
from brainstorm.tools.extraction import evaluate, extract, extract_and_save
from brainstorm.tools.network_building import create_net_from_spec, get_in_out_layers
from brainstorm.tools.network_info import get_network_info, print_network_info
from brainstorm.tools.sampling import sample_text
from brainstorm.tools.spec_parser import parse_spec

__all__ = ['get_in_out_layers', 'create_net_from_spec', 'parse_spec', 'evaluate', 'extract',
           'extract_and_save', 'get_network_info', 'print_network_info', 'draw_network',
           'network_to_dot', 'shuffle_data', 'split', 'sample_text']
