"""Scorers: performance measures evaluated batch by batch and combined over a data set.

This is brainstorm 0.5's scorer API. A scorer compares a network output with
targets; every time step of every sequence is one *sample*, so arrays
``(T, B, ..., F)`` are read as ``N = T * B * ...`` rows of ``F`` features.

* ``scorer(true_labels, predicted, mask=None)`` returns ONE number: the *sum*
  of the per-sample score over the batch (each sample multiplied by its mask
  value when a mask ``(..., 1)`` is given).
* ``Scorer.aggregate(errors)`` (a staticmethod) takes a list of ``(weight,
  value)`` pairs, one per batch, and returns ``sum(values) / sum(weights)``.
  The weight of a batch is its number of samples ``N``, or the sum of its mask.
* :func:`score_batch` is the one place that turns a batch into its ``(weight,
  value)`` pair: what monitors, ``tools.evaluate``, ``bstorm evaluate`` (and any
  code that reduces partial scores, e.g. over MPI ranks) should call.

The name a score is logged under is the scorer's ``__name__`` attribute
(``name=`` or the class name); ``scorer.name`` reads and sets the same value.

A user's scorer written for 0.5 subclasses :class:`Scorer` and defines only
``__call__``; as in 0.5 it is called with 2-D arrays ``(N, F)`` and a mask
``(N, 1)`` (or None).

Example:
    >>> scorers = [Accuracy(out_name='Output.outputs.probabilities')]
    >>> # logs come out as trainer.logs['validation']['Accuracy']
"""

import math

import numpy as np

from brainstorm.describable import Describable
from brainstorm.errors import BrainstormError, DataError, NetworkValidationError, \
    ValidationError


class Scorer(Describable):
    """Base class of scorers (brainstorm 0.5's API).

    Args:
        out_name (str): dotted path of the network output to score, e.g.
            ``'Output.outputs.probabilities'``; ``''`` uses the ``out_name`` given
            to the evaluating function.
        targets_name (str): name of the data item that holds the targets.
        mask_name (str): name of the data item holding a ``(T, B, 1)`` mask that
            weights the samples; ``''`` uses the evaluating function's
            ``mask_name`` (no mask if that is empty too).
        name (Optional[str]): key of the score in the logs (stored as
            ``__name__``); defaults to the class name (``'Accuracy'``).
    """

    __default_values__ = {'out_name': '', 'targets_name': 'targets', 'mask_name': ''}

    def __init__(self, out_name='', targets_name='targets', mask_name='', name=None):
        self.out_name = out_name
        self.targets_name = targets_name
        self.mask_name = mask_name
        self.__name__ = type(self).__name__ if name is None else name

    @property
    def name(self):
        """The log name: ``__name__`` (the class name for a subclass that never set it)."""
        return scorer_name(self)

    @name.setter
    def name(self, value):
        self.__name__ = value

    def __call__(self, true_labels, predicted, mask=None):
        """Score one batch.

        Args:
            true_labels (numpy.ndarray): targets ``(N, F_targets)`` (or ``(T, B, ...,
                F_targets)``).
            predicted (numpy.ndarray): network output ``(N, F)`` (or ``(T, B, ..., F)``).
            mask (Optional[numpy.ndarray]): sample weights ``(N, 1)`` (or ``(T, B, ..., 1)``).

        Returns:
            float: the (mask-weighted) sum of the per-sample scores.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    @staticmethod
    def aggregate(errors):
        """Combine the ``(weight, value)`` pairs of several batches.

        Args:
            errors (list[tuple[float, float]]): one ``(weight, value)`` per batch,
                as :func:`score_batch` returns them.

        Returns:
            float: ``sum(values) / sum(weights)``; NaN if the total weight is 0.
        """
        return weighted_average(errors)

    def __describe__(self):
        description = super().__describe__()
        name = description.pop('__name__', None)
        if name is not None and name != type(self).__name__:
            description['name'] = name
        return description

    @classmethod
    def __new_from_description__(cls, description):
        # 'name' stands for __name__, which a description may not set directly (only
        # plain data attributes are set from a file), so it is taken out and checked here
        description = dict(description)
        name = description.pop('name', None)
        if name is not None and not isinstance(name, str):
            from brainstorm.errors import DescriptionError
            raise DescriptionError(f"{cls.__name__} description: 'name' must be a string, "
                                   f"got {type(name).__name__}")
        instance = super().__new_from_description__(description)
        if name is not None:
            instance.__name__ = name
        return instance

    def __init_from_description__(self, description):
        if '__name__' not in self.__dict__:
            self.__name__ = type(self).__name__

    def _flatten(self, true_labels, predicted, mask):
        return flatten_batch(self.name, true_labels, predicted, mask)


def flatten_batch(name, true_labels, predicted, mask=None):
    """Check the shapes and return ``(N, F_targets)``, ``(N, F)`` and ``(N, 1)`` arrays.

    Raises:
        DataError: naming the scorer ``name``, if the shapes disagree.
    """
    predicted = np.asarray(predicted)
    true_labels = np.asarray(true_labels)
    if predicted.ndim < 2 or true_labels.shape[:-1] != predicted.shape[:-1]:
        raise DataError(
            f"{name}: targets of shape {true_labels.shape} do not fit the output "
            f"of shape {predicted.shape}; all but the last dimension must agree")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != predicted.shape[:-1] + (1,):
            raise DataError(
                f"{name}: mask of shape {mask.shape} does not fit the output of "
                f"shape {predicted.shape}; expected {predicted.shape[:-1] + (1,)}")
        mask = mask.reshape(-1, 1)
    return (true_labels.reshape(-1, true_labels.shape[-1]),
            predicted.reshape(-1, predicted.shape[-1]), mask)


def scorer_name(scorer):
    """The log name of a scorer: its ``__name__`` attribute, else its class name."""
    return scorer.__dict__.get('__name__', type(scorer).__name__) \
        if hasattr(scorer, '__dict__') else type(scorer).__name__


def score_batch(scorer, true_labels, predicted, mask=None):
    """Return the ``(weight, value)`` pair of one batch, as 0.5's monitors record it.

    The arrays are flattened to ``(N, F)`` rows (and the mask to ``(N, 1)``)
    before the scorer is called, so a 0.5 scorer that expects 2-D arrays works.

    Args:
        scorer (Scorer): the scorer.
        true_labels (numpy.ndarray): targets ``(T, B, ..., F_targets)``.
        predicted (numpy.ndarray): network output ``(T, B, ..., F)``.
        mask (Optional[numpy.ndarray]): sample weights ``(T, B, ..., 1)``.

    Returns:
        tuple[float, float]: ``(weight, value)``: the number of samples ``N`` (or
        the sum of the mask) and what the scorer returned (the sum of its
        per-sample scores). ``Scorer.aggregate`` of such pairs is the score.

    Raises:
        DataError: if the shapes of the arrays disagree.
    """
    true_labels, predicted, mask = flatten_batch(scorer_name(scorer), true_labels,
                                                 predicted, mask)
    weight = float(predicted.shape[0]) if mask is None else float(mask.sum(dtype=np.float64))
    return weight, float(scorer(true_labels, predicted, mask))


class Accuracy(Scorer):
    """Number of samples whose predicted class equals the target (0.5's rule).

    With more than one output column the predicted class is the argmax over the
    last axis; it is then compared for exact equality with the targets, class
    indices ``(..., 1)`` (one-hot targets ``(..., C)`` are accepted too and
    reduced to their argmax). With one column the output itself is compared
    for exact equality with the target, as in brainstorm 0.5.
    """

    def __call__(self, true_labels, predicted, mask=None):
        true_labels, predicted, mask = self._flatten(true_labels, predicted, mask)
        classes = predicted.shape[1]
        if classes > 1:
            predicted = predicted.argmax(axis=1).reshape(-1, 1)
            if true_labels.shape[1] == classes:
                true_labels = true_labels.argmax(axis=1).reshape(-1, 1)
        if true_labels.shape[1] != 1:
            raise DataError(
                f"{self.name}: targets must be class indices (last dimension 1) or one-hot "
                f"vectors (last dimension {classes}), got last dimension "
                f"{true_labels.shape[1]}")
        correct = (predicted == true_labels).astype(np.float64)
        if mask is not None:
            correct *= mask
        return float(correct.sum())


class Hamming(Scorer):
    """Sum over samples of the fraction of correctly predicted bits (multi-label).

    An element is correct when ``(predicted >= threshold) == target``; the sum
    of correct elements (mask-weighted) is divided by the number of columns.

    Args:
        threshold (float): a bit is predicted on when the output is at least this.
    """

    def __init__(self, threshold=0.5, out_name='', targets_name='targets', mask_name='',
                 name=None):
        super().__init__(out_name, targets_name, mask_name, name)
        self.threshold = threshold

    def __call__(self, true_labels, predicted, mask=None):
        true_labels, predicted, mask = self._flatten(true_labels, predicted, mask)
        if true_labels.shape != predicted.shape:
            raise DataError(
                f"{self.name}: targets must have the shape of the output "
                f"(one bit per class), got {true_labels.shape[1]} bits for "
                f"{predicted.shape[1]} outputs")
        correct = ((predicted >= self.threshold) == true_labels.astype(bool)).astype(np.float64)
        if mask is not None:
            correct *= mask
        return float(correct.sum() / true_labels.shape[1])


class MeanSquaredError(Scorer):
    """Half the sum of squared errors of the batch: ``0.5 * sum((t - p) ** 2)`` (0.5's rule).

    Aggregated, this is the mean over samples of half the squared error summed
    over the features (the SquaredError layer's loss per sample).
    """

    def __call__(self, true_labels, predicted, mask=None):
        true_labels, predicted, mask = self._flatten(true_labels, predicted, mask)
        if true_labels.shape != predicted.shape:
            raise DataError(
                f"{self.name}: targets must have the shape of the output, got "
                f"{true_labels.shape[1]} target features for {predicted.shape[1]} outputs")
        errors = (true_labels.astype(np.float64) - predicted) ** 2
        if mask is not None:
            errors *= mask
        return float(0.5 * errors.sum())


def weighted_average(pairs):
    """Return ``sum(values) / sum(weights)`` of ``(weight, value)`` pairs (NaN if 0).

    The sums are exactly rounded (``math.fsum``), so they do not depend on the order of
    the pairs: a resumed or data-parallel run, whose pairs arrive in another order,
    logs the same bits as one uninterrupted process.
    """
    pairs = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    total_weight = math.fsum(pairs[:, 0])
    if total_weight == 0:
        return float('nan')
    values = pairs[:, 1]
    if not np.isfinite(values).all():  # fsum refuses inf - inf; numpy gives nan
        return float(values.sum() / total_weight)
    return math.fsum(values) / total_weight


def gather_losses_and_scores(net, scorers, scores, out_name='', targets_name='targets',
                             mask_name=''):
    """Append one batch's losses and scores (after a forward pass) to ``scores``.

    Losses are averaged over the batch by the network, so each is stored as
    ``(B, B * loss)``; each scorer adds its ``(weight, value)`` pair from
    :func:`score_batch`.

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
        name = scorer_name(scorer)
        if name in losses:
            raise ValidationError(
                f"scorer name {name!r} is also the name of a loss of the network; "
                f"give the scorer another name")
        output_path = scorer.out_name or out_name or getattr(net, 'output_name', '')
        if not output_path:
            raise ValidationError(
                f"scorer {name!r} has no out_name and no default out_name was given; "
                f"set it to the output to score, e.g. 'Output.outputs.probabilities'")
        predicted = net.get(output_path)
        true_labels = net.get_input(scorer.targets_name or targets_name)
        mask_path = scorer.mask_name or mask_name
        mask = net.get_input(mask_path) if mask_path else None
        scores.setdefault(name, []).append(score_batch(scorer, true_labels, predicted, mask))


def aggregate_losses_and_scores(scores, net, scorers):
    """Combine what :func:`gather_losses_and_scores` collected into final values.

    Args:
        scores (dict[str, list]): name -> list of ``(weight, value)`` pairs.
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
    scorer_names = {scorer_name(scorer) for scorer in scorers}
    results = {name: weighted_average(pairs) for name, pairs in scores.items()
               if name not in scorer_names}
    for scorer in scorers:
        name = scorer_name(scorer)
        results[name] = scorer.aggregate(scores.get(name, []))
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
