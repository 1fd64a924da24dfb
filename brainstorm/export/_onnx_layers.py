"""One ONNX converter per exportable layer type: the layer's forward pass in inference mode.

Every converter is ``convert(builder, layer, inputs, parameters) -> {output name: tensor}``:
``inputs`` maps the layer's input names to ONNX tensor names, all time-major
``(T, B, ...)`` as in brainstorm; ``parameters`` maps parameter names to float32 arrays.
Images stay NHWC between layers; Conv and pooling, which ONNX defines on NCHW, fold T
into the batch and transpose around the one node that needs it.

The recurrent layers are ONNX ``Scan`` loops over axis 0, which is brainstorm's time
axis, so no transposes are needed and T stays a free dimension of the exported model;
the input projections of all steps are one MatMul before the loop, as in brainstorm.
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
    x = inputs['default']
    attributes = dict(kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                      pads=[layer.padding] * 4)
    if layer.type == 'max':  # ONNX pads max-pooling with -inf: padding never wins
        op_type = 'MaxPool'
    else:  # brainstorm counts the padded zeros in the divisor
        op_type, attributes['count_include_pad'] = 'AveragePool', 1
    y = builder.node(op_type, [_as_nchw(builder, x, layer.in_shapes['default'].feature_shape)],
                     **attributes)
    return {'default': _from_nchw(builder, y, x, layer.out_shapes['default'].feature_shape)}


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


def _scan(builder, body, initial_states, scanned, state_count):
    """Run ``body`` over axis 0 of ``scanned``; returns (final states..., stacked outputs...)."""
    outputs = builder.node('Scan', initial_states + [scanned], hint='scan',
                           outputs=state_count + 1, body=body,
                           num_scan_inputs=1)
    return outputs


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


def recurrent(builder, layer, inputs, parameters):
    """y[t] = f(x[t] W + bias + y[t-1] R), y[-1] = 0."""
    size = parameters['R'].shape[0]
    projected = _projected_inputs(builder, layer, inputs['default'], parameters['W'],
                                  parameters['bias'])
    body = GraphBuilder(prefix=f"{layer.name}_step_")
    previous, step_input = body.name('y_previous'), body.name('projected_t')
    R = builder.constant(f"{layer.name}.R", parameters['R'])  # outer scope: read in the body
    pre_activation = body.node('Add', [step_input, body.node('MatMul', [previous, R])])
    y = body.activation(layer.activation, pre_activation)
    state, output = body.node('Identity', [y]), body.node('Identity', [y])
    body_graph = helper.make_graph(body.nodes, f"{layer.name}_step",
                                   [value_info(previous, ['B', size]),
                                    value_info(step_input, ['B', size])],
                                   [value_info(state, ['B', size]),
                                    value_info(output, ['B', size])],
                                   initializer=body.initializers)
    _, outputs = _scan(builder, body_graph, [_zero_state(builder, inputs['default'], size)],
                       projected, 1)
    return {'default': outputs}


def lstm(builder, layer, inputs, parameters):
    """The Lstm of lstm_layer.py with its peepholes, y[-1] = Ca[-1] = 0."""
    p = parameters
    size = p['Rz'].shape[0]
    W = np.concatenate([p['Wz'], p['Wi'], p['Wf'], p['Wo']], axis=1)
    bias = np.concatenate([p['bz'], p['bi'], p['bf'], p['bo']])
    R = np.concatenate([p['Rz'], p['Ri'], p['Rf'], p['Ro']], axis=1)
    projected = _projected_inputs(builder, layer, inputs['default'], W, bias)
    outer = {name: builder.constant(f"{layer.name}.{name}", p[name])
             for name in ('pi', 'pf', 'po')}
    outer['R'] = builder.constant(f"{layer.name}.R", R)
    outer['split'] = builder.int64('gate_sizes', [size] * 4)
    body = GraphBuilder(prefix=f"{layer.name}_step_")
    y_previous, cell_previous = body.name('y_previous'), body.name('cell_previous')
    step_input = body.name('projected_t')
    gates = body.node('Add', [step_input, body.node('MatMul', [y_previous, outer['R']])])
    z, i, f, o = body.node('Split', [gates, outer['split']], outputs=4, axis=1)
    z = body.activation(layer.activation, z)
    i = body.node('Sigmoid', [body.node('Add', [i, body.node('Mul', [cell_previous,
                                                                     outer['pi']])])])
    f = body.node('Sigmoid', [body.node('Add', [f, body.node('Mul', [cell_previous,
                                                                     outer['pf']])])])
    cell = body.node('Add', [body.node('Mul', [z, i]), body.node('Mul', [f, cell_previous])])
    o = body.node('Sigmoid', [body.node('Add', [o, body.node('Mul', [cell, outer['po']])])])
    y = body.node('Mul', [o, body.activation(layer.activation, cell)])
    y_state, cell_state, output = (body.node('Identity', [y]), body.node('Identity', [cell]),
                                   body.node('Identity', [y]))
    body_graph = helper.make_graph(
        body.nodes, f"{layer.name}_step",
        [value_info(y_previous, ['B', size]), value_info(cell_previous, ['B', size]),
         value_info(step_input, ['B', 4 * size])],
        [value_info(y_state, ['B', size]), value_info(cell_state, ['B', size]),
         value_info(output, ['B', size])], initializer=body.initializers)
    zeros = _zero_state(builder, inputs['default'], size)
    _, _, outputs = _scan(builder, body_graph, [zeros, zeros], projected, 2)
    return {'default': outputs}


#: layer type -> converter; every other layer type is not exportable
CONVERTERS = {
    'FullyConnected': fully_connected, 'Convolution2D': convolution2d,
    'Pooling2D': pooling2d, 'BatchNorm': batch_norm, 'Dropout': identity,
    'NoOp': identity, 'DeltasScaling': identity, 'Elementwise': elementwise,
    'SoftmaxCE': softmax_ce, 'SigmoidCE': sigmoid_ce, 'SquaredError': squared_error,
    'SquaredDifference': squared_difference, 'Merge': merge, 'Highway': highway,
    'Mask': mask, 'Recurrent': recurrent, 'Lstm': lstm,
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
