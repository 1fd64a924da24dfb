"""The test score at the end of training: the best network on the data's ``test`` split.

When a run finishes, its data file has a ``test`` split next to the training one (in
``data.group``) and the experiment does not say ``test: false``, the best network
(``best.h5``) is evaluated on that split with ``brainstorm.tools.evaluate`` -- the same
tool ``bstorm evaluate`` uses -- and the experiment's scorers: those of the monitor hook
that ``best:`` watches, else of the first MonitorScores hook, else the training scorers.
The result (losses and scores) goes into ``status.json`` under ``test``.
"""

from bstorm_cli.errors import BadInputError
from bstorm_cli.experiment import build, checks

TEST_SPLIT = 'test'


def has_test_split(sources, group):
    """Whether the open data file has a ``test`` split group under ``group``."""
    import h5py
    parent = sources.h5file[group] if group else sources.h5file
    return TEST_SPLIT in parent and isinstance(parent[TEST_SPLIT], h5py.Group)


def scorer_specs(experiment):
    """(specs, their path in the experiment) of the scorers the test score uses."""
    resolved = experiment.resolved
    hooks = resolved['trainer']['hooks']
    best_log, _ = checks.best_log(experiment)
    monitor = best_log.split('.')[0] if best_log else None
    candidates = [position for position, hook in enumerate(hooks)
                  if hook['type'] == 'MonitorScores' and hook.get('scorers')]
    watched = [position for position in candidates
               if checks.hook_name(hooks[position]) == monitor]
    for position in watched + candidates:
        return hooks[position]['scorers'], ('trainer', 'hooks', position, 'scorers')
    return resolved['trainer']['train_scorers'], ('trainer', 'train_scorers')


def evaluate_best_network(setup, best_network_path, batch_size=100):
    """The test results of the run's best network, or None when there is no test split.

    Returns:
        Optional[dict]: ``{'split': 'GROUP/test', name: value, ...}`` with
        ``total_loss`` and one entry per scorer; ``{'split': ..., 'error': message}``
        when the split cannot be scored (its data does not fit the network): the
        training itself finished, so that is reported, not raised.
    """
    from brainstorm import tools
    from brainstorm.structure.network import Network
    experiment = setup.experiment
    resolved = experiment.resolved
    group = resolved['data'].get('group') or ''
    if not resolved.get('test', True) or not has_test_split(setup.sources, group):
        return None
    specs, path = scorer_specs(experiment)
    scorers = [build.build_component('scorer', spec, path + (position,),
                                     experiment.index.locate)
               for position, spec in enumerate(specs)]
    network = Network.from_hdf5(str(best_network_path))
    network.set_handler(setup.network.handler)
    targets_name = resolved['network'].get('targets_name') or 'targets'
    where = f"{group}/{TEST_SPLIT}".strip('/')
    try:
        iterator, h5file, where = build.network_split(str(setup.sources.path), TEST_SPLIT,
                                                      group, network, batch_size)
        try:
            results = tools.evaluate(network, iterator, scorers=scorers,
                                     targets_name=targets_name, mask_name=None)
        finally:
            h5file.close()
    except BadInputError as error:
        return {'split': where, 'error': error.message}
    except build.engine_errors() as error:
        return {'split': where, 'error': build.error_text(error)}
    return {'split': where, **{name: float(value) for name, value in results.items()}}


def result_text(result):
    """'test (normalized_split/test): Accuracy 0.9720, total_loss 0.1012'."""
    if 'error' in result:
        return f"test ({result['split']}): not scored: {result['error']}"
    values = ', '.join(f"{name} {value:.4f}" for name, value in result.items()
                       if name != 'split')
    return f"test ({result['split']}): {values}"
