"""Sampling text from a character model trained on the text converter's output.

The network reads one-hot bytes (``default`` of feature shape ``(V,)``, as the
``OneHot`` iterator makes them) and predicts the next byte's distribution (its
``output_name``, softmax probabilities over the same V indices). Its
``data_description['alphabet']`` (saved by ``bstorm train`` from the data file) maps
index -> byte value.

The prime is fed in one forward pass; then one byte at a time, each pass continuing
the recurrent state of the previous one (:class:`~brainstorm.training.carried_state.
CarriedState`), the next byte drawn from the predictions sharpened or flattened by
the temperature: p_i ** (1 / temperature), renormalised.
"""

import numpy as np

from brainstorm.errors import DataError
from brainstorm.training.carried_state import CarriedState


def network_alphabet(net):
    """The byte value of each input index, from ``net.data_description['alphabet']``.

    Raises:
        DataError: when the network has no alphabet or its input does not fit it.
    """
    alphabet = net.data_description.get('alphabet')
    if not isinstance(alphabet, list) or not alphabet or not all(
            isinstance(value, int) and 0 <= value < 256 for value in alphabet):
        raise DataError("the network has no alphabet (data_description['alphabet']): train it "
                        "with bstorm on data made by `bstorm data prepare text`")
    inputs = net.layers['Input'].out_shapes
    if 'default' not in inputs or inputs['default'].feature_shape != (len(alphabet),):
        shape = inputs['default'].feature_shape if 'default' in inputs else None
        raise DataError(f"the network's input 'default' has feature shape {shape}, but its "
                        f"alphabet has {len(alphabet)} bytes; expected one-hot inputs of "
                        f"shape ({len(alphabet)},)")
    return alphabet


def sample_text(net, length, temperature=1.0, prime=b'\n', seed=None):
    """Yield ``length`` bytes sampled from a character model, one at a time.

    Args:
        net (Network): trained on the text converter's output (see module docstring).
        length (int): how many bytes to generate (the prime is not yielded).
        temperature (float): > 0; below 1 sharper, above 1 flatter than the model.
        prime (bytes): the text the sampling continues (at least one byte, each in
            the alphabet).
        seed (Optional[int]): seed of the draws (the same seed gives the same text).

    Yields:
        int: the next byte value.

    Raises:
        DataError: bad arguments, a prime byte outside the alphabet, or a network
            without an alphabet.
    """
    alphabet = network_alphabet(net)
    if not temperature > 0:
        raise DataError(f"temperature must be positive, got {temperature!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise DataError(f"length must be a non-negative integer, got {length!r}")
    index_of = {value: index for index, value in enumerate(alphabet)}
    prime = bytes(prime)
    if not prime:
        raise DataError("the prime must hold at least one byte")
    unknown = [value for value in prime if value not in index_of]
    if unknown:
        raise DataError(f"the prime holds the byte {unknown[0]!r} ({bytes([unknown[0]])!r}), "
                        f"which is not in the network's alphabet")
    rnd = np.random.RandomState(seed)
    size = len(alphabet)
    previous_state = net.carried_state
    net.carried_state = CarriedState()
    try:
        indices = [index_of[value] for value in prime]
        for _ in range(length):
            probabilities = _next_distribution(net, indices, size)
            if temperature != 1.0:
                logits = np.log(np.maximum(probabilities, 1e-30)) / temperature
                probabilities = np.exp(logits - logits.max())
            probabilities = probabilities / probabilities.sum()
            index = int(rnd.choice(size, p=probabilities))
            indices = [index]
            yield alphabet[index]
    finally:
        net.carried_state = previous_state


def _next_distribution(net, indices, size):
    """Feed ``indices`` (continuing the carried state); the float64 prediction after the last."""
    steps = len(indices)
    one_hot = np.zeros((steps, 1, size))
    one_hot[np.arange(steps), 0, indices] = 1.0
    data = {'default': one_hot}
    for name, structure in net.layers['Input'].out_shapes.items():
        if name != 'default':  # targets (and masks) the loss layers read: neutral values
            data[name] = np.ones((steps, 1) + structure.feature_shape) if name == 'mask' \
                else np.zeros((steps, 1) + structure.feature_shape)
    net.provide_external_data(data)
    net.forward_pass(training_pass=False)
    predictions = net.get(net.output_name)
    return predictions[-1, 0].astype(np.float64).reshape(-1)
