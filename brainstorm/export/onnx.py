"""A brainstorm network as an ONNX model, and the check that both compute the same.

:func:`export_onnx` is the entry point. The model computes the forward pass in
inference mode (``training_pass=False``) of the buffers asked for (by default the
network's output, e.g. ``Output.outputs.predictions``) from the inputs they depend
on: the targets of a loss layer are no model input, a mask is one only where a Mask
layer lies on the way to the output. Every tensor keeps brainstorm's time-major
layout, ``(T, B, ...)`` with images NHWC, and ``T`` and ``B`` are free dimensions.
Recurrent layers start from a zero state, as ``forward_pass()`` without a context.

The layer types that can be exported are the keys of ``CONVERTERS`` in
:mod:`brainstorm.export._onnx_layers`; any other layer the outputs depend on raises
an :class:`~brainstorm.errors.ExportError` naming it. Loss outputs are not exported.

Example:
    >>> model = export_onnx(net, 'model.onnx')
    >>> errors = compare_with_onnxruntime(net, model, {'default': x})
"""

import os

import numpy as np

from brainstorm.errors import ExportError

#: the ONNX opset the exported models use (Shape start/end needs 15, Split's sizes as
#: an input 13); onnxruntime 1.17 runs it
OPSET = 17
EXTRA_HINT = "pip install '.[onnx]' (onnx, and onnxruntime for the check)"


def _require(module_name):
    import importlib
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ExportError(f"ONNX export needs the package {module_name!r}, which is not "
                          f"installed; {EXTRA_HINT}") from error


def _resolve_output(network, buffer_name):
    """(layer, canonical output name) of a dotted 'Layer.outputs.name' path."""
    parts = buffer_name.split('.')
    if len(parts) != 3 or parts[1] != 'outputs' or parts[0] not in network.layers:
        raise ExportError(f"{buffer_name!r}: expected an output buffer 'Layer.outputs.name' "
                          f"of the network")
    layer = network.layers[parts[0]]
    name = layer.output_aliases.get(parts[2], parts[2])
    if name not in layer.out_shapes:
        raise ExportError(f"{buffer_name!r}: layer {parts[0]!r} has no output {parts[2]!r} "
                          f"(its outputs: {', '.join(layer.out_shapes)})")
    return parts[0], name


def export_onnx(network, path=None, buffer_names=None, model_name='brainstorm'):
    """Express the forward pass of ``network`` as an ONNX model.

    Args:
        network (brainstorm.structure.Network): the network, with its parameters.
        path (Optional[str]): where to save the model (written under a temporary
            name and renamed); None: only return it.
        buffer_names (Optional[list[str]]): the outputs of the model, dotted
            ('Output.outputs.probabilities'); default ``[network.output_name]``.
            They are also the names of the model's outputs.
        model_name (str): the graph's name.

    Returns:
        onnx.ModelProto: the checked model. Its inputs are named like the Input
        layer's outputs ('default', 'mask'), float32 ``(T, B, ...)``.

    Raises:
        ExportError: a layer the outputs depend on cannot be exported (the message
            names it and its type), an output is a loss, or onnx is missing.
    """
    onnx = _require('onnx')
    from brainstorm.export._onnx_graph import GraphBuilder, value_info
    from brainstorm.export._onnx_layers import CONVERTERS, LOSS_OUTPUTS, NOT_EXPORTABLE
    from brainstorm.tools.prediction import incoming_connections, upstream
    buffer_names = list(buffer_names or [network.output_name])
    outputs = [_resolve_output(network, name) for name in buffer_names]
    layer_names, input_names = upstream(network, buffer_names)
    for layer_name in layer_names:
        layer_type = network.layers[layer_name].layer_type
        if layer_type not in CONVERTERS:
            reason = NOT_EXPORTABLE.get(layer_type, 'no converter for its type')
            raise ExportError(f"layer {layer_name!r} ({layer_type}) cannot be exported to "
                              f"ONNX: {reason} (exportable: {', '.join(sorted(CONVERTERS))})")
    for (layer_name, output), requested in zip(outputs, buffer_names):
        if output in LOSS_OUTPUTS.get(network.layers[layer_name].layer_type, ()):
            raise ExportError(f"{requested!r} is a loss, which needs targets; export the "
                              f"predictions instead")
    input_shapes = network.layers['Input'].out_shapes
    builder = GraphBuilder()
    tensors = {('Input', name): name for name in input_names}
    incoming = incoming_connections(network.architecture)
    for layer_name in layer_names:
        layer = network.layers[layer_name]
        inputs = {input_name: tensors[(source, output)]
                  for source, output, input_name in incoming.get(layer_name, ())
                  if (source, output) in tensors}
        parameters = {name: network.get(f"{layer_name}.parameters.{name}").astype(np.float32)
                      for name in layer.parameter_shapes}
        produced = CONVERTERS[layer.layer_type](builder, layer, inputs, parameters)
        for output, tensor in produced.items():
            tensors[(layer_name, output)] = tensor
    graph_outputs = []
    for (layer_name, output), requested in zip(outputs, buffer_names):
        builder.node('Identity', [tensors[(layer_name, output)]], outputs=[requested])
        shape = network.layers[layer_name].out_shapes[output].feature_shape
        graph_outputs.append(value_info(requested, ['T', 'B', *shape]))
    graph_inputs = [value_info(name, ['T', 'B', *input_shapes[name].feature_shape])
                    for name in input_names]
    graph = onnx.helper.make_graph(builder.nodes, model_name, graph_inputs, graph_outputs,
                                   initializer=builder.initializers)
    model = onnx.helper.make_model(graph, producer_name='brainstorm',
                                   opset_imports=[onnx.helper.make_opsetid('', OPSET)])
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime >= 1.17
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        _save(onnx, model, os.fspath(path))
    return model


def _save(onnx, model, path):
    from brainstorm.utils import temporary_file_beside
    handle, temporary = temporary_file_beside(path)
    os.close(handle)
    try:
        onnx.save(model, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def onnx_session(model):
    """An onnxruntime InferenceSession (CPU) for a ModelProto or a file name."""
    onnxruntime = _require('onnxruntime')
    source = model if isinstance(model, (str, os.PathLike)) else model.SerializeToString()
    return onnxruntime.InferenceSession(os.fspath(source) if not isinstance(source, bytes)
                                        else source, providers=['CPUExecutionProvider'])


def relative_error(actual, expected):
    """max |actual - expected| / max |expected| (1 when expected is all zeros but actual
    is not): the error of the whole output relative to its scale."""
    difference = np.max(np.abs(actual.astype(np.float64) - expected), initial=0.0)
    scale = np.max(np.abs(expected), initial=0.0)
    if scale == 0:
        return 0.0 if difference == 0 else 1.0
    return float(difference / scale)


def compare_with_onnxruntime(network, model, data, session=None):
    """Run ``model`` in onnxruntime and ``network`` in brainstorm on the same ``data``.

    Args:
        network: the brainstorm network (run in inference mode, float32 handler
            or not; the comparison is in float64).
        model: the exported ModelProto (or a file name).
        data (dict[str, numpy.ndarray]): input name -> ``(T, B, ...)`` array, at
            least the model's inputs.
        session: an onnxruntime session to reuse (made from ``model`` if None).

    Returns:
        dict[str, float]: model output name -> :func:`relative_error` of the
        model's values against brainstorm's.
    """
    session = session or onnx_session(model)
    feeds = {item.name: np.asarray(data[item.name], dtype=np.float32)
             for item in session.get_inputs()}
    names = [item.name for item in session.get_outputs()]
    results = session.run(names, feeds)
    shapes = network.layers['Input'].out_shapes
    some = next(iter(feeds.values()))
    full = {name: feeds[name] if name in feeds else np.zeros(
        some.shape[:2] + tuple(shapes[name].feature_shape), dtype=np.float32)
        for name in shapes}
    network.provide_external_data(full)
    network.forward_pass(training_pass=False)
    return {name: relative_error(result, network.get(name).astype(np.float64))
            for name, result in zip(names, results)}
