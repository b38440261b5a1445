"""Optimizers and learning-rate schedulers with PyTorch's names, arguments and defaults.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu import optim
>>> w = tg.tensor([1.0, 2.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.5)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
>>> (w * w).sum().backward()     # g = 2 w
>>> _ = opt.step()               # w - 0.5 * 2 w = 0
>>> sched.step()
>>> w.tolist(), sched.get_last_lr()
([0.0, 0.0], [0.25])

Every optimizer's docstring is its update rule; ``optimizer.py`` holds what they share
(parameter groups, per-parameter state, ``zero_grad``, ``state_dict``).
"""

from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "ASGD",
    "Adafactor",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "lr_scheduler",
    "swa_utils",
]
