"""Review tests: nn.Module, the containers and save/load, checked against torch as the oracle.

Each test builds the same thing with ``torch.nn`` and ``tinygrad_edu.nn`` (the ``lib``
argument) and compares key lists, values, dtypes and error types.
"""

import copy
import io
import json
import os
import struct
from collections import OrderedDict
from types import MappingProxyType

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _t(lib, values, dtype="float32"):
    """A tensor of ``values`` for ``lib`` (torch.nn or tinygrad_edu.nn)."""
    array = np.array(values, dtype=dtype)
    return torch.from_numpy(array) if lib is tnn else tg.tensor(array)


def _both(build):
    """``build(lib)`` for torch and for us; exceptions are returned by type."""
    results = []
    for lib in (tnn, nn):
        try:
            results.append(build(lib))
        except Exception as e:  # noqa: BLE001 - the type is what gets compared
            results.append(type(e))
    return results


def _same(build):
    ours_torch, ours = _both(build)
    assert ours == ours_torch, (ours_torch, ours)
    return ours


def _roundtrip(obj):
    buffer = io.BytesIO()
    tg.save(obj, buffer)
    buffer.seek(0)
    return tg.load(buffer)


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------


def test_plain_attribute_before_init_is_allowed_like_torch():
    def build(lib):
        class M(lib.Module):
            def __init__(self):
                self.size = 3  # before super().__init__(): fine for a plain value
                super().__init__()
                self.fc = lib.Linear(self.size, 1)

        return M().size, [n for n, _ in M().named_parameters()]

    assert _same(build) == (3, ["fc.weight", "fc.bias"])


def test_parameter_or_module_before_init_is_an_attribute_error():
    def build(lib):
        class M(lib.Module):
            def __init__(self):
                self.fc = lib.Linear(1, 1)
                super().__init__()

        M()

    assert _same(build) is AttributeError


@pytest.mark.parametrize("register", ["register_parameter", "register_buffer", "add_module"])
@pytest.mark.parametrize("name, error", [(3, TypeError), ("", KeyError), ("a.b", KeyError),
                                         ("train", KeyError), ("forward", KeyError)])
def test_registration_name_checks_match_torch(register, name, error):
    def build(lib):
        getattr(lib.Module(), register)(name, None)

    assert _same(build) is error


def test_setattr_parameter_over_a_method_is_refused():
    def build(lib):
        m = lib.Module()
        m.eval = lib.Parameter(_t(lib, [1.0]))

    assert _same(build) is KeyError


def test_setattr_rules_replace_and_refuse_like_torch():
    def build(lib):
        m = lib.Linear(2, 2)
        out = []
        try:
            m.weight = _t(lib, np.ones((2, 2)))  # a plain tensor onto a parameter
        except TypeError:
            out.append("param refused")
        m.register_buffer("buf", _t(lib, [1.0]))
        try:
            m.buf = 3
        except TypeError:
            out.append("buffer refused")
        m.buf = _t(lib, [2.0])  # a tensor onto a buffer: still a buffer
        m.bias = None
        m.sub = lib.ReLU()
        m.sub = None
        out.append(list(m.state_dict()))
        out.append([n for n, _ in m.named_children()])
        m.buf = lib.Parameter(_t(lib, [3.0]))  # a Parameter replaces the buffer
        out.append(([n for n, _ in m.named_parameters()], [n for n, _ in m.named_buffers()]))
        return out

    assert _same(build)[:3] == ["param refused", "buffer refused", ["weight", "buf"]]


def test_deleting_a_non_persistent_buffer_forgets_its_persistence():
    def build(lib):
        m = lib.Module()
        m.register_buffer("b", _t(lib, [1.0]), persistent=False)
        del m.b
        m.register_buffer("b", _t(lib, [2.0]))
        first = list(m.state_dict())
        m.register_buffer("c", _t(lib, [2.0]), persistent=False)
        del m.c
        return first, list(m.state_dict())

    assert _same(build) == (["b"], ["b"])
    m = nn.Module()
    m.register_buffer("c", tg.ones(1), persistent=False)
    del m.c
    assert "c" not in m._non_persistent


# ----------------------------------------------------------------------------------------------
# Traversal
# ----------------------------------------------------------------------------------------------


def _shared(lib):
    class M(lib.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.Linear(2, 2)
            self.b = self.a  # the same child under two names
            self.bn = lib.BatchNorm1d(2)
            self.tied = self.a.weight  # the same parameter twice

    return M()


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_members_with_shared_modules_and_parameters(remove_duplicate):
    def build(lib):
        m = _shared(lib)
        kw = {"remove_duplicate": remove_duplicate}
        return ([n for n, _ in m.named_parameters(prefix="p", **kw)],
                [n for n, _ in m.named_buffers(**kw)],
                [n for n, _ in m.named_modules(prefix="r", **kw)],
                [n for n, _ in m.named_parameters(recurse=False, **kw)])

    _same(build)


def test_named_children_children_and_apply_visit_a_shared_child_once():
    def build(lib):
        m = _shared(lib)
        visited = []
        m.apply(lambda mod: visited.append(type(mod).__name__))
        return [n for n, _ in m.named_children()], len(list(m.children())), visited

    assert _same(build) == (["a", "bn"], 2, ["Linear", "BatchNorm1d", "M"])


def test_parameters_order_and_state_dict_order_match_torch():
    def build(lib):
        model = lib.Sequential(OrderedDict(
            conv=lib.Conv2d(1, 2, 3), bn=lib.BatchNorm2d(2),
            head=lib.Sequential(lib.Flatten(), lib.Linear(8, 3, bias=False)),
        ))
        model.register_buffer("scale", _t(lib, 1.0))
        model.register_buffer("mask", _t(lib, [1.0]), persistent=False)
        return ([n for n, _ in model.named_parameters()], list(model.state_dict()),
                [n for n, _ in model.named_buffers()],
                list(model.state_dict(prefix="x.", keep_vars=True)))

    _same(build)


def test_train_eval_requires_grad_and_zero_grad():
    def build(lib):
        m = lib.Sequential(lib.Linear(2, 2), lib.Sequential(lib.Dropout(), lib.BatchNorm1d(2)))
        m.eval()
        modes = [mod.training for mod in m.modules()]
        m[1].train()
        modes += [mod.training for mod in m.modules()]
        m.requires_grad_(False)
        flags = [p.requires_grad for p in m.parameters()]
        return modes, flags

    _same(build)


def test_zero_grad_set_to_none_false_zeros_in_place_even_after_inf():
    def build(lib):
        m = lib.Linear(2, 2)
        m.weight.grad = _t(lib, [[np.inf, -np.inf], [np.nan, 1.0]])
        grad = m.weight.grad
        m.zero_grad(set_to_none=False)
        return m.weight.grad.tolist(), m.weight.grad is grad, m.bias.grad

    assert _same(build) == ([[0.0, 0.0], [0.0, 0.0]], True, None)


def test_zero_grad_set_to_none_false_with_read_only_broadcast_grad():
    m = nn.Linear(3, 2)
    m(tg.ones(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.tolist() == [[0.0] * 3] * 2
    assert m.bias.grad.dtype == np.float32
    m(tg.ones(4, 3)).sum().backward()  # accumulates onto the zeros
    assert m.bias.grad.tolist() == [4.0, 4.0]


def test_to_double_half_float_keep_integer_buffers():
    def build(lib):
        m = lib.BatchNorm1d(2)
        dtypes = []
        for convert in (lambda: m.double(), lambda: m.half(), lambda: m.float()):
            convert()
            dtypes.append([str(t.dtype).replace("torch.", "") for t in m.state_dict().values()])
        return dtypes

    _same(build)


# ----------------------------------------------------------------------------------------------
# Hooks
# ----------------------------------------------------------------------------------------------


def test_forward_hooks_replace_inputs_and_outputs_and_are_removable():
    def build(lib):
        m = lib.Linear(2, 2)
        with (torch.no_grad() if lib is tnn else tg.no_grad()):
            m.weight.copy_(_t(lib, np.eye(2)))
            m.bias.zero_()
        seen = []
        pre = m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # not a tuple
        post = m.register_forward_hook(lambda mod, args, out: (seen.append(args[0].tolist()),
                                                                out + 1)[1])
        first = m(_t(lib, [[1.0, 2.0]])).tolist()
        pre.remove()
        second = m(_t(lib, [[1.0, 2.0]])).tolist()
        post.remove()
        post.remove()  # twice: no error
        third = m(_t(lib, [[1.0, 2.0]])).tolist()
        return first, second, third, seen

    assert _same(build) == ([[3.0, 5.0]], [[2.0, 3.0]], [[1.0, 2.0]],
                            [[[2.0, 4.0]], [[1.0, 2.0]]])


def test_a_hook_may_remove_itself_while_others_still_run():
    def build(lib):
        m = lib.Identity()
        calls = []

        def once(mod, args):
            calls.append("once")
            handle.remove()

        handle = m.register_forward_pre_hook(once)
        m.register_forward_pre_hook(lambda mod, args: calls.append("always"))
        m.register_forward_hook(lambda mod, args, out: calls.append("post"))
        m(_t(lib, [1.0]))
        m(_t(lib, [1.0]))
        return calls

    assert _same(build) == ["once", "always", "post", "always", "post"]


def test_hooks_prepend_with_kwargs_and_handle_context_manager():
    class Scale:
        def __init__(self, lib):
            class M(lib.Module):
                def forward(self, x, scale=1.0):
                    return x * scale
            self.m = M()

    def build(lib):
        m = Scale(lib).m
        calls = []
        m.register_forward_hook(lambda mod, args, out: calls.append("a"))
        m.register_forward_hook(lambda mod, args, out: calls.append("b"), prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 10.0}),
                                    with_kwargs=True)
        with m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["scale"],
                                     with_kwargs=True):
            inside = m(_t(lib, [1.0]), scale=2.0).tolist()
        outside = m(_t(lib, [1.0]), scale=2.0).tolist()
        return inside, outside, calls

    assert _same(build) == ([20.0], [10.0], ["b", "a", "b", "a"])


def test_with_kwargs_pre_hook_must_return_a_pair():
    def build(lib):
        m = lib.Identity()
        m.register_forward_pre_hook(lambda mod, args, kwargs: args[0], with_kwargs=True)
        m(_t(lib, [1.0]))

    assert _same(build) is RuntimeError


# ----------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ----------------------------------------------------------------------------------------------


def _two_layers(lib):
    return lib.Sequential(lib.Linear(1, 1), lib.Linear(1, 1))


def test_load_state_dict_non_strict_keys_in_torch_order():
    def build(lib):
        model = _two_layers(lib)
        state = dict(model.state_dict())
        del state["0.weight"], state["1.bias"]
        for key in ("1.foo", "zzz", "0.bar", "1.weight.x", "0"):
            state[key] = _t(lib, [0.0])
        result = model.load_state_dict(state, strict=False)
        return result.missing_keys, result.unexpected_keys, list(result)

    assert _same(build)[1] == ["zzz", "0", "0.bar", "1.foo", "1.weight.x"]


def test_load_state_dict_strict_errors_and_return_value():
    def build(lib):
        model = _two_layers(lib)
        ok = model.load_state_dict(model.state_dict())
        state = dict(model.state_dict(), extra=_t(lib, [1.0]))
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            return repr(ok), type(ok).__name__, "extra" in str(e)

    assert _same(build) == ("<All keys matched successfully>", "_IncompatibleKeys", True)


def test_load_state_dict_ignores_keys_under_a_child_set_to_none():
    def build(lib):
        model = lib.Module()
        model.body = lib.Linear(1, 1)
        model.head = lib.Linear(1, 1)
        state = model.state_dict()
        model.head = None
        return tuple(model.load_state_dict(state))

    assert _same(build) == ([], [])


def test_load_state_dict_size_mismatch_raises_even_when_not_strict_and_copies_nothing():
    def build(lib):
        model = lib.Linear(2, 1)
        state = {"weight": _t(lib, [[1.0, 2.0]]), "bias": _t(lib, [[3.0]])}
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as e:
            return "size mismatch for bias" in str(e)

    assert _same(build) is True
    model = nn.Linear(2, 1)
    before = model.weight.tolist()
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict({"weight": tg.ones(1, 2), "bias": tg.ones(1, 1)})
    assert model.weight.tolist() == before  # ours is atomic (documented)


def test_load_state_dict_casts_dtypes_and_loads_one_element_into_0d():
    def build(lib):
        m = lib.Linear(2, 1)
        m.register_buffer("step", _t(lib, 0, "int64"))
        m.register_buffer("scale", _t(lib, 1.0))
        m.load_state_dict({"weight": _t(lib, [[1.5, 2.5]], "float64"),
                           "bias": _t(lib, [3], "int64"),
                           "step": _t(lib, [7.9], "float32"),
                           "scale": _t(lib, [5.0])})
        return ([str(t.dtype).replace("torch.", "") for t in m.state_dict().values()],
                [t.tolist() for t in m.state_dict().values()])

    assert _same(build)[1] == [[[1.5, 2.5]], [3.0], 7, 5.0]


def test_load_state_dict_accepts_any_mapping_and_refuses_a_list():
    def build(lib):
        m = lib.Linear(1, 1)
        m.load_state_dict(MappingProxyType(dict(m.state_dict())))
        try:
            m.load_state_dict([1])
        except TypeError:
            return "refused"

    assert _same(build) == "refused"


def test_state_dict_of_shared_modules_loads_back():
    def build(lib):
        model = _shared(lib)
        state = model.state_dict()
        fresh = _shared(lib)
        return list(state), tuple(fresh.load_state_dict(state))

    _same(build)


# ----------------------------------------------------------------------------------------------
# repr
# ----------------------------------------------------------------------------------------------


def _strip_totals(text: str) -> str:
    """Our repr adds '  # N params' per child and a totals line (documented): drop them."""
    lines = [line.split("  # ")[0] for line in text.split("\n") if not line.startswith("# ")]
    return "\n".join(lines)


def test_repr_layout_with_extra_repr_and_children_matches_torch():
    def build(lib):
        class Block(lib.Module):
            def __init__(self, lines):
                super().__init__()
                self.lines = lines
                self.act = lib.ReLU()

            def extra_repr(self):
                return self.lines

        class Leaf(lib.Module):
            def extra_repr(self):
                return "k=1\nj=2"

        model = lib.Sequential(Block("k=1"), Leaf(), lib.ModuleList(
            [lib.ReLU(), lib.ReLU(), lib.Tanh(), lib.ReLU()]))
        return _strip_totals(repr(model))

    _same(build)


def test_modulelist_repr_groups_repeated_children():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    text = repr(blocks)
    assert "(0-2): 3 x Linear(in_features=2, out_features=2, bias=True)  # 6 params each" in text
    assert text.endswith("# 18 parameters (18 trainable)")
    assert repr(nn.ModuleList()) == "ModuleList()"


# ----------------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------------


def _names(container):
    return [type(m).__name__ for m in container]


def test_sequential_indexing_slicing_del_insert_pop_add():
    def build(lib):
        s = lib.Sequential(lib.ReLU(), lib.Tanh(), lib.Sigmoid(), lib.Identity())
        out = [_names(s[1:3]), list(s[::2]._modules), type(s[-1]).__name__, len(s)]
        del s[::2]
        out.append((_names(s), list(s._modules)))
        s.insert(1, lib.ELU())
        out.append((_names(s), list(s._modules)))
        out.append((type(s.pop(0)).__name__, list(s._modules)))
        joined = s + lib.Sequential(lib.ReLU())
        out.append((_names(joined), list(joined._modules)))
        s += lib.Sequential(lib.GELU())
        out.append((_names(s), list(s._modules)))
        s[0] = lib.SiLU()
        out.append(_names(s))
        return out

    _same(build)


@pytest.mark.parametrize("index", [3, -4, "0", 1.0])
def test_sequential_and_modulelist_bad_index_errors(index):
    for cls in ("Sequential", "ModuleList"):
        def build(lib, cls=cls):
            items = [lib.ReLU(), lib.Tanh()]
            container = getattr(lib, cls)(*items) if cls == "Sequential" else \
                getattr(lib, cls)(items)
            return container[index]
        _same(build)


def test_modulelist_operations():
    def build(lib):
        ml = lib.ModuleList([lib.ReLU(), lib.Tanh()])
        ml.append(lib.Sigmoid())
        ml.extend([lib.ELU()])
        ml += [lib.GELU()]
        ml.insert(0, lib.SiLU())
        del ml[1]
        out = [_names(ml), list(ml._modules), _names(ml[1:3]), type(ml[-1]).__name__]
        out.append(_names(ml + lib.ModuleList([lib.ReLU()])))
        out.append(type(ml.pop(2)).__name__)
        ml[0] = lib.Identity()
        out.append((_names(ml), list(ml._modules)))
        try:
            ml.extend(3)
        except TypeError:
            out.append("extend refused")
        try:
            ml(_t(lib, [1.0]))
        except NotImplementedError:
            out.append("not callable")
        return out

    _same(build)


def test_moduledict_construction_update_and_order():
    def build(lib):
        d = lib.ModuleDict([("b", lib.ReLU()), ("a", lib.Tanh())])
        other = lib.ModuleDict({"z": lib.Sigmoid(), "c": lib.ELU()})
        d.update(other)
        d.update(OrderedDict(y=lib.GELU()))
        d.update([("b", lib.Identity())])
        out = [list(d.keys()), _names(d.values()), "a" in d, len(d)]
        out.append(type(d.pop("a")).__name__)
        del d["z"]
        out.append(list(d))
        for bad in (3, [("x",)], {1: lib.ReLU()}):
            try:
                d.update(bad)
            except (TypeError, ValueError) as e:
                out.append(type(e).__name__)
        d.clear()
        out.append(len(d))
        return out

    assert _same(build)[-4:] == ["TypeError", "ValueError", "TypeError", 0]


def test_parameterlist_and_parameterdict():
    def build(lib):
        pl = lib.ParameterList([_t(lib, [1.0]), lib.Parameter(_t(lib, [2.0, 3.0]))])
        pl.append(_t(lib, [4.0]))
        pl.extend([_t(lib, [5.0])])
        pl[0] = _t(lib, [9.0])
        out = [[p.tolist() for p in pl], [type(p).__name__ for p in pl],
               [n for n, _ in pl.named_parameters()], [p.tolist() for p in pl[::-2]],
               list(pl[1:].state_dict())]
        pd = lib.ParameterDict({"b": _t(lib, [1.0]), "a": _t(lib, [2.0])})  # sorted
        pd.update([("z", _t(lib, [3.0])), ("c", _t(lib, [4.0]))])  # given order
        pd["y"] = lib.Parameter(_t(lib, [5.0]))
        out += [list(pd), list(pd.state_dict()), pd.popitem()[0], list(reversed(pd)),
                pd.get("missing", "default"), sorted((pd | lib.ParameterDict({"q": _t(
                    lib, [0.0])})).keys())]
        for bad in (lambda: pd[1], lambda: pl["0"], lambda: pl[9], lambda: pl(),
                    lambda: pd.update(3)):
            try:
                bad()
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
        return out

    _same(build)


# ----------------------------------------------------------------------------------------------
# Module.to / deepcopy / cuda argument
# ----------------------------------------------------------------------------------------------


def test_to_integer_dtype_is_refused_and_deepcopy_keeps_parameters():
    def build(lib):
        m = lib.Linear(2, 2)
        try:
            m.to(torch.int32 if lib is tnn else tg.int32)
        except TypeError:
            refused = True
        clone = copy.deepcopy(m)
        return (refused, type(clone.weight).__name__, clone.weight is m.weight,
                clone.weight.tolist() == m.weight.tolist())

    assert _same(build) == (True, "Parameter", False, True)


def test_cuda_with_an_integer_index_means_that_gpu():
    calls = []

    class Probe(nn.Module):
        def to(self, device=None, dtype=None):
            calls.append((device, dtype))
            return self

    Probe().cuda(1)
    Probe().cuda()
    assert calls == [("cuda:1", None), ("cuda", None)]


# ----------------------------------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint8",
                                   "bool"])
@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (2, 3)])
def test_save_load_round_trip_dtypes_and_shapes(dtype, shape):
    rng = np.random.default_rng(0)
    array = np.array(rng.standard_normal(shape) * 10, dtype=dtype)  # 0-d: an ndarray
    out = _roundtrip({"t": tg.tensor(array), "a": array})
    assert out["t"].dtype == np.dtype(dtype) and out["t"].shape == shape
    np.testing.assert_array_equal(out["t"].data, array)
    assert isinstance(out["a"], np.ndarray) and out["a"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out["a"], array)


def test_save_non_contiguous_and_big_endian_arrays():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    views = {"t": base.T[::2], "f": np.asfortranarray(base), "be": base.astype(">f8"),
             "neg": base[::-1, ::-3]}
    out = _roundtrip(views)
    for key, array in views.items():
        np.testing.assert_array_equal(out[key], array)
    assert out["be"].dtype == np.float64 and out["be"].dtype.isnative


def test_model_state_dict_round_trip_matches_torch_values(tmp_path):
    torch.manual_seed(0)
    reference = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.Linear(4, 2))
    reference.train()
    reference(torch.randn(5, 3))  # moves the running statistics
    state = {k: tg.tensor(v.numpy()) for k, v in reference.state_dict().items()}
    path = tmp_path / "model.tge"
    tg.save(state, path)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert tuple(model.load_state_dict(tg.load(str(path)))) == ([], [])
    assert list(model.state_dict()) == list(reference.state_dict())
    reference.eval()
    model.eval()
    x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    np.testing.assert_allclose(model(tg.tensor(x)).data,
                               reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
    assert str(model[1].num_batches_tracked.dtype) == "int64"


def test_nested_containers_scalars_and_sharing():
    p = nn.Parameter(tg.ones(2))
    obj = OrderedDict(a=[1, (2.5, None, "s"), {"b": True, 3: float("inf"), None: -0.0}],
                      p=p, q=p, big=2 ** 70, np=np.float16(1.5))
    out = _roundtrip(obj)
    assert type(out) is OrderedDict and list(out) == list(obj)
    assert out["a"] == [1, (2.5, None, "s"), {"b": True, 3: float("inf"), None: -0.0}]
    assert isinstance(out["p"], nn.Parameter) and out["p"] is out["q"]
    assert out["p"].requires_grad and out["big"] == 2 ** 70
    assert type(out["np"]) is np.float16 and out["np"] == 1.5


def test_numpy_scalar_dict_keys_come_back_as_python_keys():
    out = _roundtrip({np.float64(1.5): "f", np.int64(2): "i", np.bool_(True): "b",
                      np.str_("k"): "s"})
    assert out == {1.5: "f", 2: "i", True: "b", "k": "s"}
    assert [type(k) for k in out] == [float, int, bool, str]


def test_save_refuses_unsupported_objects_with_clear_errors(tmp_path):
    cycle = []
    cycle.append(cycle)
    for bad, match in [({"x": {1}}, "set"), ({"x": np.ones(2, np.complex64)}, "complex64"),
                       ({(1, 2): 1}, "keys must be"), (cycle, "contains itself")]:
        with pytest.raises((TypeError, ValueError), match=match):
            tg.save(bad, io.BytesIO())
    with open(tmp_path / "text", "w") as text_file:
        with pytest.raises(TypeError, match="binary mode"):
            tg.save({"a": 1}, text_file)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tg.save({}, tmp_path / "missing" / "x.tge")
    assert os.listdir(tmp_path) == ["text"]  # no temporary file left behind


def _file(header, data=b""):
    raw = json.dumps(header).encode()
    return io.BytesIO(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize("header, data, match", [
    ({"x": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62, 0], "data_offsets": [0, 0]}}, b"",
     "too large"),
    ({"x": {"dtype": "F32", "shape": [2 ** 64, 0], "data_offsets": [0, 0]}}, b"", "too large"),
    ({"x": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02", "BOOL"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "truncated"),
    ({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "dtype"),
])
def test_load_rejects_corrupt_headers_with_load_errors(header, data, match):
    with pytest.raises(ValueError, match=f"load: .*{match}"):
        tg.load(_file(header, data))


def test_load_rejects_foreign_files_and_text_mode(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="pickle from torch.save cannot be read"):
        tg.load(buffer)
    with pytest.raises(ValueError, match="too short"):
        tg.load(io.BytesIO(b"\x01\x02"))
    path = tmp_path / "x.tge"
    tg.save({"a": tg.ones(1)}, path)
    with open(path) as text_file, pytest.raises(TypeError, match="binary mode"):
        tg.load(text_file)


# ----------------------------------------------------------------------------------------------
# Found in files this review does not own
# ----------------------------------------------------------------------------------------------


def test_linear_forward_accepts_input_keyword_like_torch():
    m = nn.Linear(2, 2)
    assert m(input=tg.ones(1, 2)).shape == (1, 2)
