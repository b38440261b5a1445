"""Review tests: datasets, collate and LR schedulers against torch (the oracle only)."""

from __future__ import annotations

import collections
import pickle
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as torch_sched
from torch.utils import data as torch_data

import tinygrad_edu as tg
from tinygrad_edu import data, optim
from tinygrad_edu.optim import lr_scheduler as our_sched

TOL = 1e-12
LRS = (0.1, 0.03)  # two parameter groups with different lrs


# ---------------------------------------------------------------- helpers for the schedulers


def make_optimizers(kind="SGD", lrs=LRS, **kwargs):
    ours = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    theirs = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return (getattr(optim, kind)(ours, lr=1.0, **kwargs),
            getattr(torch.optim, kind)(theirs, lr=1.0, **kwargs))


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group.get("momentum", 0.0)


def trajectory(opt, scheduler, steps, args=None):
    """lrs and momenta after construction and after each step; checks get_last_lr too."""
    lrs = [[g["lr"] for g in opt.param_groups]]
    momenta = [[momentum_of(g) for g in opt.param_groups]]
    for i in range(steps):
        opt.step()
        if args is None:
            scheduler.step()
        else:
            scheduler.step(args[i])
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([momentum_of(g) for g in opt.param_groups])
        assert list(scheduler.get_last_lr()) == lrs[-1]
    return np.array(lrs), np.array(momenta)


def assert_same_as_torch(name, kwargs, steps=50, kind="SGD", opt_kwargs=None, args=None):
    ours, theirs = make_optimizers(kind, **(opt_kwargs or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) deprecation
        got = trajectory(ours, getattr(our_sched, name)(ours, **kwargs), steps, args)
        want = trajectory(theirs, getattr(torch_sched, name)(theirs, **kwargs), steps, args)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=TOL, err_msg=f"{name} lr")
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=TOL, err_msg=f"{name} momentum")


CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 5, 10, 30, 30, 30], gamma=0.5)),
    ("MultiStepLR", dict(milestones=[10, 5], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=1, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=7)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=7)),
    ("ConstantLR", dict(factor=0.25, total_iters=4)),
    ("PolynomialLR", dict(total_iters=10, power=0.5)),
    ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.9, lambda e: 1.01])),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=5,
                      mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.97)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 0.5 ** x,
                      scale_mode="iterations")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=0)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs):
    assert_same_as_torch(name, kwargs, opt_kwargs=dict(momentum=0.9))


@pytest.mark.parametrize("kind,opt_kwargs", [("SGD", dict(momentum=0.9)), ("Adam", {})])
@pytest.mark.parametrize("kwargs", [
    dict(max_lr=1.0, total_steps=50),
    dict(max_lr=[1.0, 0.5], total_steps=50, anneal_strategy="linear"),
    dict(max_lr=1.0, epochs=5, steps_per_epoch=10, three_phase=True),
    dict(max_lr=1.0, total_steps=51, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
         three_phase=True),
    dict(max_lr=1.0, total_steps=50, base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.95]),
])
def test_one_cycle_lr_and_momentum_match_torch(kind, opt_kwargs, kwargs):
    assert_same_as_torch("OneCycleLR", kwargs, steps=49, kind=kind, opt_kwargs=opt_kwargs)


def test_cyclic_lr_cycles_adam_beta1_like_torch():
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.97)
    assert_same_as_torch("CyclicLR", kwargs, kind="Adam")


def test_one_cycle_lr_refuses_steps_past_total_like_torch():
    ours, _ = make_optimizers(momentum=0.9)
    scheduler = our_sched.OneCycleLR(ours, max_lr=1.0, total_steps=3)
    for _ in range(3):
        ours.step()
        scheduler.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        scheduler.step()


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9] * 4


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("kwargs", [
    dict(patience=1, cooldown=2, factor=0.5),
    dict(mode="max", patience=0, factor=0.5, min_lr=[0.01, 0.001]),
    dict(threshold_mode="abs", threshold=0.05, patience=1),
    dict(mode="max", threshold_mode="abs", threshold=0.05, patience=1),
    dict(patience=0, factor=0.5, min_lr=0.02, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs, sign):
    metrics = [sign * m for m in PLATEAU_METRICS]
    assert_same_as_torch("ReduceLROnPlateau", kwargs, steps=len(metrics), args=metrics)


@pytest.mark.parametrize("kwargs", [dict(T_0=3, T_mult=2), dict(T_0=2),
                                    dict(T_0=1, T_mult=3, eta_min=0.01)])
def test_warm_restarts_fractional_and_jumping_epochs_match_torch(kwargs):
    per_batch = [i * 0.3 for i in range(50)]
    assert_same_as_torch("CosineAnnealingWarmRestarts", kwargs, args=per_batch)
    jumps = [7, 3, 0, 1.5, 100, 2.0, 13.99, 14, 45.0, 6]
    assert_same_as_torch("CosineAnnealingWarmRestarts", kwargs, steps=len(jumps), args=jumps)


@pytest.mark.parametrize("name,kwargs", [c for c in CASES[:12]])
def test_step_with_epoch_uses_closed_form_like_torch(name, kwargs):
    epochs = [3, 7, 0, 12, 5, 6, 6, 20, 1, 2]
    assert_same_as_torch(name, kwargs, steps=len(epochs), args=epochs)


def build(module, opt, spec):
    """A scheduler from ("Seq", [specs], milestones), ("Chain", [specs]) or (name, kwargs)."""
    if spec[0] == "Seq":
        inner = [build(module, opt, s) for s in spec[1]]
        return module.SequentialLR(opt, inner, milestones=spec[2])
    if spec[0] == "Chain":
        return module.ChainedScheduler([build(module, opt, s) for s in spec[1]], optimizer=opt)
    return getattr(module, spec[0])(opt, **spec[1])


WARMUP = ("LinearLR", dict(start_factor=0.1, total_iters=5))
EXP = ("ExponentialLR", dict(gamma=0.9))
COS = ("CosineAnnealingLR", dict(T_max=20, eta_min=0.001))
CONST = ("ConstantLR", dict(factor=0.5, total_iters=3))
STEP = ("StepLR", dict(step_size=4, gamma=0.5))
GROUPS = [
    ("Seq", [WARMUP, COS], [5]),
    ("Seq", [CONST, EXP, STEP], [3, 10]),
    ("Seq", [STEP, COS], [0]),
    ("Seq", [WARMUP, COS, EXP], [5, 5]),
    ("Chain", [WARMUP, STEP, EXP]),
    ("Seq", [("Chain", [CONST, EXP]), COS], [6]),
    ("Chain", [("Seq", [WARMUP, EXP], [5]), CONST]),
]


@pytest.mark.parametrize("spec", GROUPS, ids=[str(i) for i in range(len(GROUPS))])
def test_sequential_and_chained_match_torch(spec):
    ours, theirs = make_optimizers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, _ = trajectory(ours, build(our_sched, ours, spec), 50)
        want, _ = trajectory(theirs, build(torch_sched, theirs, spec), 50)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


RESUMABLE = [STEP, ("MultiStepLR", dict(milestones=[3, 3, 12])), COS, WARMUP, CONST,
             ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
             ("OneCycleLR", dict(max_lr=1.0, total_steps=60)),
             ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
             ("Seq", [WARMUP, COS], [5]), ("Chain", [CONST, EXP])]


@pytest.mark.parametrize("spec", RESUMABLE, ids=[s[0] for s in RESUMABLE])
def test_state_dict_round_trip_resumes_exactly(spec):
    opt, _ = make_optimizers(momentum=0.9)
    full, full_momenta = trajectory(opt, build(our_sched, opt, spec), 30)
    opt, _ = make_optimizers(momentum=0.9)
    scheduler = build(our_sched, opt, spec)
    trajectory(opt, scheduler, 10)
    saved = pickle.loads(pickle.dumps((opt.state_dict(), scheduler.state_dict())))
    opt, _ = make_optimizers(momentum=0.9)
    scheduler = build(our_sched, opt, spec)
    opt.load_state_dict(saved[0])
    scheduler.load_state_dict(saved[1])
    rest, rest_momenta = trajectory(opt, scheduler, 20)
    np.testing.assert_allclose(rest, full[10:], rtol=0, atol=TOL)
    np.testing.assert_allclose(rest_momenta, full_momenta[10:], rtol=0, atol=TOL)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=3)), ("MultiStepLR", dict(milestones=[8, 12])),
    ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=10)),
    ("LinearLR", dict(total_iters=10)), ("ConstantLR", dict(total_iters=10)),
    ("PolynomialLR", dict(total_iters=10)), ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e)),
])
def test_last_epoch_resumption_matches_torch(name, kwargs):
    ours, theirs = make_optimizers()
    results = []
    for opt, module in ((ours, our_sched), (theirs, torch_sched)):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
            group["lr"] = group["lr"] * 0.5
        scheduler = getattr(module, name)(opt, last_epoch=7, **kwargs)
        results.append((scheduler.last_epoch, trajectory(opt, scheduler, 20)[0]))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0, atol=TOL)


def test_resuming_without_initial_lr_raises_key_error_like_torch():
    ours, theirs = make_optimizers()
    with pytest.raises(KeyError):
        torch_sched.StepLR(theirs, step_size=2, last_epoch=3)
    with pytest.raises(KeyError, match="initial_lr"):
        our_sched.StepLR(ours, step_size=2, last_epoch=3)


def test_step_order_warning_only_when_scheduler_steps_first():
    ours, _ = make_optimizers()
    scheduler = our_sched.StepLR(ours, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        scheduler.step()
    ours, _ = make_optimizers()
    scheduler = our_sched.StepLR(ours, step_size=2)
    ours.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()
    assert scheduler.last_epoch == 1


# ------------------------------------------------------------------------------- datasets

X1 = np.arange(12.0).reshape(6, 2)
Y1 = np.arange(6)
X2 = np.arange(100.0, 108.0).reshape(4, 2)
Y2 = np.arange(10, 14)


def assert_nested_equal(got, want):
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for key in want:
            assert_nested_equal(got[key], want[key])
    elif isinstance(want, tuple | list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_nested_equal(g, w)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("as_dict", [False, True])
def test_loader_over_concat_of_stack_datasets_uses_their_structure(as_dict):
    # regression: the fast path zipped dict keys / nested tuples as if they were arrays
    def stack(x, y):
        if as_dict:
            return data.StackDataset(x=data.TensorDataset(x), y=data.TensorDataset(y))
        return data.StackDataset(data.TensorDataset(x), data.TensorDataset(y))

    concat = data.ConcatDataset([stack(X1, Y1), stack(X2, Y2)])
    assert concat.batched_indexing
    fast = list(data.DataLoader(concat, batch_size=4, shuffle=True, seed=0))
    slow = list(data.DataLoader(concat, batch_size=4, shuffle=True, seed=0,
                                collate_fn=data.default_collate))
    assert len(fast) == 3
    for got, want in zip(fast, slow, strict=True):
        assert_nested_equal(got, want)


def test_concat_get_batch_negative_and_empty_indices():
    concat = data.ConcatDataset([data.TensorDataset(X1, Y1), data.TensorDataset(X2, Y2)])
    xb, yb = concat.get_batch(np.array([-1, -10, 7]))
    np.testing.assert_array_equal(yb, [concat[-1][1], concat[-10][1], concat[7][1]])
    np.testing.assert_array_equal(xb, [X2[-1], X1[0], X2[1]])
    xb, yb = concat.get_batch(np.array([], dtype=np.int64))
    assert xb.shape == (0, 2) and yb.shape == (0,)


def test_concat_with_empty_members_and_negative_getitem():
    empty = data.TensorDataset(X1[:0], Y1[:0])
    concat = data.ConcatDataset([empty, data.TensorDataset(X1, Y1), empty,
                                 data.TensorDataset(X2, Y2), empty])
    reference = torch_data.ConcatDataset([[], list(Y1), [], list(Y2), []])
    assert concat.cumulative_sizes == reference.cumulative_sizes
    assert [concat[i][1] for i in range(-10, 10)] == [reference[i] for i in range(-10, 10)]
    _, yb = concat.get_batch(np.arange(10)[::-1])
    assert yb.tolist() == [reference[i] for i in range(9, -1, -1)]
    with pytest.raises(IndexError):
        concat[10]


class Stream(data.IterableDataset):
    def __iter__(self):
        return iter(range(7))


class SizedStream(Stream):
    def __len__(self):
        return 7


def test_concat_refuses_iterable_datasets_and_empty_lists():
    with pytest.raises(TypeError, match="IterableDataset"):
        data.ConcatDataset([SizedStream()])
    with pytest.raises(ValueError, match="at least one"):
        data.ConcatDataset([])


def test_tensor_and_stack_dataset_size_mismatch_errors():
    with pytest.raises(ValueError, match=r"\(6, 2\), \(4,\)"):
        data.TensorDataset(X1, Y2)
    with pytest.raises(ValueError, match="size mismatch"):
        data.StackDataset(X1, Y2)
    with pytest.raises(ValueError, match="size mismatch"):
        data.StackDataset(a=X1, b=Y2)
    with pytest.raises(ValueError, match="either tuple-like"):
        data.StackDataset(X1, b=Y1)


def test_stack_dataset_tuple_and_dict_forms_like_torch():
    for args, kwargs in (((X1, Y1), {}), ((), dict(a=X1, b=Y1))):
        ours = data.StackDataset(*args, **kwargs)[-2]
        theirs = torch_data.StackDataset(*args, **kwargs)[4]
        assert_nested_equal(ours, theirs)


def test_chain_dataset_and_iterable_loader_like_torch():
    chain = data.ChainDataset([Stream(), SizedStream()])
    assert list(chain) == list(range(7)) * 2
    with pytest.raises(TypeError):
        len(chain)
    assert len(data.ChainDataset([SizedStream(), SizedStream()])) == 14
    batches = [b.tolist() for b in data.DataLoader(Stream(), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    dropped = [b.tolist() for b in data.DataLoader(Stream(), batch_size=3, drop_last=True)]
    assert dropped == [[0, 1, 2], [3, 4, 5]]
    assert list(data.DataLoader(Stream(), batch_size=None)) == list(range(7))
    with pytest.raises(TypeError):
        len(data.DataLoader(Stream(), batch_size=3))
    for batch_size, drop_last, want in ((3, False, 3), (3, True, 2), (None, False, 7)):
        loader = data.DataLoader(SizedStream(), batch_size=batch_size, drop_last=drop_last)
        assert len(loader) == want
    with pytest.raises(ValueError, match="shuffle"):
        data.DataLoader(Stream(), shuffle=True)


@pytest.mark.parametrize("lengths,n", [
    ([0.3, 0.3, 0.4], 10), ([0.33, 0.33, 0.34], 7), ([0.5, 0.5], 5), ([0.1] * 10, 13),
    ([1 / 3] * 3, 10), ([0.2, 0.8], 3), ([3, 7], 10), ([1.0, 0], 4),
])
def test_random_split_lengths_like_torch(lengths, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about empty splits
        want = [len(s) for s in torch_data.random_split(torch_data.TensorDataset(
            torch.arange(n)), lengths)]
    parts = data.random_split(data.TensorDataset(np.arange(n)), lengths, seed=0)
    assert [len(p) for p in parts] == want
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(n))


def test_random_split_reproducible_and_errors():
    ds = data.TensorDataset(np.arange(10))
    a = data.random_split(ds, [5, 5], generator=np.random.default_rng(3))
    b = data.random_split(ds, [5, 5], generator=np.random.default_rng(3))
    assert a[0].indices.tolist() == b[0].indices.tolist()
    c = data.random_split(ds, [0.5, 0.5], seed=4)
    d = data.random_split(ds, [0.5, 0.5], seed=4)
    assert c[1].indices.tolist() == d[1].indices.tolist()
    with pytest.raises(ValueError, match="sum to 9"):
        data.random_split(ds, [3, 6])
    with pytest.raises(ValueError, match="sum to 1"):
        data.random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="seed or generator"):
        data.random_split(ds, [5, 5], seed=1, generator=np.random.default_rng(1))


def test_subset_negative_and_out_of_range_indices():
    subset = data.Subset(data.TensorDataset(X1), [-1, 0])
    np.testing.assert_array_equal(subset[0][0], X1[-1])
    with pytest.raises(IndexError):
        data.Subset(data.TensorDataset(X1), [6])


# -------------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")


def test_default_collate_keeps_namedtuples_like_torch():
    batch = data.default_collate([Point(np.ones(2), 1), Point(np.zeros(2), 2)])
    assert type(batch) is Point
    assert batch.x.shape == (2, 2) and batch.y.tolist() == [1, 2]
    assert type(torch_data.default_collate([Point(torch.ones(2), 1)])) is Point


def test_default_collate_mixed_ints_and_floats_is_float_like_torch():
    # regression: the first value's type decided and 0.5 was truncated to 0
    batch = data.default_collate([0, 0.5, 2])
    assert batch.dtype == np.float32
    assert batch.tolist() == torch_data.default_collate([0, 0.5, 2]).tolist()
    (field,) = data.default_collate([(0,), (1.5,)])
    assert field.tolist() == [0.0, 1.5]
    assert data.default_collate([True, 2]).tolist() == [1, 2]
    assert data.default_collate([True, False]).dtype == np.bool_
    assert data.default_collate([1, 2]).dtype == np.int64


def test_default_collate_nested_structures():
    examples = [{"a": (1, np.ones(2)), "b": "s"}, {"a": (2, np.zeros(2)), "b": "t"}]
    batch = data.default_collate(examples)
    assert batch["b"] == ["s", "t"]
    assert batch["a"][0].tolist() == [1, 2]
    np.testing.assert_array_equal(batch["a"][1], [[1, 1], [0, 0]])
    assert data.default_collate([np.float64(1), np.float64(2)]).dtype == np.float64
    with pytest.raises(ValueError, match="same number of fields"):
        data.default_collate([(1, 2), (3,)])


def test_default_convert_keeps_structure():
    converted = data.default_convert(Point(np.ones(1), [1, (2, 3)]))
    assert type(converted) is Point
    assert converted.y == [1, (2, 3)]
    assert isinstance(data.default_convert(tg.ones(2)), np.ndarray)
