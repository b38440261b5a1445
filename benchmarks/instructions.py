"""Framework overhead in instructions, not seconds: callgrind counts per tiny op and per MLP step.

    python benchmarks/instructions.py [--only tiny,mlp] [--n1 N] [--n2 N] [--json OUT]
                                      [--no-torch] [--count-all]

Why: on a small shared machine a timing moves by +-50% from one run to the next, so a change of
a few percent in the framework's overhead cannot be seen in seconds. The number of instructions
the CPU executes can: valgrind's callgrind counts them, and for a single-threaded process with a
fixed hash seed the count repeats from run to run.

Method: the same child process (this script, re-invoked) builds one workload with one
implementation, runs 3 warm-up iterations, collects and disables the garbage collector, then
runs N iterations and exits. It runs twice under

    valgrind --tool=callgrind --callgrind-out-file=/dev/null --instr-atstart=no python ...

once with N1 and once with N2 iterations; valgrind reports ``Collected : <count>`` on stderr, and

    instructions per iteration = (count(N2) - count(N1)) / (N2 - N1)

cancels whatever both runs share. The children get PYTHONHASHSEED=0 and one thread for
OpenBLAS, OpenMP, MKL and Numba: idle pool threads spinning in the background change the count
by up to 30% otherwise.

What the count still depends on: the memory layout. The environment's size and contents move
stack and heap addresses, hence the alignment of arrays and buffers, hence which loop variants
run; a variable more or less moves a count by 0.01-0.5% (torch the most), and the tiny op's by
up to 1.8% (measured 2026-12-07: 19,078 to 19,435 per op with a 0 to 7,000-character variable
added). The children therefore
run in the repository's root without the shell's per-command variables (``_``, ``OLDPWD``), and
two invocations from the same environment give the same counts to the instruction. Compare
counts taken in the same environment, with the same N1 and N2.

``--instr-atstart=no``: callgrind starts with its instrumentation off, and the child turns it on
(valgrind client requests, ``client_request`` below) for the N iterations only. Start-up, imports
and the warm-up then run 3-4x faster (importing torch under full instrumentation takes 45 s, 11 s
without) and are not counted at all. ``--count-all`` instruments whole runs instead, the plain
method, where the difference alone removes start-up; the two agree to ~0.1% (measured: tiny op
fwd 19,829 vs 19,813, fwd+bwd 53,241 vs 53,240 instructions per op). Client requests need
x86-64 Linux; elsewhere whole runs are instrumented. The default run takes about 2.5 minutes.

Workloads (``--only`` takes the group names):

    tiny   "tiny op fwd" and "tiny op fwd+bwd": benchmarks/bench_autograd.py's chain of CHAIN
           alternating ``h * w``, ``h + w`` on (4, 4) float32 (w requires grad); counts are per
           op (per iteration / CHAIN). On 16 numbers the arithmetic is almost free: the
           floor's count is NumPy's own cost per call, the rest is the framework's bookkeeping.
           Defaults N1=10, N2=30 (chains).
    mlp    "MLP step": MLP 784-128-10, batch 64, cross entropy, Adam (forward, loss, backward,
           step, zero_grad, as in benchmarks/step_breakdown.py); counts are per train step.
           Defaults N1=2, N2=8 (a step takes ~0.6 s under valgrind, instrumented or not,
           against 0.4 ms natively: valgrind is slow on the matrix products' AVX code). All
           three sides start from the same weights
           and so compute the same numbers: NumPy's exp and log take data-dependent paths, and
           the count per step drifts by ~0.3% over the first twenty steps, so compare counts
           taken with the same N1 and N2.

Implementations: tinygrad_edu; torch (one thread; ``--no-torch`` or torch missing: skipped);
the numpy floor (the same math by hand on raw arrays, no Tensor, no graph: run.py's floors).
"over floor" is the framework's own instructions per op or step.

The MLP runs without Numba: valgrind 3.19 does not emulate AVX-512; under it LLVM sees a
"haswell" CPU (AVX2), so Numba would compile its kernels anew for that CPU (slowly, during the
warm-up, into Numba's cache; its cache is keyed on the CPU, so the AVX-512 code cached by native
runs is not loaded and cannot fault), and the GEMM kernels, sized for AVX-512, would hand every
product to BLAS: the kernels counted would not be the ones that run natively. So the MLP's
children get TINYGRAD_EDU_NUMBA_GEMM=0, tinygrad_edu runs under ``use_kernel("reference")``
(matmul is NumPy's ``@``, Adam runs the reference array lines of ``kernels/reference/optim.py``;
Numba is never imported), and the floor uses ``np.matmul`` and the same reference ReLU and Adam
update (``run.KernelLayers(np, "reference")``). Both sides then run the same NumPy/BLAS math,
and the difference is the framework's own work per step.

Reading the numbers: counts are deterministic but they are not times. An instruction of
interpreted Python (dict look-ups, reference counting) and one of torch's compiled C++ do not
cost the same time (cache misses, branch mispredictions and instruction-level parallelism
differ), so ratios to torch are ratios of work, not of speed. Use the counts to decide whether a
change to tinygrad_edu made its own overhead smaller, and timings (bench_autograd.py, run.py)
for how fast it is.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import mmap
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from bench_autograd import (  # noqa: E402
    CHAIN,
    chain_forward,
    chain_forward_backward,
    floor_forward_backward,
)
from common import summary, write_json  # noqa: E402

SCRIPT = Path(__file__).resolve()
GROUPS = ("tiny", "mlp")
TINYGRAD, PEER, FLOOR = "tinygrad_edu", "torch", "numpy floor"
IMPLS = (TINYGRAD, PEER, FLOOR)
WARMUP = 3  # iterations before counting starts (the first ones allocate, import and cache)
# Every pool one thread: spinning pool threads make the count vary by up to 30%
CHILD_ENV = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
# Set by the shell for every command and every cd: the environment's size moves the child's
# memory layout (stack and heap addresses, hence alignments), and its count by up to ~0.5%.
# The child runs in the repository's root, PWD set to it, wherever the parent was started.
CHILD_ENV_DROPPED = ("_", "OLDPWD")
CHILD_CWD = SCRIPT.parents[1]


@dataclass(frozen=True)
class Workload:
    key: str  # the child's name for it
    group: str  # what --only selects
    name: str  # the table's name for it
    shape: str
    unit: str  # what one count is per: "op" or "step"
    units: int  # units per iteration of the child's loop
    n1: int  # default iterations of the two runs
    n2: int
    env: tuple = ()  # extra (variable, value) pairs for the child


WORKLOADS = {
    "tiny-fwd": Workload("tiny-fwd", "tiny", "tiny op fwd", "(4, 4) float32", "op", CHAIN,
                         10, 30),
    "tiny-fwd-bwd": Workload("tiny-fwd-bwd", "tiny", "tiny op fwd+bwd", "(4, 4) float32", "op",
                             CHAIN, 10, 30),
    # no Numba under valgrind (it sees no AVX-512 there): see the module docstring
    "mlp": Workload("mlp", "mlp", "MLP step", "784-128-10, batch 64", "step", 1, 2, 8,
                    (("TINYGRAD_EDU_NUMBA_GEMM", "0"),)),
}


@dataclass
class Count:
    name: str  # workload, e.g. "tiny op fwd"
    impl: str
    shape: str
    unit: str  # "op" or "step"
    per_unit: float  # instructions per op or per step
    per_iteration: float  # instructions per iteration of the child's loop
    n1: int
    n2: int
    collected1: int  # valgrind's totals for the two runs
    collected2: int
    seconds: float  # wall time of the two valgrind runs


# ----------------------------------------------------------------------------------------------
# Valgrind client requests: turn callgrind's instrumentation on for the counted loop only
# ----------------------------------------------------------------------------------------------

RUNNING_ON_VALGRIND = 0x1001  # valgrind.h: 1 under valgrind, 0 on a real CPU
START_INSTRUMENTATION = 0x43540004  # callgrind.h: VG_USERREQ_TOOL_BASE('C', 'T') + 4
STOP_INSTRUMENTATION = 0x43540005

# valgrind.h's VALGRIND_DO_CLIENT_REQUEST on x86-64 as a function ``size_t f(size_t *args)``
# (args: the request code and 5 arguments). The four rotations of rdi add up to 128 bits, a
# no-op on a real CPU; valgrind recognises them, and ``xchg rbx, rbx`` then means "rdx = the
# answer to the request at [rax]". On a real CPU the answer is rdx's default, 0.
_CLIENT_REQUEST_X86_64 = bytes.fromhex(
    "4889f8"  # mov rax, rdi      the request's address
    "31d2"  # xor edx, edx      the default answer
    "48c1c703"  # rol rdi, 3
    "48c1c70d"  # rol rdi, 13
    "48c1c73d"  # rol rdi, 61
    "48c1c733"  # rol rdi, 51
    "4887db"  # xchg rbx, rbx     rdx = client_request(rax)
    "4889d0"  # mov rax, rdx
    "c3"  # ret
)


def client_requests_work_here() -> bool:
    """Whether ``client_request`` can run: x86-64 Linux (valgrind.h's sequence for that CPU),
    where the system lets a process map a page that is writable and executable (hardened
    kernels, SELinux's deny_execmem, refuse it: whole runs are instrumented there)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        _client_request_function()
    except (OSError, ValueError):
        return False
    return True


@functools.cache
def _client_request_function():
    """The bytes above in an executable page, callable through ctypes (the page is returned
    with the function: it must live as long as the function does)."""
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_CLIENT_REQUEST_X86_64)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)(address), page


def client_request(code: int) -> int:
    """Valgrind's answer to request ``code`` (valgrind.h / callgrind.h; no arguments); 0 on a
    real CPU."""
    function, _page = _client_request_function()
    request = (ctypes.c_size_t * 6)(code)  # the code, then 5 arguments, all 0
    return function(request)


# ----------------------------------------------------------------------------------------------
# The child: one workload, one implementation, N iterations
# ----------------------------------------------------------------------------------------------


def _tiny_op(key: str, impl: str):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 4)).astype(np.float32)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    if impl == FLOOR:
        if key == "tiny-fwd":
            return lambda: chain_forward(x, w)
        return lambda: floor_forward_backward(x, w)
    if impl == TINYGRAD:
        import tinygrad_edu as tg

        X, W = tg.tensor(x), tg.tensor(w, requires_grad=True)
    else:
        import torch

        torch.set_num_threads(1)
        X, W = torch.tensor(x), torch.tensor(w, requires_grad=True)
    if key == "tiny-fwd":
        return lambda: chain_forward(X, W)
    return lambda: chain_forward_backward(X, W)


def _mlp_step(impl: str):
    """One train step of the MLP (forward, cross entropy, backward, Adam's step, zero_grad: the
    order of step_breakdown's ``tinygrad_step``), on step_breakdown's batch. All three sides
    start from the floor's weights, so that they run the same math on the same numbers (NumPy's
    exp and log take data-dependent paths) and the difference is the framework's own work."""
    import run
    import step_breakdown

    x, target = step_breakdown.batch("mlp", 64)  # (64, 784) float32, (64,) int64
    # np.matmul, the reference ReLU and Adam update
    floor = run.NpMLP(np, run.KernelLayers(np, "reference"))
    if impl == FLOOR:
        return lambda: floor.step(x, target)
    if impl == TINYGRAD:  # Numba is off: run_child enters use_kernel("reference")
        import tinygrad_edu as tg
        from tinygrad_edu.models.mlp import MLP
        from tinygrad_edu.nn.functional import cross_entropy

        model = MLP()
        for param, array in zip(model.parameters(), floor.params, strict=True):
            param.data[...] = array  # (128, 784), (128,), (10, 128), (10,)
        opt = tg.optim.Adam(model.parameters(), lr=1e-3)
        X, Y = tg.tensor(x), tg.tensor(target)

        def tinygrad_step():
            loss = cross_entropy(model(X), Y)
            loss.backward()
            opt.step()
            opt.zero_grad()

        return tinygrad_step
    import torch

    torch.set_num_threads(1)
    model = run.torch_mlp(torch)
    with torch.no_grad():
        for param, array in zip(model.parameters(), floor.params, strict=True):
            param.copy_(torch.from_numpy(array))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, Y = torch.from_numpy(x), torch.from_numpy(target)

    def torch_step():
        loss = torch.nn.functional.cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        opt.zero_grad()

    return torch_step


def run_child(key: str, impl: str, n: int, instrument_loop: bool = False) -> None:
    """Build the workload, warm it up, then run ``n`` iterations with the collector off.

    ``instrument_loop``: the child runs under ``valgrind --instr-atstart=no`` and turns
    callgrind's instrumentation on for the ``n`` iterations only (and off after them)."""
    if impl not in IMPLS:
        raise SystemExit(f"instructions.py --child: unknown implementation {impl!r}; "
                         f"expected one of {IMPLS}")
    if key not in WORKLOADS:
        raise SystemExit(f"instructions.py --child: unknown workload {key!r}; "
                         f"expected one of {tuple(WORKLOADS)}")
    if key == "mlp" and impl == TINYGRAD:
        import tinygrad_edu as tg

        context = tg.use_kernel("reference")  # NumPy's matmul, the reference Adam: no Numba
    else:
        context = contextlib.nullcontext()
    with context:
        step = _mlp_step(impl) if key == "mlp" else _tiny_op(key, impl)
        for _ in range(WARMUP):
            step()
        gc.collect()
        gc.disable()  # a collection would land in one run and not the other
        if instrument_loop:
            if not client_request(RUNNING_ON_VALGRIND):
                raise SystemExit("instructions.py --child --instrument-loop: not running under "
                                 "valgrind (or its client request did not reach it)")
            client_request(START_INSTRUMENTATION)
        for _ in range(n):
            step()
        if instrument_loop:
            client_request(STOP_INSTRUMENTATION)


# ----------------------------------------------------------------------------------------------
# The parent: two valgrind runs per (workload, implementation)
# ----------------------------------------------------------------------------------------------


def parse_collected(stderr_text: str) -> int:
    """The instruction count in callgrind's ``==PID== Collected : 123456`` line."""
    found = re.findall(r"Collected\s*:\s*(\d+)", stderr_text)
    if not found:
        tail = "\n".join(stderr_text.strip().splitlines()[-20:]) or "(empty)"
        raise ValueError("parse_collected: no 'Collected : <count>' line in valgrind's output; "
                         f"its last lines:\n{tail}")
    return int(found[-1])


def child_env(workload: Workload) -> dict[str, str]:
    """This process's environment (less the shell's per-command variables), plus a fixed hash
    seed, one thread per pool and the workload's own variables."""
    env = {name: value for name, value in os.environ.items() if name not in CHILD_ENV_DROPPED}
    env.update(CHILD_ENV, PWD=str(CHILD_CWD))
    env.update(dict(workload.env))
    return env


def find_valgrind() -> str:
    path = shutil.which("valgrind")
    if path is None:
        raise RuntimeError("instructions.py needs valgrind on PATH (apt-get install valgrind); "
                           "it counts instructions with valgrind --tool=callgrind")
    return path


def collect(workload: Workload, impl: str, n: int, valgrind: str | None = None,
            instrument_loop: bool = False) -> int:
    """Instructions of one child run of ``n`` iterations under callgrind: of the whole run, or
    with ``instrument_loop`` of the ``n`` iterations only (see ``run_child``)."""
    command = [valgrind or find_valgrind(), "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if instrument_loop:
        command.append("--instr-atstart=no")
    command += [sys.executable, str(SCRIPT), "--child", workload.key, impl, str(n)]
    if instrument_loop:
        command.append("--instrument-loop")
    done = subprocess.run(command, env=child_env(workload), cwd=CHILD_CWD, capture_output=True,
                          text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-30:])
        how = f"exited with status {done.returncode}" if done.returncode > 0 \
            else f"was killed by {signal.Signals(-done.returncode).name}"
        raise RuntimeError(f"instructions.py: {workload.name} / {impl} with {n} iterations "
                           f"{how} under valgrind; the last lines of its output:\n{tail}")
    return parse_collected(done.stderr)


def count_instructions(key: str, impl: str, n1: int | None = None, n2: int | None = None,
                       valgrind: str | None = None, instrument_loop: bool | None = None) -> Count:
    """Instructions per op (or step) of one workload and implementation: two child runs, of
    ``n1`` and ``n2`` iterations (the workload's defaults if None), and their difference.

    ``instrument_loop`` (default: where client requests work, x86-64 Linux): instrument only
    the counted loop, 3-4x faster; False instruments the whole run. The difference of the two
    runs is the same either way (to ~0.1%): start-up cancels in it."""
    workload = WORKLOADS[key]
    if instrument_loop is None:
        instrument_loop = client_requests_work_here()
    n1 = workload.n1 if n1 is None else n1
    n2 = workload.n2 if n2 is None else n2
    if not 0 <= n1 < n2:
        raise ValueError(f"count_instructions: expected 0 <= n1 < n2, got n1={n1}, n2={n2}")
    start = time.perf_counter()
    c1 = collect(workload, impl, n1, valgrind, instrument_loop)
    c2 = collect(workload, impl, n2, valgrind, instrument_loop)
    if c2 <= c1:
        raise RuntimeError(f"count_instructions: {workload.name} / {impl}: {n2} iterations "
                           f"counted {c2:,} instructions, not more than {n1} iterations "
                           f"({c1:,}); was the loop instrumented?")
    per_iteration = (c2 - c1) / (n2 - n1)
    return Count(workload.name, impl, workload.shape, workload.unit,
                 per_iteration / workload.units, per_iteration, n1, n2, c1, c2,
                 time.perf_counter() - start)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def print_table(rows: list[Count]) -> None:
    """One line per (workload, impl): instructions per op or step, ratios to torch and to the
    floor on the same workload, and the instructions over the floor's."""
    by_key = {(r.name, r.impl): r.per_unit for r in rows}
    header = (f"{'workload':<17} {'impl':<13} {'instructions':>14} {'vs torch':>9} "
              f"{'vs floor':>9} {'over floor':>12}")
    print(header)
    print("-" * len(header))
    for r in rows:
        torch_count, floor_count = by_key.get((r.name, PEER)), by_key.get((r.name, FLOOR))
        vs_torch = f"{r.per_unit / torch_count:8.2f}x" if torch_count else f"{'-':>9}"
        vs_floor = f"{r.per_unit / floor_count:8.2f}x" if floor_count else f"{'-':>9}"
        over = f"{r.per_unit - floor_count:+12,.0f}" if floor_count and r.impl != FLOOR \
            else f"{'-':>12}"
        count = f"{r.per_unit:,.0f} /{r.unit}"
        print(f"{r.name:<17} {r.impl:<13} {count:>14} {vs_torch} {vs_floor} {over}")


def valgrind_version(valgrind: str) -> str:
    done = subprocess.run([valgrind, "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--only", default="", help=f"comma-separated subset of {GROUPS}")
    parser.add_argument("--n1", type=int, default=None,
                        help="iterations of the first run, for every workload "
                             "(default: 10 tiny, 2 mlp)")
    parser.add_argument("--n2", type=int, default=None,
                        help="iterations of the second run, for every workload "
                             "(default: 30 tiny, 8 mlp)")
    parser.add_argument("--json", default="bench_results/instructions.json")
    parser.add_argument("--no-torch", action="store_true", help="skip torch")
    parser.add_argument("--count-all", action="store_true",
                        help="instrument whole runs, not only the counted loops (3-4x slower; "
                             "a check of the default)")
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "IMPL", "N"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--instrument-loop", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        key, impl, n = args.child
        run_child(key, impl, int(n), args.instrument_loop)
        return 0
    groups = [g.strip() for g in args.only.split(",") if g.strip()] or list(GROUPS)
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        print(f"--only: unknown workload(s) {unknown}; expected names from {GROUPS}",
              file=sys.stderr)
        return 2
    try:
        valgrind = find_valgrind()
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    impls = [TINYGRAD, PEER, FLOOR]
    if args.no_torch:
        impls.remove(PEER)
    elif not torch_available():
        print("torch not installed: no torch rows, no ratios to torch")
        impls.remove(PEER)
    instrument_loop = client_requests_work_here() and not args.count_all
    rows = []
    start = time.perf_counter()
    for workload in WORKLOADS.values():
        if workload.group not in groups:
            continue
        for impl in impls:
            row = count_instructions(workload.key, impl, args.n1, args.n2, valgrind,
                                     instrument_loop)
            print(f"  {workload.name} / {impl}: {row.per_unit:,.0f} instructions per "
                  f"{row.unit} ({row.seconds:.0f} s)", flush=True)
            rows.append(row)
    seconds = time.perf_counter() - start
    print()
    print_table(rows)
    print("instruction counts repeat from run to run, but they are not times (an instruction "
          "of Python and one of C++ cost different time): see the docstring")
    print(f"{len(rows) * 2} valgrind runs in {seconds:.0f} s")
    write_json(args.json, rows, {"valgrind": valgrind_version(valgrind), "child_env": CHILD_ENV,
                                 "warmup": WARMUP, "ops_per_chain": CHAIN, "seconds": seconds,
                                 "instrumented": "counted loops" if instrument_loop
                                 else "whole runs"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
