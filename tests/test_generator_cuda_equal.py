"""tg.Generator (torch.Generator) and the ``generator=`` argument of the random functions,
the tg.cuda namespace without a GPU, and tg.equal / Tensor.equal against torch."""

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn


def test_generator_methods_like_torch():
    g, t = tg.Generator(), torch.Generator()
    assert g.initial_seed() == t.initial_seed() == 67280421310721
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert str(g.device) == str(t.device) == "cpu"
    assert repr(g) == "Generator(device='cpu', initial_seed=5)" and str(g) == repr(g)
    fresh = g.seed()
    assert g.initial_seed() == fresh and 0 <= fresh < 2**63
    state = g.get_state()
    first = g.random(3)
    np.testing.assert_array_equal(g.set_state(state).random(3), first)
    with pytest.raises(ValueError, match="Generator.set_state: not a state"):
        g.set_state({"no": "state"})
    with pytest.raises(TypeError, match="Generator.manual_seed: expected an int seed"):
        g.manual_seed(1.5)
    assert isinstance(g, np.random.Generator)  # so every numpy-generator argument takes it


def test_manual_seed_returns_the_default_generator_and_keeps_the_streams():
    """manual_seed returns the library's generator, as torch's returns its default one; a
    seed's numbers are what they were (PCG64 seeded with the seed, numpy's default_rng)."""
    g = tg.manual_seed(7)
    assert isinstance(g, tg.Generator) and g is tg.generator()
    np.testing.assert_array_equal(tg.rand(4, dtype=tg.float64).numpy(),
                                  np.random.default_rng(7).uniform(size=4))


@pytest.mark.parametrize("draw", [
    lambda g: tg.rand(2, 3, generator=g),
    lambda g: tg.randn(4, generator=g, dtype=tg.float64),
    lambda g: tg.randint(0, 10, (5,), generator=g),
    lambda g: tg.randperm(7, generator=g),
    lambda g: tg.normal(0.0, 2.0, (3,), generator=g),
    lambda g: tg.normal(tg.zeros(3), tg.ones(3), generator=g),
    lambda g: tg.bernoulli(tg.full((6,), 0.5), generator=g),
    lambda g: tg.full((6,), 0.5).bernoulli(generator=g),
    lambda g: tg.multinomial(tg.ones(5), 3, generator=g),
    lambda g: tg.ones(5).multinomial(2, generator=g),
    lambda g: tg.poisson(tg.full((4,), 3.0), generator=g),
    lambda g: tg.zeros(4).normal_(generator=g),
    lambda g: tg.zeros(4).uniform_(-1, 1, generator=g),
    lambda g: nn.init.normal_(tg.zeros(3), generator=g),
])
def test_generator_argument_repeats_and_leaves_the_default_stream_alone(draw):
    """The same seed gives the same draw; drawing from a generator of one's own does not move
    the library's stream (what dropout and initializers use), as in torch."""
    tg.manual_seed(0)
    a = draw(tg.Generator().manual_seed(3)).numpy()
    after = tg.rand(3).numpy()
    tg.manual_seed(0)
    b = draw(tg.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tg.rand(3).numpy(), after)
    tg.manual_seed(0)
    np.testing.assert_array_equal(tg.rand(3).numpy(), after)  # untouched by the draw


def test_generator_argument_matches_torch_signatures():
    """``generator`` sits where torch puts it (keyword-only after the sizes)."""
    import inspect

    for name in ("rand", "randn", "randint", "randperm", "normal", "bernoulli",
                 "multinomial", "poisson"):
        assert "generator" in inspect.signature(getattr(tg, name)).parameters, name
    with pytest.raises(TypeError):
        tg.randint(0, 10, (2,), tg.Generator())  # keyword-only, as torch's
    with pytest.raises(TypeError, match=r"rand: generator must be a tg.Generator .* got "
                       r"Generator"):
        tg.rand(2, generator=torch.Generator())


def test_cuda_namespace_without_a_gpu():
    if tg.cuda.is_available():
        pytest.skip("a GPU is present: tests/test_gpu_* cover tg.cuda there")
    assert tg.cuda.is_available() is tg.cuda_is_available() is False
    assert tg.cuda.device_count() == 0
    tg.cuda.manual_seed(0)  # nothing to seed, as torch without CUDA
    tg.cuda.manual_seed_all(0)
    tg.cuda.empty_cache()
    for call in (tg.cuda.current_device, tg.cuda.synchronize, tg.cuda.get_device_name,
                 tg.cuda.memory_allocated, lambda: tg.cuda.set_device(0)):
        with pytest.raises(RuntimeError, match=r"cuda\.\w+: no CUDA GPU found"):
            call()
    assert tg.device("cuda" if tg.cuda.is_available() else "cpu").type == "cpu"


@pytest.mark.parametrize("a, b", [
    ([1, 2], [1.0, 2.0]),  # compared after promotion
    ([1, 2], [[1, 2]]),  # shapes differ
    ([float("nan")], [float("nan")]),  # NaN equals nothing
    ([1.0, 2.0], [1.0, 2.5]),
    ([], []),
    ([True, False], [1, 0]),
])
def test_equal_like_torch(a, b):
    expected = torch.equal(torch.tensor(a), torch.tensor(b))
    assert tg.equal(tg.tensor(a), tg.tensor(b)) is expected
    assert tg.tensor(a).equal(tg.tensor(b)) is expected


def test_equal_refuses_non_tensors():
    with pytest.raises(TypeError, match="equal: expected other to be a Tensor, got list"):
        tg.equal(tg.tensor([1]), [1])
