"""More torch.nn layers against torch 2.13: the activations Hardshrink, Softshrink, Threshold,
RReLU and Softmax2d; Bilinear; Unfold, Fold and ChannelShuffle; AlphaDropout and
FeatureAlphaDropout; UpsamplingNearest2d and UpsamplingBilinear2d.

Deterministic layers: forward and backward vs torch (same upstream gradient, gradients of the
inputs and parameters) in float32 and float64 on odd non-square shapes, and float64 gradcheck
away from the kinks. Random layers (RReLU, the alpha dropouts): eval mode equal to torch,
training mode checked by its statistics and structure, and reproducible with tg.manual_seed.
Reprs, parameter shapes, init bounds, state_dict keys and errors are compared with torch's."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op, to_numpy

import tinygrad_edu as tg
from tinygrad_edu.nn.activation import (
    Hardshrink,
    RReLU,
    Softmax2d,
    Softshrink,
    Threshold,
    hardshrink,
    rrelu,
    softshrink,
    threshold,
)
from tinygrad_edu.nn.dropout import (
    ALPHA_DROPOUT_SATURATION,
    AlphaDropout,
    FeatureAlphaDropout,
    alpha_dropout,
    feature_alpha_dropout,
)
from tinygrad_edu.nn.fold import (
    ChannelShuffle,
    Fold,
    Unfold,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    channel_shuffle,
)
from tinygrad_edu.nn.linear import Bilinear, bilinear

DTYPES = [np.float32, np.float64]


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from(x, kinks, gap=0.05):
    """x with every entry closer than ``gap`` to a kink moved to gap away from it (central
    differences across a kink measure no derivative)."""
    x = np.array(x, dtype=np.float64)
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, gap, -gap)
    return x


def run_both(ours_fn, theirs_fn, arrays, dtype, device="cpu", seed=1):
    """ours_fn(*tensors) and theirs_fn(*torch tensors) on the same inputs, then backward of
    both with the same random upstream gradient; returns the outputs and the gradients."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    ours_in = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, th_out = ours_fn(*ours_in), theirs_fn(*theirs_in)
    assert tuple(out.shape) == tuple(th_out.shape)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, th_out, dtype, "forward")
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out * tg.tensor(upstream, device=device)).sum().backward()
    (th_out * torch.tensor(upstream)).sum().backward()
    for k, (a, b) in enumerate(zip(ours_in, theirs_in)):
        assert_close(a.grad, b.grad, dtype, f"gradient of input {k}")
    return out


# ----------------------------------------------------------------------------------------------
# Hardshrink, Softshrink, Threshold, RReLU (eval), Softmax2d
# ----------------------------------------------------------------------------------------------

SHRINKS = [
    ("hardshrink", lambda x: hardshrink(x), lambda x: TF.hardshrink(x), [-0.5, 0.5]),
    ("hardshrink_0.3", lambda x: hardshrink(x, 0.3), lambda x: TF.hardshrink(x, 0.3),
     [-0.3, 0.3]),
    ("softshrink", lambda x: softshrink(x), lambda x: TF.softshrink(x), [-0.5, 0.5]),
    ("softshrink_1.2", lambda x: softshrink(x, 1.2), lambda x: TF.softshrink(x, 1.2),
     [-1.2, 1.2]),
    ("threshold", lambda x: threshold(x, 0.1, 20.0), lambda x: TF.threshold(x, 0.1, 20.0),
     [0.1]),
    ("threshold_neg", lambda x: threshold(x, -0.4, -3.0), lambda x: TF.threshold(x, -0.4, -3.0),
     [-0.4]),
    ("rrelu_eval", lambda x: rrelu(x), lambda x: TF.rrelu(x), [0.0]),
    ("rrelu_eval_bounds", lambda x: rrelu(x, 0.05, 0.6, training=False),
     lambda x: TF.rrelu(x, 0.05, 0.6, training=False), [0.0]),
]


@pytest.mark.parametrize("name, ours, theirs, kinks", SHRINKS, ids=[s[0] for s in SHRINKS])
def test_activation_functionals_match_torch(name, ours, theirs, kinks, device):
    x = away_from(np.random.default_rng(3).uniform(-2.5, 2.5, (3, 5, 7)), kinks)
    check_op(ours, theirs, None, inputs=[x], device=device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_values_and_gradients_at_the_kinks_match_torch(dtype):
    x = np.array([-2.0, -0.5, -0.3, -0.0, 0.0, 0.1, 0.3, 0.5, 2.0, np.nan])
    cases = [(hardshrink, TF.hardshrink, ()), (hardshrink, TF.hardshrink, (0.3,)),
             (hardshrink, TF.hardshrink, (-0.5,)),  # negative lambd keeps everything, as torch
             (softshrink, TF.softshrink, ()), (softshrink, TF.softshrink, (0.0,)),
             (threshold, TF.threshold, (0.1, 20.0)), (threshold, TF.threshold, (0.5, -1.0)),
             (rrelu, TF.rrelu, ())]
    for ours, theirs, args in cases:
        xs = tg.tensor(x.astype(dtype), requires_grad=True)
        th = torch.tensor(x.astype(dtype), requires_grad=True)
        y, th_y = ours(xs, *args), theirs(th, *args)
        np.testing.assert_array_equal(to_numpy(y), to_numpy(th_y), err_msg=ours.__name__)
        y.sum().backward()
        th_y.sum().backward()
        np.testing.assert_array_equal(to_numpy(xs.grad), to_numpy(th.grad),
                                      err_msg=f"{ours.__name__}{args} gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_modules_match_torch(dtype, device):
    x = away_from(randn(4, 3, 5, 2, seed=5) * 1.5, [-0.5, 0.5, 0.1, 0.0, -0.7, 0.7])
    pairs = [(Hardshrink(), torch.nn.Hardshrink()), (Softshrink(0.7), torch.nn.Softshrink(0.7)),
             (Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
             (Threshold(-0.5, 0.0), torch.nn.Threshold(-0.5, 0.0)),  # inplace: see
             # tests/nn/test_inplace_activations.py
             (RReLU().eval(), torch.nn.RReLU().eval()),
             (RReLU(0.2, 0.7).eval(), torch.nn.RReLU(0.2, 0.7).eval()),
             (Softmax2d(), torch.nn.Softmax2d())]
    for ours, theirs in pairs:
        run_both(ours, theirs, [x], dtype, device)
    run_both(Softmax2d(), torch.nn.Softmax2d(), [x[0]], dtype, device)  # (C, H, W)


def test_activation_gradcheck_and_second_derivative():
    x = away_from(randn(3, 4, 5, seed=7) * 1.5, [-0.5, 0.5, 0.25, 0.0])
    xs = [tg.tensor(x, requires_grad=True)]
    for fn in (Hardshrink(), Softshrink(), Threshold(0.25, -2.0), RReLU().eval(), Softmax2d()):
        assert tg.gradcheck(fn, xs)
    # softmax2d's gradient is differentiable again (create_graph), like torch's
    w = randn(3, 4, 5, seed=8)
    xt = tg.tensor(x, requires_grad=True)
    th = torch.tensor(x, requires_grad=True)
    (g,) = tg.grad((Softmax2d()(xt) * tg.tensor(w)).sum(), [xt], create_graph=True)
    (th_g,) = torch.autograd.grad((torch.nn.Softmax2d()(th) * torch.tensor(w)).sum(), [th],
                                  create_graph=True)
    (g * g).sum().backward()
    (th_g * th_g).sum().backward()
    assert_close(xt.grad, th.grad, what="second derivative")
    # the piecewise-linear ops: their gradient is dy times a mask, differentiable in dy
    for ours, theirs in [(Hardshrink(), torch.nn.Hardshrink()), (Softshrink(), TF.softshrink),
                         (Threshold(0.25, -2.0), torch.nn.Threshold(0.25, -2.0))]:
        xt, v = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
        th, th_v = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        (g,) = tg.grad((ours(xt) * v).sum(), [xt], create_graph=True)
        (th_g,) = torch.autograd.grad((theirs(th) * th_v).sum(), [th], create_graph=True)
        (g * g).sum().backward()
        (th_g * th_g).sum().backward()
        assert_close(v.grad, th_v.grad, what=f"{ours!r}: gradient of dx with respect to dy")


def test_activation_reprs_match_torch():
    pairs = [(Hardshrink(), torch.nn.Hardshrink()), (Hardshrink(0.3), torch.nn.Hardshrink(0.3)),
             (Softshrink(), torch.nn.Softshrink()), (Softshrink(1), torch.nn.Softshrink(1)),
             (Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
             (Threshold(0.1, 2.0, True), torch.nn.Threshold(0.1, 2.0, True)),
             (RReLU(), torch.nn.RReLU()), (RReLU(0.1, 0.3, True), torch.nn.RReLU(0.1, 0.3, True)),
             (Softmax2d(), torch.nn.Softmax2d())]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {} and dict(theirs.state_dict()) == {}


def test_activation_inplace_writes_into_the_input():
    """inplace=True writes the result into x and returns x, as torch (more in
    tests/nn/test_inplace_activations.py); a leaf that requires grad is refused, as by torch."""
    for layer in (Threshold(0.1, 5.0, inplace=True), RReLU(inplace=True).eval()):
        x = tg.tensor([-1.0, 0.0625, 2.0])
        expected = type(layer)(*([0.1, 5.0] if isinstance(layer, Threshold) else [])).eval()(x)
        assert layer(x) is x
        assert x.tolist() == expected.tolist()
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            layer(tg.tensor([-1.0, 2.0], requires_grad=True))
    x = tg.tensor([-1.0, 0.0625, 2.0])
    assert threshold(x, 0.1, 5.0, inplace=True) is x
    assert x.tolist() == [5.0, 5.0, 2.0]


def test_activation_errors():
    with pytest.raises(RuntimeError, match="lambda must be in range"):
        TF.softshrink(torch.zeros(2), -1.0)  # the oracle
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0, got -1.0"):
        softshrink(tg.zeros(2), -1.0)
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0"):
        Softshrink(-0.5)(tg.zeros(2))
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal"):
        TF.rrelu(torch.zeros(2), 0.5, 0.1)  # the oracle (in eval mode too)
    with pytest.raises(ValueError, match=re.escape(
            "rrelu: the lower bound must be less than or equal to the upper bound, got "
            "lower=0.5 and upper=0.1")):
        RReLU(0.5, 0.1).eval()(tg.zeros(2))
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D"):
        torch.nn.Softmax2d()(torch.zeros(3, 4))  # the oracle
    with pytest.raises(ValueError, match=re.escape(
            "Softmax2d: expected input to be 3D (C, H, W) or 4D (N, C, H, W), got 2D instead "
            "(shape (3, 4))")):
        Softmax2d()(tg.zeros(3, 4))
    with pytest.raises(TypeError, match=re.escape(
            "hardshrink: expected a floating point tensor, got dtype int64 (shape (2,))")):
        hardshrink(tg.tensor([1, 2]))
    with pytest.raises(TypeError, match="softshrink: expected a Tensor, got list"):
        softshrink([1.0, 2.0])
    with pytest.raises(TypeError, match="rrelu: expected a floating point tensor"):
        rrelu(tg.tensor([1, 2]), training=True)
    # threshold works on integers, as torch's does
    assert threshold(tg.tensor([1, 5, 3]), 2, 0).tolist() == [0, 5, 3]


# ----------------------------------------------------------------------------------------------
# RReLU in training: random slopes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_rrelu_training_slopes(dtype):
    lower, upper = 0.1, 0.4
    x_np = away_from(randn(200, 300, seed=11), [0.0], gap=1e-3).astype(dtype)
    x = tg.tensor(x_np, requires_grad=True)
    tg.manual_seed(0)
    layer = RReLU(lower, upper)  # training mode by default
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    y_np = to_numpy(y)
    negative = x_np < 0
    np.testing.assert_array_equal(y_np[~negative], x_np[~negative])  # x > 0: unchanged
    slopes = y_np[negative] / x_np[negative]
    eps = 1e-6 if dtype == np.float32 else 1e-12
    assert slopes.min() >= lower - eps and slopes.max() <= upper + eps
    # one slope per element from U(lower, upper): mean (l + u)/2, std (u - l)/sqrt(12)
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.003
    assert abs(slopes.std() - (upper - lower) / math.sqrt(12)) < 0.003
    assert len(np.unique(slopes.round(5))) > 1000
    # the gradient is the slope each element got
    y.sum().backward()
    grad = to_numpy(x.grad)
    np.testing.assert_allclose(grad[negative], slopes, rtol=1e-5)
    np.testing.assert_array_equal(grad[~negative], 1.0)
    # reproducible with tg.manual_seed; a new draw on every call
    tg.manual_seed(0)
    np.testing.assert_array_equal(to_numpy(layer(x)), y_np)
    assert not np.array_equal(to_numpy(layer(x)), y_np)
    # torch draws its own slopes, from the same law: same bounds
    th_y = torch.nn.RReLU(lower, upper)(torch.tensor(x_np)).numpy()
    th_slopes = th_y[negative] / x_np[negative]
    assert th_slopes.min() >= lower - eps and th_slopes.max() <= upper + eps
    assert abs(th_slopes.mean() - slopes.mean()) < 0.003


def test_activation_rrelu_training_gradcheck_and_equal_bounds():
    x = away_from(randn(4, 7, seed=12), [0.0])

    def seeded_rrelu(x):  # the same slopes on every call of gradcheck
        tg.manual_seed(5)
        return rrelu(x, 0.2, 0.5, training=True)

    assert tg.gradcheck(seeded_rrelu, [tg.tensor(x, requires_grad=True)])
    # lower == upper: a leaky_relu with that slope in training too, as torch
    tg.manual_seed(0)
    y = rrelu(tg.tensor(x), 0.3, 0.3, training=True)
    assert_close(y, TF.rrelu(torch.tensor(x), 0.3, 0.3, training=True))


# ----------------------------------------------------------------------------------------------
# Bilinear
# ----------------------------------------------------------------------------------------------


def bilinear_twins(in1, in2, out, bias, dtype):
    torch.manual_seed(0)
    theirs = torch.nn.Bilinear(in1, in2, out, bias=bias).to(getattr(torch, np.dtype(dtype).name))
    ours = Bilinear(in1, in2, out, bias=bias, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_bilinear_matches_torch(dtype, lead, bias, device):
    in1, in2, out = 3, 4, 6
    ours, theirs = bilinear_twins(in1, in2, out, bias, dtype)
    ours.to(device)
    x1, x2 = randn(*lead, in1, seed=1), randn(*lead, in2, seed=2)
    x1s = [tg.tensor(x1.astype(dtype), device=device, requires_grad=True),
           tg.tensor(x2.astype(dtype), device=device, requires_grad=True)]
    ths = [torch.tensor(x1.astype(dtype), requires_grad=True),
           torch.tensor(x2.astype(dtype), requires_grad=True)]
    y, th_y = ours(*x1s), theirs(*ths)
    assert tuple(y.shape) == tuple(th_y.shape) == lead + (out,)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, th_y, dtype, "forward")
    upstream = randn(*y.shape, seed=3).astype(dtype)
    (y * tg.tensor(upstream, device=device)).sum().backward()
    (th_y * torch.tensor(upstream)).sum().backward()
    for k in range(2):
        assert_close(x1s[k].grad, ths[k].grad, dtype, f"gradient of input{k + 1}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, dtype, f"gradient of {name}")


def test_linear_bilinear_functional_matches_torch_and_gradcheck():
    x1, x2, w, b = randn(2, 3, 5, seed=1), randn(2, 3, 2, seed=2), randn(4, 5, 2, seed=3), \
        randn(4, seed=4)
    check_op(bilinear, TF.bilinear, None, inputs=[x1, x2, w, b])
    check_op(lambda a, c, w: bilinear(a, c, w), lambda a, c, w: TF.bilinear(a, c, w), None,
             inputs=[x1, x2, w])
    # second derivatives (all differentiable ops)
    xs = [tg.tensor(a, requires_grad=True) for a in (x1, x2, w)]
    ths = [torch.tensor(a, requires_grad=True) for a in (x1, x2, w)]
    grads = tg.grad((bilinear(*xs) ** 2).sum(), xs, create_graph=True)
    th_grads = torch.autograd.grad((TF.bilinear(*ths) ** 2).sum(), ths, create_graph=True)
    sum(g.sum() for g in grads).backward()
    sum(g.sum() for g in th_grads).backward()
    for a, b in zip(xs, ths):
        assert_close(a.grad, b.grad, what="second derivative")


def test_linear_bilinear_parameters_init_repr_match_torch():
    layer = Bilinear(20, 3, 7)
    theirs = torch.nn.Bilinear(20, 3, 7)
    assert repr(layer) == repr(theirs)
    assert repr(Bilinear(2, 3, 4, bias=False)) == repr(torch.nn.Bilinear(2, 3, 4, bias=False))
    assert list(layer.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert list(Bilinear(2, 3, 4, bias=False).state_dict()) == ["weight"]
    assert layer.bias is not None and Bilinear(2, 3, 4, bias=False).bias is None
    for name, p in layer.named_parameters():
        assert tuple(p.shape) == tuple(theirs.get_parameter(name).shape)
        assert p.dtype == np.float32
    # torch's init: U(-1/sqrt(in1), 1/sqrt(in1)) for the weight and the bias
    bound = 1 / math.sqrt(20)
    w = to_numpy(layer.weight)
    assert np.abs(w).max() <= bound and np.abs(to_numpy(layer.bias)).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert Bilinear(2, 3, 4, dtype=np.float64).weight.dtype == np.float64
    # reset_parameters redraws, reproducibly under tg.manual_seed
    tg.manual_seed(4)
    layer.reset_parameters()
    first = to_numpy(layer.weight).copy()
    tg.manual_seed(4)
    layer.reset_parameters()
    np.testing.assert_array_equal(to_numpy(layer.weight), first)


def test_linear_bilinear_errors():
    w, b = tg.zeros(5, 3, 4), tg.zeros(5)
    tw = torch.zeros(5, 3, 4)
    cases = [
        ((tg.zeros(2, 3), tg.zeros(4), w, b), (torch.zeros(2, 3), torch.zeros(4), tw),
         ValueError, "bilinear: input dimensions do not match: got 2 and 1"),
        ((tg.zeros(2, 3), tg.zeros(3, 4), w, b), (torch.zeros(2, 3), torch.zeros(3, 4), tw),
         ValueError, re.escape("bilinear: input batch dimensions do not match: input1 (2, 3), "
                               "input2 (3, 4)")),
        ((tg.zeros(2, 3), tg.zeros(2, 5), w, b), (torch.zeros(2, 3), torch.zeros(2, 5), tw),
         ValueError, "bilinear: input2 size does not match weight size: got 5 but expected 4"),
        ((tg.zeros(2, 2), tg.zeros(2, 4), w, b), (torch.zeros(2, 2), torch.zeros(2, 4), tw),
         ValueError, "bilinear: input1 size does not match weight size: got 2 but expected 3"),
    ]
    for ours_args, theirs_args, error, message in cases:
        with pytest.raises(RuntimeError):
            TF.bilinear(*theirs_args)  # the oracle refuses too
        with pytest.raises(error, match=message):
            bilinear(*ours_args)
    with pytest.raises(ValueError, match=re.escape(
            "bilinear: bias size does not match weight size: got bias shape (4,) but expected "
            "(5,)")):
        bilinear(tg.zeros(2, 3), tg.zeros(2, 4), w, tg.zeros(4))
    with pytest.raises(ValueError, match="bilinear: expected a 3D weight"):
        bilinear(tg.zeros(2, 3), tg.zeros(2, 4), tg.zeros(3, 4))
    with pytest.raises(TypeError, match=re.escape(
            "bilinear: all tensors must have the same dtype, got input1: float32, input2: "
            "float32, weight: float64")):
        bilinear(tg.zeros(2, 3), tg.zeros(2, 4), tg.zeros(5, 3, 4, dtype=tg.float64))
    with pytest.raises(TypeError, match=re.escape(
            "Bilinear(in1_features=3, in2_features=4, out_features=5): input has dtype float64 "
            "but the parameters are float32")):
        Bilinear(3, 4, 5)(tg.zeros(2, 3), tg.zeros(2, 4, dtype=tg.float64))
    with pytest.raises(ValueError, match="Bilinear: out_features must be a non-negative int"):
        Bilinear(3, 4, -1)


# ----------------------------------------------------------------------------------------------
# Unfold, Fold, ChannelShuffle
# ----------------------------------------------------------------------------------------------

FOLD_OPTIONS = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0),
                                          stride=(2, 1)),
                dict(kernel_size=(3, 1), padding=1, stride=2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", FOLD_OPTIONS, ids=str)
def test_fold_unfold_modules_match_torch(dtype, options, device):
    x = randn(2, 3, 7, 5, seed=21)
    cols = run_both(Unfold(**options), torch.nn.Unfold(**options), [x], dtype, device)
    run_both(Unfold(**options), torch.nn.Unfold(**options), [x[0]], dtype, device)  # (C, H, W)
    blocks = randn(*cols.shape, seed=22)
    run_both(Fold((7, 5), **options), torch.nn.Fold((7, 5), **options), [blocks], dtype, device)
    run_both(Fold((7, 5), **options), torch.nn.Fold((7, 5), **options), [blocks[1]], dtype,
             device)  # (C*KH*KW, L)


def test_fold_unfold_gradcheck_reprs_errors():
    options = FOLD_OPTIONS[1]
    x = tg.tensor(randn(2, 3, 7, 5, seed=23), requires_grad=True)
    assert tg.gradcheck(Unfold(**options), [x])
    cols = tg.tensor(randn(*Unfold(**options)(x).shape, seed=24), requires_grad=True)
    assert tg.gradcheck(Fold((7, 5), **options), [cols])
    for ours, theirs in [(Unfold(3), torch.nn.Unfold(3)),
                         (Unfold((2, 3), 1, (1, 0), 2), torch.nn.Unfold((2, 3), 1, (1, 0), 2)),
                         (Fold((4, 5), (2, 3)), torch.nn.Fold((4, 5), (2, 3))),
                         (Fold(4, 2, 2, 1, 3), torch.nn.Fold(4, 2, 2, 1, 3))]:
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {}
    with pytest.raises(RuntimeError, match="expected size of input's dimension 2 to match"):
        torch.nn.Fold((5, 6), 2)(torch.zeros(1, 12, 21))  # the oracle
    with pytest.raises(ValueError, match=re.escape(
            "Fold: input has 21 blocks (dim 2) but output_size=(5, 6), kernel_size=2, "
            "dilation=1, padding=0, stride=1 gives 4 * 5 = 20 sliding blocks (input shape "
            "(1, 12, 21))")):
        Fold((5, 6), 2)(tg.zeros(1, 12, 21))
    with pytest.raises(ValueError, match=re.escape(
            "Fold: input has 13 rows (dim 1), not a multiple of KH*KW = 4")):
        Fold((5, 6), 2)(tg.zeros(1, 13, 20))
    with pytest.raises(ValueError, match=re.escape(
            "Fold: expected a 2D (C*KH*KW, L) or 3D (N, C*KH*KW, L) input, got shape "
            "(1, 1, 12, 20)")):
        Fold((5, 6), 2)(tg.zeros(1, 1, 12, 20))
    with pytest.raises(ValueError, match=re.escape(
            "Unfold: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got shape (5, 6)")):
        Unfold(2)(tg.zeros(5, 6))
    with pytest.raises(ValueError, match="does not fit input of size"):
        Unfold(7)(tg.zeros(1, 3, 5, 6))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, groups", [((2, 6, 5), 3), ((2, 6, 3, 4), 2),
                                           ((3, 12, 2, 3, 1), 4), ((1, 5, 3), 5), ((2, 4, 3), 1)],
                         ids=str)
def test_fold_channel_shuffle_matches_torch(dtype, shape, groups, device):
    x = randn(*shape, seed=31)
    run_both(ChannelShuffle(groups), torch.nn.ChannelShuffle(groups), [x], dtype, device)
    run_both(lambda t: channel_shuffle(t, groups), lambda t: TF.channel_shuffle(t, groups), [x],
             dtype, device)


def test_fold_channel_shuffle_gradcheck_repr_errors():
    assert tg.gradcheck(ChannelShuffle(3), [tg.tensor(randn(2, 6, 5), requires_grad=True)])
    assert repr(ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3)) == "ChannelShuffle(groups=3)"
    assert ChannelShuffle(2)(tg.arange(6.0).reshape(1, 6, 1)).flatten().tolist() == \
        [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        TF.channel_shuffle(torch.zeros(2, 5, 3), 2)  # the oracle
    with pytest.raises(ValueError, match=re.escape(
            "channel_shuffle: the number of channels must be divisible by groups, got 5 "
            "channels and 2 groups (input shape (2, 5, 3))")):
        ChannelShuffle(2)(tg.zeros(2, 5, 3))
    with pytest.raises(ValueError, match=re.escape(
            "channel_shuffle: expected an input with more than 2 dims (N, C, *), got shape "
            "(2, 6)")):
        channel_shuffle(tg.zeros(2, 6), 2)
    with pytest.raises(ValueError, match="the number of groups must be a positive int, got 0"):
        channel_shuffle(tg.zeros(2, 6, 3), 0)


# ----------------------------------------------------------------------------------------------
# AlphaDropout, FeatureAlphaDropout
# ----------------------------------------------------------------------------------------------


def alpha_constants(p):
    """torch's a and b (aten/src/ATen/native/Dropout.cpp), alpha' = -1.7580993408473766."""
    alpha_ = -1.7580993408473766
    a = ((1 - p) * (1 + p * alpha_**2)) ** -0.5
    return a, -a * alpha_ * p, alpha_


def test_dropout_alpha_constant_is_torchs():
    assert ALPHA_DROPOUT_SATURATION == pytest.approx(1.0507009873554805 * 1.6732632423543772)
    a, b, alpha_ = alpha_constants(0.3)
    torch.manual_seed(0)
    th = torch.nn.AlphaDropout(0.3)(torch.ones(4000, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(np.unique(th.round(12)), sorted([a * alpha_ + b, a + b]))


@pytest.mark.parametrize("layer, theirs", [(AlphaDropout, torch.nn.AlphaDropout),
                                           (FeatureAlphaDropout, torch.nn.FeatureAlphaDropout)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_alpha_eval_equals_torch(layer, theirs, dtype, device):
    x = randn(3, 5, 4, 2, seed=41)
    for p in (0.0, 0.2, 0.5, 1.0):
        run_both(layer(p).eval(), theirs(p).eval(), [x], dtype, device)
    # functional: identity unless training=True (torch's default is training=False)
    y = alpha_dropout(tg.tensor(x), 0.4)
    np.testing.assert_array_equal(to_numpy(y), TF.alpha_dropout(torch.tensor(x), 0.4).numpy())
    y = feature_alpha_dropout(tg.tensor(x), 0.4, training=False)
    np.testing.assert_array_equal(to_numpy(y), x)
    # p = 0 in training: identity; p = 1 in training: zeros, as torch
    run_both(layer(0.0), theirs(0.0), [x], dtype, device)
    run_both(layer(1.0), theirs(1.0), [x], dtype, device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_alpha_training_keeps_selu_statistics(dtype, p):
    """On a SELU-normalized input (mean 0, variance 1) the output keeps mean 0 and variance 1;
    kept elements become a x + b, dropped ones a alpha' + b, and dx = a m."""
    z = np.random.default_rng(42).standard_normal(400_000)
    x_np = torch.selu(torch.tensor(z)).numpy()  # SELU of N(0, 1): mean ~0, var ~1
    x_np = ((x_np - x_np.mean()) / x_np.std()).astype(dtype)
    x = tg.tensor(x_np, requires_grad=True)
    tg.manual_seed(0)
    y = AlphaDropout(p)(x)
    assert y.dtype == np.dtype(dtype)
    y_np = to_numpy(y).astype(np.float64)
    assert abs(y_np.mean()) < 0.01
    assert abs(y_np.var() - 1) < 0.015
    th_y = torch.nn.AlphaDropout(p)(torch.tensor(x_np)).numpy().astype(np.float64)
    assert abs(th_y.mean() - y_np.mean()) < 0.015 and abs(th_y.var() - y_np.var()) < 0.02
    a, b, alpha_ = alpha_constants(p)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    dropped = np.abs(y_np - (a * alpha_ + b)) < tol
    assert abs(dropped.mean() - p) < 0.005
    np.testing.assert_allclose(y_np[~dropped], a * x_np[~dropped] + b, rtol=1e-5, atol=tol)
    y.sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.where(dropped, 0.0, a), rtol=1e-6)
    # reproducible with tg.manual_seed, new masks on every call
    tg.manual_seed(0)
    again = to_numpy(AlphaDropout(p)(x)).astype(np.float64)
    np.testing.assert_array_equal(again, y_np)
    assert not np.array_equal(to_numpy(alpha_dropout(x, p, True)).astype(np.float64), y_np)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_feature_alpha_training_drops_whole_channels(dtype):
    p = 0.3
    x_np = randn(40, 50, 3, 5, seed=43).astype(dtype)
    x = tg.tensor(x_np, requires_grad=True)
    tg.manual_seed(1)
    y = to_numpy(FeatureAlphaDropout(p)(x)).astype(np.float64)
    a, b, alpha_ = alpha_constants(p)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    dropped = np.abs(y - (a * alpha_ + b)) < tol  # (N, C, H, W)
    per_channel = dropped.reshape(40, 50, -1)
    assert (per_channel.all(-1) | ~per_channel.any(-1)).all()  # whole channels or none
    assert abs(per_channel.all(-1).mean() - p) < 0.03
    np.testing.assert_allclose(y[~dropped], a * x_np[~dropped] + b, rtol=1e-5, atol=tol)
    # the same two affine maps as torch's (ones in: only the two constants come out)
    th = torch.nn.FeatureAlphaDropout(p)(torch.ones(40, 50, 2, dtype=torch.float64)).numpy()
    ours = to_numpy(feature_alpha_dropout(tg.ones(40, 50, 2, dtype=tg.float64), p, True))
    np.testing.assert_allclose(np.unique(th.round(12)), np.unique(ours.round(12)))
    # 2D inputs: one mask entry per (N, C) element, as torch
    assert tuple(feature_alpha_dropout(tg.ones(3, 4), p, True).shape) == (3, 4)

    def seeded(x):  # the same mask on every call of gradcheck
        tg.manual_seed(7)
        return feature_alpha_dropout(x, p, True)

    assert tg.gradcheck(seeded, [tg.tensor(randn(3, 4, 2, seed=44), requires_grad=True)])
    assert tg.gradcheck(lambda x: (tg.manual_seed(8), alpha_dropout(x, 0.6, True))[1],
                        [tg.tensor(randn(5, 3, seed=45), requires_grad=True)])


def test_dropout_alpha_reprs_and_errors():
    for ours, theirs in [(AlphaDropout(), torch.nn.AlphaDropout()),
                         (AlphaDropout(0.2, inplace=True), torch.nn.AlphaDropout(0.2, True)),
                         (FeatureAlphaDropout(0.1), torch.nn.FeatureAlphaDropout(0.1))]:
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {}
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        torch.nn.AlphaDropout(1.5)  # the oracle
    with pytest.raises(ValueError, match=re.escape(
            "AlphaDropout: dropout probability has to be between 0 and 1, but got 1.5")):
        AlphaDropout(1.5)
    with pytest.raises(ValueError, match="feature_alpha_dropout: dropout probability"):
        feature_alpha_dropout(tg.zeros(2, 3), -0.1)
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        TF.feature_alpha_dropout(torch.zeros(3), 0.5, True)  # the oracle
    with pytest.raises(ValueError, match=re.escape(
            "feature_alpha_dropout: feature dropout needs an input with at least 2 dims "
            "(N, C, *), got shape (3,)")):
        FeatureAlphaDropout()(tg.zeros(3))
    with pytest.raises(TypeError, match="alpha_dropout: expected a floating point tensor"):
        alpha_dropout(tg.tensor([1, 2]), 0.5, True)
    assert alpha_dropout(tg.tensor([1, 2]), 0.5).tolist() == [1, 2]  # eval: untouched


# ----------------------------------------------------------------------------------------------
# UpsamplingNearest2d, UpsamplingBilinear2d
# ----------------------------------------------------------------------------------------------

UPSAMPLING = [dict(scale_factor=2), dict(size=(5, 7)), dict(size=9), dict(scale_factor=(1.5, 2.5))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", UPSAMPLING, ids=str)
def test_fold_upsampling_layers_match_torch(dtype, options, device):
    x = randn(2, 3, 3, 4, seed=51)
    run_both(UpsamplingNearest2d(**options), torch.nn.UpsamplingNearest2d(**options), [x], dtype,
             device)
    run_both(UpsamplingBilinear2d(**options), torch.nn.UpsamplingBilinear2d(**options), [x],
             dtype, device)


def test_fold_upsampling_gradcheck_and_reprs():
    x = tg.tensor(randn(2, 3, 3, 4, seed=52), requires_grad=True)
    assert tg.gradcheck(UpsamplingBilinear2d(size=(5, 7)), [x])
    assert tg.gradcheck(UpsamplingNearest2d(scale_factor=2), [x])
    for options in UPSAMPLING:
        assert repr(UpsamplingNearest2d(**options)) == repr(torch.nn.UpsamplingNearest2d(**options))
        assert repr(UpsamplingBilinear2d(**options)) == \
            repr(torch.nn.UpsamplingBilinear2d(**options))
    layer = UpsamplingBilinear2d(scale_factor=2)
    assert (layer.mode, layer.align_corners) == ("bilinear", True)
    assert UpsamplingNearest2d(size=3).mode == "nearest"
