"""One-line op checks (tinygrad's ``helper_test_op``, micrograd's torch comparison).

``check_op(tg_fn, torch_fn, shapes)`` makes random inputs of the given shapes and checks:

1. forward: tinygrad_edu vs torch (float64 and float32, tolerance by dtype);
2. backward: tinygrad_edu vs torch with the same random upstream gradient;
3. backward vs float64 central differences (``tinygrad_edu.gradcheck``).

``device`` runs the tinygrad_edu side on "cpu" or "cuda" (the torch oracle stays on the CPU).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

import tinygrad_edu as tg

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is in the [test] extra
    torch = None

TOLERANCES = {np.float64: (1e-9, 1e-7), np.float32: (1e-5, 2e-4)}  # (atol, rtol)


def to_numpy(x) -> np.ndarray:
    if isinstance(x, tg.Tensor):
        return np.asarray(x.detach())
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _outputs(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def assert_close(actual, expected, dtype=np.float64, what="value", atol=None, rtol=None):
    default_atol, default_rtol = TOLERANCES[np.dtype(dtype).type]
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=atol, rtol=rtol,
                               err_msg=what)


def module_outputs_and_grads_match(ours, theirs, ours_in, theirs_in, ours_out, theirs_out,
                                   rng, label="", rtol=1e-9, atol=1e-12):
    """A tinygrad_edu module and its torch twin (the same weights) gave the same outputs; then,
    for one random upstream gradient per output, the same gradients of the inputs and of every
    parameter (matched by name)."""
    for k, (a, b) in enumerate(zip(ours_out, theirs_out, strict=True)):
        assert tuple(a.shape) == tuple(b.shape), f"output {k} {label}"
        assert_close(a, b, atol=atol, rtol=rtol, what=f"output {k} {label}")
    upstream = [rng.standard_normal(tuple(o.shape)) for o in theirs_out]
    sum((o * tg.tensor(u)).sum() for o, u in zip(ours_out, upstream, strict=True)).backward()
    sum((o * torch.tensor(u)).sum() for o, u in zip(theirs_out, upstream, strict=True)).backward()
    for k, (a, b) in enumerate(zip(ours_in, theirs_in, strict=True)):
        assert_close(a.grad, b.grad, atol=atol, rtol=rtol, what=f"grad of input {k} {label}")
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, their_params[name].grad, atol=atol, rtol=rtol,
                     what=f"grad of {name} {label}")


def check_op(
    tg_fn,
    torch_fn,
    shapes,
    *,
    dtypes=(np.float64, np.float32),
    device="cpu",
    low=-2.0,
    high=2.0,
    inputs=None,
    grad=True,
    gradcheck=True,
    atol=None,
    rtol=None,
    seed=0,
):
    """Check one op forward and backward against torch and numerical gradients.

    ``inputs`` (a list of float64 NumPy arrays) overrides the random ones made from ``shapes``.
    Returns the float64 tinygrad_edu outputs for further assertions.
    """
    rng = np.random.default_rng(seed)
    if inputs is None:
        inputs = [rng.uniform(low, high, size=s) for s in shapes]
    result = None
    for dtype in dtypes:
        arrays = [np.asarray(a).astype(dtype) for a in inputs]
        tg_in = [tg.tensor(a, device=device, requires_grad=grad) for a in arrays]
        tg_out = _outputs(tg_fn(*tg_in))
        if dtype == np.float64:
            result = tg_out
        if torch_fn is None:
            continue
        th_in = [torch.tensor(a, requires_grad=grad) for a in arrays]
        th_out = _outputs(torch_fn(*th_in))
        assert len(tg_out) == len(th_out), f"{len(tg_out)} outputs vs torch's {len(th_out)}"
        for k, (a, b) in enumerate(zip(tg_out, th_out)):
            assert tuple(a.shape) == tuple(b.shape), f"output {k}: shape {a.shape} vs {b.shape}"
            assert_close(a, b, dtype, f"forward output {k} ({np.dtype(dtype).name})", atol, rtol)
        if not grad:
            continue
        upstream = [rng.standard_normal(o.shape).astype(dtype) for o in tg_out]
        tg_loss = sum((o * tg.tensor(u, device=device)).sum() for o, u in zip(tg_out, upstream))
        th_loss = sum((o * torch.tensor(u)).sum() for o, u in zip(th_out, upstream))
        tg_loss.backward()
        th_loss.backward()
        for k, (a, b) in enumerate(zip(tg_in, th_in)):
            if b.grad is None:
                assert a.grad is None or not np.any(to_numpy(a.grad)), f"input {k}: grad"
                continue
            assert a.grad is not None, f"input {k}: no gradient, torch has one"
            assert_close(a.grad, b.grad, dtype, f"grad of input {k} ({np.dtype(dtype).name})",
                         atol, rtol)
    if grad and gradcheck:
        xs = [tg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=True)
              for a in inputs]
        tg.gradcheck(tg_fn, xs)
    return result


# ----------------------------------------------------------------------------------------------
# The benchmark scripts (benchmarks/ is no package)
# ----------------------------------------------------------------------------------------------

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextlib.contextmanager
def benchmark_script(filename: str, module_name: str):
    """benchmarks/``filename`` imported as ``module_name``; benchmarks/ is on sys.path while
    the module is in use (the scripts import their siblings: common, run, bench_autograd)."""
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[module_name]
        sys.path.remove(str(BENCHMARKS))
