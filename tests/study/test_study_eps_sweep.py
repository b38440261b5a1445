"""eps_sweep: the U curve of central-difference error; PNG plots and heatmaps."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.study import eps_sweep, error_heatmap, plot_eps_sweep

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_SIGNATURE and len(data) > 1000


@pytest.mark.parametrize("fn", [lambda x: x.sin(), lambda x: x.exp()], ids=["sin", "exp"])
def test_error_is_u_shaped_in_float64(fn):
    x = tg.tensor(np.linspace(-1.0, 1.0, 7), dtype=tg.float64)
    result = eps_sweep(fn, [x])
    errors = dict(zip(result.eps_values, result.errors, strict=True))
    assert result.eps_values == [10.0 ** -k for k in range(1, 11)]
    assert errors[1e-1] > 100 * errors[1e-5]  # truncation, O(eps^2)
    assert errors[1e-10] > 100 * errors[1e-5]  # round-off, O(1/eps)
    assert 1e-7 <= result.best_eps <= 1e-3
    slopes = result.slopes()
    assert slopes[1] == pytest.approx(2.0, abs=0.1)  # 1e-1 -> 1e-2: pure truncation
    assert slopes[-1] == pytest.approx(-1.0, abs=0.5)  # 1e-9 -> 1e-10: round-off
    text = str(result)
    assert "truncation" in text and "round-off" in text and "<- best" in text


def test_float32_wants_a_bigger_eps_than_float64():
    x = tg.tensor(np.linspace(-1.0, 1.0, 7), dtype=tg.float64)
    best64 = eps_sweep(lambda x: x.exp(), [x]).best_eps
    best32 = eps_sweep(lambda x: x.exp(), [x], dtype=np.float32).best_eps
    assert best32 >= 100 * best64


def test_inputs_that_require_grad_are_the_ones_checked():
    a = tg.randn(3, dtype=tg.float64, requires_grad=True)
    b = tg.randn(4, dtype=tg.float64)
    result = eps_sweep(lambda a, b: a.sum() * b, [a, b], eps_values=[1e-5])
    assert result.n_elements == 3
    assert result.errors[0] < 1e-8


def test_plot_eps_sweep_writes_a_png(tmp_path):
    x = tg.tensor(np.linspace(-1.0, 1.0, 5), dtype=tg.float64)
    result = eps_sweep(lambda x: x.sin(), [x])
    path = plot_eps_sweep(result, tmp_path / "sweep.png")
    assert _is_png(tmp_path / "sweep.png") and path.endswith("sweep.png")


def test_error_heatmap_shapes_and_png(tmp_path):
    a = tg.randn(5, 3, dtype=tg.float64)
    w = tg.randn(3, 4, dtype=tg.float64)
    error = error_heatmap(lambda a, w: (a @ w).tanh(), [a, w], 1, tmp_path / "heat.png")
    assert error.shape == (3, 4)
    assert error.max() < 1e-7
    assert _is_png(tmp_path / "heat.png")


def test_error_heatmap_lights_up_a_wrong_gradient(tmp_path, monkeypatch):
    from tinygrad_edu.functional.elementwise import Sin

    monkeypatch.setattr(Sin, "backward", lambda self, dy: dy * 0.5)  # not cos x
    x = tg.tensor(np.linspace(-1.0, 1.0, 6), dtype=tg.float64)
    error = error_heatmap(lambda x: x.sin(), [x], 0, tmp_path / "bad.png")
    assert error.shape == (6,)
    # every element is wrong (|cos x - 0.5| >= 0.04 on [-1, 1]), far above round-off
    assert np.all(error > 1e-6) and error.max() > 1e-2


def test_error_heatmap_rejects_a_bad_index(tmp_path):
    with pytest.raises(IndexError, match="param_index 3"):
        error_heatmap(lambda x: x.sin(), [tg.randn(3)], 3, tmp_path / "x.png")
