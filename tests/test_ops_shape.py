"""Shape ops: reshape/view, flatten, squeeze/unsqueeze, transpose/permute, expand/broadcast,
indexing (basic, advanced, boolean, repeated), cat/stack/split/chunk, pad, repeat, tril/triu,
gather and index_select, flip/roll/narrow/movedim and cumsum."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import functional as F

# ----------------------------------------------------------------------------------------------
# Reshape family
# ----------------------------------------------------------------------------------------------

RESHAPES = {
    "reshape(-1)": (lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    "reshape(4, -1)": (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
    "reshape((2, 2, 6))": (lambda x: x.reshape((2, 2, 6)), lambda x: x.reshape((2, 2, 6))),
    "view(-1, 3)": (lambda x: x.view(-1, 3), lambda x: x.view(-1, 3)),
    "view_as": (lambda x: x.view_as(tg.zeros(6, 4)), lambda x: x.view_as(torch.zeros(6, 4))),
    "flatten()": (lambda x: x.flatten(), lambda x: x.flatten()),
    "flatten(1)": (lambda x: x.flatten(1), lambda x: x.flatten(1)),
    "flatten(0, 1)": (lambda x: x.flatten(0, 1), lambda x: x.flatten(0, 1)),
    "flatten(-2, -1)": (lambda x: x.flatten(-2, -1), lambda x: x.flatten(-2, -1)),
    "unflatten": (lambda x: x.unflatten(2, (2, 2)), lambda x: x.unflatten(2, (2, 2))),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
    "unsqueeze(1)": (lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1)),
    "transpose(0, 2)": (lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2)),
    "transpose(-1, 0)": (lambda x: x.transpose(-1, 0), lambda x: x.transpose(-1, 0)),
    "permute(2, 0, 1)": (lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    "permute((1, -1, 0))": (lambda x: x.permute((1, -1, 0)), lambda x: x.permute((1, -1, 0))),
    "T": (lambda x: x.T, lambda x: x.permute(2, 1, 0)),
    "mT": (lambda x: x.mT, lambda x: x.mT),
    "expand": (lambda x: x[:, :1].expand(2, 5, 4), lambda x: x[:, :1].expand(2, 5, 4)),
    "expand(-1)": (lambda x: x[:, :1].expand(3, -1, -1, 4),
                   lambda x: x[:, :1].expand(3, -1, -1, 4)),
    "broadcast_to": (lambda x: x[:1].broadcast_to((2, 2, 3, 4)),
                     lambda x: x[:1].broadcast_to((2, 2, 3, 4))),
    "expand_as": (lambda x: x[:, 1:2].expand_as(tg.zeros(2, 3, 4)),
                  lambda x: x[:, 1:2].expand_as(torch.zeros(2, 3, 4))),
    "swapaxes(0, 2)": (lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2)),
    "swapdims(-1, 1)": (lambda x: x.swapdims(-1, 1), lambda x: x.swapdims(-1, 1)),
    "F.swapaxes": (lambda x: F.swapaxes(x, 1, 0), lambda x: torch.swapaxes(x, 1, 0)),
    "movedim(0, -1)": (lambda x: x.movedim(0, -1), lambda x: x.movedim(0, -1)),
    "movedim(2, 0)": (lambda x: x.movedim(2, 0), lambda x: x.movedim(2, 0)),
    "movedim((0, 1), (2, 0))": (lambda x: x.movedim((0, 1), (2, 0)),
                                lambda x: x.movedim((0, 1), (2, 0))),
    "movedim([-1, 0], [0, 1])": (lambda x: tg.movedim(x, [-1, 0], [0, 1]),
                                 lambda x: torch.movedim(x, [-1, 0], [0, 1])),
    "moveaxis(1, 2)": (lambda x: x.moveaxis(1, 2), lambda x: x.moveaxis(1, 2)),
    "moveaxis((), ())": (lambda x: tg.moveaxis(x, (), ()), lambda x: torch.moveaxis(x, (), ())),
}


@pytest.mark.parametrize("name", list(RESHAPES))
def test_reshape_family(name, device):
    tg_fn, th_fn = RESHAPES[name]
    check_op(tg_fn, th_fn, [(2, 3, 4)], device=device)


@pytest.mark.parametrize("shape, dim", [((1, 3, 1, 2), None), ((1, 3, 1, 2), 0),
                                        ((1, 3, 1, 2), -2), ((1, 3, 1, 2), 1),
                                        ((1, 3, 1, 2), (0, 2)), ((1, 3, 1, 2), (1, -2))], ids=str)
def test_squeeze(shape, dim, device):
    def tg_fn(x):
        return x.squeeze() if dim is None else x.squeeze(dim)

    check_op(tg_fn, tg_fn, [shape], device=device)


def test_t_and_0d_shapes():
    check_op(lambda x: x.t(), lambda x: x.t(), [(3, 4)])
    check_op(lambda x: x.t(), lambda x: x.t(), [(3,)])
    check_op(lambda x: x.flatten(), lambda x: x.flatten(), [()])
    check_op(lambda x: x.unsqueeze(0).squeeze(0), lambda x: x.unsqueeze(0).squeeze(0), [()])
    check_op(lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), [()])


def test_shape_ops_that_change_nothing_return_what_torch_returns():
    """flatten over a single dim is the input itself (torch: "if no dimensions are flattened,
    then the original object input is returned"), so it adds no graph node; every view op
    that changes nothing (a reshape to the same shape, an identity permute, a squeeze with no
    size-1 dim, expand to the same shape) returns a new tensor viewing the input's memory,
    as torch's do; the shape may be given as ints, a tuple, a list or an array."""
    x = tg.randn(3, 4, requires_grad=True)
    t = torch.zeros(3, 4, requires_grad=True)
    assert (torch.flatten(t, 1) is t) and (torch.nn.Flatten()(t) is t)
    assert x.flatten(1) is x and tg.nn.Flatten()(x) is x and x.flatten(-1, -1) is x
    same = {
        "reshape": lambda v: v.reshape(3, 4), "view": lambda v: v.view(3, 4),
        "view_as": lambda v: v.view_as(v), "reshape_as": lambda v: v.reshape_as(v),
        "permute": lambda v: v.permute(0, 1), "transpose": lambda v: v.transpose(1, 1),
        "squeeze": lambda v: v.squeeze(), "squeeze(0)": lambda v: v.squeeze(0),
        "expand": lambda v: v.expand(3, 4), "broadcast_to": lambda v: v.broadcast_to((3, 4)),
        "unflatten": lambda v: v.unflatten(1, (4,)), "movedim": lambda v: v.movedim(0, 0),
    }
    for name, op in same.items():
        assert op(t) is not t, name  # torch's side of the claim
        y = op(x)
        assert y is not x and y._ctx is not None and y.shape == x.shape, name
        assert np.shares_memory(y.data, x.data), name
    for shape in ((3, 4), [3, 4], np.array([3, 4])):
        assert x.reshape(shape).shape == (3, 4)
    assert x.reshape([4, 3]).shape == (4, 3) and x.reshape(np.array([2, 6])).shape == (2, 6)
    assert x.flatten().shape == (12,) and x.flatten()._ctx is not None
    s = tg.tensor(2.0, requires_grad=True)
    assert s.squeeze() is not s and s.T is not s and s.t() is not s


def test_a_view_that_changes_nothing_keeps_its_own_hooks_and_writes_through():
    """A hook on y = x.view(x.shape) sees only y's gradient (not x's other paths), retain_grad
    stays on y, and an in-place update of y is an update of x: torch's behaviour."""
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x * 2
        y = h.view(3)
        y.register_hook(lambda g: g * 10)
        y.retain_grad()
        ((h * h).sum() + y.sum()).backward()
        with lib.no_grad():
            z = lib.tensor([1.0, 2.0])
            z.reshape(2).add_(1)
        return x.grad.tolist(), y.grad.tolist(), h.is_leaf, z.tolist()

    assert program(tg) == program(torch)


def test_view_methods_keep_numbers_in_order():
    x = tg.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(x.permute(1, 2, 0).numpy(),
                                  np.arange(24).reshape(2, 3, 4).transpose(1, 2, 0))
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.dim() == 3 and x.numel() == 24
    assert x.contiguous().tolist() == x.tolist()


# ----------------------------------------------------------------------------------------------
# Indexing
# ----------------------------------------------------------------------------------------------

INDEXES = {
    # name: a function of (tensor library's `tensor` constructor) returning the index
    "int": lambda lib: 1,
    "negative int": lambda lib: -1,
    "int, int": lambda lib: (1, -2),
    "slice": lambda lib: slice(1, 3),
    "slice with step": lambda lib: (slice(None), slice(0, None, 2)),
    "negative slice bounds": lambda lib: (slice(-2, None), slice(None, -1)),
    "None": lambda lib: (None, 0),
    "Ellipsis": lambda lib: (Ellipsis, 1),
    "Ellipsis and None": lambda lib: (0, Ellipsis, None),
    "integer array": lambda lib: lib([2, 0]),
    "repeated integer array": lambda lib: lib([0, 0, 1, 0]),
    "repeated on dim 1": lambda lib: (slice(None), lib([1, 1, 3])),
    "two integer arrays": lambda lib: (lib([0, 2, 2]), lib([1, 1, 3])),
    "2-d integer array": lambda lib: lib([[0, 1], [1, 1]]),
    "mixed slice and array": lambda lib: (slice(1, None), lib([3, 3, 0])),
    "int and array": lambda lib: (lib([2, 2]), 1),
    "bool mask rows": lambda lib: lib([True, False, True]),
    "bool mask full": lambda lib: lib(np.arange(12).reshape(3, 4) % 3 == 0),
    "bool mask on dim 1": lambda lib: (slice(None), lib([False, True, True, False])),
    "list index": lambda lib: [0, 2, 2],
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem(name, device):
    make = INDEXES[name]

    def tg_index(values):
        return tg.tensor(np.asarray(values), device=device)

    check_op(lambda x: x[make(tg_index)], lambda x: x[make(lambda v: torch.tensor(v))],
             [(3, 4)], device=device)


def test_getitem_negative_step_matches_numpy():
    x_np = np.random.default_rng(0).standard_normal((3, 4))
    x = tg.tensor(x_np, requires_grad=True)
    y = x[::-1, 1::-1]
    np.testing.assert_array_equal(y.detach().numpy(), x_np[::-1, 1::-1])
    upstream = np.random.default_rng(1).standard_normal(y.shape)
    (y * tg.tensor(upstream)).sum().backward()
    expected = np.zeros((3, 4))
    expected[::-1, 1::-1] = upstream
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_getitem_repeated_indices_accumulate_the_gradient(device):
    x = tg.zeros(4, requires_grad=True, device=device)
    x[tg.tensor([0, 0, 0, 2, 2])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 2.0, 0.0]
    m = tg.zeros(2, 3, requires_grad=True, device=device)
    (m[[1, 1], [2, 2]] * tg.tensor([1.0, 10.0], device=device)).sum().backward()
    assert m.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 11.0]]


def test_getitem_with_a_0d_tensor_index_and_python_scalar_result():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x[tg.tensor(1), 0]
    assert y.shape == () and y.item() == 3.0
    y.backward()
    assert x.grad.tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_getitem_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*\(3, 4\)"):
        tg.ones(3, 4)[5]
    with pytest.raises(IndexError, match=r"getitem: .*\(3, 4\)"):
        tg.ones(3, 4)[tg.tensor([0, 3]), 4]


def test_gradgradcheck_getitem_with_repeated_indices():
    x = tg.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    index = tg.tensor([0, 2, 2, 0])
    assert tg.gradgradcheck(lambda t: (t[index] ** 2) * t[index, 1:2], [x])
    assert tg.gradgradcheck(lambda t: t[1:, ::2].exp(), [x])


def test_iterating_and_unbind():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    (rows[0] * 2 + rows[2]).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    cols = x.unbind(1)
    assert [c.tolist() for c in cols] == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]


# ----------------------------------------------------------------------------------------------
# gather, index_select
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim, device):
    index = np.array([[0, 1, 1, 0], [2, 2, 0, 1]]) if dim == 0 else np.array(
        [[3, 3, 0], [1, 0, 1], [2, 2, 2]])
    check_op(lambda x: x.gather(dim, tg.tensor(index, device=device)),
             lambda x: x.gather(dim, torch.tensor(index)), [(3, 4)], device=device)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, device):
    index = [2, 0, 2]
    check_op(lambda x: x.index_select(dim, tg.tensor(index, device=device)),
             lambda x: x.index_select(dim, torch.tensor(index)), [(3, 4, 3)], device=device)


def test_index_select_0d_index_and_bad_index():
    assert tg.zeros(3, 4).index_select(0, tg.tensor(1)).shape == (1, 4)
    with pytest.raises(IndexError, match=r"index_select: index is supposed to be a vector"):
        tg.zeros(3, 4).index_select(0, tg.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"gather: index has 1 dimensions but input has 2"):
        tg.zeros(3, 4).gather(0, tg.tensor([0, 1]))


# ----------------------------------------------------------------------------------------------
# cat, stack, split, chunk
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim, shapes", [(0, [(2, 3), (1, 3), (3, 3)]), (1, [(2, 1), (2, 4)]),
                                         (-1, [(2, 2, 1), (2, 2, 3)]), (-3, [(1, 2, 2)] * 2)],
                         ids=str)
def test_cat(dim, shapes, device):
    check_op(lambda *xs: tg.cat(xs, dim), lambda *xs: torch.cat(xs, dim), shapes,
             device=device)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim, device):
    check_op(lambda *xs: tg.stack(xs, dim), lambda *xs: torch.stack(xs, dim),
             [(2, 3)] * 3, device=device)


def test_cat_promotes_dtypes_like_torch():
    out = tg.cat([tg.tensor([1, 2]), tg.tensor([0.5])])
    assert out.dtype == tg.float32 and out.tolist() == [1.0, 2.0, 0.5]
    assert tg.concat([tg.ones(1), tg.ones(1)]).shape == (2,)


@pytest.mark.parametrize("n, size_or_sections, dim", [(5, 2, 0), (6, 3, 0), (6, [1, 2, 3], 0),
                                                      (4, 1, 1), (7, [7], -1), (3, 5, 0)],
                         ids=str)
def test_split(n, size_or_sections, dim, device):
    shape = (n, 2) if dim == 0 else (2, n)
    out = check_op(lambda x: x.split(size_or_sections, dim),
                   lambda x: x.split(size_or_sections, dim), [shape], device=device)
    expected = torch.zeros(shape).split(size_or_sections, dim)
    assert [o.shape for o in out] == [tuple(e.shape) for e in expected]


@pytest.mark.parametrize("n, chunks", [(6, 3), (5, 3), (6, 4), (2, 5), (7, 7), (1, 1)])
def test_chunk_sizes_match_torch(n, chunks, device):
    out = check_op(lambda x: x.chunk(chunks), lambda x: x.chunk(chunks), [(n, 2)],
                   device=device)
    assert [o.shape[0] for o in out] == [c.shape[0] for c in torch.zeros(n).chunk(chunks)]


# ----------------------------------------------------------------------------------------------
# pad, repeat, tril/triu
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pad", [(1, 2), (0, 0, 2, 1), (1, 1, 1, 1, 1, 0), (3, 0)], ids=str)
@pytest.mark.parametrize("value", [0.0, -1.5])
def test_pad(pad, value, device):
    check_op(lambda x: F.pad(x, pad, value=value), lambda x: TF.pad(x, pad, value=value),
             [(2, 3, 4)], device=device)


PAD_COPY_CASES = [
    ((2, 3, 4), (1, 2)),  # (N, C, L): the last dim
    ((3, 5), (3, 4)),  # (C, L), pads up to the reflect limit (size - 1)
    ((2, 3, 4), (0, 2, 1, 0)),  # (C, H, W): two dims, one side each
    ((2, 2, 3, 4), (1, 2, 2, 1)),  # (N, C, H, W)
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 0, 2)),  # (N, C, D, H, W): three dims
    ((2, 4, 3), (0, 0)),  # nothing to pad
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", PAD_COPY_CASES, ids=str)
def test_pad_copy_modes(mode, shape, pad, device):
    check_op(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), [shape],
             device=device)


@pytest.mark.parametrize("mode, pad", [("replicate", (5, 7)), ("circular", (4, 4)),
                                       ("circular", (0, 3, 2, 1))], ids=str)
def test_pad_copy_modes_up_to_their_limits(mode, pad):
    """replicate has no limit (the edge entry gets many gradients); circular wraps once."""
    check_op(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode),
             [(2, 3, 4)])


def test_pad_copy_modes_values_and_gradients_by_hand():
    x = tg.tensor([[0.0, 1.0, 2.0, 3.0]], requires_grad=True)
    expected = {"reflect": [2, 1, 0, 1, 2, 3, 2, 1], "replicate": [0, 0, 0, 1, 2, 3, 3, 3],
                "circular": [2, 3, 0, 1, 2, 3, 0, 1]}
    counts = {"reflect": [1, 3, 3, 1], "replicate": [3, 1, 1, 3], "circular": [2, 2, 2, 2]}
    for mode in expected:
        x.grad = None
        y = F.pad(x, (2, 2), mode=mode)
        assert y.tolist() == [expected[mode]], mode
        y.sum().backward()  # each x[i] gets one gradient per copy of it
        assert x.grad.tolist() == [counts[mode]], mode


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_copy_modes_second_derivatives_and_integers(mode):
    x = tg.tensor(np.random.default_rng(3).standard_normal((2, 3, 4)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: F.pad(x * x, (2, 1, 1, 2), mode=mode), [x])
    ints = np.arange(12).reshape(1, 3, 4)
    assert F.pad(tg.tensor(ints), (1, 3), mode=mode).tolist() == \
        TF.pad(torch.tensor(ints), (1, 3), mode=mode).tolist()


@pytest.mark.parametrize("shape, pad, mode, error, message", [
    ((2, 2), (1, 1, 1), "constant", ValueError, "pad: padding length must be even"),
    ((2, 2), (1, 1, 1, 1, 1, 1), "reflect", ValueError, r"at most 2 \* ndim \(4\)"),
    ((2, 3), (1, 1), "mirror", NotImplementedError, "pad: unrecognised padding mode 'mirror'"),
    ((4,), (1, 1), "reflect", NotImplementedError,
     r"padding \(1, 1\) \(1 dims\) is not supported for a 1-d input of shape \(4,\)"),
    ((2, 4), (1, 1, 1, 1), "replicate", NotImplementedError, "not supported for a 2-d input"),
    ((2, 2, 3, 4), (1, 1), "circular", NotImplementedError, "not supported for a 4-d input"),
    ((1, 1, 1, 2, 3, 4), (1, 1, 1, 1, 1, 1), "reflect", NotImplementedError,
     "pads the last 1, 2 or 3 dims"),
    ((2, 3, 4), (), "reflect", NotImplementedError, r"padding \(\) \(0 dims\)"),
    ((2, 3, 4), (4, 1), "reflect", ValueError,
     r"pad: reflect padding must be smaller than the size of its dim, got padding \(4, 1\) "
     r"for dim 2 of size 4 \(input shape \(2, 3, 4\)\)"),
    ((2, 3, 4), (1, 1, 3, 0), "reflect", ValueError, r"padding \(3, 0\) for dim 1 of size 3"),
    ((2, 3, 4), (5, 0), "circular", ValueError,
     r"pad: circular padding must be at most the size of its dim \(it wraps around once\), "
     r"got padding \(5, 0\) for dim 2 of size 4"),
    ((2, 0, 4), (1, 1), "replicate", ValueError,
     r"mode 'replicate' expects a 2-d \(C, \*\) or 3-d \(N, C, \*\) input with non-zero "
     r"dimensions \(N may be 0\), got shape \(2, 0, 4\)"),
    ((0, 4), (1, 1), "reflect", ValueError, "non-zero dimensions"),
], ids=lambda v: str(v) if isinstance(v, tuple) else None)
def test_pad_errors_follow_torchs_rules(shape, pad, mode, error, message):
    with pytest.raises(Exception):  # noqa: B017 - the oracle: torch refuses each of these
        TF.pad(torch.zeros(shape), pad, mode=mode)
    with pytest.raises(error, match=message):
        F.pad(tg.zeros(*shape), pad, mode=mode)


def test_pad_copy_modes_refuse_a_value_and_negative_pads_but_take_zero_and_empty_batches():
    # torch crops with a negative pad; here every mode refuses it (cropping is x[..., a:b])
    with pytest.raises(ValueError, match="pad: negative padding is not supported"):
        F.pad(tg.ones(2, 3), (-1, 1), mode="replicate")
    with pytest.raises(ValueError, match="pad: padding mode 'reflect' doesn't take a value"):
        F.pad(tg.ones(2, 3), (1, 1), mode="reflect", value=1.0)
    assert F.pad(tg.ones(2, 3), (1, 1), mode="reflect", value=0.0).shape == (2, 5)
    assert F.pad(tg.ones(0, 3, 4), (1, 2), mode="reflect").shape == (0, 3, 7)  # N may be 0
    assert F.pad(tg.ones(0, 4), (1, 1), mode="circular").shape == (0, 6)  # as torch


@pytest.mark.parametrize("sizes, shape", [((2, 1), (2, 3)), ((1, 3), (2, 3)), ((2, 2, 3), (2, 3)),
                                          ((3,), (4,)), ((2, 1, 1, 2), (1, 2, 3))], ids=str)
def test_repeat(sizes, shape, device):
    check_op(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), [shape], device=device)


@pytest.mark.parametrize("op", ["tril", "triu"])
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 3)], ids=str)
def test_tril_triu(op, diagonal, shape, device):
    check_op(lambda x: getattr(x, op)(diagonal), lambda x: getattr(x, op)(diagonal), [shape],
             device=device)


def test_tril_on_integers_and_too_few_dims():
    assert tg.ones(2, 2, dtype=tg.int64).tril().tolist() == [[1, 0], [1, 1]]
    with pytest.raises(ValueError, match="tril: input tensor must have at least 2 dimensions"):
        tg.ones(3).tril()


# ----------------------------------------------------------------------------------------------
# flip, roll, narrow, movedim, cumsum
# ----------------------------------------------------------------------------------------------

FLIPS = {
    "flip(0)": (lambda x: x.flip(0), lambda x: x.flip(0)),
    "flip(0, 2)": (lambda x: x.flip(0, 2), lambda x: x.flip(0, 2)),
    "flip((0, -1))": (lambda x: x.flip((0, -1)), lambda x: x.flip((0, -1))),
    "flip([1])": (lambda x: x.flip([1]), lambda x: x.flip([1])),
    "flip(-3, -2, -1)": (lambda x: x.flip(-3, -2, -1), lambda x: x.flip(-3, -2, -1)),
    "tg.flip(x, (2,))": (lambda x: tg.flip(x, (2,)), lambda x: torch.flip(x, (2,))),
    "F.flip(x, dims=[1, 0])": (lambda x: F.flip(x, dims=[1, 0]),
                               lambda x: torch.flip(x, dims=[1, 0])),
}


@pytest.mark.parametrize("name", list(FLIPS))
def test_flip(name, device):
    tg_fn, th_fn = FLIPS[name]
    check_op(tg_fn, th_fn, [(2, 3, 4)], device=device)


ROLLS = {
    # (shifts, dims); dims None rolls the flattened tensor
    "5, None": (5, None),
    "-7, None": (-7, None),
    "(2,), None": ((2,), None),
    "1, 1": (1, 1),
    "-1, -1": (-1, -1),
    "(1, -1), (0, 2)": ((1, -1), (0, 2)),
    "[7], [2]": ([7], [2]),
    "(1, 2), (1, 1)": ((1, 2), (1, 1)),  # the same dim twice: the shifts add up
    "0, 0": (0, 0),
}


@pytest.mark.parametrize("name", list(ROLLS))
def test_roll(name, device):
    shifts, dims = ROLLS[name]
    check_op(lambda x: x.roll(shifts, dims), lambda x: x.roll(shifts, dims), [(2, 3, 4)],
             device=device)
    check_op(lambda x: tg.roll(x, shifts=shifts, dims=dims),
             lambda x: torch.roll(x, shifts=shifts, dims=dims), [(2, 3, 4)], device=device)


def test_roll_and_flip_of_0d_tensors_like_torch():
    check_op(lambda x: x.roll(3), lambda x: x.roll(3), [()])
    check_op(lambda x: x.flip(0), lambda x: x.flip(0), [()])
    with pytest.raises(IndexError, match="roll: dims 0 given, but the tensor has no dimensions"):
        tg.tensor(1.0).roll(1, 0)


NARROWS = {
    # (dim, start, length)
    "0, 0, 1": (0, 0, 1),
    "2, 1, 2": (2, 1, 2),
    "-1, -2, 2": (-1, -2, 2),
    "1, 0, 3": (1, 0, 3),
    "2, 4, 0": (2, 4, 0),
    "1, -3, 1": (1, -3, 1),
}


@pytest.mark.parametrize("name", list(NARROWS))
def test_narrow(name, device):
    dim, start, length = NARROWS[name]
    check_op(lambda x: x.narrow(dim, start, length), lambda x: x.narrow(dim, start, length),
             [(2, 3, 4)], device=device)
    check_op(lambda x: tg.narrow(x, dim, start, length),
             lambda x: torch.narrow(x, dim, start, length), [(2, 3, 4)], device=device)


def test_narrow_takes_a_tensor_start_and_checks_its_range_like_torch():
    x, tx = tg.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    assert x.narrow(1, tg.tensor(1), 2).tolist() == tx.narrow(1, torch.tensor(1), 2).tolist()
    with pytest.raises(ValueError, match=r"narrow: start \(3\) \+ length \(2\) exceeds "
                                         r"dimension size \(4\)"):
        x.narrow(1, 3, 2)
    with pytest.raises(IndexError, match=r"narrow: start out of range .*\[-4, 4\].*got 5"):
        x.narrow(1, 5, 0)
    with pytest.raises(ValueError, match="narrow: length must be non-negative"):
        x.narrow(1, 0, -1)
    with pytest.raises(ValueError, match="narrow: cannot be applied to a 0-dim tensor"):
        tg.tensor(1.0).narrow(0, 0, 1)


def test_flip_roll_movedim_reject_bad_dims():
    x = tg.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="flip: a dim appears more than once"):
        x.flip(0, -3)
    with pytest.raises(IndexError, match=r"flip: dimension out of range .*got 3"):
        x.flip(3)
    with pytest.raises(ValueError, match="roll: shifts and dims must have the same length"):
        x.roll((1, 2))
    with pytest.raises(ValueError, match="roll: shifts and dims must have the same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match=r"movedim: repeated dim in `source` \(\(0, 0\)\)"):
        x.movedim((0, 0), (1, 2))
    with pytest.raises(ValueError, match="movedim: repeated dim in `destination`"):
        x.movedim((0, 1), (2, -1))
    with pytest.raises(ValueError, match="movedim: source .* must name the same number"):
        x.movedim((0, 1), (2,))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_cumsum(dim, device):
    check_op(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), [(2, 3, 4)], device=device)
    check_op(lambda x: tg.cumsum(x, dim=dim), lambda x: torch.cumsum(x, dim=dim), [(5, 2, 3)],
             device=device)


def test_cumsum_of_0d_and_empty_tensors():
    check_op(lambda x: x.cumsum(0), lambda x: x.cumsum(0), [()])
    check_op(lambda x: x.cumsum(-1), lambda x: x.cumsum(-1), [(2, 0)])


def test_cumsum_dtypes_match_torch():
    for values, dtype in (([1, 2, 3], tg.int32), ([True, True, False], tg.bool_),
                          ([1, 2, 3], tg.uint8), ([1, 2, 3], tg.int64)):
        ours = tg.tensor(values, dtype=dtype).cumsum(0)
        assert ours.dtype == tg.int64 and ours.tolist() == torch.tensor(values).cumsum(0).tolist()
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    y = x.cumsum(0, dtype=tg.float64)
    assert y.dtype == tg.float64
    y.backward(tg.tensor([1.0, 2.0], dtype=tg.float64))
    assert x.grad.dtype == tg.float32 and x.grad.tolist() == [3.0, 2.0]  # reversed cumsum
    assert tg.tensor([1.5, 2.5]).cumsum(0, tg.int64).tolist() == \
        torch.tensor([1.5, 2.5]).cumsum(0, dtype=torch.int64).tolist()


# ----------------------------------------------------------------------------------------------
# Second derivatives of the linear shape ops (gradients of gradients move back unchanged)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [
    lambda x: (x.reshape(6, 2).T ** 2),
    lambda x: tg.cat([x, x * x], 1),
    lambda x: tg.stack([x, x.exp()], -1),
    lambda x: F.pad(x * x, (1, 2)),
    lambda x: (x * x).repeat(2, 1),
    lambda x: (x * x).expand(2, 3, 4),
    lambda x: (x * x).triu(1),
    lambda x: x.gather(1, tg.tensor([[0, 0], [3, 1], [2, 2]])) ** 3,
    lambda x: (x * x).flip(0, 1),
    lambda x: (x * x).roll((1, -2), (0, 1)),
    lambda x: (x * x).roll(5),
    lambda x: (x * x).cumsum(1),
    lambda x: (x * x).narrow(1, 1, 2),
    lambda x: (x * x).movedim(0, 1),
], ids=["reshape_T", "cat", "stack", "pad", "repeat", "expand", "triu", "gather", "flip",
        "roll", "roll_flat", "cumsum", "narrow", "movedim"])
def test_gradgradcheck_shape_ops(fn):
    x = tg.tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
    assert tg.gradgradcheck(fn, [x])


def test_flip_and_movedim_return_new_tensors_and_narrow_checks_length():
    a = tg.zeros(3)
    y = a.flip(())  # nothing to reverse: still a copy, as torch
    assert y is not a
    y.add_(1)
    assert a.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="flip: expected the dims"):
        a.flip()
    s = tg.tensor(2.0)
    assert tg.movedim(s, (), ()) is not s
    with pytest.raises(TypeError, match="narrow: length must be an integer"):
        tg.narrow(tg.zeros(4), 0, 1, 2.0)
