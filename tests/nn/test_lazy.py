"""Lazy layers (nn/lazy.py) against the regular layers and torch 2.13's lazy layers: after one
forward the class, repr, parameter shapes and state_dict keys are the regular layer's (and
torch's); forward and backward equal the regular layer with the same weights; the init draws
what the regular constructor draws; errors before materializing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import lazy as L

# (lazy class, regular class, torch lazy class, constructor args, input shape)
CASES = [
    (L.LazyLinear, nn.Linear, torch.nn.LazyLinear, (5,), (3, 2, 7)),
    (L.LazyLinear, nn.Linear, torch.nn.LazyLinear, (4,), (6,)),
    (L.LazyConv1d, nn.Conv1d, torch.nn.LazyConv1d, (6, 3), (2, 4, 9)),
    (L.LazyConv2d, nn.Conv2d, torch.nn.LazyConv2d, (6, 3, 2, 1, 1, 2), (2, 4, 7, 8)),
    (L.LazyConv2d, nn.Conv2d, torch.nn.LazyConv2d, (4, 3), (3, 6, 5)),  # unbatched
    (L.LazyConv3d, nn.Conv3d, torch.nn.LazyConv3d, (4, 2), (2, 3, 4, 5, 4)),
    (L.LazyConvTranspose1d, nn.ConvTranspose1d, torch.nn.LazyConvTranspose1d, (6, 3, 2),
     (2, 3, 5)),
    (L.LazyConvTranspose2d, nn.ConvTranspose2d, torch.nn.LazyConvTranspose2d,
     (4, 3, 2, 1, 1, 2), (2, 6, 4, 5)),
    (L.LazyConvTranspose3d, nn.ConvTranspose3d, torch.nn.LazyConvTranspose3d, (2, 2),
     (2, 3, 3, 4, 3)),
    (L.LazyBatchNorm1d, nn.BatchNorm1d, torch.nn.LazyBatchNorm1d, (), (8, 5)),
    (L.LazyBatchNorm2d, nn.BatchNorm2d, torch.nn.LazyBatchNorm2d, (), (4, 3, 5, 5)),
    (L.LazyBatchNorm3d, nn.BatchNorm3d, torch.nn.LazyBatchNorm3d, (), (2, 3, 3, 4, 3)),
    (L.LazyInstanceNorm1d, nn.InstanceNorm1d, torch.nn.LazyInstanceNorm1d,
     (1e-5, 0.1, False, False), (2, 3, 7)),
    (L.LazyInstanceNorm2d, nn.InstanceNorm2d, torch.nn.LazyInstanceNorm2d, (1e-5, 0.1, True,
                                                                             False), (2, 3, 5, 4)),
    (L.LazyInstanceNorm3d, nn.InstanceNorm3d, torch.nn.LazyInstanceNorm3d,
     (1e-5, 0.1, True, True), (2, 3, 4, 3, 5)),
]
IDS = [f"{case[0].__name__}-{i}" for i, case in enumerate(CASES)]


def _in_size(lazy_cls, shape) -> int:
    if lazy_cls is L.LazyLinear:
        return shape[-1]
    if issubclass(lazy_cls, L._LazyConvMixin):
        return shape[-lazy_cls.dims - 1]
    if lazy_cls in (L.LazyInstanceNorm1d, L.LazyInstanceNorm2d, L.LazyInstanceNorm3d):
        return shape[len(shape) - lazy_cls._no_batch_ndim]
    return shape[1]


@pytest.mark.filterwarnings("ignore:input's size at dim")  # torch's, num_features left 0
@pytest.mark.parametrize("lazy_cls, regular_cls, torch_cls, args, shape", CASES, ids=IDS)
def test_after_one_forward_it_is_the_regular_layer(lazy_cls, regular_cls, torch_cls, args,
                                                   shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours = lazy_cls(*args)
    theirs = torch_cls(*args)
    assert repr(ours) == repr(theirs)  # before: LazyLinear(in_features=0, ...)
    ours(tg.tensor(x))
    theirs(torch.tensor(x))
    regular = regular_cls(_in_size(lazy_cls, shape), *args)
    assert type(ours) is regular_cls
    n = _in_size(lazy_cls, shape)
    if not list(theirs.state_dict()):  # torch leaves num_features 0 when nothing was lazy
        assert repr(theirs).startswith(f"{regular_cls.__name__}(0,")
        theirs.num_features = n
    assert repr(ours) == repr(regular) == repr(theirs)
    assert list(ours.state_dict()) == list(regular.state_dict()) == list(theirs.state_dict())
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert type(p) is nn.Parameter, name
        assert tuple(p.shape) == tuple(q.shape), name
    for (name, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers(), strict=True):
        assert type(b) is tg.Tensor and tuple(b.shape) == tuple(c.shape), name
        assert b.dtype == np.dtype(str(c.dtype).removeprefix("torch.")), name


@pytest.mark.parametrize("lazy_cls, regular_cls, torch_cls, args, shape", CASES, ids=IDS)
def test_forward_backward_equal_the_regular_layer(lazy_cls, regular_cls, torch_cls, args,
                                                  shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    ours = lazy_cls(*args)
    ours(tg.tensor(x))  # the dry forward
    regular = regular_cls(_in_size(lazy_cls, shape), *args)
    with tg.no_grad():
        for p in regular.parameters():  # other weights than the init's, to test the copy
            p.copy_(rng.standard_normal(p.shape).astype(np.float32))
    ours.load_state_dict(regular.state_dict())
    xs = [tg.tensor(x, requires_grad=True) for _ in range(2)]
    ys = [ours(xs[0]), regular(xs[1])]
    upstream = rng.standard_normal(ys[0].shape).astype(np.float32)
    for y in ys:
        (y * tg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ys[0].data, ys[1].data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xs[0].grad.data, xs[1].grad.data, rtol=1e-6, atol=1e-6)
    for p, q in zip(ours.parameters(), regular.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-6, atol=1e-6)
    for b, c in zip(ours.buffers(), regular.buffers(), strict=True):  # running stats moved
        np.testing.assert_allclose(b.data, c.data, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("lazy_cls, regular_cls, torch_cls, args, shape", CASES, ids=IDS)
def test_init_draws_what_the_regular_constructor_draws(lazy_cls, regular_cls, torch_cls,
                                                       args, shape):
    x = tg.tensor(np.ones(shape, dtype=np.float32))
    tg.manual_seed(123)
    ours = lazy_cls(*args).eval()  # draws nothing: the generator is where the seed left it
    ours(x)  # eval: the running statistics stay at their init
    tg.manual_seed(123)
    regular = regular_cls(_in_size(lazy_cls, shape), *args)
    for (name, b), (_, c) in zip(ours.state_dict().items(), regular.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(b.data, c.data, err_msg=name)


@pytest.mark.parametrize("lazy_cls, args, shape", [
    (L.LazyLinear, (200,), (4, 50)),
    (L.LazyConv2d, (64, 3), (2, 12, 5, 5)),
    (L.LazyConvTranspose2d, (12, 3, 1, 0, 0, 3), (2, 48, 5, 5)),
])
def test_init_bounds_and_statistics(lazy_cls, args, shape):
    m = lazy_cls(*args)
    m(tg.zeros(*shape))
    fan_in = m.weight.shape[1] * int(np.prod(m.weight.shape[2:]))
    bound = 1 / np.sqrt(fan_in)
    for p in (m.weight, m.bias):
        assert np.abs(p.data).max() <= bound
    w = m.weight.data
    assert np.abs(w.max() - bound) < 0.05 * bound and np.abs(w.min() + bound) < 0.05 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound  # U(-b, b): std b / sqrt(3)


def test_uninitialized_state_before_the_first_forward():
    m = L.LazyConv2d(8, 3, bias=True)
    weight, bias = m.weight, m.bias
    assert L.is_lazy(weight) and m.has_uninitialized_params()
    assert repr(weight) == "<UninitializedParameter>"
    assert len(list(m.parameters())) == 2  # yielded, as torch's, but uninitialized
    with pytest.raises(RuntimeError, match="shape of an UninitializedParameter.*dry forward"):
        weight.shape  # noqa: B018
    assert list(m.state_dict()) == ["weight", "bias"]
    m.double()  # dtype and device are remembered for the materialization
    m(tg.randn(1, 2, 5, 5, dtype=tg.float64))
    assert m.weight is weight and m.bias is bias  # materialized in place
    assert type(weight) is nn.Parameter and weight.dtype == np.float64
    assert weight.shape == (8, 2, 3, 3) and weight.requires_grad


def test_dtype_argument_and_input_dtype_check():
    m = L.LazyLinear(3, dtype=tg.float64)
    with pytest.raises(TypeError, match="dtype float32 but the parameters are float64"):
        m(tg.randn(2, 4))  # the regular forward's check, after materializing
    assert type(m) is nn.Linear and m.weight.dtype == np.float64


def test_optimizer_before_materializing_is_a_clear_error():
    model = nn.Sequential(L.LazyLinear(8), nn.ReLU(), L.LazyLinear(2))
    with pytest.raises(RuntimeError, match="not materialized yet.*dry forward"):
        tg.optim.SGD(model.parameters(), lr=0.1)
    model(tg.randn(3, 5))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    model(tg.randn(3, 5)).sum().backward()
    opt.step()
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("make, shape, match", [
    (lambda: L.LazyLinear(3), (), "0-d tensor"),
    (lambda: L.LazyConv2d(4, 3), (2, 3, 5), None),  # unbatched: fine
    (lambda: L.LazyConv2d(4, 3), (5, 5), r"expected input \(N, C, H, W\) or \(C, H, W\)"),
    (lambda: L.LazyConv1d(4, 3), (1, 2, 3, 5), r"expected input \(N, C, L\)"),
    (lambda: L.LazyConv2d(4, 3, groups=2), (1, 3, 5, 5), "3 channels, which groups=2"),
    (lambda: L.LazyConvTranspose3d(4, 3), (3, 5, 5), r"\(N, C, D, H, W\)"),
    (lambda: L.LazyBatchNorm2d(), (2, 3, 5), "expected 4D"),
    (lambda: L.LazyBatchNorm1d(), (5,), "expected 2D"),
    (lambda: L.LazyInstanceNorm1d(), (2, 3, 4, 5), "expected 2D"),
])
def test_wrong_input_ndim(make, shape, match):
    m = make()
    x = tg.zeros(*shape)
    if match is None:
        m(x)
        return
    with pytest.raises(ValueError, match=match):
        m(x)
    assert m.has_uninitialized_params()  # still lazy: a right input works afterwards


def test_lazy_norm_defaults_are_torchs():
    assert repr(L.LazyInstanceNorm2d()) == repr(torch.nn.LazyInstanceNorm2d())
    m = L.LazyInstanceNorm2d()
    m(tg.randn(2, 3, 4, 4))
    assert m.affine and m.track_running_stats and m.running_mean.shape == (3,)


def test_unbatched_instance_norm_input():  # torch's lazy InstanceNorm reads dim 1 here
    m = L.LazyInstanceNorm3d()
    x = tg.randn(4, 3, 5, 2)  # (C, D, H, W)
    y = m(x)
    assert m.num_features == 4 and m.weight.shape == (4,)
    regular = nn.InstanceNorm3d(4, affine=True, track_running_stats=True)
    np.testing.assert_allclose(y.data, regular(x).data, rtol=1e-6, atol=1e-6)


def test_non_tensor_input():
    with pytest.raises(TypeError, match="LazyLinear: expected a Tensor input, got ndarray"):
        L.LazyLinear(3)(np.zeros((2, 3)))


@pytest.mark.parametrize("lazy, regular", [
    (lambda: L.LazyLinear(4), lambda: nn.Linear(6, 4)),
    (lambda: L.LazyConv2d(4, 3, groups=2), lambda: nn.Conv2d(6, 4, 3, groups=2)),
    (lambda: L.LazyConvTranspose1d(4, 3, groups=2), lambda: nn.ConvTranspose1d(6, 4, 3, groups=2)),
    (lambda: L.LazyBatchNorm1d(), lambda: nn.BatchNorm1d(6)),
])
def test_load_state_dict_materializes_like_torch(lazy, regular):
    source = regular()
    m = lazy()
    m.load_state_dict(source.state_dict())
    assert type(m) is type(source) and repr(m) == repr(source)
    for (name, a), (_, b) in zip(m.state_dict().items(), source.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_load_state_dict_into_an_enclosing_model_materializes_its_lazy_layers():
    """As torch: the checkpoint's shapes fill every lazy layer inside the model, which then
    become the regular layers with the checkpoint's values."""
    tg.manual_seed(0)
    source = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model = nn.Sequential(L.LazyLinear(4), nn.ReLU(), L.LazyBatchNorm1d(), L.LazyLinear(2))
    model.load_state_dict(source.state_dict())
    assert [type(m) for m in model] == [type(m) for m in source]
    assert repr(model) == repr(source)
    for (name, a), (_, b) in zip(model.state_dict().items(), source.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    x = tg.randn(5, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), source(x).detach().numpy())


def test_load_state_dict_with_keys_missing_leaves_those_layers_lazy():
    model = nn.Sequential(L.LazyLinear(4), L.LazyLinear(2))
    state = nn.Sequential(nn.Linear(3, 4)).state_dict()  # only the first layer's keys
    model.load_state_dict(state, strict=False)
    assert type(model[0]) is nn.Linear and L.is_lazy(model[1].weight)
    with pytest.raises(RuntimeError, match="missing keys"):
        nn.Sequential(L.LazyLinear(4), L.LazyLinear(2)).load_state_dict(state)
