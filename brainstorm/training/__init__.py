"""Training (spec 8.2): the Trainer, the steppers and the schedules.

``bs.training.MomentumStepper``, ``bs.training.Exponential`` and the spec's path
``brainstorm.training.trainer.Trainer`` all work; ``bs.Trainer`` is the same class.
"""

from brainstorm.training.schedules import (DecreaseAfterEpoch, Exponential, Linear, MultiStep,
                                          Schedule, StepDecay)
from brainstorm.training.steppers import (AdaDeltaStepper, AdamStepper, MomentumStepper,
                                          NesterovStepper, RMSPropStepper, SgdStepper,
                                          TrainingStepper)
from brainstorm.training.trainer import Trainer

__all__ = ['Trainer', 'TrainingStepper', 'SgdStepper', 'MomentumStepper', 'NesterovStepper',
           'RMSPropStepper', 'AdamStepper', 'AdaDeltaStepper', 'Schedule', 'Linear',
           'Exponential', 'MultiStep', 'DecreaseAfterEpoch', 'StepDecay']
