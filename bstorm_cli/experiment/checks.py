"""Semantic checks of an experiment that the schemas cannot express.

They run after schema validation, on the resolved experiment and the objects built
from it, and report problems the same way (one located line each):

* the data each iterator yields fits the network's inputs (names and feature shapes);
* ``trainer.training_iterator`` and every hook's ``iter_name`` name an iterator;
* every hook's ``log_name`` / ``logs_to_check`` and ``best.log`` name a log that an
  earlier hook writes (``<hook name>.<entry>``);
* every buffer path (scorers' ``out_name``, hooks' ``layer_name``) exists in the network;
* some hook stops the training.
"""

from bstorm_cli.errors import BadInputError
from bstorm_cli.experiment.schemas import _did_you_mean
from bstorm_cli.experiment.user_components import class_name, is_import_path

#: hooks that can end a training run
STOPPING_HOOKS = ('StopAfterEpoch', 'StopAfterThresholdReached', 'EarlyStopper')
#: hooks whose logs hold one entry per scorer (plus losses)
MONITOR_HOOKS = ('MonitorScores', 'MonitorLoss')
MAXIMIZED_SCORES = ('Accuracy', 'Hamming')
#: names the trainer and the CLI use for their own logs and hooks
RESERVED_HOOK_NAMES = ('rolling_training', 'bstorm_progress', 'bstorm_run',
                       'bstorm_log_files_update', 'bstorm_log_files_epoch')


def hook_name(hook):
    """The name a hook logs under: its ``name`` or its class name."""
    return hook.get('name') or class_name(hook['type'])


def check_training_setup(experiment):
    """Checks that need no data or network; returns a list of BadInputError."""
    resolved = experiment.resolved
    problems = []
    iterators = resolved['data']['iterators']
    trainer = resolved['trainer']
    if trainer['training_iterator'] not in iterators:
        problems.append(experiment.error(
            f"no iterator named {trainer['training_iterator']!r} in data.iterators "
            f"({', '.join(iterators)})", 'trainer', 'training_iterator',
            hint=_did_you_mean(trainer['training_iterator'], iterators)))
    seen_names = {}
    for position, hook in enumerate(trainer['hooks']):
        where = ('trainer', 'hooks', position)
        name = hook_name(hook)
        if name in RESERVED_HOOK_NAMES:
            problems.append(experiment.error(
                f"the hook name {name!r} is reserved for bstorm's own logs and hooks",
                *where, hint="set its name: to something else"))
        elif name in seen_names:
            problems.append(experiment.error(
                f"two hooks are named {name!r} (the other is hooks[{seen_names[name]}]); "
                f"give one a different name", *where,
                hint="hook names are the keys of the logs and must be unique"))
        iter_name = hook.get('iter_name')
        if iter_name is not None and iter_name not in iterators:
            problems.append(experiment.error(
                f"unknown iterator {iter_name!r}; data.iterators defines "
                f"{', '.join(iterators)}", *where, 'iter_name',
                hint=_did_you_mean(iter_name, iterators)))
        for key in ('log_name',):
            if isinstance(hook.get(key), str):
                problem = _check_log_name(experiment, hook[key], seen_names, trainer['hooks'],
                                          where + (key,))
                if problem:
                    problems.append(problem)
        for index, log in enumerate(hook.get('logs_to_check') or ()):
            problem = _check_log_name(experiment, log, seen_names, trainer['hooks'],
                                      where + ('logs_to_check', index))
            if problem:
                problems.append(problem)
        seen_names.setdefault(name, position)
    if not any(hook['type'] in STOPPING_HOOKS or is_import_path(hook['type'])  # may stop
               for hook in trainer['hooks']):
        problems.append(experiment.error(
            "no hook stops the training, so it would run forever", 'trainer', 'hooks',
            hint="add {type: StopAfterEpoch, max_epochs: 10}"))
    best_log = resolved.get('best', {}).get('log')
    if best_log:
        problem = _check_log_name(experiment, best_log, seen_names, trainer['hooks'],
                                  ('best', 'log'))
        if problem:
            problems.append(problem)
    return problems


def _check_log_name(experiment, log_name, earlier, hooks, where):
    monitor, _, entry = log_name.partition('.')
    if monitor not in earlier:
        known = list(earlier)
        return experiment.error(
            f"unknown log {log_name!r}: no earlier hook is named {monitor!r}"
            + (f" (earlier hooks: {', '.join(known)})" if known else ""), *where,
            hint=_did_you_mean(monitor, known) or
            "log names are '<hook name>.<entry>', e.g. 'validation.Accuracy'")
    hook = hooks[earlier[monitor]]
    if hook['type'] == 'MonitorScores' and entry:
        first = entry.split('.')[0]
        entries = [scorer.get('name') or class_name(scorer['type'])
                   for scorer in hook.get('scorers', ())]
        entries += ['total_loss']
        if first not in entries and not first.endswith('loss') and not first.startswith('Loss'):
            return experiment.error(
                f"unknown log {log_name!r}: hook {monitor!r} logs "
                f"{', '.join(entries)}", *where, hint=_did_you_mean(first, entries))
    return None


def check_data_fits_network(experiment, sources, network):
    """Every iterator provides each network input with the feature shape it expects."""
    problems = []
    inputs = network.layers['Input'].out_shapes
    for name, iterator in sources.iterators.items():
        for input_name, structure in inputs.items():
            expected = tuple(structure.feature_shape)
            where = ('data', 'iterators', name)
            if input_name not in iterator.data_shapes:
                problems.append(experiment.error(
                    f"the network takes the input {input_name!r}, but iterator {name!r} "
                    f"provides only {', '.join(iterator.data_shapes)}", *where,
                    hint=_did_you_mean(input_name, iterator.data_shapes)))
                continue
            found = tuple(iterator.data_shapes[input_name][2:])
            if found != expected:
                problems.append(experiment.error(
                    f"data item {input_name!r} of iterator {name!r} has feature shape "
                    f"{_shape_text(found)} (data {_shape_text(iterator.data_shapes[input_name])}"
                    f"), but the network's input expects {_shape_text(expected)}", *where,
                    hint=_shape_hint(experiment)))
    return problems


def check_data_values(experiment, sources, network):
    """Every data item the iterators read is finite; class labels fit the network."""
    from bstorm_cli.experiment import build, data_values
    labels = data_values.class_label_items(network)
    problems, seen = [], set()
    for name, iterator in sources.iterators.items():
        for item in iterator.data_shapes:
            dataset = build._find_dataset(iterator, item)
            if dataset is None or id(dataset) in seen:
                continue
            seen.add(id(dataset))
            message = data_values.value_problems(item, dataset, labels.get(item))
            if message:
                problems.append(experiment.error(f"{message} (read by iterator {name!r})",
                                                 'data', 'iterators', name))
    return problems


def _shape_text(shape):
    return '(' + ', '.join(str(size) for size in shape) + (',)' if len(shape) == 1 else ')')


def _shape_hint(experiment):
    if 'layers' in experiment.resolved['network']:
        return "fix network.layers.Input.out_shapes, or choose another data group"
    return "fix network.in_shape / out_shape, or leave them null to read them from the data"


def buffer_exists(network, path):
    """Whether ``path`` names a buffer (or group of buffers) of ``network``."""
    try:
        network.buffer[path]
    except (KeyError, AttributeError, IndexError, TypeError):
        return False
    except Exception:  # an engine error type for unknown paths
        return False
    return True


def buffer_candidates(network):
    """All 'Layer.kind.name' paths of ``network`` (for did-you-mean hints)."""
    paths = []
    for layer_name in network.layers:
        try:
            layer_view = network.buffer[layer_name]
        except Exception:
            continue
        for kind in ('inputs', 'outputs', 'parameters', 'internals', 'gradients',
                     'input_deltas', 'output_deltas'):
            try:
                group = layer_view[kind]
                names = list(group.keys())
            except Exception:
                continue
            paths += [f"{layer_name}.{kind}.{name}" for name in names]
    return paths


def check_buffer_paths(experiment, network):
    """Scorers' out_name and hooks' layer_name name parts of the network."""
    problems = []
    trainer = experiment.resolved['trainer']
    scorer_places = [(('trainer', 'train_scorers', index), scorer)
                     for index, scorer in enumerate(trainer.get('train_scorers', ()))]
    for position, hook in enumerate(trainer['hooks']):
        where = ('trainer', 'hooks', position)
        scorer_places += [(where + ('scorers', index), scorer)
                          for index, scorer in enumerate(hook.get('scorers') or ())]
        layer_name = hook.get('layer_name')
        if isinstance(layer_name, str) and layer_name not in network.layers:
            problems.append(experiment.error(
                f"the network has no layer {layer_name!r} (layers: "
                f"{', '.join(network.layers)})", *where, 'layer_name',
                hint=_did_you_mean(layer_name, network.layers)))
    for where, scorer in scorer_places:
        out_name = scorer.get('out_name')
        if out_name and not buffer_exists(network, out_name):
            problems.append(experiment.error(
                f"the network has no buffer {out_name!r}", *where, 'out_name',
                hint=_did_you_mean(out_name, buffer_candidates(network)) or
                "buffer paths look like 'Output.outputs.probabilities'"))
    return problems


def best_log(experiment):
    """(log name, criterion) that picks the best network, or (None, None)."""
    best = experiment.resolved.get('best') or {}
    log, criterion = best.get('log'), best.get('criterion')
    hooks = experiment.resolved['trainer']['hooks']
    if log is None:
        for hook in hooks:
            if hook['type'] == 'MonitorScores' and hook.get('scorers'):
                scorer = hook['scorers'][0]
                log = f"{hook_name(hook)}.{scorer.get('name') or class_name(scorer['type'])}"
                break
            if hook['type'] == 'MonitorLoss':
                log = f"{hook_name(hook)}.total_loss"
                break
    if log is None:
        return None, None
    if criterion is None:
        criterion = 'max' if named_as_maximized(log) or \
            _scorer_type_of(log, hooks) in MAXIMIZED_SCORES else 'min'
    return log, criterion


def named_as_maximized(log):
    """Whether the log ``log`` ('hook.entry') names a score that is maximized (Accuracy...)."""
    entry = log.split('.')[-1]
    return any(entry.startswith(name) for name in MAXIMIZED_SCORES)


def _scorer_type_of(log, hooks):
    monitor, _, entry = log.partition('.')
    for hook in hooks:
        if hook_name(hook) == monitor:
            for scorer in hook.get('scorers') or ():
                if (scorer.get('name') or class_name(scorer['type'])) == entry:
                    return scorer['type']
    return None


def raise_if_any(problems):
    """Raise the problems (sorted) if there are any."""
    from bstorm_cli.experiment.document import raise_problems
    raise_problems(problems)


__all__ = ['BadInputError', 'check_training_setup', 'check_data_fits_network',
           'check_buffer_paths', 'best_log', 'hook_name', 'raise_if_any']
