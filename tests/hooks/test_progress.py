"""ProgressBar: a bar per epoch on a terminal, nothing on a pipe or file."""

import io

from rich.console import Console

import brainstorm as bs
from brainstorm.hooks import ProgressBar, StopAfterEpoch
from brainstorm.training import SgdStepper, Trainer
from tests.training.nets import regression_data, regression_net


def train_with_bar(bar):
    trainer = Trainer(SgdStepper(0.1), verbose=False)
    trainer.add_hook(bar)
    trainer.add_hook(StopAfterEpoch(2))
    inputs, targets = regression_data(12)
    trainer.train(regression_net(), bs.Minibatches(4, default=inputs, targets=targets))


def test_draws_one_bar_per_epoch_on_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar()
    bar.console = Console(file=stream, force_terminal=True, width=100)
    train_with_bar(bar)
    text = stream.getvalue()
    assert 'epoch 1' in text and 'epoch 2' in text and '3/3' in text


def test_writes_nothing_when_not_a_terminal(capsys):
    train_with_bar(ProgressBar())  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ''


def test_is_called_after_every_update_and_named_like_its_class():
    bar = ProgressBar()
    assert (bar.name, bar.timescale, bar.interval) == ('ProgressBar', 'update', 1)
