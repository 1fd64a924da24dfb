"""Scorers: performance measures evaluated batch by batch and combined over a data set.

A scorer compares a network output with targets. Every time step of every sequence
is one *sample*: arrays ``(T, B, ..., F)`` are read as ``T * B * ...`` samples of
``F`` features. For one batch ``scorer(true_labels, predicted, mask)`` returns the
pair ``(weight, value_sum)``: the number of samples (the sum of the mask, if a mask
``(T, B, 1)`` weights the samples) and the (mask-weighted) sum of the per-sample
values. ``scorer.aggregate(pairs)`` returns ``sum(value_sum) / sum(weight)`` over
all batches, so the score of a data set does not depend on how it was batched.

``gather_losses_and_scores`` and ``aggregate_losses_and_scores`` are what the
trainer's monitors and ``brainstorm.tools.evaluate`` use: the first collects one
batch's losses and scores from a network after a forward pass, the second combines
them into ``{name: value}`` (the loss names of ``net.get_loss_values()`` and each
scorer's ``name``).

Example:
    >>> scorers = [Accuracy(out_name='Output.outputs.probabilities')]
    >>> # logs come out as trainer.logs['validation']['Accuracy']
"""

import numpy as np

from brainstorm.describable import Describable
from brainstorm.errors import BrainstormError, DataError, NetworkValidationError, \
    ValidationError


class Scorer(Describable):
    """Base class of scorers.

    Args:
        out_name (str): dotted path of the network output to score, e.g.
            ``'Output.outputs.probabilities'``; ``''`` uses the ``out_name`` given
            to the evaluating function.
        targets_name (str): name of the data item that holds the targets.
        mask_name (str): name of the data item holding a ``(T, B, 1)`` mask that
            weights the samples; ``''`` uses the evaluating function's
            ``mask_name`` (no mask if that is empty too).
        name (Optional[str]): key of the score in the logs; defaults to the class
            name (``'Accuracy'``).
    """

    __default_values__ = {'out_name': '', 'targets_name': 'targets', 'mask_name': ''}

    def __init__(self, out_name='', targets_name='targets', mask_name='', name=None):
        self.out_name = out_name
        self.targets_name = targets_name
        self.mask_name = mask_name
        self.name = type(self).__name__ if name is None else name

    def __call__(self, true_labels, predicted, mask=None):
        """Score one batch.

        Args:
            true_labels (numpy.ndarray): targets ``(T, B, ..., F_targets)``.
            predicted (numpy.ndarray): network output ``(T, B, ..., F)``.
            mask (Optional[numpy.ndarray]): sample weights ``(T, B, ..., 1)``.

        Returns:
            tuple[float, float]: ``(weight, value_sum)``: number of samples (or sum
            of the mask) and the weighted sum of the per-sample values.

        Raises:
            DataError: if the leading dimensions of the arrays disagree.
        """
        predicted = np.asarray(predicted)
        true_labels = np.asarray(true_labels)
        if predicted.ndim < 2 or true_labels.shape[:-1] != predicted.shape[:-1]:
            raise DataError(
                f"{self.name}: targets of shape {true_labels.shape} do not fit the output "
                f"of shape {predicted.shape}; all but the last dimension must agree")
        features = predicted.shape[-1]
        values = self.sample_values(true_labels.reshape(-1, true_labels.shape[-1]),
                                    predicted.reshape(-1, features))
        if mask is None:
            return float(values.size), float(values.sum())
        mask = np.asarray(mask)
        if mask.shape != predicted.shape[:-1] + (1,):
            raise DataError(
                f"{self.name}: mask of shape {mask.shape} does not fit the output of shape "
                f"{predicted.shape}; expected {predicted.shape[:-1] + (1,)}")
        weights = mask.reshape(-1).astype(np.float64)
        return float(weights.sum()), float(np.dot(weights, values))

    def sample_values(self, true_labels, predicted):
        """Return the value of each sample, shape ``(N,)``, from ``(N, F)`` arrays."""
        raise NotImplementedError(f"{type(self).__name__} does not implement sample_values")

    def aggregate(self, errors):
        """Combine the ``(weight, value_sum)`` pairs of several batches.

        Args:
            errors (list[tuple[float, float]]): the pairs returned by ``__call__``.

        Returns:
            float: ``sum(value_sum) / sum(weight)``; NaN if the total weight is 0.
        """
        return weighted_average(errors)


class Accuracy(Scorer):
    """Fraction of samples whose most probable class is the target class.

    ``predicted`` holds class scores ``(..., C)``; the targets are class indices
    ``(..., 1)`` or one-hot vectors ``(..., C)``. With ``C = 1`` (a single
    sigmoid output) a sample is correct when ``predicted > 0.5`` equals
    ``target > 0.5``.
    """

    def sample_values(self, true_labels, predicted):
        classes = predicted.shape[1]
        if classes == 1:
            return ((predicted[:, 0] > 0.5) == (true_labels[:, 0] > 0.5)).astype(np.float64)
        if true_labels.shape[1] == classes:
            target_classes = np.argmax(true_labels, axis=1)
        elif true_labels.shape[1] == 1:
            target_classes = true_labels[:, 0]
        else:
            raise DataError(
                f"{self.name}: targets must be class indices (last dimension 1) or one-hot "
                f"vectors (last dimension {classes}), got last dimension "
                f"{true_labels.shape[1]}")
        return (np.argmax(predicted, axis=1) == target_classes).astype(np.float64)


class Hamming(Scorer):
    """Fraction of correct bits for multi-label outputs (1 minus the Hamming loss).

    A bit is predicted on when ``predicted > 0.5``; targets are binary
    ``(..., C)``. The value of a sample is the fraction of its ``C`` bits that
    match; the score is the (mask-weighted) mean over samples.
    """

    def sample_values(self, true_labels, predicted):
        if true_labels.shape != predicted.shape:
            raise DataError(
                f"{self.name}: targets must have the shape of the output "
                f"(one bit per class), got {true_labels.shape[1]} bits for "
                f"{predicted.shape[1]} outputs")
        return np.mean((predicted > 0.5) == (true_labels > 0.5), axis=1, dtype=np.float64)


class MeanSquaredError(Scorer):
    """Mean over samples of the squared error summed over the features.

    The value of a sample is ``sum_f (predicted_f - target_f) ** 2`` (no factor
    1/2, unlike the SquaredError layer's loss).
    """

    def sample_values(self, true_labels, predicted):
        if true_labels.shape != predicted.shape:
            raise DataError(
                f"{self.name}: targets must have the shape of the output, got "
                f"{true_labels.shape[1]} target features for {predicted.shape[1]} outputs")
        difference = predicted.astype(np.float64) - true_labels
        return np.einsum('nf,nf->n', difference, difference)


def weighted_average(pairs):
    """Return ``sum(value_sum) / sum(weight)`` of ``(weight, value_sum)`` pairs (NaN if 0)."""
    pairs = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    total_weight = pairs[:, 0].sum()
    if total_weight == 0:
        return float('nan')
    return float(pairs[:, 1].sum() / total_weight)


def gather_losses_and_scores(net, scorers, scores, out_name='', targets_name='targets',
                             mask_name=''):
    """Append one batch's losses and scores (after a forward pass) to ``scores``.

    Losses are averaged over the batch by the network, so each is stored as
    ``(B, B * loss)``; each scorer adds its ``(weight, value_sum)`` pair.

    Args:
        net (brainstorm.structure.Network): the network, after ``forward_pass``.
        scorers (list[Scorer]): the scorers to evaluate.
        scores (dict[str, list]): name -> list of pairs; extended in place
            (missing names are added).
        out_name (str): output path for scorers whose ``out_name`` is ``''``.
        targets_name (str): targets input for scorers whose ``targets_name`` is ``''``;
            also the input whose ``B`` weights the losses (``'default'`` if the
            network has no such input).
        mask_name (str): mask input for scorers whose ``mask_name`` is ``''``.

    Raises:
        ValidationError: if a scorer has no output path or its name is a loss name.
    """
    losses = net.get_loss_values()
    batch_size = _batch_size(net, targets_name)
    for loss_name, loss in losses.items():
        scores.setdefault(loss_name, []).append((batch_size, float(loss) * batch_size))
    for scorer in scorers:
        if scorer.name in losses:
            raise ValidationError(
                f"scorer name {scorer.name!r} is also the name of a loss of the network; "
                f"give the scorer another name")
        output_path = scorer.out_name or out_name or getattr(net, 'output_name', '')
        if not output_path:
            raise ValidationError(
                f"scorer {scorer.name!r} has no out_name and no default out_name was given; "
                f"set it to the output to score, e.g. 'Output.outputs.probabilities'")
        predicted = net.get(output_path)
        true_labels = net.get_input(scorer.targets_name or targets_name)
        mask_path = scorer.mask_name or mask_name
        mask = net.get_input(mask_path) if mask_path else None
        scores.setdefault(scorer.name, []).append(scorer(true_labels, predicted, mask))


def aggregate_losses_and_scores(scores, net, scorers):
    """Combine what :func:`gather_losses_and_scores` collected into final values.

    Args:
        scores (dict[str, list]): name -> list of ``(weight, value_sum)`` pairs.
        net (brainstorm.structure.Network): the network (the loss names are those
            in ``scores`` that are not scorer names); while it is trained on several
            processes (``net.data_parallel``), the pairs of all processes are
            combined first, so every process gets the values of the whole data.
        scorers (list[Scorer]): the scorers that were gathered.

    Returns:
        dict[str, float]: every loss (batch-size weighted mean, in the network's
        order) followed by every scorer's ``aggregate`` (NaN where no data).
    """
    parallel = getattr(net, 'data_parallel', None)
    if parallel is not None:
        scores = parallel.gather_scores(scores)
    scorer_names = {scorer.name for scorer in scorers}
    results = {name: weighted_average(pairs) for name, pairs in scores.items()
               if name not in scorer_names}
    for scorer in scorers:
        results[scorer.name] = scorer.aggregate(scores.get(scorer.name, []))
    return results


def _batch_size(net, targets_name):
    """Return ``B`` of the current data (the network's, else read from an input)."""
    manager = getattr(net, 'buffer_manager', None)
    if manager is not None:
        return manager.batch_size
    for input_name in (targets_name, 'default'):
        if not input_name:
            continue
        try:
            return net.get_input(input_name).shape[1]
        except (KeyError, BrainstormError):
            continue
    raise NetworkValidationError(
        f"cannot tell the batch size to weight the losses with: the network has no input "
        f"named {targets_name!r} or 'default'; pass targets_name= the name of one of its "
        f"inputs")
