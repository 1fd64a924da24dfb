"""get_network_info / print_network_info: layers, shapes, parameter counts, memory."""

import re

import numpy as np
import pytest

from brainstorm.handlers import NumpyHandler
from brainstorm.tools import create_net_from_spec, get_network_info, print_network_info


@pytest.fixture
def net():
    return create_net_from_spec('classification', 6, 3, 'Fr4 L2')


def test_info_lists_layers_in_order_with_types_and_shapes(net):
    info = get_network_info(net)
    headers = re.findall(r'^\[(\d+)\] (\S+) \((\w+)', info, flags=re.MULTILINE)
    assert [(name, layer_type) for _, name, layer_type in headers] == [
        (name, layer.layer_type) for name, layer in net.layers.items()]
    assert [int(index) for index, _, _ in headers] == list(range(len(net.layers)))
    assert "outputs:     default (T, B, 6); targets (T, B, 1)" in info
    assert "[1] FullyConnected (FullyConnected: activation='rel', size=4)" in info
    assert "inputs:      default (T, B, 3); targets (T, B, 1)" in info   # of Output


def test_info_counts_parameters_per_layer_and_in_total(net):
    info = get_network_info(net)
    assert "parameters:  W (6, 4) = 24; bias (4,) = 4; total 28" in info
    total = net.buffer_manager.parameter_size
    lstm = sum(np.prod(s.shape) for s in net.layers['Lstm'].parameter_shapes.values())
    assert total == 28 + lstm + (2 * 3 + 3)
    assert f"Total parameters: {total:,}" in info
    assert info.startswith(f"Network: {len(net.layers)} layers, {total:,} parameters")


def _total_memory_bytes(info):
    match = re.search(r'total ([\d.]+) (B|KiB|MiB)', info)
    return float(match.group(1)) * {'B': 1, 'KiB': 1024, 'MiB': 1024 ** 2}[match.group(2)]


def test_memory_grows_with_time_and_batch_size_and_follows_the_dtype(net):
    def memory(time_size, batch_size):
        return _total_memory_bytes(get_network_info(net, time_size, batch_size))

    assert "Memory for time_size=10, batch_size=20" in get_network_info(net, 10, 20)
    # Parameters are a fixed part; every other buffer is linear in B, and in T
    # (recurrent layers add a context slot, which the differences cancel).
    assert memory(10, 10) > 10 * memory(1, 1)
    grow_batch = memory(10, 20) - memory(10, 10)
    assert memory(10, 40) - memory(10, 20) == pytest.approx(2 * grow_batch, rel=0.02)
    grow_time = memory(20, 20) - memory(10, 20)
    assert memory(40, 20) - memory(20, 20) == pytest.approx(2 * grow_time, rel=0.02)
    float32 = get_network_info(net, time_size=10, batch_size=20)
    net.set_handler(NumpyHandler(np.float64))
    float64 = get_network_info(net, time_size=10, batch_size=20)
    assert 'as float64' in float64 and 'as float32' in float32
    assert _total_memory_bytes(float64) == pytest.approx(2 * _total_memory_bytes(float32),
                                                         rel=0.01)


def test_memory_of_a_layer_counts_its_own_buffers(net):
    info = get_network_info(net, time_size=2, batch_size=3)
    # FullyConnected: 28 parameters + 2*3*4 outputs forward; 28 gradients + 24 deltas + 24 dH
    assert re.search(r'\[1\] FullyConnected .*\n(.*\n){3}    memory:      forward 208 B, '
                     r'backward 304 B', info)


def test_print_network_info_prints_the_info(net, capsys):
    print_network_info(net)
    assert capsys.readouterr().out == get_network_info(net) + '\n'


@pytest.mark.parametrize('spec', ['Fr4 L2', 'F5 F9 F3', 'Fr7 R4 F2'])
def test_total_memory_is_what_the_buffer_manager_allocates(spec):
    # transient internals (the FullyConnected layers' dH, the loss layer's dx) share
    # one region: the total counts it once, as large as the largest layer's
    net = create_net_from_spec('classification', 6, 3, spec)
    net.buffer_manager.resize(40, 50)
    allocated = sum(memory.nbytes for memory in net.buffer_manager._memory.values())
    info = get_network_info(net, time_size=40, batch_size=50)
    match = re.search(r'forward ([\d.]+) (B|KiB|MiB), backward ([\d.]+) (B|KiB|MiB), total',
                      info)
    units = {'B': 1, 'KiB': 1024, 'MiB': 1024 ** 2}
    reported = (float(match.group(1)) * units[match.group(2)] +
                float(match.group(3)) * units[match.group(4)])
    # the figures are rounded to 0.1 of their unit
    assert reported == pytest.approx(allocated, rel=0.002)
    assert "of it shared with other layers" in info
