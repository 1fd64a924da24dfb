"""A network's structure (layers and their shapes) without its memory, for reports.

``bstorm info`` needs the layers' shapes and parameter counts, not the network's
buffers: building a ``Network`` allocates parameters, gradients and activations
(gigabytes for a large experiment, or a file that only declares a large network).
:func:`structure_from_file` reads a network file's stored description and
:func:`structure_from_experiment` builds an experiment's architecture; both
instantiate the layer objects, which validates the architecture and computes every
shape, and allocate nothing.
"""

import dataclasses
import types

import numpy as np


@dataclasses.dataclass
class NetworkStructure:
    """The parts of a Network that ``network_info`` reads.

    Attributes:
        layers (OrderedDict[str, Layer]): layer implementations with their shapes.
        architecture (dict): the architecture description (spec 9.3).
        output_name (Optional[str]): the default output's buffer path.
        handler: stands in for the handler; only ``dtype`` is read (float32, what a
            loaded network gets).
    """

    layers: dict
    architecture: dict
    output_name: object = None
    handler: object = dataclasses.field(
        default_factory=lambda: types.SimpleNamespace(dtype=np.float32))


def structure_from_file(path):
    """The NetworkStructure stored in the network file ``path``.

    Raises:
        brainstorm.errors.FileFormatError: the file is not a network file, or its
            architecture is invalid.
    """
    from brainstorm.errors import BrainstormError, FileFormatError
    from brainstorm.structure.architecture import instantiate_layers_from_architecture
    from brainstorm.structure.network import (_guess_output_name, read_network_description,
                                              stored_components)
    description = read_network_description(path)
    try:
        layers = instantiate_layers_from_architecture(description['architecture'])
    except (BrainstormError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise FileFormatError(f"{path}: the stored architecture is invalid: {error}") \
            from error
    except RecursionError:
        raise FileFormatError(f"{path}: the stored architecture is nested too deeply") \
            from None
    _check_declared_parameters(path, layers)
    stored_components(description, path)  # checked as loading would, then dropped
    output_name = description.get('output_name')
    if not isinstance(output_name, str):
        output_name = _guess_output_name(layers)
    return NetworkStructure(layers, description['architecture'], output_name)


def structure_from_experiment(path, overrides=(), problem_limit=None):
    """The NetworkStructure of the network the experiment file ``path`` describes.

    The data file is opened only where a ``spec`` network takes its shapes from
    the training data; its arrays are not loaded.

    Raises:
        bstorm_cli.errors.BadInputError: the experiment is invalid (located).
    """
    from brainstorm.structure.architecture import instantiate_layers_from_architecture
    from brainstorm.structure.network import _guess_output_name
    from bstorm_cli.experiment import build
    from bstorm_cli.experiment.document import load_experiment
    experiment = load_experiment(path, overrides, problem_limit)
    sources = None
    try:
        if 'layers' not in experiment.resolved['network']:
            sources = build.build_data(experiment)
        architecture, output_name = build.build_architecture(experiment, sources)
    finally:
        if sources is not None:
            sources.close()
    layers = instantiate_layers_from_architecture(architecture)
    dtype = np.dtype(experiment.resolved['handler'].get('dtype') or 'float32')
    return NetworkStructure(layers, architecture, output_name or _guess_output_name(layers),
                            types.SimpleNamespace(dtype=dtype))


def _check_declared_parameters(path, layers):
    """The file's parameter dataset must declare as many values as the layers have
    (checked from its metadata; nothing is read)."""
    import h5py
    from brainstorm.errors import FileFormatError
    from brainstorm.utils import product
    needed = sum(product(structure.feature_shape) for layer in layers.values()
                 for structure in layer.parameter_shapes.values())
    with h5py.File(path, 'r') as h5file:
        dataset = h5file.get('parameters')
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind != 'f' or \
                dataset.ndim != 1:
            raise FileFormatError(f"{path}: 'parameters' must be a 1-D float dataset")
        if dataset.shape[0] != needed:
            raise FileFormatError(f"{path}: {dataset.shape[0]:,} parameters stored, but the "
                                  f"architecture needs {needed:,} (truncated or foreign "
                                  f"file)")
