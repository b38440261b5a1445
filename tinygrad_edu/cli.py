"""``tinygrad-edu``: the command line.

    tinygrad-edu --version
    tinygrad-edu info                  # versions, devices, kernel implementations
    tinygrad-edu train MODEL ...       # train a seed model (see ``tinygrad-edu models``)
    tinygrad-edu gradcheck MODEL       # whole-model gradient-check report
    tinygrad-edu graph MODEL --out g.svg
    tinygrad-edu bench ...             # kernel benchmarks

Each subcommand lives in the module that implements it; this file only wires them up.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from ._usage import UsageError

# subcommand -> module whose ``add_parser(subparsers)`` registers it
SUBCOMMANDS = {
    "info": "tinygrad_edu.cli",
    "train": "tinygrad_edu.training.cli",
    "models": "tinygrad_edu.training.cli",
    "gradcheck": "tinygrad_edu.study.cli",
    "graph": "tinygrad_edu.study.cli",
    "bench": "tinygrad_edu.study.cli",
}


def _info(args) -> int:
    import numpy as np

    import tinygrad_edu as tg
    from tinygrad_edu import backend

    print(f"tinygrad_edu {tg.__version__}")
    print(f"numpy        {np.__version__}")
    try:
        import numba

        print(f"numba        {numba.__version__}")
    except ImportError:
        print("numba        not installed (the 'numba' kernels are unavailable)")
    gpu = backend.gpu_available()
    gpu_text = "yes (CuPy)" if gpu else "no (install tinygrad-edu[gpu] on a GPU machine)"
    print(f"CUDA GPU     {gpu_text}")
    print(f"kernels      {', '.join(backend.KERNEL_CHOICES)} (current: {tg.Config.kernel})")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="show versions, devices and kernel implementations")
    p.set_defaults(func=_info)


def _exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def build_parser() -> argparse.ArgumentParser:
    import tinygrad_edu

    parser = argparse.ArgumentParser(
        prog="tinygrad-edu",
        description="A from-scratch deep-learning engine for understanding backprop.",
    )
    parser.add_argument("--version", action="version",
                        version=f"tinygrad-edu {tinygrad_edu.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered = set()
    for module_name in dict.fromkeys(SUBCOMMANDS.values()):
        if not _exists(module_name):
            continue  # that part of the library does not exist in this version
        module = importlib.import_module(module_name)
        if module_name not in registered:
            module.add_parser(subparsers)
            registered.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m tinygrad_edu.cli: the same main as the console script
    from tinygrad_edu.cli import main as _main

    sys.exit(_main())
