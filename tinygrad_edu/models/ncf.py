"""Neural collaborative filtering: predict the rating a user gives an item from learned
user and item vectors (He et al. 2017, "Neural Collaborative Filtering"; for explicit ratings,
the biased matrix factorization of Koren, Bell & Volinsky 2009 plus an optional MLP tower).

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i                          (matrix factorization)
                + MLP([p'_u ; q'_i])                                   (optional MLP tower)

p_u, q_i (and the tower's own p'_u, q'_i) are rows of Embedding tables; mu is the global mean
rating. Trained with MSE on the observed (user, item, rating) triples; the quality measure is
the RMSE on held-out triples.

The data are synthetic and seeded (``make_synthetic_ratings``): a low-rank ground truth
R = mu + b_u + b_i + U V^T plus Gaussian noise, observed at a random ``density`` of the cells.
A model that recovers the structure reaches a held-out RMSE close to the noise level; always
predicting the mean scores the spread of the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..backend import to_numpy
from ..functional import cat
from ..nn import functional as F
from ..nn.utils import evaluating
from ..tensor import tensor
from ._checks import check_token_ids

# ----------------------------------------------------------------------------------------------
# Synthetic ratings
# ----------------------------------------------------------------------------------------------


@dataclass
class Ratings:
    """Observed triples, split into train and test: users, items int64 (N,), ratings float32
    (N,); ``noise`` is the std of the noise added to the ground truth (the best possible RMSE).
    """

    num_users: int
    num_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    train_ratings: np.ndarray
    test_users: np.ndarray
    test_items: np.ndarray
    test_ratings: np.ndarray
    noise: float


def make_synthetic_ratings(num_users: int = 300, num_items: int = 200, rank: int = 5,
                           density: float = 0.3, noise: float = 0.25, test_fraction: float = 0.2,
                           seed: int = 0) -> Ratings:
    """Ratings from a rank-``rank`` ground truth, seeded with ``default_rng(seed)``:

        R[u, i] = 3.5 + b_u + b_i + U[u] . V[i] + noise * N(0, 1)

    with U, V entries N(0, 1/sqrt(rank)) (so U[u] . V[i] has std ~1), b_u, b_i ~ N(0, 0.3).
    A random ``density`` share of the cells is observed; ``test_fraction`` of those are held out.

    >>> r = make_synthetic_ratings(num_users=20, num_items=10, density=0.5, seed=0)
    >>> len(r.train_ratings) + len(r.test_ratings), r.train_users.dtype, r.train_ratings.dtype
    (100, dtype('int64'), dtype('float32'))
    """
    if not 0 < density <= 1 or not 0 < test_fraction < 1:
        raise ValueError(f"make_synthetic_ratings: need 0 < density <= 1 and 0 < test_fraction "
                         f"< 1, got density={density}, test_fraction={test_fraction}")
    rng = np.random.default_rng(seed)
    U = rng.normal(0, rank**-0.25, (num_users, rank))  # entries N(0, 1/sqrt(rank))
    V = rng.normal(0, rank**-0.25, (num_items, rank))
    b_u = rng.normal(0, 0.3, num_users)
    b_i = rng.normal(0, 0.3, num_items)
    truth = 3.5 + b_u[:, None] + b_i[None, :] + U @ V.T  # (num_users, num_items)
    observed = rng.choice(num_users * num_items, size=int(density * num_users * num_items),
                          replace=False)  # flat cell indices
    users, items = np.divmod(observed, num_items)
    ratings = truth[users, items] + noise * rng.standard_normal(len(observed))
    n_test = int(test_fraction * len(observed))
    order = rng.permutation(len(observed))
    test, train = order[:n_test], order[n_test:]
    return Ratings(num_users, num_items,
                   users[train].astype(np.int64), items[train].astype(np.int64),
                   ratings[train].astype(np.float32),
                   users[test].astype(np.int64), items[test].astype(np.int64),
                   ratings[test].astype(np.float32), noise)


def rmse(predicted, target) -> float:
    """Root mean squared error sqrt(mean((predicted - target)^2))."""
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.sqrt(np.mean(diff * diff)))


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


@dataclass
class NCFConfig:
    num_users: int = 300
    num_items: int = 200
    embed_dim: int = 16  # size of p_u and q_i (the factorization's rank)
    mlp_layers: tuple[int, ...] = ()  # hidden sizes of the MLP tower; () = plain factorization
    mlp_embed_dim: int = 16  # size of the tower's own user / item vectors
    dropout: float = 0.0  # in the tower
    global_mean: float = 0.0  # mu; set it to the mean training rating


class NCF(nn.Module):
    """Biased matrix factorization, plus an MLP tower over concatenated user / item vectors
    when ``mlp_layers`` is not empty. ``model(users, items)`` -> predicted ratings (B,).

    >>> import tinygrad_edu as tg
    >>> model = NCF(num_users=5, num_items=4, embed_dim=3, mlp_layers=(8,))
    >>> model(tg.tensor([0, 4, 2]), tg.tensor([1, 3, 0])).shape
    (3,)
    """

    def __init__(self, config: NCFConfig | None = None, **overrides):
        super().__init__()
        self.config = config or NCFConfig(**overrides)
        c = self.config
        self.user_factors = nn.Embedding(c.num_users, c.embed_dim)  # p_u
        self.item_factors = nn.Embedding(c.num_items, c.embed_dim)  # q_i
        self.user_bias = nn.Embedding(c.num_users, 1)  # b_u
        self.item_bias = nn.Embedding(c.num_items, 1)  # b_i
        # small init: p_u . q_i starts near 0, so the first predictions are ~ mu
        for table in (self.user_factors, self.item_factors):
            nn.init.normal_(table.weight, std=0.1)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        if c.mlp_layers:
            self.user_mlp = nn.Embedding(c.num_users, c.mlp_embed_dim)  # p'_u
            self.item_mlp = nn.Embedding(c.num_items, c.mlp_embed_dim)  # q'_i
            nn.init.normal_(self.user_mlp.weight, std=0.1)
            nn.init.normal_(self.item_mlp.weight, std=0.1)
            layers: list[nn.Module] = []
            width = 2 * c.mlp_embed_dim
            for hidden in c.mlp_layers:
                layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(c.dropout)]
                width = hidden
            layers.append(nn.Linear(width, 1))
            self.tower = nn.Sequential(*layers)
        else:
            self.tower = None

    def forward(self, users, items):
        c = self.config
        for what, ids, count in (("users", users, c.num_users), ("items", items, c.num_items)):
            if ids.ndim != 1 or ids.dtype.kind not in "iu":
                raise ValueError(f"NCF: expected {what} as int64 ids (B,), got shape "
                                 f"{tuple(ids.shape)} and dtype {ids.dtype} (model has "
                                 f"{count} {what})")
            check_token_ids("NCF", ids, count, f"{what[:-1]} ids")
        p = self.user_factors(users)  # (B, k)
        q = self.item_factors(items)  # (B, k)
        r = (p * q).sum(dim=1)  # (B,) the dot products p_u . q_i
        r = r + self.user_bias(users).reshape(-1) + self.item_bias(items).reshape(-1)  # (B,)
        if self.tower is not None:
            pair = cat([self.user_mlp(users), self.item_mlp(items)], dim=1)  # (B, 2 k')
            r = r + self.tower(pair).reshape(-1)  # (B, 1) -> (B,)
        return r + c.global_mean


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


def predict_ratings(model, users: np.ndarray, items: np.ndarray, device: str = "cpu"):
    """Predicted ratings (N,) as a numpy array (eval mode, no graph)."""
    with evaluating(model):
        out = model(tensor(users, device=device), tensor(items, device=device))
    return to_numpy(out.data)


def fit_ncf(model, ratings: Ratings, epochs: int = 20, batch_size: int = 256, lr: float = 1e-2,
            weight_decay: float = 1e-4, seed: int = 0, device: str = "cpu",
            verbose: bool = False) -> list[float]:
    """Train with Adam (L2 ``weight_decay``) on MSE; return the held-out RMSE after each epoch.

    The plain explicit loop: shuffle, mini-batch, forward, loss, zero_grad, backward, step."""
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(ratings.train_ratings))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            users = tensor(ratings.train_users[batch], device=device)  # (B,)
            items = tensor(ratings.train_items[batch], device=device)  # (B,)
            target = tensor(ratings.train_ratings[batch], device=device)  # (B,)
            loss = F.mse_loss(model(users, items), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        predicted = predict_ratings(model, ratings.test_users, ratings.test_items, device)
        history.append(rmse(predicted, ratings.test_ratings))
        if verbose:
            print(f"epoch {epoch + 1:3d}  test RMSE {history[-1]:.4f}", flush=True)
    return history
