"""A review of functional/reduce.py against torch: each test pins a bug that was found (and
fixed) or an edge case torch answers in a particular way (values, indices, dtypes, shapes,
gradients, error messages)."""

import warnings

import numpy as np
import pytest
import torch
from helpers import to_numpy

import tinygrad_edu as tg
from tinygrad_edu.functional import reduce as R

NAN, INF = float("nan"), float("inf")


def same_as_torch(ours, theirs, what="", atol=1e-12, rtol=1e-9):
    """ours and theirs (a tensor or a tuple of them) have the same shapes, dtypes and values
    (NaN where torch has NaN)."""
    ours = ours if isinstance(ours, (tuple, list)) else (ours,)
    theirs = theirs if isinstance(theirs, (tuple, list)) else (theirs,)
    assert len(ours) == len(theirs), what
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        a, b = to_numpy(a), to_numpy(b)
        assert a.shape == b.shape, f"{what} output {k}: shape {a.shape} vs torch {b.shape}"
        assert a.dtype == b.dtype, f"{what} output {k}: dtype {a.dtype} vs torch {b.dtype}"
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, equal_nan=True,
                                   err_msg=f"{what} output {k}")


def grads_as_torch(tg_fn, th_fn, x, seed=0):
    """tg_fn and th_fn give torch's forward and, for one random upstream gradient, its input
    gradient (float64)."""
    ours_in = tg.tensor(x, requires_grad=True)
    theirs_in = torch.tensor(x, requires_grad=True)
    ours, theirs = tg_fn(ours_in), th_fn(theirs_in)
    same_as_torch(ours, theirs, "forward")
    v = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    with np.errstate(invalid="ignore"):  # an output with inf and -inf sums to NaN
        (ours * tg.tensor(v)).sum().backward()
    (theirs * torch.tensor(v)).sum().backward()
    same_as_torch(ours_in.grad, theirs_in.grad, "gradient")


# ----------------------------------------------------------------------------------------------
# nansum / nanmean
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_nanmean_gradient_of_an_all_nan_slice_is_nan_like_torch(dim):
    # was 0 there: nansum's backward used where(isnan, 0, dy), which drops dy / 0 = inf
    x = np.array([[1.0, NAN, 3.0], [NAN, NAN, NAN]])
    grads_as_torch(lambda t: R.nanmean(t, dim), lambda t: torch.nanmean(t, dim), x)


def test_nansum_gradient_is_dy_times_the_not_nan_mask_like_torch():
    x = tg.tensor([1.0, NAN, 2.0], requires_grad=True)
    R.nansum(x).backward(tg.tensor(INF))
    xt = torch.tensor([1.0, NAN, 2.0], requires_grad=True)
    torch.nansum(xt).backward(torch.tensor(INF))
    same_as_torch(x.grad, xt.grad)  # inf, nan (inf * 0), inf
    y = tg.tensor([[NAN, 2.0], [3.0, NAN]], requires_grad=True)
    tg.gradcheck(lambda t: R.nansum(t, 1, keepdim=True) * 1.5,
                 [tg.tensor([[0.5, 2.0]], dtype=np.float64, requires_grad=True)])
    R.nansum(y, 0).sum().backward()
    assert y.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_nansum_int_and_bool_inputs_sum_in_int64_and_errors_name_nansum():
    same_as_torch(R.nansum(tg.tensor(np.array([[1, 2], [3, 4]], dtype=np.int8)), 0),
                  torch.nansum(torch.tensor([[1, 2], [3, 4]], dtype=torch.int8), 0))
    same_as_torch(R.nansum(tg.tensor([True, True, False])), torch.tensor([True, True, False]).sum())
    with pytest.raises(IndexError, match=r"nansum: dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 5\)"):
        R.nansum(tg.ones(2, 3), 5)


# ----------------------------------------------------------------------------------------------
# quantile / nanquantile
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_quantile_of_a_0d_tensor_keeps_no_dims_like_torch(op, dim):
    # keepdim=True with dim 0 / -1 gave shape (1,) (and (2, 1) for a 1-d q); torch keeps ()
    x, xt = tg.tensor(2.0, dtype=np.float64), torch.tensor(2.0, dtype=torch.float64)
    for q, qt in ((0.3, 0.3), (tg.tensor([0.3, 0.6], dtype=np.float64),
                               torch.tensor([0.3, 0.6], dtype=torch.float64))):
        same_as_torch(getattr(R, op)(x, q, dim, keepdim=True),
                      getattr(torch, op)(xt, qt, dim, keepdim=True), f"{op} q={q}")


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_of_float32_stays_float32(interpolation):
    # linear gave float64: its weight ranks - floor(ranks) was float32 - int64
    a = np.array([[3.0, 1.0, NAN, 2.0], [1.0, 1.0, 1.0, 5.0], [0.5, -2.0, 7.0, 0.25]],
                 dtype=np.float32)
    for op in ("quantile", "nanquantile"):
        for q, qt in ((0.37, 0.37), (tg.tensor([0.2, 0.9]), torch.tensor([0.2, 0.9]))):
            ours = getattr(R, op)(tg.tensor(a), q, 1, interpolation=interpolation)
            theirs = getattr(torch, op)(torch.tensor(a), qt, 1, interpolation=interpolation)
            same_as_torch(ours, theirs, f"{op} {interpolation}", atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("q", [NAN, -0.1, 1.5])
def test_quantile_rejects_q_outside_0_1_including_nan(q):
    # q = NaN slipped through (NaN < 0 and NaN > 1 are both False) to an IndexError of gather
    for op in ("quantile", "nanquantile"):
        with pytest.raises(ValueError, match=rf"{op}: q values must be in the range \[0, 1\]"):
            getattr(R, op)(tg.ones(3), q)
        with pytest.raises(ValueError, match=rf"{op}: q values must be in the range \[0, 1\]"):
            getattr(R, op)(tg.ones(3), tg.tensor([0.5, q]))


def test_quantile_gradient_with_ties_nan_and_a_vector_q():
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((3, 5)), 1)
    x[0, 1] = x[0, 3]
    x[1, 2] = NAN
    q = [0.1, 0.5, 0.85]
    for op in ("quantile", "nanquantile"):
        for mode in ("linear", "midpoint", "nearest"):
            grads_as_torch(
                lambda t, op=op, mode=mode: getattr(R, op)(
                    t, tg.tensor(q, dtype=np.float64), -1, True, interpolation=mode),
                lambda t, op=op, mode=mode: getattr(torch, op)(
                    t, torch.tensor(q, dtype=torch.float64), -1, True, interpolation=mode),
                x)


# ----------------------------------------------------------------------------------------------
# logsumexp, logcumsumexp
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_logsumexp_of_nothing_is_minus_inf_like_torch(dim):
    # was NumPy's "zero-size array to reduction operation maximum which has no identity"
    x = np.zeros((0, 3))
    ours = R.logsumexp(tg.tensor(x), dim)
    theirs = torch.logsumexp(torch.tensor(x), dim if dim is not None else (0, 1))
    same_as_torch(ours, theirs)
    same_as_torch(R.logsumexp(tg.tensor(x), 1, keepdim=True),
                  torch.logsumexp(torch.tensor(x), 1, keepdim=True))


def test_logcumsumexp_second_derivative_matches_torch_and_central_differences():
    # was wrong: the masked "log 0" was -inf, so the inner logcumsumexp's backward met
    # -inf - (-inf) = NaN on the path through the output, and dropped it
    rng = np.random.default_rng(0)
    x, v, w = (rng.standard_normal((3, 4)) for _ in range(3))
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad((xt.logcumsumexp(1) * torch.tensor(v)).sum(), xt,
                                create_graph=True)
    (ggt,) = torch.autograd.grad((gt * torch.tensor(w)).sum(), xt)
    xo = tg.tensor(x, requires_grad=True)
    (g,) = tg.grad((R.logcumsumexp(xo, 1) * tg.tensor(v)).sum(), [xo], create_graph=True)
    (gg,) = tg.grad((g * tg.tensor(w)).sum(), [xo])
    same_as_torch(g, gt.detach(), "first derivative")
    same_as_torch(gg, ggt, "second derivative", atol=1e-9, rtol=1e-7)

    def first_derivative(t):  # gradcheck evaluates it under no_grad too
        with tg.enable_grad():
            return tg.grad((R.logcumsumexp(t, 1) * tg.tensor(v)).sum(), [t],
                           create_graph=True)[0]

    tg.gradcheck(first_derivative, [tg.tensor(x, requires_grad=True)])
    # one element: y = x, so dy/dx = 1 and d2y/dx2 = 0
    one = tg.tensor([0.5], requires_grad=True)
    (g1,) = tg.grad(R.logcumsumexp(one, 0).sum(), [one], create_graph=True)
    (gg1,) = tg.grad(g1.sum(), [one])
    assert gg1.tolist() == [0.0]


@pytest.mark.parametrize("values", [[-INF, -INF, 1.0, -INF], [1.0, INF, 2.0], [1.0, NAN, 2.0],
                                    [1000.0, 1000.0, -1000.0, 999.0], [INF, -INF]])
def test_logcumsumexp_with_infinities_nan_and_large_values(values):
    grads_as_torch(lambda t: R.logcumsumexp(t, 0), lambda t: torch.logcumsumexp(t, 0),
                   np.array(values))


# ----------------------------------------------------------------------------------------------
# norm
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_norm_fro_is_the_2_norm_like_torch(dim):
    # 'fro' reached NumPy's power: "ufunc 'power' not supported for the input types"
    x = np.random.default_rng(0).standard_normal((3, 4))
    grads_as_torch(lambda t: t.norm("fro", dim), lambda t: t.norm("fro", dim), x)
    with pytest.raises(TypeError, match=r"norm: p must be a number or 'fro', got 'nuc'"):
        tg.tensor(x).norm("nuc")


@pytest.mark.parametrize("p", [INF, -INF, -1, -0.5])
def test_norm_without_identity_over_an_empty_dim_raises_like_torch(p):
    # p < 0 gave inf; inf / -inf said "amax: ..." / "amin: ..."
    with pytest.raises(RuntimeError):
        torch.zeros(0, 3).norm(p, 0)
    with pytest.raises(ValueError, match=rf"norm: cannot compute the {p} norm over the empty "
                                         r"dimension 0 \(input shape \(0, 3\)\)"):
        tg.zeros(0, 3).norm(p, 0)
    # reducing the non-empty dim is fine: an empty result
    same_as_torch(tg.zeros(0, 3, dtype=np.float64).norm(p, 1),
                  torch.zeros(0, 3, dtype=torch.float64).norm(p, 1))


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, -1, -0.5, 1.5, INF, -INF])
def test_norm_gradients_with_zeros_and_ties(p):
    x = np.array([[0.0, 1.0, -2.0], [2.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    for dim in (None, 1, (0, 1)):
        grads_as_torch(lambda t, dim=dim: t.norm(p, dim), lambda t, dim=dim: t.norm(p, dim), x)


# ----------------------------------------------------------------------------------------------
# max / min / argmax / argmin / aminmax
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_over_a_non_empty_dim_of_an_empty_tensor_is_empty_like_torch(op):
    # raised "expected a non-empty tensor" although only dim 0 is empty
    for keepdim in (False, True):
        same_as_torch(getattr(tg.zeros(0, 3), op)(1, keepdim),
                      getattr(torch.zeros(0, 3), op)(1, keepdim))
    with pytest.raises(ValueError, match=rf"{op}: expected reduction dim 0 to have non-zero "
                                         r"size \(input shape \(0, 3\)\)"):
        getattr(tg.zeros(0, 3), op)(-2)
    with pytest.raises(ValueError, match=rf"{op}: expected a non-empty tensor, got shape"):
        getattr(tg.zeros(0, 3), op)()


def test_aminmax_errors_name_aminmax():
    with pytest.raises(ValueError, match=r"aminmax: cannot reduce over an empty dimension"):
        R.aminmax(tg.zeros(0, 3))
    with pytest.raises(ValueError, match=r"aminmax: cannot reduce over an empty dimension"):
        R.aminmax(tg.zeros(0, 3), dim=0)
    with pytest.raises(IndexError, match=r"aminmax: dimension out of range"):
        R.aminmax(tg.zeros(2, 3), dim=2)
    same_as_torch(R.aminmax(tg.zeros(0, 3), dim=1), torch.aminmax(torch.zeros(0, 3), dim=1))


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
                                "any", "all", "cumsum"])
def test_a_list_input_names_the_op(op):
    # were AttributeErrors ("'list' object has no attribute 'ndim'")
    with pytest.raises(TypeError, match=rf"^{op}: expected a Tensor, got list$"):
        getattr(R, op)([[1.0, 2.0]], 0)


def test_max_min_with_dim_ties_and_nan_indices_and_gradients():
    x = np.array([[2.0, 1.0, 2.0], [NAN, 5.0, NAN], [1.0, 1.0, 0.0]])
    for op in ("max", "min"):
        for dim in (0, 1, -1):
            ours_in = tg.tensor(x, requires_grad=True)
            theirs_in = torch.tensor(x, requires_grad=True)
            ours, theirs = getattr(ours_in, op)(dim), getattr(theirs_in, op)(dim)
            same_as_torch(tuple(ours), tuple(theirs), f"{op} dim {dim}")
            ours.values.sum().backward()
            theirs.values.sum().backward()
            same_as_torch(ours_in.grad, theirs_in.grad, f"{op} dim {dim} gradient")


# ----------------------------------------------------------------------------------------------
# unique, unique_consecutive
# ----------------------------------------------------------------------------------------------


def test_unique_keeps_every_nan_like_torch():
    # NumPy 2's unique collapses NaNs (equal_nan=True); torch counts each NaN once
    a = np.array([NAN, 1.0, NAN, 1.0, 3.0])
    ours = R.unique(tg.tensor(a), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(a), return_inverse=True, return_counts=True)
    same_as_torch(ours, theirs)


@pytest.mark.parametrize("op", ["unique", "unique_consecutive"])
def test_unique_along_the_empty_dim_of_an_empty_tensor(op):
    # unique_consecutive crashed in reshape; along a non-empty dim both gave one (0, 1) slice
    for shape, dim in (((0, 3), 0), ((0,), 0), ((0,), -1)):
        ours = getattr(R, op)(tg.zeros(*shape, dtype=np.float64), return_inverse=True,
                              return_counts=True, dim=dim)
        theirs = getattr(torch, op)(torch.zeros(*shape, dtype=torch.float64),
                                    return_inverse=True, return_counts=True, dim=dim)
        same_as_torch(ours, theirs, f"{op} {shape} dim {dim}")
    with pytest.raises(RuntimeError):
        getattr(torch, op)(torch.zeros(0, 3), dim=1)
    with pytest.raises(ValueError, match=rf"{op}: an empty tensor can only be split along its "
                                         r"one empty dimension, got dim 1 \(input shape "
                                         r"\(0, 3\)\)"):
        getattr(R, op)(tg.zeros(0, 3), dim=1)


def test_unique_with_dim_inverse_and_counts():
    a = np.array([[1, 2], [1, 2], [0, 5], [1, 2]], dtype=np.int32)
    for dim in (0, 1, -1):
        same_as_torch(R.unique(tg.tensor(a), return_inverse=True, return_counts=True, dim=dim),
                      torch.unique(torch.tensor(a), return_inverse=True, return_counts=True,
                                   dim=dim), f"dim {dim}")
        same_as_torch(R.unique_consecutive(tg.tensor(a), return_inverse=True,
                                           return_counts=True, dim=dim),
                      torch.unique_consecutive(torch.tensor(a), return_inverse=True,
                                               return_counts=True, dim=dim), f"dim {dim}")


# ----------------------------------------------------------------------------------------------
# histc, bincount
# ----------------------------------------------------------------------------------------------


def test_histc_puts_entries_on_inner_edges_where_torch_does():
    # (x - min) / (max - min) * bins rounds differently from torch's (x - min) * bins /
    # (max - min): 0.1 / 0.3-spaced entries landed one bin off
    x = np.linspace(-0.3, 0.4, 50).astype(np.float32)
    same_as_torch(R.histc(tg.tensor(x), 7, -0.3, 0.4), torch.histc(torch.tensor(x), 7, -0.3, 0.4))
    rng = np.random.default_rng(3)
    for it in range(60):
        dtype = np.float32 if it % 2 else np.float64
        lo, hi = round(rng.uniform(-2, 0), it % 3), round(rng.uniform(0.1, 2), it % 3)
        x = np.linspace(lo, hi, int(rng.integers(2, 40))).astype(dtype)
        bins = int(rng.integers(1, 20))
        same_as_torch(R.histc(tg.tensor(x), bins, lo, hi),
                      torch.histc(torch.tensor(x), bins, lo, hi), f"{lo} {hi} {bins}")


def test_bincount_weights_and_minlength():
    x = np.array([1, 3, 1, 0])
    for w in (None, np.array([0.5, 1.0, 2.0, 3.0]), np.array([0.5, 1.0, 2.0, 3.0], np.float32),
              np.array([1, 2, 3, 4])):
        for minlength in (0, 6):
            same_as_torch(
                R.bincount(tg.tensor(x), None if w is None else tg.tensor(w), minlength),
                torch.bincount(torch.tensor(x), None if w is None else torch.tensor(w),
                               minlength), f"{w} {minlength}")


# ----------------------------------------------------------------------------------------------
# prod, cumprod, cumsum: gradients with zeros
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [2.0, 3.0, 0.0],
                                    [2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 0.0, 2.0],
                                    [1.5, 0.0, 0.0, 2.0]])
def test_cumprod_and_prod_gradients_with_zeros(values):
    x = np.array(values)
    grads_as_torch(lambda t: R.cumprod(t, 0), lambda t: torch.cumprod(t, 0), x)
    grads_as_torch(lambda t: R.prod(t), lambda t: torch.prod(t), x)
    tg.gradcheck(lambda t: R.cumprod(t, 0), [tg.tensor(x, requires_grad=True)])
    tg.gradcheck(lambda t: R.prod(t, 0), [tg.tensor(x, requires_grad=True)])


def test_prod_and_cumprod_of_int_and_bool_run_in_int64():
    for a in (np.array([[1, 2], [0, 3]], dtype=np.int32), np.array([[True, False, True]]),
              np.array([[200, 100]], dtype=np.uint8)):
        same_as_torch(R.prod(tg.tensor(a)), torch.prod(torch.tensor(a)))
        same_as_torch(R.cumprod(tg.tensor(a), 1), torch.cumprod(torch.tensor(a), 1))
        same_as_torch(R.cumsum(tg.tensor(a), -1), torch.cumsum(torch.tensor(a), -1))


# ----------------------------------------------------------------------------------------------
# var / std
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_corrections_forward_and_gradient(op):
    x = np.random.default_rng(1).standard_normal((3, 5))
    for kwargs in ({}, {"unbiased": False}, {"correction": 0}, {"correction": 2},
                   {"correction": 0.5}):
        for dim in (None, 0, -1, (0, 1)):
            grads_as_torch(lambda t, kw=kwargs, dim=dim: getattr(t, op)(dim=dim, **kw),
                           lambda t, kw=kwargs, dim=dim: getattr(t, op)(dim=dim, **kw), x)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_over_dim_empty_tuple_reduce_everything_with_the_right_gradient(op):
    # dim=() reduces every dim (torch's forward too); torch's backward then takes N = 1 (wrong:
    # it gives inf or a 12x gradient), ours passes gradcheck
    x = np.random.default_rng(2).standard_normal((3, 4))
    same_as_torch(getattr(tg.tensor(x), op)(dim=()), getattr(torch.tensor(x), op)(dim=()))
    tg.gradcheck(lambda t: getattr(t, op)(dim=(), correction=0), [tg.tensor(x, requires_grad=True)])


# ----------------------------------------------------------------------------------------------
# A sweep against torch: values, returned indices, dtypes and gradients on small integer-valued
# inputs (many ties) with NaN
# ----------------------------------------------------------------------------------------------

SWEEP = {
    "mode": (lambda t, d: t.mode(d), lambda t, d: t.mode(d)),
    "median": (lambda t, d: t.median(d), lambda t, d: t.median(d)),
    "median all": (lambda t, d: t.median(), lambda t, d: t.median()),
    "cummax": (lambda t, d: t.cummax(d), lambda t, d: t.cummax(d)),
    "cummin": (lambda t, d: t.cummin(d), lambda t, d: t.cummin(d)),
    "max": (lambda t, d: t.max(d, True), lambda t, d: t.max(d, True)),
    "argmin": (lambda t, d: t.argmin(d), lambda t, d: t.argmin(d)),
    "amax": (lambda t, d: t.amax(d), lambda t, d: t.amax(d)),
    "sort": (lambda t, d: t.sort(d, True), lambda t, d: t.sort(dim=d, descending=True,
                                                                stable=True)),
    "nanquantile": (lambda t, d: t.nanquantile(0.37, d), lambda t, d: t.nanquantile(0.37, d)),
    "quantile nearest": (lambda t, d: t.quantile(0.5, d, interpolation="nearest"),
                         lambda t, d: t.quantile(0.5, d, interpolation="nearest")),
    "logcumsumexp": (lambda t, d: t.logcumsumexp(d), lambda t, d: t.logcumsumexp(d)),
    "nansum": (lambda t, d: t.nansum(d), lambda t, d: t.nansum(d)),
    "count_nonzero": (lambda t, d: R.count_nonzero(t, d), lambda t, d: torch.count_nonzero(t, d)),
}


@pytest.mark.parametrize("name", list(SWEEP))
def test_sweep_against_torch(name):
    ours_fn, theirs_fn = SWEEP[name]
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    for _ in range(25):
        shape = tuple(int(n) for n in rng.integers(1, 5, rng.integers(1, 4)))
        x = rng.integers(-2, 3, shape).astype(np.float64)
        if name != "mode" and rng.random() < 0.4:  # mode with NaN: torch's order is arbitrary
            x[rng.random(shape) < 0.25] = NAN
        d = int(rng.integers(-len(shape), len(shape)))
        ours_in = tg.tensor(x, requires_grad=True)
        theirs_in = torch.tensor(x, requires_grad=True)
        ours, theirs = ours_fn(ours_in, d), theirs_fn(theirs_in, d)
        ours = tuple(ours) if isinstance(ours, tuple) else (ours,)
        theirs = tuple(theirs) if isinstance(theirs, tuple) else (theirs,)
        same_as_torch(ours, theirs, f"{name} {x.tolist()} dim {d}")
        if not theirs[0].requires_grad:
            continue
        v = rng.standard_normal(tuple(theirs[0].shape))
        (ours[0] * tg.tensor(v)).sum().backward()
        (theirs[0] * torch.tensor(v)).sum().backward()
        same_as_torch(ours_in.grad, theirs_in.grad, f"{name} {x.tolist()} dim {d} gradient")


def test_gradcheck_on_odd_shapes():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 2))
    checks = [
        lambda t: R.nanmean(t, 1),
        lambda t: R.quantile(t, 0.3, 1),
        lambda t: R.nanquantile(t, tg.tensor([0.2, 0.7], dtype=np.float64), -1, True),
        lambda t: R.cummax(t, 1).values,
        lambda t: R.logcumsumexp(t, 0),
        lambda t: R.logsumexp(t, (0, 2)),
        lambda t: R.median(t, 1).values,
        lambda t: R.kthvalue(t, 2, 1).values,
        lambda t: R.topk(t, 2, 1).values,
        lambda t: R.norm(t, 0.5, (0, 1)),
        lambda t: R.norm(t, -1.5, -1),
        lambda t: R.std(t, 1, correction=2),
        lambda t: R.aminmax(t, dim=1).max,
        lambda t: R.mode(t.round(), 1).values,
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warning on the way
        for k, fn in enumerate(checks):
            assert tg.gradcheck(fn, [tg.tensor(x, requires_grad=True)]), k
