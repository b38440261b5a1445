import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.models.style_transfer import (
    FeatureExtractor,
    gram_matrix,
    make_pattern,
    style_transfer,
)


def test_gram_matrix_matches_numpy():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    flat = x.reshape(2, 3, 20)
    expected = flat @ flat.transpose(0, 2, 1) / (3 * 4 * 5)
    np.testing.assert_allclose(gram_matrix(tg.tensor(x)).numpy(), expected, rtol=1e-5)


def test_feature_extractor_is_frozen_and_repeatable():
    a, b = FeatureExtractor(seed=3), FeatureExtractor(seed=3)
    assert not any(p.requires_grad for p in a.parameters())
    x = tg.rand(1, 3, 16, 16)
    fa, fb = a(x), b(x)
    assert sorted(fa) == ["relu1", "relu2", "relu3", "relu4", "relu5"]
    assert fa["relu5"].shape == (1, 128, 4, 4)
    np.testing.assert_array_equal(fa["relu3"].numpy(), fb["relu3"].numpy())


def test_style_transfer_lowers_its_loss():
    content, style = make_pattern("disk", 16), make_pattern("stripes", 16)
    image, losses = style_transfer(content, style, steps=2, max_iter=5)
    assert image.shape == (1, 3, 16, 16)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert losses[-1] < 0.5 * losses[0]
    assert not np.allclose(image[0], content)  # the pixels were optimized


def test_feature_extractor_leaves_the_users_random_stream_alone():
    """Its fixed random weights come from a generator of their own (tg.fork_rng): building
    it after manual_seed(1) or manual_seed(2) leaves two different streams."""
    draws = []
    for seed in (1, 2):
        tg.manual_seed(seed)
        FeatureExtractor(seed=0)
        draws.append(tg.randn(3).numpy())
    assert not np.array_equal(draws[0], draws[1])
    tg.manual_seed(1)
    assert np.array_equal(tg.randn(3).numpy(), draws[0])  # as if nothing had been built


def test_a_config_used_again_reports_its_own_run():
    from tinygrad_edu.models.style_transfer import StyleTransferConfig

    content, style = make_pattern("disk", 8), make_pattern("stripes", 8)
    config = StyleTransferConfig(steps=1, max_iter=1)
    _, first = style_transfer(content, style, config)
    _, second = style_transfer(content, style, config)
    assert len(first) == len(second) == 2  # the start and one step, not the runs summed
