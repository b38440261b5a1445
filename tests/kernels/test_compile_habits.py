"""The two habits that keep the first call of the Numba kernels short on an empty cache
(``kernels/cpu/gemm.py``, "Compile time"), checked on the source of every CPU kernel:

- no integer or boolean constant is passed to another ``@njit`` function: Numba types it as a
  ``Literal`` and compiles one more copy of the callee for each constant (1-2 s each for the
  GEMM's tiles, which every caller optimizes again). Callees with ``inline="always"`` are
  exempt: they are inlined before typing, so a constant there costs no copy (and unrolls loops
  where that is the point, as in max pooling's fixed windows);
- no array slice is assigned from another array (``a[:m] = b[k:]``): that assignment's shape
  check compiles Numba's error-message formatting, 2.2 s of the first call.

(Numba compiles nothing twice from a warm disk cache, so the compiled signatures of a test
process say little; the source says it all.)"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "kernels" / "cpu").glob("*.py")) + [
    ROOT / "tinygrad_edu" / "functional" / "_lstm_cpu.py"]


def _is_njit(decorator) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "njit"


def _njit_functions(tree) -> list:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            and any(_is_njit(d) for d in node.decorator_list)]


def _inlined(function) -> bool:
    """Whether ``function`` is ``@njit(..., inline="always")``."""
    return any(isinstance(d, ast.Call) and any(
        k.arg == "inline" and getattr(k.value, "value", None) == "always" for k in d.keywords)
        for d in function.decorator_list if _is_njit(d))


def _njit_names() -> set:
    """Names of the @njit functions of the kernel sources (callees, wherever they live) that
    are compiled on their own, not inlined."""
    return {f.name for path in SOURCES for f in _njit_functions(ast.parse(path.read_text()))
            if not _inlined(f)}


def _callee_name(call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _findings(path: Path, njit_names: set) -> list[str]:
    found = []
    for function in _njit_functions(ast.parse(path.read_text())):
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and _callee_name(node) in njit_names:
                args = list(node.args) + [k.value for k in node.keywords]
                constants = [a.value for a in args if isinstance(a, ast.Constant)
                             and isinstance(a.value, (bool, int))]
                if constants:
                    found.append(f"{path.name}:{node.lineno} {function.name} passes the "
                                 f"constant(s) {constants} to {_callee_name(node)}")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                sliced = any(isinstance(t, ast.Subscript) and any(
                    isinstance(s, ast.Slice) for s in ast.walk(t.slice)) for t in targets)
                if sliced and isinstance(node.value, ast.Subscript):
                    found.append(f"{path.name}:{node.lineno} {function.name} assigns an array "
                                 "slice from another array")
    return found


def test_the_sources_are_found():
    names = _njit_names()
    assert {"gemm_nt_range", "_gemm_nn_panels", "gemm_nn_serial", "lstm_forward"} <= names
    assert "_tile_8xnr" not in names  # inline="always"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_kernels_keep_the_compile_habits(path):
    assert _findings(path, _njit_names()) == []


def test_the_check_finds_both_habits_broken(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from numba import njit\n\n"
        "@njit\n"
        "def callee(a, i):\n"
        "    return a[i]\n\n"
        "@njit(cache=True)\n"
        "def caller(a, b):\n"
        "    a[:2] = b[1:3]\n"
        "    return callee(a, 0)\n"
    )
    found = _findings(bad, {"callee"})
    assert len(found) == 2
    assert "constant(s) [0] to callee" in found[1] and "assigns an array slice" in found[0]
