"""One ONNX converter per exportable layer type: the layer's forward pass in inference mode.

Every converter is ``convert(builder, layer, inputs, parameters) -> {output name: tensor}``:
``inputs`` maps the layer's input names to ONNX tensor names, all time-major
``(T, B, ...)`` as in brainstorm; ``parameters`` maps parameter names to float32 arrays.
Images stay NHWC between layers; Conv and pooling, which ONNX defines on NCHW, fold T
into the batch and transpose around the one node that needs it.

The recurrent layers are ONNX ``Scan`` loops over axis 0, which is brainstorm's time
axis, so no transposes are needed and T stays a free dimension of the exported model;
the input projections of all steps are one MatMul before the loop, as in brainstorm.
``reverse=True`` is the Scan's reverse direction; a connected 'mask' input is scanned
too, and a step where it is 0 keeps the previous state (``Where``), as the layers do.
"""

import numpy as np
from onnx import helper

from brainstorm.export._onnx_graph import GraphBuilder, value_info


def _flat_features(builder, x, size):
    """(T, B, ...) -> (T, B, size)."""
    return builder.node('Reshape', [x, builder.int64('flat', [0, 0, size])])


def fully_connected(builder, layer, inputs, parameters):
    W, bias = parameters['W'], parameters['bias']
    x = _flat_features(builder, inputs['default'], W.shape[0])
    y = builder.node('MatMul', [x, builder.constant(f"{layer.name}.W", W)])
    y = builder.node('Add', [y, builder.constant(f"{layer.name}.bias", bias)])
    y = builder.activation(layer.activation, y)
    if len(layer.size) > 1:
        y = builder.node('Reshape', [y, builder.int64('size', [0, 0, *layer.size])])
    return {'default': y}


def _as_nchw(builder, x, feature_shape):
    """(T, B, H, W, C) -> (T*B, C, H, W)."""
    folded = builder.node('Reshape', [x, builder.int64('images', [-1, *feature_shape])])
    return builder.node('Transpose', [folded], perm=[0, 3, 1, 2])


def _from_nchw(builder, y, like, feature_shape):
    """(T*B, C, H, W) -> (T, B, H, W, C), T and B those of tensor ``like``."""
    nhwc = builder.node('Transpose', [y], perm=[0, 2, 3, 1])
    return builder.node('Reshape', [nhwc, builder.time_batch_shape(like, feature_shape)])


def convolution2d(builder, layer, inputs, parameters):
    x = inputs['default']
    W = parameters['W'].transpose(0, 3, 1, 2)  # (K, kh, kw, C) -> ONNX's (K, C, kh, kw)
    padding = layer.padding
    y = builder.node('Conv', [_as_nchw(builder, x, layer.in_shapes['default'].feature_shape),
                              builder.constant(f"{layer.name}.W", W),
                              builder.constant(f"{layer.name}.bias", parameters['bias'])],
                     kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                     pads=[padding] * 4)
    y = builder.activation(layer.activation, y)
    return {'default': _from_nchw(builder, y, x, layer.out_shapes['default'].feature_shape)}


def pooling2d(builder, layer, inputs, parameters):
    """brainstorm 0.5's padding rules: padding never wins a max and is not counted in an
    average; a window entirely in the padding gives 0. ONNX's own pads cannot say this
    (onnxruntime also refuses pads as large as the window), so the image is padded
    explicitly: with -inf for max (then -inf, an all-padding window, becomes 0), with 0
    for average (then each window's mean is rescaled by area / in-image positions)."""
    x = inputs['default']
    height, width, _ = layer.in_shapes['default'].feature_shape
    (kernel_height, kernel_width), padding = layer.kernel_size, layer.padding
    attributes = dict(kernel_shape=[kernel_height, kernel_width], strides=list(layer.stride))
    images = _as_nchw(builder, x, layer.in_shapes['default'].feature_shape)
    if padding > 0:
        fill = -np.inf if layer.type == 'max' else 0.0
        images = builder.node('Pad', [images, builder.int64(
            'pads', [0, 0, padding, padding, 0, 0, padding, padding]),
            builder.constant(f"{layer.name}.fill", np.array(fill, dtype=np.float32))],
            mode='constant')
    if layer.type == 'max':
        y = builder.node('MaxPool', [images], **attributes)
        if padding > 0:
            y = builder.node('Where', [builder.node('IsInf', [y], detect_positive=0),
                                       builder.constant(f"{layer.name}.zero",
                                                        np.zeros((), np.float32)), y])
    else:
        y = builder.node('AveragePool', [images], **attributes)
        if padding > 0:
            y = builder.node('Mul', [y, builder.constant(
                f"{layer.name}.rescale", _average_rescale(layer, height, width))])
    return {'default': _from_nchw(builder, y, x, layer.out_shapes['default'].feature_shape)}


def _average_rescale(layer, height, width):
    """(1, 1, out_height, out_width): window area / in-image positions (0 where none)."""
    (kernel_height, kernel_width), padding = layer.kernel_size, layer.padding
    stride_height, stride_width = layer.stride
    out_height, out_width, _ = layer.out_shapes['default'].feature_shape

    def in_image(size, kernel, stride, count):
        starts = np.arange(count) * stride - padding
        return np.clip(starts + kernel, 0, size) - np.clip(starts, 0, size)

    counts = np.outer(in_image(height, kernel_height, stride_height, out_height),
                      in_image(width, kernel_width, stride_width, out_width))
    factor = np.zeros(counts.shape, dtype=np.float32)
    np.divide(kernel_height * kernel_width, counts, out=factor, where=counts > 0)
    return factor.reshape(1, 1, out_height, out_width)


def batch_norm(builder, layer, inputs, parameters):
    """Inference: (x - mu) / sigma * gamma + beta; sigma already holds sqrt(var + eps)."""
    name = layer.name
    y = builder.node('Sub', [inputs['default'], builder.constant(f"{name}.mu",
                                                                 parameters['mu'])])
    y = builder.node('Div', [y, builder.constant(f"{name}.sigma", parameters['sigma'])])
    y = builder.node('Mul', [y, builder.constant(f"{name}.gamma", parameters['gamma'])])
    return {'default': builder.node('Add', [y, builder.constant(f"{name}.beta",
                                                                parameters['beta'])])}


def identity(builder, layer, inputs, parameters):
    """Dropout (inference), NoOp, DeltasScaling: y = x."""
    return {'default': inputs['default']}


def elementwise(builder, layer, inputs, parameters):
    return {'default': builder.activation(layer.activation, inputs['default'])}


def softmax_ce(builder, layer, inputs, parameters):
    return {'predictions': builder.node('Softmax', [inputs['default']], axis=-1)}


def sigmoid_ce(builder, layer, inputs, parameters):
    return {'predictions': builder.node('Sigmoid', [inputs['default']])}


def squared_error(builder, layer, inputs, parameters):
    return {'predictions': inputs['default']}


def squared_difference(builder, layer, inputs, parameters):
    difference = builder.node('Sub', [inputs['inputs_1'], inputs['inputs_2']])
    return {'default': builder.node('Mul', [difference, difference])}


def merge(builder, layer, inputs, parameters):
    return {'default': builder.node('Concat', [inputs['inputs_1'], inputs['inputs_2']],
                                    axis=-1)}


def highway(builder, layer, inputs, parameters):
    """y = T * (H - x) + x, in brainstorm's order of operations."""
    difference = builder.node('Sub', [inputs['H'], inputs['x']])
    gated = builder.node('Mul', [inputs['T'], difference])
    return {'default': builder.node('Add', [gated, inputs['x']])}


def mask(builder, layer, inputs, parameters):
    """y = x * mask; a (T, B, 1) mask broadcasts over the features."""
    x, mask_tensor = inputs['default'], inputs['mask']
    if len(layer.in_shapes['mask'].feature_shape) != len(layer.in_shapes['default']
                                                         .feature_shape):
        trailing = len(layer.in_shapes['default'].feature_shape) - 1
        mask_tensor = builder.node('Reshape', [mask_tensor, builder.int64(
            'mask_shape', [0, 0] + [1] * (trailing + 1))])
    return {'default': builder.node('Mul', [x, mask_tensor])}


def _zero_state(builder, like, size):
    """Zeros (B, size), B the batch size of (T, B, ...) tensor ``like``: the empty context."""
    batch = builder.node('Shape', [like], start=1, end=2)
    shape = builder.node('Concat', [batch, builder.int64('size', [size])], axis=0)
    return builder.node('ConstantOfShape', [shape],
                        value=helper.make_tensor('zero', 1, [1], [0.0]))


def _projected_inputs(builder, layer, x, W, bias):
    """x W + bias for all steps: (T, B, in) -> (T, B, columns of W)."""
    flat = _flat_features(builder, x, W.shape[0])
    products = builder.node('MatMul', [flat, builder.constant(f"{layer.name}.W", W)])
    return builder.node('Add', [products, builder.constant(f"{layer.name}.bias", bias)])


def _time_loop(builder, layer, inputs, projected, width, size, state_count, step):
    """A Scan over the time axis; returns the (T, B, size) outputs y.

    ``step(body, states, projected_t)`` adds the nodes of one step to the body and
    returns the new states, y first (all (B, size), zero at the start). With a
    connected 'mask' input, a step whose mask is 0 keeps the previous states (the
    layer's held state on padding); with ``layer.reverse`` the loop runs from the
    last step to the first.
    """
    body = GraphBuilder(prefix=f"{layer.name}_step_")
    states = [body.name(f"state{index}") for index in range(state_count)]
    step_input = body.name('projected_t')
    new_states = step(body, states, step_input)
    body_inputs = [value_info(name, ['B', size]) for name in states]
    body_inputs.append(value_info(step_input, ['B', width]))
    scanned = [projected]
    if 'mask' in inputs:
        mask_t = body.name('mask_t')
        body_inputs.append(value_info(mask_t, ['B', 1]))
        scanned.append(inputs['mask'])
        padding = body.node('Equal', [mask_t, builder.constant('zero', 0.0)])
        new_states = [body.node('Where', [padding, old, new])
                      for old, new in zip(states, new_states)]
    outputs = [body.node('Identity', [state]) for state in new_states]
    outputs.append(body.node('Identity', [new_states[0]]))
    body_graph = helper.make_graph(body.nodes, f"{layer.name}_step", body_inputs,
                                   [value_info(name, ['B', size]) for name in outputs],
                                   initializer=body.initializers)
    direction = 1 if getattr(layer, 'reverse', False) else 0
    zeros = _zero_state(builder, inputs['default'], size)
    results = builder.node('Scan', [zeros] * state_count + scanned, hint='scan',
                           outputs=state_count + 1, body=body_graph,
                           num_scan_inputs=len(scanned),
                           scan_input_directions=[direction] * len(scanned),
                           scan_output_directions=[direction])
    return results[-1]


def recurrent(builder, layer, inputs, parameters):
    """y[t] = f(x[t] W + bias + y[t-1] R), y[-1] = 0."""
    size = parameters['R'].shape[0]
    projected = _projected_inputs(builder, layer, inputs['default'], parameters['W'],
                                  parameters['bias'])
    R = builder.constant(f"{layer.name}.R", parameters['R'])  # outer scope: read in the body

    def step(body, states, projected_t):
        pre_activation = body.node('Add', [projected_t, body.node('MatMul', [states[0], R])])
        return [body.activation(layer.activation, pre_activation)]
    return {'default': _time_loop(builder, layer, inputs, projected, size, size, 1, step)}


def lstm(builder, layer, inputs, parameters):
    """The Lstm of lstm_layer.py with its peepholes, y[-1] = Ca[-1] = 0."""
    p = parameters
    size = p['Rz'].shape[0]
    W = np.concatenate([p['Wz'], p['Wi'], p['Wf'], p['Wo']], axis=1)
    bias = np.concatenate([p['bz'], p['bi'], p['bf'], p['bo']])
    projected = _projected_inputs(builder, layer, inputs['default'], W, bias)
    outer = {name: builder.constant(f"{layer.name}.{name}", p[name])
             for name in ('pi', 'pf', 'po')}
    outer['R'] = builder.constant(f"{layer.name}.R", np.concatenate(
        [p['Rz'], p['Ri'], p['Rf'], p['Ro']], axis=1))
    outer['split'] = builder.int64('gate_sizes', [size] * 4)

    def step(body, states, projected_t):
        y_previous, cell_previous = states
        gates = body.node('Add', [projected_t, body.node('MatMul', [y_previous, outer['R']])])
        z, i, f, o = body.node('Split', [gates, outer['split']], outputs=4, axis=1)
        z = body.activation(layer.activation, z)
        i = body.node('Sigmoid', [body.node('Add', [
            i, body.node('Mul', [cell_previous, outer['pi']])])])
        f = body.node('Sigmoid', [body.node('Add', [
            f, body.node('Mul', [cell_previous, outer['pf']])])])
        cell = body.node('Add', [body.node('Mul', [z, i]),
                                 body.node('Mul', [f, cell_previous])])
        o = body.node('Sigmoid', [body.node('Add', [
            o, body.node('Mul', [cell, outer['po']])])])
        return [body.node('Mul', [o, body.activation(layer.activation, cell)]), cell]
    return {'default': _time_loop(builder, layer, inputs, projected, 4 * size, size, 2, step)}


def gru(builder, layer, inputs, parameters):
    """The Gru of gru_layer.py (reset gate after the recurrent product), y[-1] = 0."""
    p = parameters
    size = p['Rz'].shape[0]
    W = np.concatenate([p['Wz'], p['Wr'], p['Wh']], axis=1)
    bias = np.concatenate([p['bz'], p['br'], p['bh']])
    projected = _projected_inputs(builder, layer, inputs['default'], W, bias)
    R = builder.constant(f"{layer.name}.R", np.concatenate([p['Rz'], p['Rr'], p['Rh']],
                                                           axis=1))
    split = builder.int64('gate_sizes', [size] * 3)

    def step(body, states, projected_t):
        y_previous = states[0]
        x_z, x_r, x_h = body.node('Split', [projected_t, split], outputs=3, axis=1)
        r_z, r_r, r_h = body.node('Split', [body.node('MatMul', [y_previous, R]), split],
                                  outputs=3, axis=1)
        z = body.node('Sigmoid', [body.node('Add', [x_z, r_z])])
        r = body.node('Sigmoid', [body.node('Add', [x_r, r_r])])
        n = body.activation(layer.activation, body.node('Add', [
            x_h, body.node('Mul', [r, r_h])]))
        # y = n + z * (y[t-1] - n), in gru_forward's order
        return [body.node('Add', [n, body.node('Mul', [z, body.node('Sub', [y_previous, n])])])]
    return {'default': _time_loop(builder, layer, inputs, projected, 3 * size, size, 1, step)}


#: layer type -> converter; every other layer type is not exportable
CONVERTERS = {
    'FullyConnected': fully_connected, 'Convolution2D': convolution2d,
    'Pooling2D': pooling2d, 'BatchNorm': batch_norm, 'Dropout': identity,
    'NoOp': identity, 'DeltasScaling': identity, 'Elementwise': elementwise,
    'SoftmaxCE': softmax_ce, 'SigmoidCE': sigmoid_ce, 'SquaredError': squared_error,
    'SquaredDifference': squared_difference, 'Merge': merge, 'Highway': highway,
    'Mask': mask, 'Recurrent': recurrent, 'Lstm': lstm, 'Gru': gru,
}

#: outputs a converter does not produce (losses need targets, which a deployed model lacks)
LOSS_OUTPUTS = {'SoftmaxCE': ('loss',), 'SigmoidCE': ('loss',), 'SquaredError': ('loss',)}

#: layer types that are never exported, and why (a test keeps this and CONVERTERS
#: covering every registered layer type, so a new layer needs a decision)
NOT_EXPORTABLE = {
    'Input': 'it becomes the model inputs',
    'Loss': 'losses need targets, which a deployed model does not get',
    'L1Decay': 'a loss on the weights, not a prediction',
    'L2Decay': 'a loss on the weights, not a prediction',
    'BinomialCrossEntropy': 'it outputs a loss only',
    'Clockwork': 'its units tick on a step counter that crosses contexts; not supported yet',
    'ClockworkLstm': 'its cells tick on a step counter that crosses contexts; not supported '
                     'yet',
}
