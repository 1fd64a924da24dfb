"""Trainer hooks (spec 8.6): monitors, savers, stoppers, a progress bar.

Every hook is importable from here (``brainstorm.hooks.EarlyStopper``); the modules
each hold one kind:

* ``base``: :class:`Hook`, the base class and its contract with the trainer;
* ``monitors``: MonitorLoss, MonitorScores, MonitorLayer{Parameters, Gradients,
  InOuts, Deltas}, InfoUpdater;
* ``savers``: SaveNetwork, SaveBestNetwork, SaveLogs;
* ``stoppers``: StopAfterEpoch, EarlyStopper, StopAfterThresholdReached, StopOnNan,
  StopOnSigQuit;
* ``stepper_attributes``: ModifyStepperAttribute;
* ``progress``: ProgressBar.
"""

from brainstorm.hooks.base import Hook
from brainstorm.hooks.monitors import (InfoUpdater, MonitorLayerDeltas, MonitorLayerGradients,
                                       MonitorLayerInOuts, MonitorLayerParameters, MonitorLoss,
                                       MonitorScores)
from brainstorm.hooks.progress import ProgressBar
from brainstorm.hooks.savers import SaveBestNetwork, SaveLogs, SaveNetwork
from brainstorm.hooks.stepper_attributes import ModifyStepperAttribute
from brainstorm.hooks.stoppers import (EarlyStopper, StopAfterEpoch, StopAfterThresholdReached,
                                       StopOnNan, StopOnSigQuit)

__all__ = ['Hook', 'EarlyStopper', 'InfoUpdater', 'ModifyStepperAttribute',
           'MonitorLayerDeltas', 'MonitorLayerGradients', 'MonitorLayerInOuts',
           'MonitorLayerParameters', 'MonitorLoss', 'MonitorScores', 'ProgressBar',
           'SaveBestNetwork', 'SaveLogs', 'SaveNetwork', 'StopAfterEpoch',
           'StopAfterThresholdReached', 'StopOnNan', 'StopOnSigQuit']
