"""The Module API (parameters, traversal, modes, devices/dtypes, state_dict, repr, hooks,
containers) and nn.utils (gradient clipping, parameter vectors), checked against torch."""

import math
import re

import numpy as np
import pytest
import torch
from helpers import assert_close

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.register_buffer("mask", tg.ones(3), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)).relu() * self.mask


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(3, 2, bias=False)
        self.scale = nn.Parameter(tg.ones(1))

    def forward(self, x):
        return self.head(self.block(x)) * self.scale


# ----------------------------------------------------------------------------------------------
# Registration and traversal
# ----------------------------------------------------------------------------------------------


def test_named_parameters_buffers_children_and_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "block.fc.weight", "block.fc.bias", "block.bn.weight",
                     "block.bn.bias", "head.weight"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_buffers()] == [
        "block.mask", "block.bn.running_mean", "block.bn.running_var",
        "block.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.bn", "head"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Block", "Linear",
                                                          "BatchNorm1d", "Linear"]
    assert net.get_submodule("block.bn") is net.block.bn
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


def test_shared_parameters_are_listed_once_but_saved_under_both_names():
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3)
    b.weight = a.weight  # tied weights
    model = nn.Sequential(a, b)
    assert len(list(model.parameters())) == 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    shared = nn.Sequential(a, a)
    assert [n for n, _ in shared.named_modules()] == ["", "0"]
    assert list(shared.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_assignment_rules_match_torch():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        layer.weight = layer.weight * 2
    layer.bias = None  # allowed: declares the parameter absent
    assert layer.bias is None and "bias" not in dict(layer.named_parameters())
    seq = nn.Sequential(nn.ReLU())
    seq.extra = nn.Tanh()
    with pytest.raises(TypeError, match="child module 'extra'"):
        seq.extra = 3
    bn = nn.BatchNorm1d(2)
    bn.running_mean = tg.full((2,), 5.0)
    assert bn.running_mean.tolist() == [5.0, 5.0] and "running_mean" in bn.state_dict()
    with pytest.raises(TypeError, match="buffer 'running_var'"):
        bn.running_var = [1.0, 1.0]
    with pytest.raises(TypeError, match=r"nn.Parameter or None required"):
        bn.register_parameter("p", tg.ones(2))
    with pytest.raises(KeyError, match="already exists"):
        bn.register_buffer("weight", tg.ones(2))
    with pytest.raises(KeyError, match="without '.'"):
        bn.register_buffer("a.b", tg.ones(2))


def test_module_without_super_init_explains():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_non_persistent_buffer_moves_but_is_not_saved():
    block = Block()
    assert "mask" not in block.state_dict()
    assert "mask" in dict(block.named_buffers())
    block.double()
    assert block.mask.dtype == np.float64


# ----------------------------------------------------------------------------------------------
# Modes, gradients, dtypes
# ----------------------------------------------------------------------------------------------


def test_train_eval_reach_every_module_through_train():
    calls = []

    class Frozen(nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), Frozen()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    assert calls == [False, True]  # an overridden train() is honoured, like torch
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(tg.randn(4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not np.any(p.grad.numpy()) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_keeps_parameter_identity_and_converts_grads():
    net = Net()
    weight = net.head.weight
    net(tg.randn(4, 4)).sum().backward()
    assert net.double() is net
    assert net.head.weight is weight
    assert weight.dtype == np.float64 and weight.grad.dtype == np.float64
    assert net.block.bn.num_batches_tracked.dtype == np.int64  # integer buffers are not cast
    net.to(tg.float32)
    assert weight.dtype == np.float32
    assert net.to("cpu") is net


def _to_call(module, how: str, dtype):
    if how == "positional":
        return module.to(dtype)
    if how == "keyword":
        return module.to(dtype=dtype)
    return module.to("cpu", dtype)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("how", ["positional", "keyword", "with device"])
def test_to_an_integer_dtype_is_refused_like_torch(dtype, how):
    """Before: the weights were cast to int and still required grad."""
    message = "nn.Module.to only accepts floating point or complex dtypes, but got desired dtype="
    ours = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=message + dtype):
        _to_call(ours, how, getattr(tg, "bool_" if dtype == "bool" else dtype))
    assert ours.weight.dtype == np.float32 and ours.weight.requires_grad
    with pytest.raises(TypeError, match=message):
        _to_call(torch.nn.Linear(2, 2), how, getattr(torch, dtype))


def test_half_casts_floating_parameters_grads_and_buffers_like_torch():
    ours, theirs = Net(), torch.nn.BatchNorm1d(3)
    ours(tg.randn(4, 4)).sum().backward()
    assert ours.half() is ours
    assert all(p.dtype == np.float16 and p.requires_grad for p in ours.parameters())
    assert all(p.grad.dtype == np.float16 for p in ours.parameters() if p.grad is not None)
    assert ours.block.bn.running_mean.dtype == np.float16
    assert ours.block.bn.num_batches_tracked.dtype == np.int64
    theirs.half()
    assert theirs.running_mean.dtype == torch.float16
    assert theirs.num_batches_tracked.dtype == torch.int64


@pytest.mark.gpu
def test_to_cuda_and_back():
    net = Net().to("cuda")
    assert all(p.device == "cuda:0" for p in net.parameters())
    out = net(tg.randn(4, 4, device="cuda"))
    assert out.device == "cuda:0"
    net.cpu()
    assert all(b.device == "cpu" for b in net.buffers())


# ----------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ----------------------------------------------------------------------------------------------


def test_state_dict_matches_torch_keys_and_round_trips():
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3),
                                 torch.nn.ReLU(), torch.nn.Linear(3, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ours.eval()
    theirs.eval()
    assert_close(ours(tg.tensor(x)), theirs(torch.tensor(x)), np.float32)


def test_state_dict_shares_memory_and_keep_vars():
    layer = nn.Linear(2, 2)
    state = layer.state_dict()
    assert not state["weight"].requires_grad
    with tg.no_grad():
        layer.weight.fill_(3.0)
    assert state["weight"].tolist() == [[3.0, 3.0], [3.0, 3.0]]  # a live view, like torch
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight
    assert list(layer.state_dict(prefix="enc.")) == ["enc.weight", "enc.bias"]


def test_load_state_dict_strict_errors_name_the_keys():
    layer = nn.Linear(3, 2)
    good = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"missing keys: \['bias'\]"):
        layer.load_state_dict({"weight": good["weight"]})
    with pytest.raises(RuntimeError, match=r"unexpected keys: \['extra'\]"):
        layer.load_state_dict({**good, "extra": np.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: checkpoint has shape "
                                           r"\(3, 3\), the model has \(2, 3\)"):
        layer.load_state_dict({**good, "weight": np.zeros((3, 3))})
    with pytest.raises(RuntimeError, match="size mismatch"):  # even when not strict, like torch
        layer.load_state_dict({"weight": np.zeros((3, 3))}, strict=False)
    missing, unexpected = layer.load_state_dict({"weight": np.ones((2, 3)), "x": 1},
                                                strict=False)
    assert missing == ["bias"] and unexpected == ["x"]
    assert layer.weight.tolist() == [[1.0] * 3] * 2
    with pytest.raises(TypeError, match="expected a dict"):
        layer.load_state_dict([good])


# ----------------------------------------------------------------------------------------------
# repr, hooks, containers
# ----------------------------------------------------------------------------------------------


def test_repr_shows_children_with_parameter_counts():
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10, bias=False))
    text = repr(model)
    assert "(0): Linear(in_features=784, out_features=128, bias=True)  # 100,480 params" in text
    assert "(1): ReLU()\n" in text
    assert "(2): Linear(in_features=128, out_features=10, bias=False)  # 1,280 params" in text
    assert text.endswith("# 101,760 parameters (101,760 trainable)")
    model[2].requires_grad_(False)
    assert repr(model).endswith("# 101,760 parameters (100,480 trainable)")
    assert repr(nn.BatchNorm2d(3)).startswith(
        "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)")  # torch 2.13's


def test_forward_hooks_and_pre_hooks():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append(tuple(out.shape)))
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    doubled = layer.register_forward_hook(lambda m, args, out: out * 2)
    again = layer.register_forward_hook(lambda m, args, out: seen.append("again"))
    out = layer(tg.ones(3, 2))
    assert seen == [(3, 2), "again"]
    assert_close(out, (layer.bias * 2).broadcast_to((3, 2)), np.float32)  # input zeroed, x2
    for h in (handle, pre, doubled, again):
        h.remove()
    out = layer(tg.ones(1, 2))
    assert seen == [(3, 2), "again"]
    assert_close(out, (layer.weight.sum(1) + layer.bias).reshape(1, 2), np.float32)


def test_sequential_container():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    assert seq(tg.ones(4, 2)).shape == (4, 1)
    named = nn.Sequential({"fc": a, "act": b})
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is a


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 1)).extend([nn.ReLU()])
    assert len(layers) == 4
    assert [n for n, _ in layers.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    replacement = nn.Tanh()
    layers[3] = replacement
    assert layers[-1] is replacement and isinstance(layers[:2], nn.ModuleList)
    heads = nn.ModuleDict({"cls": nn.Linear(2, 3)})
    heads["reg"] = nn.Linear(2, 1)
    assert "reg" in heads and len(heads) == 2 and list(heads) == ["cls", "reg"]
    assert [k for k, _ in heads.items()] == ["cls", "reg"]
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]


def test_apply_initializes_every_submodule():
    model = nn.MLP(4, [8, 8], 2)

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
            nn.init.constant_(m.weight, 0.5)

    model.apply(init_weights)
    assert all(float(p.abs().sum()) == 0.0 for n, p in model.named_parameters() if "bias" in n)
    assert model(tg.ones(1, 4)).tolist() == [[32.0, 32.0]]  # 0.5 * 4 = 2 -> 8 -> 32


# ----------------------------------------------------------------------------------------------
# nn.utils
# ----------------------------------------------------------------------------------------------


def _grads_pair(seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    grads = [rng.standard_normal(s) * scale for s in shapes]
    ours = [tg.zeros(s, dtype=tg.float64, requires_grad=True) for s in shapes]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for o, t, g in zip(ours, theirs, grads, strict=True):
        o.grad = tg.tensor(g)
        t.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _grads_pair()
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert_close(total, expected)
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o.grad, t.grad)


def test_clip_grad_norm_edge_cases():
    p = tg.zeros(3, requires_grad=True)
    assert float(clip_grad_norm_([p], 1.0)) == 0.0  # no gradients at all
    p.grad = tg.tensor([3.0, 4.0, 0.0])
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)  # a single tensor works too
    assert_close(p.grad, [0.6, 0.8, 0.0], np.float32)
    p.grad = tg.tensor([float("nan"), 1.0, 2.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([p], 1.0, norm_type="fro")


def test_clip_grad_norm_after_backward_with_shared_gradient_arrays():
    a = tg.tensor([3.0, 0.0], requires_grad=True)
    b = tg.tensor([0.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # both leaves receive the same upstream gradient
    total = clip_grad_norm_([a, b], 1.0)
    assert float(total) == pytest.approx(2.0)
    assert_close(a.grad, [0.5, 0.5], np.float32, atol=1e-6)
    assert_close(b.grad, [0.5, 0.5], np.float32, atol=1e-6)


def test_clip_grad_value_matches_torch():
    ours, theirs = _grads_pair(seed=1)
    clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o.grad, t.grad)


def test_parameters_to_vector_round_trip():
    model = nn.MLP(3, [4], 2)
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (model.num_parameters(),)
    first = model[0].weight
    vector_to_parameters(vec * 0 + 1, model.parameters())
    assert model[0].weight is first and float(first.sum()) == first.numel()
    vec.sum().backward()  # differentiable, like torch
    assert first.grad is not None
    with pytest.raises(ValueError, match=r"expected shape \(26,\)"):
        vector_to_parameters(tg.ones(5), model.parameters())
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters([1.0], model.parameters())


# ----------------------------------------------------------------------------------------------
# Container editing (fine-tuning surgery) against torch: names, order, state_dict keys
# ----------------------------------------------------------------------------------------------


def _layers(lib):
    """Linear(2, 3) - ReLU - Linear(3, 4) from ``lib`` (torch.nn or tinygrad_edu.nn)."""
    return [lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 4)]


def _layout(container):
    """Child names and what each child is, e.g. [("0", "Linear(2, 3)"), ("1", "ReLU")]."""
    def what(m):
        if hasattr(m, "in_features"):
            return f"Linear({m.in_features}, {m.out_features})"
        return type(m).__name__
    return [(name, what(m)) for name, m in container._modules.items()]


def _same_as_torch(edit, container="Sequential"):
    """Apply ``edit(lib, container)`` to twin containers; names, order and state_dict keys must
    match torch's."""
    def build(lib):
        if container == "ModuleList":
            return lib.ModuleList(_layers(lib))
        return lib.Sequential(*_layers(lib))
    ours, theirs = edit(nn, build(nn)), edit(torch.nn, build(torch.nn))
    assert _layout(ours) == _layout(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours


SEQUENTIAL_EDITS = {
    "slice 1:": lambda lib, s: s[1:],
    "slice ::2": lambda lib, s: s[::2],
    "slice -1:": lambda lib, s: s[-1:],
    "set -1": lambda lib, s: s.__setitem__(-1, lib.Linear(3, 5)) or s,
    "set 0": lambda lib, s: s.__setitem__(0, lib.Linear(2, 6)) or s,
    "del 0": lambda lib, s: s.__delitem__(0) or s,
    "del -1": lambda lib, s: s.__delitem__(-1) or s,
    "del 0:2": lambda lib, s: s.__delitem__(slice(0, 2)) or s,
    "del ::2": lambda lib, s: s.__delitem__(slice(None, None, 2)) or s,
    "insert 1": lambda lib, s: s.insert(1, lib.Linear(3, 3)),
    "insert 0": lambda lib, s: s.insert(0, lib.Linear(1, 2)),
    "insert len": lambda lib, s: s.insert(3, lib.Linear(4, 1)),
    "insert -1": lambda lib, s: s.insert(-1, lib.Linear(3, 3)),
    "insert -3": lambda lib, s: s.insert(-3, lib.Linear(1, 2)),
    "extend": lambda lib, s: s.extend([lib.Tanh(), lib.Linear(4, 1)]),
    "pop 1": lambda lib, s: s.pop(1) and s,
    "pop -1": lambda lib, s: s.pop(-1) and s,
    "pop slice": lambda lib, s: s.pop(slice(0, 2)),
    "del then append": lambda lib, s: s.__delitem__(1) or s.append(lib.Linear(4, 2)),
}


@pytest.mark.parametrize("edit", SEQUENTIAL_EDITS.values(), ids=SEQUENTIAL_EDITS.keys())
def test_sequential_editing_matches_torch(edit):
    _same_as_torch(edit)


def test_sequential_slice_keeps_names_and_shares_the_children():
    seq = nn.Sequential(*_layers(nn))
    tail = seq[1:]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]  # loadable into the full model
    assert tail[1] is seq[2] and tail(tg.ones(5, 3)).shape == (5, 4)
    named = nn.Sequential({"fc": nn.Linear(1, 2), "act": nn.ReLU(), "out": nn.Linear(2, 1)})
    assert list(named[1:]._modules) == ["act", "out"]
    del named[0]  # like torch, a delete renumbers: named children become "0", "1"
    assert list(named._modules) == ["0", "1"]


def test_sequential_editing_errors_name_the_container():
    seq = nn.Sequential(*_layers(nn))
    with pytest.raises(IndexError, match="Sequential: index 5 is out of range for 3 modules"):
        seq[5] = nn.ReLU()
    with pytest.raises(IndexError, match="out of range"):
        del seq[-4]
    with pytest.raises(IndexError, match="out of range"):
        seq.pop(3)
    with pytest.raises(IndexError, match=re.escape("expected -3 <= index <= 3")):
        seq.insert(4, nn.ReLU())
    with pytest.raises(TypeError, match="Sequential.insert: expected an nn.Module, got int"):
        seq.insert(0, 3)
    with pytest.raises(TypeError, match="cannot assign int as child module '0'"):
        seq[0] = 3
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        seq["1"]
    tail = seq[1:]  # children "1", "2": torch's append would silently replace "2"
    with pytest.raises(KeyError, match="the name '2' is already taken"):
        tail.append(nn.ReLU())
    assert len(tail) == 2 and tail[1] is seq[2]  # nothing was replaced


MODULELIST_EDITS = {
    "insert 0": lambda lib, m: m.insert(0, lib.Linear(5, 5)) or m,
    "insert 1": lambda lib, m: m.insert(1, lib.Linear(5, 5)) or m,
    "insert len": lambda lib, m: m.insert(3, lib.Linear(5, 5)) or m,
    "pop 1": lambda lib, m: m.pop(1) and m,
    "pop -1": lambda lib, m: m.pop(-1) and m,
    "del 0": lambda lib, m: m.__delitem__(0) or m,
    "del ::2": lambda lib, m: m.__delitem__(slice(None, None, 2)) or m,
    "iadd": lambda lib, m: m.__iadd__([lib.Linear(4, 4), lib.ReLU()]),
    "set -1": lambda lib, m: m.__setitem__(-1, lib.Linear(3, 7)) or m,
    "slice": lambda lib, m: m[1:],
}


@pytest.mark.parametrize("edit", MODULELIST_EDITS.values(), ids=MODULELIST_EDITS.keys())
def test_module_list_editing_matches_torch(edit):
    _same_as_torch(edit, "ModuleList")


def test_module_list_insert_negative_index_and_errors():
    layers = nn.ModuleList(_layers(nn))
    extra = nn.Tanh()
    layers.insert(-1, extra)  # before the last one, like list.insert (torch: KeyError '-1')
    assert layers[2] is extra and list(layers.state_dict()) == [
        "0.weight", "0.bias", "3.weight", "3.bias"]
    with pytest.raises(IndexError, match=re.escape("ModuleList.insert: insert index 9")):
        layers.insert(9, nn.ReLU())
    with pytest.raises(TypeError, match="ModuleList.extend: expected an iterable of modules"):
        layers += 3
    with pytest.raises(IndexError, match="ModuleList: index 4 is out of range for 4 modules"):
        layers.pop(4)
    popped = layers.pop(slice(0, 2))
    assert isinstance(popped, nn.ModuleList) and len(popped) == 2 and len(layers) == 2


def test_module_dict_update_pop_delete_match_torch():
    def edit(lib):
        heads = lib.ModuleDict({"a": lib.Linear(1, 2), "b": lib.ReLU()})
        heads.update({"b": lib.Linear(2, 2), "c": lib.Tanh()})  # "b" keeps its place
        heads.update([("z", lib.Linear(1, 1))])
        popped = heads.pop("a")
        del heads["c"]
        return heads, popped
    (ours, ours_popped), (theirs, theirs_popped) = edit(nn), edit(torch.nn)
    assert list(ours.keys()) == list(theirs.keys()) == ["b", "z"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours_popped.out_features == theirs_popped.out_features == 2
    with pytest.raises(KeyError):
        ours.pop("missing")
    with pytest.raises(TypeError, match="ModuleDict.update: expected a mapping"):
        ours.update(3)
    with pytest.raises(ValueError, match="element #0 has length 1"):
        ours.update([("x",)])
    ours.clear()
    assert len(ours) == 0 and list(ours.state_dict()) == []
