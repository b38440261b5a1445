"""Probability distributions with differentiable densities (torch.distributions).

For VAEs, ``Normal(mu, sigma).rsample()`` is mu + sigma * eps (the reparameterization trick,
gradients reach mu and sigma) and ``kl_divergence(q, p)`` is the closed-form KL term; for
policy gradients, ``Categorical(logits=...).sample()`` draws actions and ``log_prob`` carries
the score-function gradient. Draws come from the library's generator: ``tg.manual_seed``
repeats them.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.distributions import Normal, kl_divergence
>>> q = Normal(tg.tensor([0.0]), tg.tensor([1.0]))
>>> kl_divergence(q, Normal(0.0, 1.0)).tolist()
[0.0]
"""

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution, broadcast_all
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "Uniform",
    "broadcast_all",
    "constraints",
    "kl_divergence",
    "register_kl",
]
