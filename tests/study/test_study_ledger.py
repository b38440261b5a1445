"""saved_tensor_ledger: what every op keeps alive for backward, in bytes."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.study import saved_tensor_ledger
from tinygrad_edu.study._layers import mlp
from tinygrad_edu.study.ledger import backward_uses_output

N, D, H, C = 4, 5, 8, 3  # batch, inputs, hidden units, outputs
F32 = 4  # bytes per float32


def _raw_mlp(device="cpu"):
    def param(*shape):
        return tg.randn(*shape, device=device, requires_grad=True)

    w1, b1, w2, b2 = param(D, H), param(H), param(H, C), param(C)

    def forward(x):
        return ((x @ w1 + b1).tanh() @ w2 + b2).sum()

    return forward, (w1, b1, w2, b2)


def test_bytes_add_up_for_a_known_mlp(device):
    forward, _ = _raw_mlp(device)
    ledger = saved_tensor_ledger(forward, tg.randn(N, D, device=device))
    assert [row.op for row in ledger.rows] == ["MatMul", "Add", "Tanh", "MatMul", "Add", "Sum"]
    expected_rows = [
        (N * D + D * H) * F32,  # MatMul keeps x and W1
        (N * H + H) * F32,  # Add keeps x W1 and b1
        (N * H + N * H) * F32,  # Tanh keeps its input and its output (backward uses y)
        (N * H + H * C) * F32,  # MatMul keeps tanh(...) and W2
        (N * C + C) * F32,  # Add keeps h W2 and b2
        N * C * F32,  # Sum keeps its input (only its shape is needed, but it is kept)
    ]
    assert [row.nbytes for row in ledger.rows] == expected_rows
    assert ledger.sum_bytes == sum(expected_rows) == 988
    parameters_and_input = (N * D + D * H + H + H * C + C) * F32
    # x W1, x W1 + b1, its tanh h, h W2, h W2 + b2
    activations = (N * H + N * H + N * H + N * C + N * C) * F32
    assert ledger.activation_bytes == activations
    assert ledger.total_bytes == parameters_and_input + activations
    assert ledger.peak_bytes == ledger.total_bytes
    assert ledger.timeline[len(ledger.rows) - 1] == ("forward", "Sum", ledger.total_bytes)
    assert ledger.timeline[-1][2] == 0
    assert ledger.no_grad_bytes == 0
    text = str(ledger)
    assert "988 B" in text and "under no_grad()" in text and "0 B" in text


def test_views_share_memory_with_what_they_view():
    model = mlp([D, H, C], "relu", init="default")
    ledger = saved_tensor_ledger(model, tg.randn(N, D))
    permutes = [row for row in ledger.rows if row.op == "Permute"]
    if not permutes:
        pytest.skip("this version's Linear does not multiply by a transposed view")
    # the transposed weight a MatMul keeps is a view of the weight: counted once as memory
    assert ledger.total_bytes < ledger.sum_bytes
    weight_bytes = sum(p.numel() * F32 for p in model.parameters())
    assert ledger.total_bytes - ledger.activation_bytes == weight_bytes + N * D * F32


def test_the_output_heuristic_reads_the_backward_source():
    from tinygrad_edu.functional.elementwise import Exp, Mul, Tanh

    assert backward_uses_output(Exp) and backward_uses_output(Tanh)
    assert not backward_uses_output(Mul)


def test_saved_arrays_and_ctx_attributes_are_counted():
    class Scale(tg.Function):
        """y = 3 x;  dx = 3 dy  (keeps a useless copy, to be counted)"""

        def forward(self, x):
            self.save_for_backward(x * 2)
            self.table = np.zeros(10, dtype=np.float64)
            return x * 3

        def backward(self, dy):
            return dy * 3

    x = tg.randn(6, requires_grad=True)
    ledger = saved_tensor_ledger(lambda x: Scale.apply(x), x)
    (row,) = ledger.rows
    assert [k.what for k in row.kept] == ["input 0", "saved 0", "attr table"]
    assert row.nbytes == 6 * F32 + 6 * F32 + 10 * 8


def test_nothing_is_kept_without_grad():
    ledger = saved_tensor_ledger(lambda x: (x * 2).sum(), tg.randn(3))
    assert ledger.rows == [] and ledger.skipped == 2 and ledger.total_bytes == 0


def test_no_grad_saving_is_the_activations_not_the_parameters():
    forward, _ = _raw_mlp()
    ledger = saved_tensor_ledger(forward, tg.randn(N, D))
    activations = (N * H + N * H + N * H + N * C + N * C) * F32
    assert ledger.no_grad_saving_bytes == ledger.activation_bytes == activations == 480
    assert ledger.no_grad_saving_bytes < ledger.total_bytes  # parameters and x stay anyway
    text = str(ledger)
    assert "saves the 480 B of activations" in text
    assert "parameters and inputs exist either way" in text
    quiet = saved_tensor_ledger(forward, tg.randn(N, D), compare_no_grad=False)
    assert quiet.no_grad_saving_bytes is None and "under no_grad()" not in str(quiet)
