"""nn.EmbeddingBag and embedding_bag against torch: modes sum / mean / max, 2-d input or 1-d
input with offsets (include_last_offset either way), per_sample_weights, padding_idx, empty
bags, ties in max, float32 and float64; gradients of the weight and the per-sample weights
with one random upstream gradient and against float64 central differences; repr, state_dict,
from_pretrained and the errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, to_numpy

import tinygrad_edu as tg
from tinygrad_edu.nn.embedding import EmbeddingBag, embedding_bag

V, D = 7, 3

# (input, offsets, include_last_offset): fixed-length bags, cuts with empty bags (repeated
# offsets, one at the very end), the CSR-style last offset, repeated ids within a bag
BAGS = [
    (np.array([[1, 2, 2, 6], [0, 2, 5, 1], [4, 4, 4, 3]]), None, False),
    (np.array([1, 2, 4, 5, 4, 3, 2, 6, 0]), np.array([0, 2, 2, 5, 9]), False),
    (np.array([1, 2, 4, 5, 4, 3, 2, 6, 0]), np.array([0, 3, 3, 8, 9]), True),
    (np.array([3, 3, 0]), np.array([0, 0]), False),
    (np.array([], dtype=np.int64), np.array([0, 0, 0]), True),
]


def run_both(inp, offsets, ilo, mode, padding_idx, dtype, psw=False, seed=0, weight=None):
    """Forward and backward of ours and torch's with one random upstream gradient; returns
    (ours, theirs) pairs of output, weight gradient and per-sample-weight gradient."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((V, D)) if weight is None else weight
    w = w.astype(dtype)
    p = rng.standard_normal(inp.shape).astype(dtype) if psw else None
    tw = torch.tensor(w, requires_grad=True)
    tp = torch.tensor(p, requires_grad=True) if psw else None
    t_off = None if offsets is None else torch.tensor(offsets)
    th = TF.embedding_bag(torch.tensor(inp), tw, t_off, mode=mode, per_sample_weights=tp,
                          include_last_offset=ilo, padding_idx=padding_idx)
    gw = tg.tensor(w, requires_grad=True)
    gp = tg.tensor(p, requires_grad=True) if psw else None
    g_off = None if offsets is None else tg.tensor(offsets)
    ours = embedding_bag(tg.tensor(inp), gw, g_off, mode=mode, per_sample_weights=gp,
                         include_last_offset=ilo, padding_idx=padding_idx)
    upstream = rng.standard_normal(th.shape).astype(dtype)
    (th * torch.tensor(upstream)).sum().backward()
    (ours * tg.tensor(upstream)).sum().backward()
    return ours, th, gw, tw, gp, tp


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_idx", [None, 2, -3])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("bags", BAGS, ids=["2d", "offsets", "last_offset", "empty", "no_ids"])
def test_embedding_bag_matches_torch(bags, mode, padding_idx, dtype):
    inp, offsets, ilo = bags
    for psw in ([False, True] if mode == "sum" else [False]):
        ours, th, gw, tw, gp, tp = run_both(inp, offsets, ilo, mode, padding_idx, dtype, psw)
        assert tuple(ours.shape) == tuple(th.shape) and ours.dtype == np.dtype(dtype)
        assert_close(ours, th, dtype, "forward")
        assert_close(gw.grad, tw.grad, dtype, "weight gradient")
        if psw:
            assert_close(gp.grad, tp.grad, dtype, "per_sample_weights gradient")


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_max_ties_go_to_the_first_id_like_torch(padding_idx):
    """Small integers make equal entries in different rows: torch gives each output's whole
    gradient to the first id of the bag holding the maximum."""
    rng = np.random.default_rng(1)
    weight = rng.integers(-1, 2, size=(V, D)).astype(np.float64)
    for inp, offsets, ilo in BAGS:
        ours, th, gw, tw, _, _ = run_both(inp, offsets, ilo, "max", padding_idx, np.float64,
                                          weight=weight)
        assert_close(ours, th)
        assert_close(gw.grad, tw.grad)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_gradcheck(mode):
    """Central differences through the weight (and per-sample weights): sum and mean are
    linear; max is piecewise linear, smooth where no two entries tie (random values)."""
    inp, offsets, _ = BAGS[1]
    rng = np.random.default_rng(2)
    w = tg.tensor(rng.standard_normal((V, D)), requires_grad=True)
    off = tg.tensor(offsets)
    if mode == "sum":
        p = tg.tensor(rng.standard_normal(inp.shape), requires_grad=True)
        assert tg.gradcheck(lambda w, p: embedding_bag(tg.tensor(inp), w, off, mode="sum",
                                                       per_sample_weights=p, padding_idx=2),
                            [w, p])
    assert tg.gradcheck(lambda w: embedding_bag(tg.tensor(inp), w, off, mode=mode) ** 2, [w])


def test_last_offset_before_the_end_lets_the_last_bag_run_on():
    """include_last_offset with offsets[-1] < len(input): the last bag still runs to the end
    of the input (torch's general path; float64 here)."""
    inp, offsets = np.array([5, 3, 0, 4, 0, 0, 3, 5]), np.array([0, 5, 5, 6])
    for mode in ("sum", "mean", "max"):
        ours, th, gw, tw, _, _ = run_both(inp, offsets, True, mode, None, np.float64)
        assert tuple(ours.shape) == (3, D)
        assert_close(ours, th)
        assert_close(gw.grad, tw.grad)


# ----------------------------------------------------------------------------------------------
# The module
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {}, {"mode": "sum"}, {"mode": "max", "padding_idx": -2, "include_last_offset": True},
    {"mode": "mean", "padding_idx": 0, "norm_type": 1.0},
])
def test_module_matches_torch(kwargs):
    ours, theirs = EmbeddingBag(V, D, **kwargs), torch.nn.EmbeddingBag(V, D, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    theirs.double()
    ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for name in ("num_embeddings", "embedding_dim", "mode", "padding_idx",
                 "include_last_offset", "max_norm", "norm_type", "scale_grad_by_freq",
                 "sparse"):
        assert getattr(ours, name) == getattr(theirs, name), name
    inp, offsets, _ = BAGS[2] if kwargs.get("include_last_offset") else BAGS[1]
    out = ours(tg.tensor(inp), tg.tensor(offsets))
    th_out = theirs(torch.tensor(inp), torch.tensor(offsets))
    assert_close(out, th_out)
    upstream = np.random.default_rng(3).standard_normal(th_out.shape)
    (out * tg.tensor(upstream)).sum().backward()
    (th_out * torch.tensor(upstream)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_module_per_sample_weights_and_2d_input():
    bag = EmbeddingBag(V, D, mode="sum", dtype=tg.float64)
    th = torch.nn.EmbeddingBag(V, D, mode="sum").double()
    bag.load_state_dict({"weight": th.weight.detach().numpy()})
    inp = BAGS[0][0]
    p = np.random.default_rng(4).standard_normal(inp.shape)
    out = bag(tg.tensor(inp), per_sample_weights=tg.tensor(p))
    assert_close(out, th(torch.tensor(inp), per_sample_weights=torch.tensor(p)))


def test_init_padding_row_and_from_pretrained():
    bag = EmbeddingBag(5, 2, padding_idx=3)
    assert bag.weight.detach().numpy()[3].tolist() == [0.0, 0.0]
    assert bag.weight.requires_grad and bag.weight.dtype == np.float32
    table = np.arange(8.0).reshape(4, 2)
    frozen = EmbeddingBag.from_pretrained(tg.tensor(table), mode="max")
    th = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(table), mode="max")
    assert not frozen.weight.requires_grad and repr(frozen) == repr(th)
    out = frozen(tg.tensor([[0, 3], [2, 1]]))
    assert out.tolist() == th(torch.tensor([[0, 3], [2, 1]])).tolist()
    assert EmbeddingBag.from_pretrained(tg.tensor(table), freeze=False).weight.requires_grad


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_errors():
    w = tg.tensor(np.zeros((V, D)))
    ids = tg.tensor([1, 2, 3])
    off = tg.tensor([0, 2])
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for "
                                                  "mode='sum' \\(got mode='mean'\\)"):
        embedding_bag(ids, w, off, per_sample_weights=tg.ones(3, dtype=tg.float64))
    with pytest.raises(ValueError, match=re.escape(
            "embedding_bag: per_sample_weights (2,) must have the same shape as the input "
            "(3,)")):
        embedding_bag(ids, w, off, mode="sum", per_sample_weights=tg.ones(2, dtype=tg.float64))
    with pytest.raises(TypeError, match="per_sample_weights must have the weight's dtype "
                                        "float64, got float32"):
        embedding_bag(ids, w, off, mode="sum", per_sample_weights=tg.ones(3))
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        embedding_bag(tg.tensor([[1, 2]]), w, off)
    with pytest.raises(ValueError, match="offsets has to be a 1D tensor when input is 1D"):
        embedding_bag(ids, w)
    with pytest.raises(ValueError, match="input has to be a 1D or 2D tensor, got shape"):
        embedding_bag(tg.zeros(2, 2, 2, dtype=tg.int64), w)
    with pytest.raises(ValueError, match="offsets\\[0\\] has to be 0"):
        embedding_bag(ids, w, tg.tensor([1, 2]))
    with pytest.raises(ValueError, match="offsets\\[-1\\] can not be greater than input's "
                                         "length 3 but got offsets\\[-1\\] of 7"):
        embedding_bag(ids, w, tg.tensor([0, 7]))
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        embedding_bag(ids, w, tg.tensor([0, 3, 2]))
    with pytest.raises(TypeError, match="offsets must be an integer tensor"):
        embedding_bag(ids, w, tg.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max, got 'min'"):
        embedding_bag(ids, w, off, mode="min")
    with pytest.raises(IndexError, match=re.escape(
            "embedding_bag: index 9 is out of range [0, 7)")):
        embedding_bag(tg.tensor([1, 9]), w, off)
    with pytest.raises(TypeError, match="indices must be an integer tensor"):
        embedding_bag(tg.tensor([1.0, 2.0]), w, off)
    with pytest.raises(ValueError, match="padding_idx must be within the number of "
                                         "embeddings, -7 through 6, but got 7"):
        embedding_bag(ids, w, off, padding_idx=7)
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq and sparse are not"):
        embedding_bag(ids, w, off, scale_grad_by_freq=True)
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq and sparse are not"):
        EmbeddingBag(V, D, sparse=True)
    with pytest.raises(ValueError, match="EmbeddingBag: mode has to be one of"):
        EmbeddingBag(V, D, mode="foo")
    with pytest.raises(ValueError, match=re.escape(
            "EmbeddingBag(7, 3): padding_idx 7 must be within [-7, 7)")):
        EmbeddingBag(V, D, padding_idx=7)
    with pytest.raises(IndexError, match=re.escape("EmbeddingBag(7, 3): index -1 is out")):
        EmbeddingBag(V, D)(tg.tensor([[0, -1]]))


def test_cpu_or_gpu(device):
    """Every mode on the device (CuPy: cupyx scatter kernels, searchsorted, bincount)."""
    rng = np.random.default_rng(5)
    w_np = rng.standard_normal((V, D))
    inp, offsets, _ = BAGS[1]
    for mode in ("sum", "mean", "max"):
        w = tg.tensor(w_np, device=device, requires_grad=True)
        out = embedding_bag(tg.tensor(inp, device=device), w, tg.tensor(offsets, device=device),
                            mode=mode, padding_idx=2)
        out.sum().backward()
        tw = torch.tensor(w_np, requires_grad=True)
        th = TF.embedding_bag(torch.tensor(inp), tw, torch.tensor(offsets), mode=mode,
                              padding_idx=2)
        th.sum().backward()
        assert_close(to_numpy(out), th)
        assert_close(to_numpy(w.grad), tw.grad)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5])
def test_embedding_bag_max_norm_matches_torch(mode, padding_idx, norm_type):
    """max_norm renormalizes, in place and before the lookup, every row the input names
    (padding rows too) whose norm exceeds it, as torch; output and gradient then follow."""
    rng = np.random.default_rng(11)
    weight = rng.standard_normal((6, 4)) * 2.0
    ids, offsets = np.array([1, 2, 2, 0, 5, 1, 2]), np.array([0, 3, 3, 5])
    ours = EmbeddingBag.from_pretrained(tg.tensor(weight.copy()), freeze=False, max_norm=1.5,
                                        norm_type=norm_type, mode=mode, padding_idx=padding_idx)
    theirs = torch.nn.EmbeddingBag.from_pretrained(
        torch.tensor(weight.copy()), freeze=False, max_norm=1.5, norm_type=norm_type, mode=mode,
        padding_idx=padding_idx)
    out = ours(tg.tensor(ids), tg.tensor(offsets))
    tout = theirs(torch.tensor(ids), torch.tensor(offsets))
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                               rtol=1e-12, atol=1e-15)
    assert repr(ours) == repr(theirs)
    # the functional form renormalizes the same rows of the tensor it is given
    w = tg.tensor(weight.copy())
    tw = torch.tensor(weight.copy())
    embedding_bag(tg.tensor(ids), w, tg.tensor(offsets), max_norm=1.5, norm_type=norm_type,
                  mode=mode, padding_idx=padding_idx)
    torch.nn.functional.embedding_bag(torch.tensor(ids), tw, torch.tensor(offsets),
                                      max_norm=1.5, norm_type=norm_type, mode=mode,
                                      padding_idx=padding_idx)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-12)
