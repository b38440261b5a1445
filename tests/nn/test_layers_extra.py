"""ParameterList/ParameterDict, the padding layers, 1-d pooling, RMSNorm and the activations
LogSigmoid, SELU, CELU, GLU and Softmin against torch 2.13: forward, backward (with a random
upstream gradient), float64 numerical gradients, reprs and state_dict keys."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import assert_close, check_op

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as NF

# ----------------------------------------------------------------------------------------------
# ParameterList / ParameterDict
# ----------------------------------------------------------------------------------------------


def test_parameter_list_registers_indexes_and_reprs_like_torch():
    params = nn.ParameterList([nn.Parameter(tg.zeros(3)), tg.ones(2, 3, dtype=np.float64)])
    th = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(3)),
                                 torch.ones(2, 3, dtype=torch.float64)])
    assert repr(params) == repr(th)
    assert isinstance(params[1], nn.Parameter) and params[1].requires_grad
    assert params[-1] is params[1]
    params.append(tg.ones(4))
    params.extend([nn.Parameter(tg.ones(1))])
    params += [tg.zeros(5)]
    assert len(params) == 5
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2", "3", "4"]
    assert list(params.state_dict()) == ["0", "1", "2", "3", "4"]
    assert [tuple(p.shape) for p in params] == [(3,), (2, 3), (4,), (1,), (5,)]
    assert [tuple(p.shape) for p in params[1:3]] == [(2, 3), (4,)]
    params[0] = tg.full((2,), 7.0)
    assert params[0].tolist() == [7.0, 7.0] and isinstance(params[0], nn.Parameter)
    with pytest.raises(IndexError):
        params[5]
    with pytest.raises(TypeError, match="iterable"):
        params.extend(3)
    with pytest.raises(RuntimeError, match="should not be called"):
        params(tg.ones(1))
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList()) == "ParameterList()"


def test_parameter_list_inside_a_model_trains_and_loads():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([nn.Parameter(tg.ones(3)) for _ in range(2)])

        def forward(self, x):
            for s in self.scales:
                x = x * s
            return x

    model = Model()
    assert list(model.state_dict()) == ["scales.0", "scales.1"]
    model(tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert model.scales[0].grad.tolist() == [1.0, 2.0, 3.0]
    other = Model()
    with tg.no_grad():
        other.scales[1].copy_(tg.full((3,), 2.0))
    model.load_state_dict(other.state_dict())
    assert model.scales[1].tolist() == [2.0, 2.0, 2.0]


def test_parameter_dict_keys_order_and_reprs_like_torch():
    params = nn.ParameterDict({"b": nn.Parameter(tg.zeros(3)), "a": tg.ones(2)})
    th = torch.nn.ParameterDict({"b": torch.nn.Parameter(torch.zeros(3)), "a": torch.ones(2)})
    assert repr(params) == repr(th)  # a plain dict goes in sorted order
    assert list(params) == list(th) == ["a", "b"]
    assert list(params.state_dict()) == ["a", "b"]
    assert isinstance(params["a"], nn.Parameter)
    params.update([("z", tg.ones(1)), ("c", tg.ones(2, dtype=np.float64))])  # pairs: in order
    th.update([("z", torch.ones(1)), ("c", torch.ones(2, dtype=torch.float64))])
    assert repr(params) == repr(th)
    assert [n for n, _ in params.named_parameters()] == ["a", "b", "z", "c"]
    assert "z" in params and "y" not in params and len(params) == 4
    assert params.get("y") is None
    z = params.pop("z")
    assert tuple(z.shape) == (1,) and "z" not in params and "z" not in params.state_dict()
    key, value = params.popitem()
    assert key == "c" and tuple(value.shape) == (2,)
    assert list(params.keys()) == ["a", "b"] and len(params.values()) == 2
    params.setdefault("d", tg.zeros(1))
    assert list(params) == ["a", "b", "d"]
    merged = params | nn.ParameterDict({"e": tg.ones(1)})
    assert list(merged) == ["a", "b", "d", "e"] and merged["a"] is params["a"]
    with pytest.raises(TypeError, match="not a string"):
        params[0]
    with pytest.raises(RuntimeError, match="should not be called"):
        params(tg.ones(1))
    params.clear()
    assert len(params) == 0 and list(params.parameters()) == []
    assert repr(params) == "ParameterDict()"


# ----------------------------------------------------------------------------------------------
# Padding layers
# ----------------------------------------------------------------------------------------------

PADDINGS = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad1d", ((1, 3),), (3, 5)),
    ("ConstantPad1d", ((2, 1), 3.5), (2, 3, 5)),
    ("ReflectionPad1d", ((2, 3),), (2, 3, 5)),
    ("ReplicationPad1d", (2,), (3, 5)),
    ("CircularPad1d", ((1, 4),), (2, 3, 5)),
    ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    ("ConstantPad2d", (1, -2.0), (3, 4, 5)),
    ("ReflectionPad2d", ((1, 2, 3, 1),), (2, 3, 4, 5)),
    ("ReplicationPad2d", (2,), (2, 3, 4, 5)),
    ("CircularPad2d", ((1, 2, 3, 0),), (3, 4, 5)),
]


@pytest.mark.parametrize("name, args, shape", PADDINGS)
def test_padding_layers_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding
    assert list(ours.state_dict()) == []
    check_op(ours, theirs, [shape])


# ----------------------------------------------------------------------------------------------
# 1-d pooling
# ----------------------------------------------------------------------------------------------


def _distinct(shape, seed=0):
    """Inputs without ties (max pooling's argmax and its numerical gradient are then clear)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) - 0.5]


MAX_POOL_1D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, dilation=2),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=(3,), stride=(1,), padding=(1,)),
]


@pytest.mark.parametrize("kwargs", MAX_POOL_1D)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 8)])
def test_max_pool1d_matches_torch(kwargs, shape):
    check_op(lambda x: NF.max_pool1d(x, **kwargs), lambda x: TF.max_pool1d(x, **kwargs),
             [shape], inputs=_distinct(shape))
    check_op(nn.MaxPool1d(**kwargs), torch.nn.MaxPool1d(**kwargs), [shape],
             inputs=_distinct(shape), gradcheck=False)


def test_max_pool1d_return_indices_and_repr():
    x = _distinct((2, 3, 9))[0]
    y, index = nn.MaxPool1d(3, 2, 1, return_indices=True)(tg.tensor(x))
    ty, tindex = torch.nn.MaxPool1d(3, 2, 1, return_indices=True)(torch.tensor(x))
    assert_close(y, ty)
    assert index.dtype == np.int64 and np.array_equal(index.numpy(), tindex.numpy())
    for args in [(3,), (3, 2, 1, 2, False, True)]:
        assert repr(nn.MaxPool1d(*args)) == repr(torch.nn.MaxPool1d(*args))


AVG_POOL_1D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
]


@pytest.mark.parametrize("kwargs", AVG_POOL_1D)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 8)])
def test_avg_pool1d_matches_torch(kwargs, shape):
    check_op(lambda x: NF.avg_pool1d(x, **kwargs), lambda x: TF.avg_pool1d(x, **kwargs),
             [shape])
    ours, theirs = nn.AvgPool1d(**kwargs), torch.nn.AvgPool1d(**kwargs)
    assert repr(ours) == repr(theirs)
    check_op(ours, theirs, [shape], gradcheck=False)


@pytest.mark.parametrize("size", [1, 3, 4, 7, 9])
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 7)])
def test_adaptive_avg_pool1d_matches_torch(size, shape):
    check_op(lambda x: NF.adaptive_avg_pool1d(x, size),
             lambda x: TF.adaptive_avg_pool1d(x, size), [shape])
    assert repr(nn.AdaptiveAvgPool1d(size)) == repr(torch.nn.AdaptiveAvgPool1d(size))


@pytest.mark.parametrize("call, message", [
    (lambda x: NF.max_pool1d(x, 3, padding=2), "max_pool1d: pad should be at most half"),
    (lambda x: NF.max_pool1d(x, 0), "max_pool1d: kernel_size must be >= 1"),
    (lambda x: NF.avg_pool1d(x, 2, stride=0), "avg_pool1d: stride should not be zero"),
    (lambda x: NF.max_pool1d(x, 9), "max_pool1d: kernel_size 9 .* output length"),
    (lambda x: NF.avg_pool1d(x.reshape(1, 1, 2, 4), 2), "avg_pool1d: expected a 2-d"),
    (lambda x: NF.max_pool1d(x, (2, 2)), "max_pool1d: kernel_size must be an int"),
    (lambda x: NF.adaptive_avg_pool1d(x, 0), "adaptive_avg_pool1d: output_size must be >= 1"),
])
def test_pool1d_errors_speak_in_1d_terms(call, message):
    with pytest.raises(ValueError, match=message):
        call(tg.zeros(1, 2, 4))


# ----------------------------------------------------------------------------------------------
# RMSNorm
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, normalized", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                               ((5,), 5)])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(shape, normalized, eps):
    as_tuple = (normalized,) if isinstance(normalized, int) else normalized  # torch's F form
    check_op(lambda x, w: NF.rms_norm(x, normalized, w, eps),
             lambda x, w: TF.rms_norm(x, as_tuple, w, eps), [shape, as_tuple])
    check_op(lambda x: NF.rms_norm(x, normalized, eps=eps),
             lambda x: TF.rms_norm(x, as_tuple, eps=eps), [shape])


def test_rms_norm_default_eps_is_the_dtype_epsilon():
    x = np.full((2, 3), 1e-5)  # mean(x^2) ~ 1e-10: eps (2.2e-16 or 1.2e-7) shows
    for dtype, th_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        ours = NF.rms_norm(tg.tensor(x.astype(dtype)), (3,))
        theirs = TF.rms_norm(torch.tensor(x, dtype=th_dtype), (3,))
        assert_close(ours, theirs, dtype)


def test_rms_norm_module_matches_torch():
    for args in [(4,), ((3, 4), 1e-3, False)]:
        ours, theirs = nn.RMSNorm(*args), torch.nn.RMSNorm(*args)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    ours, theirs = nn.RMSNorm((3, 4)), torch.nn.RMSNorm((3, 4))
    w = np.random.default_rng(1).uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    ours.load_state_dict({"weight": w})
    theirs.load_state_dict({"weight": torch.tensor(w)})
    x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    tx, thx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(tx), theirs(thx)
    assert_close(y, ty, np.float32)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(tx.grad, thx.grad, np.float32)
    assert_close(ours.weight.grad, theirs.weight.grad, np.float32)
    with pytest.raises(ValueError, match="normalized_shape"):
        ours(tg.zeros(2, 4, 3))
    with pytest.raises(TypeError, match="RMSNorm"):
        ours(tg.zeros(2, 3, 4, dtype=np.float64))


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------

ACTIVATIONS = [
    (lambda x: NF.logsigmoid(x), TF.logsigmoid, nn.LogSigmoid(), torch.nn.LogSigmoid()),
    (lambda x: NF.selu(x), TF.selu, nn.SELU(), torch.nn.SELU()),
    (lambda x: NF.celu(x), TF.celu, nn.CELU(), torch.nn.CELU()),
    (lambda x: NF.celu(x, 0.5), lambda x: TF.celu(x, 0.5), nn.CELU(0.5), torch.nn.CELU(0.5)),
    (lambda x: NF.glu(x), TF.glu, nn.GLU(), torch.nn.GLU()),
    (lambda x: NF.glu(x, 1), lambda x: TF.glu(x, 1), nn.GLU(1), torch.nn.GLU(1)),
    (lambda x: NF.softmin(x, 1), lambda x: TF.softmin(x, 1), nn.Softmin(1),
     torch.nn.Softmin(1)),
    (lambda x: NF.softmin(x, -1), lambda x: TF.softmin(x, -1), nn.Softmin(-1),
     torch.nn.Softmin(-1)),
]


@pytest.mark.parametrize("ours, theirs, layer, torch_layer", ACTIVATIONS)
def test_activations_match_torch(ours, theirs, layer, torch_layer):
    check_op(ours, theirs, [(3, 4, 6)], low=-4.0, high=4.0)
    check_op(layer, torch_layer, [(3, 4, 6)], low=-4.0, high=4.0, gradcheck=False)
    assert repr(layer) == repr(torch_layer)


def test_activation_reprs_and_errors():
    for args in [(), (2.0, True)]:
        assert repr(nn.CELU(*args)) == repr(torch.nn.CELU(*args))
    assert repr(nn.SELU(True)) == repr(torch.nn.SELU(True))
    assert repr(nn.Softmin()) == repr(torch.nn.Softmin())
    with pytest.raises(ValueError, match="halving dimension must be even"):
        NF.glu(tg.zeros(2, 3))
    with pytest.raises(ValueError, match="scalars"):
        NF.glu(tg.tensor(1.0))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmin()(tg.tensor([[1.0, 2.0]]))
    assert_close(y, torch.softmax(-torch.tensor([[1.0, 2.0]]), 1), np.float32)
    assert_close(NF.softmin(tg.tensor([1.0, 2.0]), 0, dtype=np.float64),
                 TF.softmin(torch.tensor([1.0, 2.0]), 0, dtype=torch.float64))
    assert type(nn.functional.selu(tg.zeros(1))) is tg.Tensor
    assert isinstance(nn.SELU()(tg.zeros(1)), tg.Tensor)
