"""``bstorm train --dry-run``: build everything, run one batch, write nothing.

Builds what a run builds (data iterators, network on its handler, stepper, hooks) in a
temporary folder that is removed afterwards, then feeds the first training batch
through one forward and one backward pass, so shape and handler problems show up in
seconds instead of after the first epoch. It reports the loss of that batch, how long
the two passes took and the memory the network's buffers take for that batch's
``T`` and ``B`` (as ``bstorm info`` computes it).
"""

import tempfile
import time

from bstorm_cli.errors import BadInputError


def dry_run(experiment, limit=None):
    """Build ``experiment`` and run one batch forward and backward; return a summary dict.

    Raises:
        BadInputError / MultipleBadInputError: everything ``validate`` finds, and an
            engine error in the passes (bad shapes the static checks missed).
    """
    from bstorm_cli.experiment import build
    from bstorm_cli.experiment.network_info import memory_bytes
    from bstorm_cli.experiment.setup import build_run
    with tempfile.TemporaryDirectory(prefix='bstorm-dry-run-') as folder:
        setup = build_run(experiment, folder, limit=limit)
        try:
            network = setup.network
            training_name = experiment.resolved['trainer']['training_iterator']
            batches = setup.sources.iterators[training_name](network.handler)
            batch = next(iter(batches), None)
            if batch is None:
                raise BadInputError("the training iterator yields no batch",
                                    experiment.locate('data', 'iterators', training_name))
            shape = next(iter(batch.values())).shape
            time_size, batch_size = int(shape[0]), int(shape[1])
            started = time.perf_counter()
            try:
                network.provide_external_data(batch)
                network.forward_pass(training_pass=True)
                network.backward_pass()
            except build.engine_errors() as error:
                raise BadInputError(f"one batch forward and backward failed: "
                                    f"{build.error_text(error)}",
                                    experiment.locate('network')) from error
            seconds = time.perf_counter() - started
            losses = network.get_loss_values()
            return {
                'experiment': str(experiment.path), 'name': experiment.name,
                'parameters': int(network.buffer_manager.parameter_size),
                'time_size': time_size, 'batch_size': batch_size,
                'loss': float(losses.get('total_loss', float('nan'))),
                'seconds': seconds,
                'memory_bytes': memory_bytes(network, time_size, batch_size),
                'iterators': {name: iterator.length
                              for name, iterator in setup.sources.iterators.items()},
            }
        finally:
            setup.close()
