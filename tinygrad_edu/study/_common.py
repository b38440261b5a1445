"""Plumbing shared by the study tools: source lines, module paths, host copies, text tables.

Nothing here runs unless a tool is active: the engine only calls hooks that a tool installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import sys

import numpy as np

from .. import autograd, backend
from ..tensor import Tensor

# ----------------------------------------------------------------------------------------------
# Where in the user's code did an op run?
# ----------------------------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _kernels_dir() -> str | None:
    """The folder of ``tinygrad_edu.kernels`` (installed from ``kernels/``), found without
    importing it (importing would load Numba)."""
    try:
        spec = importlib.util.find_spec("tinygrad_edu.kernels")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.abspath(list(spec.submodule_search_locations)[0])


# Frames in these files are the engine's plumbing, not "where the op was called": the Tensor
# methods, the Function machinery, the functional wrappers, Module.__call__ and the study tools.
_ENGINE_PREFIXES = tuple(
    os.path.join(_PACKAGE_DIR, part)
    for part in ("autograd.py", "tensor.py", "backend.py", "gradcheck.py",
                 "functional" + os.sep, "study" + os.sep,
                 os.path.join("nn", "module.py"))
)
_KERNELS = _kernels_dir()
if _KERNELS is not None:
    _ENGINE_PREFIXES += (_KERNELS + os.sep,)
_PATH_CACHE: dict[str, bool] = {}


# ...except the study files that build and run models (their lines are worth showing)
_MODEL_FILES = tuple(os.path.join(_PACKAGE_DIR, "study", name) for name in ("cli.py",
                                                                           "_layers.py"))


def _is_engine_file(filename: str) -> bool:
    known = _PATH_CACHE.get(filename)
    if known is None:
        path = os.path.abspath(filename)
        known = path.startswith(_ENGINE_PREFIXES) and path not in _MODEL_FILES
        _PATH_CACHE[filename] = known
    return known


def source_line(skip: int = 1) -> str:
    """``file:line (code)`` of the innermost frame outside the engine's plumbing.

    For an op called from a layer (``nn/linear.py`` calling ``F.linear``) that is the layer's
    line; for an op written in a user's model or script it is the user's line.
    """
    import linecache

    frame = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_engine_file(filename):
            code = linecache.getline(filename, frame.f_lineno).strip()
            short = _short_path(filename)
            return f"{short}:{frame.f_lineno}" + (f" ({code})" if code else "")
        frame = frame.f_back
    return "<unknown>"


def _short_path(filename: str) -> str:
    """A path relative to the current directory when that is shorter."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return relative if len(relative) < len(filename) else filename


_RUN_BACKWARD_CODE = autograd.run_backward.__code__


def inside_backward() -> bool:
    """True when the caller runs inside the graph walk (``run_backward``): an op applied there
    is part of some node's backward (or a gradient accumulation), not of the forward pass."""
    return backward_depth() > 0


def backward_depth() -> int:
    """How many graph walks (``run_backward``) the caller runs inside: 0 in the forward pass,
    1 in a backward, 2 in a walk that some node's backward started itself (a fused op such as
    GELU or a batch norm differentiates its composite with ``grad`` under ``create_graph``):
    that inner walk is part of the outer node's backward, not a step of the user's graph."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _RUN_BACKWARD_CODE:
            depth += 1
        frame = frame.f_back
    return depth


# ----------------------------------------------------------------------------------------------
# Where in the model did an op run?
# ----------------------------------------------------------------------------------------------


class ModuleScope(contextlib.AbstractContextManager):
    """Track which ``nn.Module`` is running, with forward pre-hooks (push) and forward hooks
    (pop) on every sub-module of ``model``; ``current()`` is the innermost one's path.

    The root module is named by its class (``MLP``); children by their dotted names as in
    ``named_modules`` (``layers.0``), followed by their class: ``layers.0 (Linear)``.
    """

    def __init__(self, model):
        self.model = model
        self.stack: list[str] = []
        self._handles: list = []

    def __enter__(self) -> ModuleScope:
        if self.model is None or not hasattr(self.model, "named_modules"):
            return self
        for name, module in self.model.named_modules():
            label = f"{name} ({type(module).__name__})" if name else type(module).__name__
            self._handles.append(module.register_forward_pre_hook(self._push(label)))
            self._handles.append(module.register_forward_hook(self._pop()))
        return self

    def _push(self, label: str):
        def pre_hook(module, args):
            self.stack.append(label)

        return pre_hook

    def _pop(self):
        def post_hook(module, args, output):
            if self.stack:
                self.stack.pop()

        return post_hook

    def current(self) -> str:
        return self.stack[-1] if self.stack else "-"

    def __exit__(self, *exc) -> bool:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.stack.clear()
        return False


# ----------------------------------------------------------------------------------------------
# Arrays and numbers
# ----------------------------------------------------------------------------------------------


def host(x) -> np.ndarray:
    """A NumPy array of a Tensor's (or an array's) values, copied from the GPU if needed."""
    if isinstance(x, Tensor):
        x = x.data
    return backend.to_numpy(x)


def is_array(value) -> bool:
    """NumPy or CuPy array (not a NumPy scalar)."""
    return isinstance(value, np.ndarray) or backend.is_cupy_array(value)


def norm(x) -> float:
    """The 2-norm of all elements, as a Python float (0.0 for an empty array)."""
    array = x.data if isinstance(x, Tensor) else x
    if array is None or array.size == 0:
        return 0.0
    xp = backend.get_array_module(array)
    return float(xp.sqrt((array.astype(np.float64) ** 2).sum()))


def fmt_shape(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fmt_float(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


def first_doc_line(cls) -> str:
    """The first line of a class's own docstring (an op's forward and gradient formula)."""
    doc = cls.__dict__.get("__doc__") or ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return "(no docstring: write the forward and gradient formula on its first line)"


def format_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """A plain-text table with a header rule; columns in ``right`` are right-aligned."""
    right = right or set()
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))

    def line(row):
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                 for i, c in enumerate(row)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def new_figure(figsize=(7, 4.5)):
    """A matplotlib Figure drawn by the Agg canvas: no pyplot, no global backend switch, so it
    works on a headless machine and never changes a notebook's backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig
