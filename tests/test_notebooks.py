"""Execute every teaching notebook in ``notebooks/`` top to bottom and check what it reports.

Each notebook ends with a cell that prints ``RESULT name=value`` lines (an accuracy, a gradient
difference, a timing ratio...). ``CHECKS`` below states what must hold for each of them, so a
notebook that runs but teaches something false (a gradient check that no longer agrees, a
model that stopped learning) fails here too.

Also checked without running anything: every committed notebook has its outputs stripped, and
is exactly what ``notebooks/build_notebooks.py`` generates (edit the build script, not the
.ipynb, then run ``python notebooks/build_notebooks.py``).

Per-notebook run times: ``pytest tests/test_notebooks.py --durations=0``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 120

# What each notebook's RESULT lines must satisfy: "name op value" or "name op other_name".
CHECKS: dict[str, list[str]] = {
    "01_neuron_and_chain_rule": [
        "neuron_max_diff < 1e-6",
        "chain_max_diff < 1e-10",
        "matrix_max_diff < 1e-5",
        "toynet_accuracy > 0.95",  # a linear classifier gets about 0.86 on these moons
    ],
    "02_autograd_engine": [
        "hvp_rel_error < 1e-6",
        "inplace_grad_error < 1e-12",
        "newton_gap < 1e-4",
        "newton_gap < gd_gap",
    ],
    "03_gradient_checking": [
        "best_eps_float64 >= 1e-7",
        "best_eps_float64 <= 1e-3",
        "best_eps_float32 >= 1e-4",
        "lenet_report_passed == 1",
        "buggy_report_failed_op == ScaledTanhFn",
        "heatmap_bad_over_good > 1e4",
        "diagnosed == 7/7",
    ],
    "04_mlp_mnist_optimizers": [
        "adam_max_diff < 1e-5",
        "val_acc[SGD] > 0.92",  # about 0.93-0.95; a linear model gets about 0.90-0.91
        "val_acc[momentum] > 0.92",
        "val_acc[AdaGrad] > 0.92",
        "val_acc[RMSProp] > 0.92",
        "val_acc[Adam] > 0.92",
        "best_val_acc > 0.93",
    ],
    "05_regularization": [
        "baseline_train_acc > 0.99",
        "baseline_val_acc > 0.8",
        "baseline_gap > 0.05",
        "augment_val_acc > baseline_val_acc",
        "early_stop_epoch < 15",
        "early_stop_val_loss < baseline_last_val_loss",
    ],
    "06_convolution": [
        "conv_lib_diff < 1e-10",
        "im2col_lib_diff == 0",
        "im2col_conv_diff < 1e-10",
        "col2im_adjoint_diff < 1e-10",
        "conv_gradcheck == 1",
        "lenet_accuracy > 0.92",
        "benchmark_rows >= 8",
        "winograd_diff < 1e-10",
    ],
    "07_rnn_lstm_gru": [
        "bptt_max_diff < 1e-5",
        "rnn_grad_at_t0 < 1e-10",
        "lstm_grad_at_t0 > 1e-4",
        "lstm_final_acc > 0.9",
        "lstm_steps_to_95 < rnn_steps_to_95",
        "first_grad_norm > 10",
        "loss_clip < loss_no_clip",
    ],
    "08_attention": [
        "backward_max_diff < 1e-10",
        "mha_max_diff < 1e-5",
        "kernel_max_err_reference < 1e-4",
        "kernel_max_err_numba < 1e-4",
        "online_softmax_diff < 1e-5",
        "reversal_accuracy > 0.9",
        "mirror_attention > 0.5",
    ],
    "09_style_transfer": [
        "gram_grad_diff < 1e-12",
        "lbfgs_loss_ratio < 0.1",
        "lbfgs_best_loss_60 < adam_best_loss_60",
        "texture_style_ratio < 0.1",
    ],
    "10_gan_and_vae": [
        "vae_final_neg_elbo < 200",
        "vae_final_neg_elbo < vae_first_neg_elbo",
        "gan_d_real > 0.05",
        "gan_d_real < 0.95",
        "gan_d_fake > 0.05",
        "gan_d_fake < 0.95",
    ],
}

# Data sets a notebook reads (through tinygrad_edu.data.get_dataset); skipped when missing.
NEEDS_DATA: dict[str, tuple[str, ...]] = {
    "02_autograd_engine": ("digits",),
    "04_mlp_mnist_optimizers": ("mnist",),
    "05_regularization": ("mnist",),
    "06_convolution": ("mnist",),
    "10_gan_and_vae": ("mnist",),
}

RESULT_LINE = re.compile(r"^RESULT (\S+?)=(\S+)\s*$", re.MULTILINE)
OPERATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
}


def _missing_data(name: str) -> str | None:
    """The reason to skip ``name`` if a data set it needs is not installed, else None."""
    needed = NEEDS_DATA.get(name, ())
    if not needed:
        return None
    from tinygrad_edu.data import DatasetNotFoundError, get_dataset

    for dataset in needed:
        try:
            get_dataset(dataset, "train")
        except (DatasetNotFoundError, ImportError) as error:
            return f"{name} needs the {dataset!r} data set, which is not installed: {error}"
    return None


def _kernel_env() -> dict:
    """The notebook kernel's environment: one BLAS/Numba thread unless the caller chose."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    env.setdefault("MPLBACKEND", "Agg")  # %matplotlib inline in the notebooks overrides it
    return env


def _results(nb) -> dict[str, str]:
    """Every ``RESULT name=value`` printed by any code cell (later ones win)."""
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                for key, value in RESULT_LINE.findall(output.get("text", "")):
                    found[key] = value
    return found


def _number_or_text(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _check(expression: str, results: dict[str, str]) -> str | None:
    """None if ``expression`` holds for ``results``, else a message saying why not."""
    left, op, right = expression.split()
    if left not in results:
        return f"{expression}: the notebook printed no 'RESULT {left}=...' line"
    a = _number_or_text(results[left])
    b = _number_or_text(results.get(right, right))
    if isinstance(b, str) and right not in results and op != "==":
        return f"{expression}: the notebook printed no 'RESULT {right}=...' line"
    if isinstance(a, float) and isinstance(b, float):
        ok = not math.isnan(a) and OPERATORS[op](a, b)
    elif op == "==":
        ok = str(a) == str(b)
    else:
        return f"{expression}: cannot compare {a!r} with {b!r}"
    if ok:
        return None
    shown = f"{left}={results[left]}" + (f", {right}={results[right]}" if right in results else "")
    return f"{expression} does not hold ({shown})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_reports(path: Path):
    reason = _missing_data(path.stem)
    if reason:
        pytest.skip(reason)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # cwd = notebooks/
    )
    client.execute(env=_kernel_env())  # raises CellExecutionError with the traceback
    results = _results(nb)
    assert results, f"{path.name} printed no RESULT lines"
    failures = [msg for msg in (_check(c, results) for c in CHECKS.get(path.stem, [])) if msg]
    assert not failures, f"{path.name}:\n" + "\n".join(failures)


def test_every_notebook_has_checks():
    names = {p.stem for p in NOTEBOOKS}
    assert names == set(CHECKS), (
        f"notebooks without checks: {sorted(names - set(CHECKS))}; checks without a "
        f"notebook: {sorted(set(CHECKS) - names)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_are_stripped(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        k for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None
                                         or "execution" in cell.get("metadata", {}))
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; commit notebooks "
        "stripped (rebuild them with python notebooks/build_notebooks.py)"
    )


def test_notebooks_match_the_build_script():
    script = NOTEBOOK_DIR / "build_notebooks.py"
    if not script.exists():
        pytest.skip("notebooks/build_notebooks.py is not present")
    spec = importlib.util.spec_from_file_location("build_notebooks", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def cells(nb):  # what matters, whatever nbformat version wrote the file
        return [(cell.cell_type, cell.source) for cell in nb.cells]

    stale = []
    for name in module.NOTEBOOKS:
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        if not path.exists() or cells(nbformat.read(path, as_version=4)) != cells(
                module.build_notebook(name, module.NOTEBOOKS[name])):
            stale.append(name)
    assert not stale, (
        f"out of date with notebooks/build_notebooks.py: {stale}; run "
        "python notebooks/build_notebooks.py"
    )
