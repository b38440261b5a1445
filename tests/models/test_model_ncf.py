import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.models import NCF
from tinygrad_edu.models.ncf import fit_ncf, make_synthetic_ratings, rmse


def test_synthetic_ratings_are_seeded_and_split():
    a = make_synthetic_ratings(num_users=30, num_items=20, seed=1)
    b = make_synthetic_ratings(num_users=30, num_items=20, seed=1)
    np.testing.assert_array_equal(a.train_ratings, b.train_ratings)
    train = set(zip(a.train_users.tolist(), a.train_items.tolist(), strict=True))
    test = set(zip(a.test_users.tolist(), a.test_items.tolist(), strict=True))
    assert not train & test  # a held-out cell is never seen in training
    assert a.train_users.max() < 30 and a.train_items.max() < 20


@pytest.mark.parametrize("mlp_layers", [(), (16, 8)])
def test_ncf_shapes(mlp_layers):
    model = NCF(num_users=5, num_items=4, embed_dim=3, mlp_layers=mlp_layers, global_mean=3.5)
    out = model(tg.tensor([0, 4, 2]), tg.tensor([1, 3, 0]))
    assert out.shape == (3,)
    np.testing.assert_allclose(out.detach().numpy(), 3.5, atol=0.5)  # small init: ~ the global mean
    with pytest.raises(ValueError, match="int64 ids"):
        model(tg.tensor([0.5]), tg.tensor([1]))


@pytest.mark.parametrize("mlp_layers", [(), (16,)])
def test_ncf_rmse_decreases(mlp_layers):
    ratings = make_synthetic_ratings(num_users=100, num_items=80, density=0.4, seed=0)
    baseline = rmse(np.full_like(ratings.test_ratings, ratings.train_ratings.mean()),
                    ratings.test_ratings)
    tg.manual_seed(0)
    model = NCF(num_users=100, num_items=80, embed_dim=8, mlp_layers=mlp_layers,
                global_mean=float(ratings.train_ratings.mean()))
    history = fit_ncf(model, ratings, epochs=8, batch_size=128, lr=2e-2)
    assert history[-1] < history[0]
    assert history[-1] < 0.8 * baseline  # clearly better than always predicting the mean
