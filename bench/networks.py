"""The spec's three example networks, built once for brainstorm and once for PyTorch.

Each :class:`Example` builds the brainstorm network (``NumpyHandler(float32)``),
the same network in PyTorch (imported only when asked for), random data for
both, and copies brainstorm's parameters into the PyTorch model, so both
engines compute the same function on the same data (checked by
:func:`inference_losses`; the LSTM's peepholes, which torch's LSTM lacks, are
set to zero for that).

* ``mnist_pi``: ``create_net_from_spec('classification', 784, 10, 'D.2 F1200 D F1200 D')``:
  dropout 0.2 on the input, two ReLU layers of 1200 with dropout 0.5 after each,
  softmax over 10 classes; batch 100.
* ``cifar10_cnn``: the walkthrough network, ``'C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64'``
  on 32x32x3 images (NHWC in brainstorm, torch's default NCHW there); batch 100.
* ``hutter_lstm_1000`` / ``hutter_lstm_256``: 205 one-hot character inputs ->
  Lstm(1000 or 256) -> softmax over 205 characters at every step; T=100, B=50.
* ``hutter_gru_256``: the same with Gru(256) (torch.nn.GRU computes the same
  formulas: reset gate after the recurrent product; its recurrent bias is zero).

Both engines train with SGD with momentum 0.9 (learning rate 0.01) and a loss
summed over time steps and averaged over the batch (brainstorm's ``Loss``).
"""

from dataclasses import dataclass

import numpy as np

LEARNING_RATE = 0.01
MOMENTUM = 0.9


@dataclass
class Example:
    """One benchmark network with its sizes.

    Attributes:
        name (str): report name.
        spec (str): the ``create_net_from_spec`` line.
        in_shape (tuple[int]): feature shape of one input (HWC for images).
        classes (int): number of classes.
        time_steps (int): T of a batch.
        batch_size (int): B of a batch.
        targets (Optional[Targets]): the brainstorm/PyTorch ratios to reach (issue #19),
            None where there are none.
    """
    name: str
    spec: str
    in_shape: tuple
    classes: int
    time_steps: int
    batch_size: int
    targets: 'Targets | None'
    one_hot_inputs: bool = False

    @property
    def samples_per_batch(self):
        """Samples (characters for sequences) in one batch: T * B."""
        return self.time_steps * self.batch_size

    def shrunk(self, batch_size, time_steps):
        """The same network at a smaller batch (for the --quick smoke run)."""
        return Example(self.name, self.spec, self.in_shape, self.classes,
                       min(time_steps, self.time_steps), min(batch_size, self.batch_size),
                       self.targets, self.one_hot_inputs)

    # ---- data --------------------------------------------------------------------------
    def make_data(self, seed=0):
        """Random inputs and targets in brainstorm's (T, B, ...) layout, float32."""
        rnd = np.random.RandomState(seed)
        shape = (self.time_steps, self.batch_size)
        if self.one_hot_inputs:
            inputs = np.zeros(shape + self.in_shape, dtype=np.float32)
            indices = rnd.randint(0, self.in_shape[-1], shape)
            np.put_along_axis(inputs, indices[..., None], 1.0, axis=-1)
        else:
            inputs = rnd.standard_normal(shape + self.in_shape).astype(np.float32)
        targets = rnd.randint(0, self.classes, shape + (1,)).astype(np.float32)
        return {'default': inputs, 'targets': targets}

    # ---- brainstorm --------------------------------------------------------------------
    def build_brainstorm(self, seed=1):
        """The brainstorm network on NumpyHandler(float32), initialised as the spec tool
        does it (seeded with ``seed``); LSTM peepholes are zero (torch has none)."""
        from brainstorm.handlers import NumpyHandler
        from brainstorm.randomness import global_rnd
        from brainstorm.tools import create_net_from_spec
        global_rnd.set_seed(seed)  # fixes the initialisation create_net_from_spec does
        net = create_net_from_spec('classification', self.in_shape, self.classes, self.spec)
        if isinstance(net.handler, NumpyHandler) and net.handler.dtype == np.float32:
            net.handler.set_seed(seed)  # set_handler would allocate all buffers again
        else:
            net.set_handler(NumpyHandler(np.float32, seed=seed))
        # torch's data tensors do not require gradients, so torch skips the deltas
        # of the data; so does brainstorm here (bstorm train does the same)
        net.compute_data_deltas = False
        for name, layer in net.layers.items():
            if type(layer).__name__ == 'LstmLayerImpl':
                for peephole in ('pi', 'pf', 'po'):
                    net.buffer[name].parameters[peephole].fill(0.0)
        return net

    # ---- torch -------------------------------------------------------------------------
    def build_torch(self, net):
        """The same network as a ``torch.nn.Module`` with ``net``'s parameter values."""
        import torch
        if self.name == 'mnist_pi':
            model = _torch_mlp(net)
        elif self.name == 'cifar10_cnn':
            model = _torch_cnn(net)
        elif self.spec.startswith('G'):
            model = _TorchGru(net)
        else:
            model = _TorchLstm(net)
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model.to(torch.float32)

    def torch_data(self, data):
        """(inputs, targets) tensors for the torch model from brainstorm-layout data."""
        import torch
        inputs, targets = data['default'], data['targets']
        if len(self.in_shape) == 3:  # (1, B, H, W, C) -> (B, C, H, W)
            inputs = np.ascontiguousarray(inputs[0].transpose(0, 3, 1, 2))
        elif self.time_steps == 1:
            inputs = inputs[0]
        labels = targets[..., 0].astype(np.int64).reshape(-1)
        return torch.from_numpy(inputs), torch.from_numpy(labels)


@dataclass(frozen=True)
class Targets:
    """brainstorm/PyTorch ratios to stay at or below: time of a training step, of an
    inference pass, and peak memory (medians, 2 threads; issue #19)."""

    train: float
    infer: float
    memory: float


EXAMPLES = {
    'mnist_pi': Example('mnist_pi', 'D.2 F1200 D F1200 D', (784,), 10, 1, 100,
                        Targets(0.9, 1.1, 0.9)),
    'cifar10_cnn': Example('cifar10_cnn', 'C32:5p2 P3s2 C32:5p2 P3s2 C64:5p2 P3s2 F64',
                           (32, 32, 3), 10, 1, 100, Targets(1.6, 1.0, 0.9)),
    'hutter_lstm_1000': Example('hutter_lstm_1000', 'L1000', (205,), 205, 100, 50,
                                Targets(1.1, 1.2, 0.9), one_hot_inputs=True),
    'hutter_lstm_256': Example('hutter_lstm_256', 'L256', (205,), 205, 100, 50,
                               Targets(1.15, 1.3, 0.9), one_hot_inputs=True),
    'hutter_gru_256': Example('hutter_gru_256', 'G256', (205,), 205, 100, 50, None,
                              one_hot_inputs=True),
}


# ---- torch models with brainstorm's parameters ---------------------------------------------

def _parameters(net, layer_type):
    """[(W, bias, all views)] of the layers of one implementation type, in network order."""
    return [net.buffer[name].parameters for name, layer in net.layers.items()
            if type(layer).__name__ == layer_type]


def _linear(torch, parameters):
    W, bias = parameters.W, parameters.bias
    module = torch.nn.Linear(W.shape[0], W.shape[1])
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
        module.bias.copy_(torch.from_numpy(np.array(bias)))
    return module


def _torch_mlp(net):
    import torch
    dense = _parameters(net, 'FullyConnectedLayerImpl')
    drop_probs = [layer.drop_prob for layer in net.layers.values()
                  if type(layer).__name__ == 'DropoutLayerImpl']
    modules = []
    for index, parameters in enumerate(dense):
        if index < len(drop_probs):
            modules.append(torch.nn.Dropout(drop_probs[index]))
        modules.append(_linear(torch, parameters))
        if index < len(dense) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def _torch_cnn(net):
    import torch
    modules = []
    channels = 3
    for parameters in _parameters(net, 'Convolution2DLayerImpl'):
        W, bias = parameters.W, parameters.bias  # (K, kh, kw, C)
        conv = torch.nn.Conv2d(channels, W.shape[0], W.shape[1:3], padding=W.shape[1] // 2)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.transpose(0, 3, 1, 2))))
            conv.bias.copy_(torch.from_numpy(np.array(bias)))
        modules += [conv, torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2)]
        channels = W.shape[0]
    hidden, projection = _parameters(net, 'FullyConnectedLayerImpl')
    first = _linear(torch, hidden)
    # brainstorm flattens (h, w, c), torch (c, h, w): permute the rows of W to match
    side = int(round((hidden.W.shape[0] // channels) ** 0.5))
    permuted = hidden.W.reshape(side, side, channels, -1).transpose(3, 2, 0, 1)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(np.ascontiguousarray(
            permuted.reshape(hidden.W.shape[1], -1))))
    modules += [torch.nn.Flatten(), first, torch.nn.ReLU(), _linear(torch, projection)]
    return torch.nn.Sequential(*modules)


def _TorchLstm(net):
    import torch

    class TorchLstm(torch.nn.Module):
        """torch.nn.LSTM (time-major) followed by the linear projection at every step."""

        def __init__(self, lstm_parameters, projection_parameters):
            super().__init__()
            p = lstm_parameters
            self.lstm = torch.nn.LSTM(p.Wz.shape[0], p.Wz.shape[1])
            # torch's gate order is (input, forget, block input, output)
            gates = ('i', 'f', 'z', 'o')
            with torch.no_grad():
                self.lstm.weight_ih_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['W' + gate].T for gate in gates])))
                self.lstm.weight_hh_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['R' + gate].T for gate in gates])))
                self.lstm.bias_ih_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['b' + gate] for gate in gates])))
                self.lstm.bias_hh_l0.zero_()
            self.projection = _linear(torch, projection_parameters)

        def forward(self, inputs):
            outputs, _ = self.lstm(inputs)
            return self.projection(outputs)

    (lstm,) = _parameters(net, 'LstmLayerImpl')
    (projection,) = _parameters(net, 'FullyConnectedLayerImpl')
    return TorchLstm(lstm, projection)


def _TorchGru(net):
    import torch

    class TorchGru(torch.nn.Module):
        """torch.nn.GRU (time-major) followed by the linear projection at every step."""

        def __init__(self, gru_parameters, projection_parameters):
            super().__init__()
            p = gru_parameters
            self.gru = torch.nn.GRU(p.Wz.shape[0], p.Wz.shape[1])
            # torch's gate order is (reset, update, candidate)
            gates = ('r', 'z', 'h')
            with torch.no_grad():
                self.gru.weight_ih_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['W' + gate].T for gate in gates])))
                self.gru.weight_hh_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['R' + gate].T for gate in gates])))
                self.gru.bias_ih_l0.copy_(torch.from_numpy(np.concatenate(
                    [p['b' + gate] for gate in gates])))
                self.gru.bias_hh_l0.zero_()
            self.projection = _linear(torch, projection_parameters)

        def forward(self, inputs):
            outputs, _ = self.gru(inputs)
            return self.projection(outputs)

    (gru,) = _parameters(net, 'GruLayerImpl')
    (projection,) = _parameters(net, 'FullyConnectedLayerImpl')
    return TorchGru(gru, projection)


def torch_loss(example, logits, labels):
    """Cross-entropy summed over time steps and averaged over the batch (brainstorm's Loss)."""
    import torch
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, example.classes), labels, reduction='sum') / example.batch_size


def inference_losses(example, net, model, data):
    """(brainstorm loss, torch loss) of one inference pass on ``data`` (same parameters)."""
    import torch
    net.provide_external_data(data)
    net.forward_pass(training_pass=False)
    ours = net.get_loss_values()['total_loss']
    model.eval()
    inputs, labels = example.torch_data(data)
    with torch.no_grad():
        theirs = float(torch_loss(example, model(inputs), labels))
    return ours, theirs
