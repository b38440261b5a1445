"""Argument checks shared by the command-line subcommands (``cli.py``, ``training/cli.py``,
``study/cli.py``). A module of its own, below all of them: the subcommands import it without
importing the entry point (which may be running as ``__main__``)."""

from __future__ import annotations

import numbers


class UsageError(Exception):
    """A bad argument value that only a subcommand can judge (an unknown model, a device with
    no GPU behind it): ``cli.main`` prints ``tinygrad-edu COMMAND: error: MESSAGE`` and exits
    with status 2, as argparse does for the arguments it checks itself."""


def check_at_least_one(name: str, value) -> None:
    """An integer option such as ``--batch-size`` must be >= 1 (None: not given)."""
    if value is not None and (not isinstance(value, numbers.Integral) or value < 1):
        raise UsageError(f"{name} must be at least 1, got {value}")


def check_device(device: str) -> str:
    """``--device``: 'cpu', 'cuda' or 'cuda:N', and for CUDA a GPU that CuPy can see."""
    from . import backend

    try:
        parsed = backend.as_device(device)
    except ValueError:
        raise UsageError(f"--device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from None
    if parsed.type == "cuda" and not backend.gpu_available():
        raise UsageError(f"--device {device}: no CUDA GPU found (CuPy missing or no device); "
                         "install tinygrad-edu[gpu] on a GPU machine, or use --device cpu")
    return device
