"""Experiments skip the deltas of the data unless asked for them or a hook reads them."""

import pytest

from bstorm_cli.experiment.document import load_experiment
from bstorm_cli.experiment.setup import build_run

from tests.cli.conftest import EXPERIMENTS

TINY = EXPERIMENTS / 'valid' / 'tiny.yaml'
MONITOR_DELTAS = ('trainer.hooks=[{type: MonitorLayerDeltas, layer_name: FullyConnected, '
                  'name: deltas}, {type: StopAfterEpoch, max_epochs: 1}]')


@pytest.mark.parametrize('settings, expected', [
    ((), False),
    (('network.compute_data_deltas=true',), True),
    ((MONITOR_DELTAS,), True),
    ((MONITOR_DELTAS, 'network.compute_data_deltas=false'), False),
])
def test_network_computes_data_deltas_only_where_wanted(tmp_path, settings, expected):
    experiment = load_experiment(TINY, settings)
    setup = build_run(experiment, tmp_path)
    try:
        assert setup.network.compute_data_deltas is expected
        skipped = setup.network.layers['FullyConnected'].skipped_input_deltas
        assert skipped == (frozenset() if expected else {'default'})
    finally:
        setup.close()
