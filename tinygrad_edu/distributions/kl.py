"""kl_divergence(p, q) = E_p[log p(x) - log q(x)], in closed form for pairs of one family."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .bernoulli import Bernoulli, softplus
from .categorical import Categorical
from .distribution import Distribution
from .normal import Normal
from .uniform import Uniform

_KL_REGISTRY: dict = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal)`` makes the function the KL for that pair."""
    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q), one value per batch element (batch shapes broadcast); differentiable in
    both p's and q's parameters. Looks up the pair by class (subclasses match their parents)."""
    for type_p in type(p).__mro__:
        for type_q in type(q).__mro__:
            fn = _KL_REGISTRY.get((type_p, type_q))
            if fn is not None:
                return fn(p, q)
    raise NotImplementedError(f"kl_divergence: no closed form registered for "
                              f"{type(p).__name__} || {type(q).__name__}; registered pairs: "
                              f"{sorted(f'{a.__name__}-{b.__name__}' for a, b in _KL_REGISTRY)}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """KL = 1/2 (r + (mu_p - mu_q)^2 / sigma_q^2 - 1 - log r),  r = sigma_p^2 / sigma_q^2."""
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """KL = p log(p / q) + (1 - p) log((1 - p) / (1 - q)), written with logits:
    log p = -softplus(-l), log(1 - p) = -softplus(l). Terms with p = 0 (or 1) are 0; q = 0
    where p > 0 (or q = 1 where p < 1) gives inf."""
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = F.where(q.probs == 0, float("inf"), t1)
    t1 = F.where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = F.where(q.probs == 1, float("inf"), t2)
    t2 = F.where(p.probs == 1, 0.0, t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """KL = sum_k p_k (log p_k - log q_k); terms with p_k = 0 are 0, q_k = 0 < p_k gives inf."""
    t = p.probs * (p.logits - q.logits)  # (*B, K)
    t = F.where(q.probs == 0, float("inf"), t)
    t = F.where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    """KL = log((b_q - a_q) / (b_p - a_p)) if [a_p, b_p] lies inside [a_q, b_q], else inf."""
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return F.where(outside, float("inf"), result)
