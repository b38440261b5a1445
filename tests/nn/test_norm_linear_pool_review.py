"""Review tests: normalization layers, Linear/Bilinear/Identity and the pooling ops against
torch (the oracle only), forward and backward in float64, running statistics after several
steps, state_dict keys, reprs and error messages; plus regressions for the bugs found."""

import itertools
import warnings
from functools import partial

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _close(ours, theirs, tol=1e-9):
    ours = ours.detach().numpy() if isinstance(ours, tg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, equal_nan=True)


def _copy_params(theirs, ours):
    """Random parameters in torch, copied into ours; the state_dict keys and reprs agree."""
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        with torch.no_grad():
            p.uniform_(0.5, 1.5)
        ours_params[name].data[...] = p.detach().numpy()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)


def _compare_module(theirs, ours, inputs, train=True):
    """Forward, input grads and parameter grads of one call, float64."""
    xt = [torch.tensor(a, requires_grad=True) for a in inputs]
    xo = [tg.tensor(a.copy(), requires_grad=True) for a in inputs]
    yt, yo = theirs(*xt), ours(*xo)
    _close(yo, yt)
    g = torch.randn_like(yt)
    yt.backward(g)
    yo.backward(tg.tensor(g.numpy()))
    for a, b in zip(xo, xt):
        _close(a.grad, b.grad)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        _close(ours_params[name].grad, p.grad)
        p.grad = None
        ours_params[name].grad = None


# ----------------------------------------------------------------------------------------------
# BatchNorm / InstanceNorm: several training steps, then eval
# ----------------------------------------------------------------------------------------------

BN_OPTIONS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
              {"bias": False}]


@pytest.mark.parametrize("options", BN_OPTIONS, ids=str)
@pytest.mark.parametrize("name, C, shape", [
    ("BatchNorm1d", 3, (5, 3)), ("BatchNorm1d", 3, (4, 3, 7)),
    ("BatchNorm2d", 2, (3, 2, 5, 4)), ("BatchNorm3d", 3, (2, 3, 2, 3, 4))])
def test_batchnorm_steps_match_torch(name, C, shape, options):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(C, **options).double()
    ours = getattr(nn, name)(C, dtype="float64", **options)
    _copy_params(theirs, ours)
    for step in range(4):  # three training steps, then eval
        theirs.train(step < 3)
        ours.train(step < 3)
        _compare_module(theirs, ours, [(torch.randn(*shape, dtype=torch.float64) * 2 + 1).numpy()])
        ours_state = ours.state_dict()
        for key, value in theirs.state_dict().items():
            _close(ours_state[key], value)


def test_batchnorm_batch_of_one_raises_like_torch():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(tg.randn(1, 3))
    assert nn.BatchNorm1d(3)(tg.randn(1, 3, 2)).shape == (1, 3, 2)  # 2 values per channel
    assert nn.BatchNorm1d(3).eval()(tg.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4)])
def test_batchnorm_empty_batch_is_empty_output_like_torch(shape):
    """Regression: training on an empty batch raised 'expected more than 1 value per channel';
    torch returns an empty output, leaves the running stats and counts the batch."""
    theirs = torch.nn.BatchNorm1d(3).double()
    ours = nn.BatchNorm1d(3, dtype="float64")
    xt = torch.zeros(*shape, dtype=torch.float64, requires_grad=True)
    xo = tg.zeros(*shape, dtype="float64", requires_grad=True)
    yt, yo = theirs(xt), ours(xo)
    assert yo.shape == tuple(yt.shape)
    yt.sum().backward()
    yo.sum().backward()
    assert xo.grad.shape == shape
    _close(ours.weight.grad, theirs.weight.grad)
    for key, value in theirs.state_dict().items():
        _close(ours.state_dict()[key], value)


@pytest.mark.parametrize("options", [{}, {"affine": True}, {"track_running_stats": True},
                                     {"track_running_stats": True, "momentum": None},
                                     {"affine": True, "bias": False,
                                      "track_running_stats": True}], ids=str)
@pytest.mark.parametrize("name, shape", [
    ("InstanceNorm1d", (5, 3, 4)), ("InstanceNorm1d", (3, 6)), ("InstanceNorm2d", (3, 5, 4)),
    ("InstanceNorm3d", (2, 3, 2, 3, 4))])
def test_instancenorm_steps_match_torch(name, shape, options):
    torch.manual_seed(1)
    theirs = getattr(torch.nn, name)(3, **options).double()
    ours = getattr(nn, name)(3, dtype="float64", **options)
    _copy_params(theirs, ours)
    for step in range(3):
        theirs.train(step < 2)
        ours.train(step < 2)
        _compare_module(theirs, ours, [(torch.randn(*shape, dtype=torch.float64) + 1).numpy()])
        for key, value in theirs.state_dict().items():
            _close(ours.state_dict()[key], value)


# ----------------------------------------------------------------------------------------------
# LayerNorm, RMSNorm, GroupNorm, LocalResponseNorm
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 1e-4)])
@pytest.mark.parametrize("normalized_shape, shape", [(5, (3, 5)), ((3, 5), (2, 3, 5)),
                                                     ([4, 3, 5], (4, 3, 5)), (5, (5,))])
@pytest.mark.parametrize("options", [{}, {"elementwise_affine": False}, {"bias": False}],
                         ids=str)
def test_layernorm_matches_torch(normalized_shape, shape, options, dtype, tol):
    torch.manual_seed(2)
    theirs = torch.nn.LayerNorm(normalized_shape, dtype=getattr(torch, dtype), **options)
    ours = nn.LayerNorm(normalized_shape, dtype=dtype, **options)
    _copy_params(theirs, ours)
    x = torch.randn(*shape, dtype=getattr(torch, dtype)) * 3 + 2
    xt, xo = x.clone().requires_grad_(), tg.tensor(x.numpy(), requires_grad=True)
    yt, yo = theirs(xt), ours(xo)
    _close(yo, yt, tol)
    g = torch.randn_like(yt)
    yt.backward(g)
    yo.backward(tg.tensor(g.numpy()))
    _close(xo.grad, xt.grad, tol)
    for name, p in theirs.named_parameters():
        _close(dict(ours.named_parameters())[name].grad, p.grad, tol)


@pytest.mark.parametrize("options", [{}, {"elementwise_affine": False}, {"eps": 0.1}], ids=str)
def test_rmsnorm_matches_torch(options):
    theirs = torch.nn.RMSNorm((3, 4), dtype=torch.float64, **options)
    ours = nn.RMSNorm((3, 4), dtype="float64", **options)
    _copy_params(theirs, ours)
    _compare_module(theirs, ours, [np.random.default_rng(0).standard_normal((2, 3, 4))])


@pytest.mark.parametrize("G, C, shape", [(1, 6, (2, 6)), (2, 6, (3, 6, 5)), (3, 6, (2, 6, 3, 4)),
                                         (6, 6, (2, 6, 2, 3, 2)), (2, 4, (1, 4, 1))])
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"bias": False}], ids=str)
def test_groupnorm_matches_torch(G, C, shape, options):
    theirs = torch.nn.GroupNorm(G, C, dtype=torch.float64, **options)
    ours = nn.GroupNorm(G, C, dtype="float64", **options)
    _copy_params(theirs, ours)
    _compare_module(theirs, ours, [np.random.default_rng(G).standard_normal(shape) * 2 + 1])


@pytest.mark.parametrize("kernel", ["reference", "auto"])
def test_groupnorm_empty_batch_like_torch(kernel):
    """Regression: GroupNorm on an (0, C, *) input failed in reshape(0, G, -1); torch returns
    an empty output."""
    with tg.use_kernel(kernel):
        layer = nn.GroupNorm(2, 4)
        x = tg.zeros(0, 4, 3, requires_grad=True)
        y = layer(x)
        y.sum().backward()
    assert y.shape == tuple(torch.nn.GroupNorm(2, 4)(torch.zeros(0, 4, 3)).shape)
    assert x.grad.shape == (0, 4, 3)
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.zeros(4, np.float32))


@pytest.mark.parametrize("size, shape", [(2, (2, 5, 3)), (3, (2, 5, 3, 4)), (7, (2, 3, 4))])
def test_local_response_norm_matches_torch(size, shape):
    _compare_module(torch.nn.LocalResponseNorm(size, alpha=0.5, beta=0.3, k=2.0),
                    nn.LocalResponseNorm(size, alpha=0.5, beta=0.3, k=2.0),
                    [np.random.default_rng(size).standard_normal(shape)])


def test_norm_second_derivatives():
    rng = np.random.default_rng(3)

    def t(*shape):
        return tg.tensor(rng.standard_normal(shape), requires_grad=True)

    running = (tg.tensor(np.array([0.1, -0.2])), tg.tensor(np.array([0.5, 2.0])))
    cases = [
        (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         [t(3, 2, 5), t(2), t(2)]),
        (lambda x, w, b: F.batch_norm(x, *running, w, b), [t(3, 2, 5), t(2), t(2)]),
        (lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [t(2, 2, 3), t(2, 3), t(2, 3)]),
        (lambda x, w, b: F.group_norm(x, 2, w, b), [t(2, 4, 3), t(4), t(4)]),
        (lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [t(2, 3, 4), t(3), t(3)]),
    ]
    for fn, inputs in cases:
        assert tg.gradgradcheck(fn, inputs)


# ----------------------------------------------------------------------------------------------
# Linear, Bilinear, Identity
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("I, O, shape", [(5, 3, (5,)), (5, 3, (2, 4, 5)), (0, 3, (2, 0)),
                                         (5, 0, (2, 5)), (5, 3, (0, 5))])
def test_linear_matches_torch(I, O, shape, bias):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Initializing zero-element tensors is a no-op"
        theirs = torch.nn.Linear(I, O, bias=bias, dtype=torch.float64)
        ours = nn.Linear(I, O, bias=bias, dtype="float64")
    _copy_params(theirs, ours)
    _compare_module(theirs, ours, [np.random.default_rng(I).standard_normal(shape)])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("I1, I2, O, lead", [(3, 4, 5, ()), (3, 4, 5, (2,)), (3, 4, 5, (2, 6)),
                                             (1, 1, 1, (7,)), (3, 4, 5, (0,))])
def test_bilinear_matches_torch(I1, I2, O, lead, bias):
    torch.manual_seed(4)
    theirs = torch.nn.Bilinear(I1, I2, O, bias=bias, dtype=torch.float64)
    ours = nn.Bilinear(I1, I2, O, bias=bias, dtype="float64")
    _copy_params(theirs, ours)
    rng = np.random.default_rng(5)
    _compare_module(theirs, ours, [rng.standard_normal(lead + (I1,)),
                                   rng.standard_normal(lead + (I2,))])


def test_identity_ignores_arguments():
    layer = nn.Identity(3, 4, unused="x")
    x = tg.randn(2, 3)
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Identity(3, 4, unused="x")) == "Identity()"
    assert list(layer.state_dict()) == []


def test_linear_bilinear_gradcheck():
    rng = np.random.default_rng(6)

    def t(*shape):
        return tg.tensor(rng.standard_normal(shape), requires_grad=True)

    assert tg.gradcheck(F.linear, [t(2, 3), t(4, 3), t(4)])
    assert tg.gradgradcheck(F.bilinear, [t(2, 3), t(2, 4), t(5, 3, 4), t(5)])


@pytest.mark.parametrize("call, pattern", [
    (lambda: nn.Linear(4, 3)(tg.randn(2, 5)), r"Linear\(in_features=4.*5 features.*\(2, 5\)"),
    (lambda: nn.Linear(4, 3)(np.zeros((2, 4))), r"Linear\(in_features=4.*Tensor.*ndarray"),
    (lambda: nn.Bilinear(3, 4, 5)(tg.randn(2, 4), tg.randn(2, 4)),
     r"bilinear: input1 .*got 4 but expected 3 .*\(2, 4\)"),
    (lambda: nn.Bilinear(3, 4, 5)(tg.randn(2, 3), tg.randn(3, 4)),
     r"bilinear: input batch dimensions.*\(2, 3\).*\(3, 4\)"),
    (lambda: nn.BatchNorm2d(3)(tg.randn(3, 4, 5)), r"BatchNorm2d\(3\): expected 4D.*\(3, 4, 5\)"),
    (lambda: nn.BatchNorm1d(3)(tg.randn(2, 4)), r"BatchNorm1d\(3\): input has 4 channels"),
    (lambda: nn.InstanceNorm1d(3, affine=True)(tg.randn(2, 4, 5)), r"InstanceNorm1d\(3\).*got 4"),
    (lambda: nn.InstanceNorm1d(3)(tg.randn(2, 3, 1)), r"more than 1 spatial element.*\(2, 3, 1\)"),
    (lambda: nn.LayerNorm((4, 5))(tg.randn(2, 5, 4)), r"LayerNorm\(\(4, 5\)\).*\(5, 4\)"),
    (lambda: nn.GroupNorm(4, 6), r"GroupNorm: num_channels \(6\).*num_groups \(4\)"),
    (lambda: nn.GroupNorm(2, 6)(tg.randn(2, 4, 3)), r"GroupNorm\(2, 6\).*\(2, 4, 3\)"),
    (lambda: F.max_pool1d(tg.randn(1, 1, 5), 2, padding=2), r"max_pool1d: pad.*pad=2"),
    (lambda: F.max_pool2d(tg.randn(1, 1, 2, 2), 3), r"max_pool2d.*output size \(0, 0\)"),
    (lambda: F.adaptive_max_pool2d(tg.randn(1, 1, 5, 5), 0), r"adaptive_max_pool2d.*>= 1"),
])
def test_errors_name_the_layer_and_shapes(call, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()


# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------


def _compare_op(theirs, ours, x):
    """One pooling call (maybe with return_indices) forward and backward vs torch."""
    xt = torch.tensor(x, requires_grad=True)
    xo = tg.tensor(x.copy(), requires_grad=True)
    yt, yo = theirs(xt), ours(xo)
    if isinstance(yt, tuple):
        np.testing.assert_array_equal(yo[1].numpy(), yt[1].numpy())
        assert str(yo[1].dtype) == "int64"
        yt, yo = yt[0], yo[0]
    _close(yo, yt)
    g = torch.randn_like(yt)
    yt.backward(g)
    yo.backward(tg.tensor(g.numpy()))
    _close(xo.grad, xt.grad)


POOL1D_CASES = list(itertools.product([2, 3, 4], [None, 2, 3], [0, 1, 2], [1, 2], [False, True]))


@pytest.mark.parametrize("shape", [(2, 3, 7), (3, 6)])
def test_pool1d_sweep_matches_torch(shape):
    """ceil_mode, padding, dilation, unbatched, return_indices (with ties) and count_include_pad;
    torch drops a last window that would start in the right padding."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, shape).astype(np.float64)  # ties: torch keeps the first max
    checked = 0
    for K, S, P, D, ceil_mode in POOL1D_CASES:
        if P > K // 2:
            continue
        args = dict(kernel_size=K, stride=S, padding=P, ceil_mode=ceil_mode)
        try:
            TF.max_pool1d(torch.tensor(x), dilation=D, **args)
        except RuntimeError:  # no window fits: ours must refuse too
            with pytest.raises(ValueError):
                F.max_pool1d(tg.tensor(x), dilation=D, **args)
            continue
        _compare_op(partial(TF.max_pool1d, dilation=D, return_indices=True, **args),
                    partial(F.max_pool1d, dilation=D, return_indices=True, **args), x)
        for cip in (False, True):
            _compare_op(partial(TF.avg_pool1d, count_include_pad=cip, **args),
                        partial(F.avg_pool1d, count_include_pad=cip, **args), x)
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 7, 4)])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    ((2, 3), None, 0, 1, False), ((2, 3), (2, 2), (1, 1), 1, True), (3, 2, 1, (1, 2), True),
    ((3, 2), (3, 1), (1, 0), (2, 1), True), (2, (1, 3), (1, 1), 1, True), (1, 2, 0, 1, True)])
def test_pool2d_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode):
    x = np.random.default_rng(8).integers(0, 4, shape).astype(np.float64)
    args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    _compare_op(lambda t: TF.max_pool2d(t, dilation=dilation, return_indices=True, **args),
                lambda t: F.max_pool2d(t, dilation=dilation, return_indices=True, **args), x)
    _compare_op(lambda t: TF.max_pool2d(t, dilation=dilation, **args),
                lambda t: F.max_pool2d(t, dilation=dilation, **args), x)
    for cip in (False, True):
        _compare_op(partial(TF.avg_pool2d, count_include_pad=cip, **args),
                    partial(F.avg_pool2d, count_include_pad=cip, **args), x)


@pytest.mark.parametrize("output_size", [1, 3, (2, 5), (None, 3), (4, None), (7, 7), [None, 2]],
                         ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 10, 13), (1, 1, 1, 1)])
def test_adaptive_pool2d_matches_torch(shape, output_size):
    x = np.random.default_rng(9).integers(0, 3, shape).astype(np.float64)
    _compare_op(lambda t: TF.adaptive_avg_pool2d(t, output_size),
                lambda t: F.adaptive_avg_pool2d(t, output_size), x)
    _compare_op(lambda t: TF.adaptive_max_pool2d(t, output_size, True),
                lambda t: F.adaptive_max_pool2d(t, output_size, True), x)


@pytest.mark.parametrize("L, OL", [(1, 3), (5, 3), (7, 4), (10, 7), (13, 13)])
def test_adaptive_pool1d_matches_torch(L, OL):
    for shape in ((2, 3, L), (3, L)):
        x = np.random.default_rng(L).integers(0, 3, shape).astype(np.float64)
        _compare_op(lambda t: TF.adaptive_avg_pool1d(t, OL),
                    lambda t: F.adaptive_avg_pool1d(t, OL), x)
        _compare_op(lambda t: TF.adaptive_max_pool1d(t, OL, True),
                    lambda t: F.adaptive_max_pool1d(t, OL, True), x)


def test_max_pools_with_nan_and_inf_match_torch():
    rng = np.random.default_rng(10)
    for _ in range(20):
        x = rng.integers(0, 3, (2, 2, 5, 7)).astype(np.float64)
        x[rng.random(x.shape) < 0.15] = np.nan
        x[rng.random(x.shape) < 0.1] = -np.inf
        _compare_op(lambda t: TF.max_pool2d(t, 3, 2, 1, ceil_mode=True, return_indices=True),
                    lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True, return_indices=True), x)
        _compare_op(lambda t: TF.adaptive_max_pool2d(t, (3, 4), True),
                    lambda t: F.adaptive_max_pool2d(t, (3, 4), True), x)


def test_adaptive_avg_pool_empty_spatial_dim_raises_clearly():
    """Regression: an empty H, W or L failed with a bare ZeroDivisionError in the kernel;
    torch raises 'Expected input to have non-zero size for non-batch dimensions'."""
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: .*non-empty.*\(1, 1, 0, 5\)"):
        F.adaptive_avg_pool2d(tg.randn(1, 1, 0, 5), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool1d: .*non-empty.*\(1, 2, 0\)"):
        F.adaptive_avg_pool1d(tg.randn(1, 2, 0), 2)
    assert F.adaptive_avg_pool2d(tg.randn(0, 1, 4, 5), 2).shape == (0, 1, 2, 2)  # empty batch ok


def test_adaptive_avg_pool2d_numpy_int_output_size():
    """Regression: a NumPy integer output_size raised "'numpy.int64' object is not iterable"."""
    x = np.random.default_rng(11).standard_normal((1, 2, 5, 7))
    y = F.adaptive_avg_pool2d(tg.tensor(x), np.int64(3))
    _close(y, TF.adaptive_avg_pool2d(torch.tensor(x), 3))


def test_pool_gradcheck_small():
    rng = np.random.default_rng(12)
    distinct = tg.tensor(rng.permutation(35).reshape(1, 1, 5, 7) * 0.1, requires_grad=True)
    assert tg.gradgradcheck(lambda x: F.max_pool2d(x, (2, 3), (1, 2), 1, ceil_mode=True),
                            [distinct])
    smooth = tg.tensor(rng.standard_normal((1, 2, 5, 7)), requires_grad=True)
    assert tg.gradgradcheck(
        lambda x: F.avg_pool2d(x, (2, 3), 2, 1, ceil_mode=True, count_include_pad=False),
        [smooth])
    assert tg.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [smooth])
