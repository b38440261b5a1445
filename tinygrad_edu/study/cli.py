"""``tinygrad-edu gradcheck | graph | bench``: the study tools on the command line.

    tinygrad-edu gradcheck mlp                  # per-op gradient-check table of a seed model
    tinygrad-edu graph mlp --out graph.svg      # draw one forward + loss (--backward: + grads)
    tinygrad-edu bench [ARGS...]                # runs benchmarks/bench_kernels.py ARGS

Models come from ``tinygrad_edu.models.get_model(name)`` when that registry exists; the name
"mlp" always works (a small tanh MLP built here).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..tensor import Tensor


def add_parser(subparsers) -> None:
    """Register the ``gradcheck``, ``graph`` and ``bench`` subcommands."""
    p = subparsers.add_parser("gradcheck", help="gradient-check every op of a seed model "
                              "(float64, one row per op)")
    p.add_argument("model", help="model name (see `tinygrad-edu models`; 'mlp' always works)")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-elements", type=int, default=32,
                   help="elements perturbed one by one per input (random ones beyond)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_gradcheck_command)

    p = subparsers.add_parser("graph", help="draw the autograd graph of one forward + loss")
    p.add_argument("model", help="model name ('mlp' always works)")
    p.add_argument("--out", default="graph.svg",
                   help="output file: .svg/.png/.pdf (Graphviz or matplotlib), .dot or .txt")
    p.add_argument("--backward", action="store_true",
                   help="also draw the backward graph (runs backward first)")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_graph_command)

    # every argument (options included: --help goes to the script) is passed on untouched, so
    # this parser recognizes no options of its own
    p = subparsers.add_parser("bench", help="kernel benchmarks (benchmarks/bench_kernels.py)",
                              add_help=False, prefix_chars="\x00")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed on to bench_kernels.py")
    p.set_defaults(func=_bench_command)


# ----------------------------------------------------------------------------------------------
# Models: the registry when it exists, else the built-in "mlp"
# ----------------------------------------------------------------------------------------------


def _registry():
    """``tinygrad_edu.models`` if it exists and has ``get_model``, else None."""
    try:
        models = importlib.import_module("tinygrad_edu.models")
    except ModuleNotFoundError as e:
        if e.name not in ("tinygrad_edu.models",):
            raise
        return None
    return models if hasattr(models, "get_model") else None


def _builtin_mlp(seed: int):
    from ._layers import mlp

    return mlp([8, 16, 16, 3], "tanh", init="default", seed=seed)


def _example_input(model, name: str, batch_size: int, registry, rng) -> Tensor:
    """An input batch for ``model``: from the registry or the model if they offer one, else
    shaped after the registry's spec (images: (N, C, 28, 28), CIFAR: 32 x 32; tokens: (N, 16)
    integers) or after the first layer (Linear: (N, in_features))."""
    if registry is not None and hasattr(registry, "example_input"):
        return registry.example_input(name, batch_size)
    if hasattr(model, "example_input"):
        return model.example_input(batch_size)
    spec = None
    if registry is not None and hasattr(registry, "get_spec"):
        try:
            spec = registry.get_spec(name)
        except (KeyError, ValueError):
            spec = None
    first = next((m for m in model.modules()
                  if hasattr(m, "in_features") or hasattr(m, "in_channels")
                  or hasattr(m, "num_embeddings")), None)
    if spec is not None and getattr(spec, "input", None) == "tokens":
        vocab = getattr(first, "num_embeddings", 100)
        return Tensor(rng.integers(0, vocab, (batch_size, 16)).astype(np.int64))
    if spec is not None and getattr(spec, "input", None) == "image":
        channels = getattr(first, "in_channels", 1)
        size = 32 if "cifar10" in getattr(spec, "datasets", ()) else 28
        shape = (batch_size, channels, size, size)
    elif first is not None and hasattr(first, "in_features"):
        shape = (batch_size, first.in_features)
    elif first is not None and hasattr(first, "in_channels"):
        size = 28 if first.in_channels == 1 else 32
        shape = (batch_size, first.in_channels, size, size)
    else:
        raise ValueError(
            f"model {name!r}: cannot guess its input shape (no layer with in_features or "
            "in_channels); give the model an example_input(batch_size) method"
        )
    return Tensor(rng.standard_normal(shape).astype(np.float32))


def resolve_model(name: str, batch_size: int = 2, seed: int = 0):
    """(model, input batch) for a model name: the ``tinygrad_edu.models`` registry first, then
    the built-in "mlp"."""
    rng = np.random.default_rng(seed)
    registry = _registry()
    model = None
    if registry is not None:
        try:
            model = registry.get_model(name)
        except (KeyError, ValueError):
            if name != "mlp":
                raise
    if model is None:
        if name != "mlp":
            raise ValueError(
                f"unknown model {name!r}: the model registry (tinygrad_edu.models) is not "
                "available in this version; 'mlp' is built in"
            )
        model = _builtin_mlp(seed)
    return model, _example_input(model, name, batch_size, registry, rng)


def model_loss(out: Tensor, seed: int = 0) -> Tensor:
    """A scalar loss for any output: cross-entropy with random targets for (N, C) outputs,
    the mean square otherwise."""
    if out.ndim == 2 and out.shape[1] > 1:
        targets = np.random.default_rng(seed).integers(0, out.shape[1], out.shape[0])
        log_probs = out.log_softmax(-1)  # (N, C)
        return -log_probs[np.arange(out.shape[0]), targets].mean()
    return (out * out).mean()


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------


def _model_for(args):
    """``resolve_model`` for a command's arguments; bad values raise ``UsageError``."""
    from .._usage import UsageError, check_at_least_one

    check_at_least_one("--batch-size", args.batch_size)
    try:
        return resolve_model(args.model, args.batch_size, args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _gradcheck_command(args) -> int:
    from .._usage import check_at_least_one, check_device
    from .gradcheck_report import gradcheck_report

    check_at_least_one("--max-elements", args.max_elements)
    check_device(args.device)
    model, x = _model_for(args)
    if args.device != "cpu":
        model.to(args.device)
        x = x.to(args.device)

    def forward_and_loss(batch):
        return model_loss(model(batch), args.seed)

    report = gradcheck_report(forward_and_loss, x, model=model,
                              max_elements=args.max_elements, seed=args.seed)
    print(report)
    return 0 if report.passed else 1


def _graph_command(args) -> int:
    from .._usage import UsageError
    from .graph import draw, file_type

    try:
        file_type(args.out, "--out")
    except ValueError as error:
        raise UsageError(str(error)) from None
    folder = Path(args.out).parent
    if not folder.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(folder)!r} does not exist")
    model, x = _model_for(args)
    loss = model_loss(model(x), args.seed)
    if args.backward:
        loss.backward(retain_graph=True)
    try:
        engine = draw(loss, args.out, show_backward=args.backward,
                      names=dict(model.named_parameters()))
    except OSError as error:  # no permission, a folder of that name, a full disk
        raise UsageError(f"--out {args.out!r}: cannot write it: {error.strerror or error}") \
            from None
    print(f"wrote {args.out} ({engine})")
    return 0


def _bench_script() -> Path | None:
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        script = root / "benchmarks" / "bench_kernels.py"
        if script.is_file():
            return script
    return None


def _bench_command(args) -> int:
    script = _bench_script()
    if script is None:
        print("bench: benchmarks/bench_kernels.py not found (run from the repository root of "
              "a source checkout; the kernel benchmarks are not part of this version yet)",
              file=sys.stderr)
        return 1
    return subprocess.run([sys.executable, str(script), *args.args], check=False).returncode
