"""The fused LSTM (``nn.LSTM(fused=True)``, the default; ``functional.rnn.lstm_layer``) against
torch.nn.LSTM in float64 and float32 (outputs, h_n, c_n and the gradients of the input, h_0,
c_0 and every parameter, for a random upstream gradient), against float64 central differences,
and against the composable per-step path (``fused=False``); its second derivative raises."""

import numpy as np
import pytest
import torch
from helpers import check_op

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.functional.rnn import LSTMLayer, lstm_layer

T, B, I, H = 5, 3, 4, 6  # time steps, batch, input features, hidden features
TOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _pair(dtype, **kwargs):
    """(ours, torch's) LSTM in ``dtype`` with torch's weights loaded into ours."""
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(I, H, **kwargs).to(torch.float64 if dtype == np.float64
                                             else torch.float32)
    ours = nn.LSTM(I, H, **kwargs).to(dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert ours.fused
    return ours, theirs


def _run(module, x, hx, lib):
    """Forward with fresh leaf inputs; returns (inputs, [output, h_n, c_n])."""
    make = ((lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg"
            else (lambda a: torch.tensor(a, requires_grad=True)))
    inputs = [make(x)] + ([] if hx is None else [make(hx[0]), make(hx[1])])
    out, (h_n, c_n) = module(inputs[0], None if hx is None else tuple(inputs[1:]))
    return inputs, [out, h_n, c_n]


def _backward(outputs, upstream, lib):
    wrap = tg.tensor if lib == "tg" else torch.tensor
    sum((o * wrap(u)).sum() for o, u in zip(outputs, upstream, strict=True)).backward()


def _assert_close(a, b, dtype, what):
    a = a.numpy() if isinstance(a, tg.Tensor) else a.detach().numpy()
    b = b.numpy() if isinstance(b, tg.Tensor) else b.detach().numpy()
    assert a.dtype == b.dtype, what
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def _compare_with_torch(ours, theirs, x, hx, dtype):
    """Outputs, input/state gradients and parameter gradients of ours vs torch's."""
    tg_in, tg_out = _run(ours, x, hx, "tg")
    th_in, th_out = _run(theirs, x, hx, "torch")
    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in th_out]
    for name, a, b in zip(("output", "h_n", "c_n"), tg_out, th_out, strict=True):
        assert tuple(a.shape) == tuple(b.shape), name
        _assert_close(a.detach(), b, dtype, name)
    _backward(tg_out, upstream, "tg")
    _backward(th_out, upstream, "torch")
    for name, a, b in zip(("x", "h_0", "c_0"), tg_in, th_in):
        _assert_close(a.grad, b.grad, dtype, f"grad of {name}")
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _assert_close(p.grad, their_params[name].grad, dtype, f"grad of {name}")


# ----------------------------------------------------------------------------------------------
# nn.LSTM (fused) vs torch.nn.LSTM
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tbi", "bti"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_fused_lstm_matches_torch(dtype, num_layers, bidirectional, batch_first, bias,
                                  with_state):
    ours, theirs = _pair(dtype, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, bias=bias)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    LD = num_layers * (2 if bidirectional else 1)
    hx = None
    if with_state:
        hx = tuple(rng.standard_normal((LD, B, H)).astype(dtype) for _ in range(2))
    _compare_with_torch(ours, theirs, x, hx, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_fused_lstm_unbatched_matches_torch(dtype, with_state):
    ours, theirs = _pair(dtype, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, I)).astype(dtype)
    hx = tuple(rng.standard_normal((4, H)).astype(dtype) for _ in range(2)) if with_state \
        else None
    _compare_with_torch(ours, theirs, x, hx, dtype)


def test_one_time_step_and_one_sample():
    ours, theirs = _pair(np.float64, bidirectional=True)
    x = np.random.default_rng(3).standard_normal((1, 1, I))
    _compare_with_torch(ours, theirs, x, None, np.float64)


def test_dropout_in_eval_mode_matches_torch():
    ours, theirs = _pair(np.float64, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(4).standard_normal((T, B, I))
    _compare_with_torch(ours, theirs, x, None, np.float64)


# ----------------------------------------------------------------------------------------------
# lstm_layer: one direction, checked by the one-line op helper (torch + central differences)
# ----------------------------------------------------------------------------------------------


def _torch_layer(reverse: bool, with_state: bool, bias: bool):
    """torch's LSTM kernel for one layer in one direction, with our argument order."""

    def run(x, *rest):
        weights = list(rest[:4] if bias else rest[:2])
        if with_state:
            hx = (rest[-2][None], rest[-1][None])  # (1, B, H)
        else:
            zeros = torch.zeros(1, x.shape[1], weights[1].shape[1], dtype=x.dtype)
            hx = (zeros, zeros)
        seq = x.flip(0) if reverse else x  # the reverse direction reads the sequence backwards
        out, h_n, c_n = torch.lstm(seq, hx, weights, bias, 1, 0.0, False, False, False)
        return (out.flip(0) if reverse else out), h_n[0], c_n[0]

    return run


def _our_layer(reverse: bool, with_state: bool, bias: bool):
    def run(x, *rest):
        weights = rest[:4] if bias else rest[:2] + (None, None)
        hx = (rest[-2], rest[-1]) if with_state else None
        return lstm_layer(x, hx, *weights, reverse=reverse)

    return run


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_lstm_layer_check_op(device, reverse, bias, with_state):
    """Forward and backward vs torch (float64 and float32) and float64 central differences,
    with respect to x, every weight and bias and the initial state."""
    shapes = [(4, 2, 3), (12, 3), (12, 3)] + [(12,), (12,)] * bias + [(2, 3), (2, 3)] * with_state
    check_op(_our_layer(reverse, with_state, bias), _torch_layer(reverse, with_state, bias),
             shapes, device=device, low=-1.0, high=1.0)


def test_lstm_layer_output_layout():
    """output[t] is h_t; h_n is the last step of the direction; c_n is returned apart."""
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((T, B, I)))
    w_ih = tg.tensor(rng.standard_normal((4 * H, I)))
    w_hh = tg.tensor(rng.standard_normal((4 * H, H)))
    out, h_n, c_n = lstm_layer(x, None, w_ih, w_hh)
    np.testing.assert_array_equal(h_n.numpy(), out[T - 1].numpy())
    out_r, h_r, _ = lstm_layer(x, None, w_ih, w_hh, reverse=True)
    np.testing.assert_array_equal(h_r.numpy(), out_r[0].numpy())
    # the reverse direction is the forward direction on the time-flipped input
    flipped = tg.tensor(x.numpy()[::-1].copy())
    out_f, _, c_f = lstm_layer(flipped, None, w_ih, w_hh)
    np.testing.assert_allclose(out_r.numpy(), out_f.numpy()[::-1], rtol=1e-13, atol=1e-15)


def test_lstm_layer_errors_are_explained():
    x = tg.zeros(5, 2, 3)
    w_ih, w_hh = tg.zeros(16, 3), tg.zeros(16, 4)
    with pytest.raises(ValueError, match=r"lstm_layer: expected x of shape \(T, B, I\) with "
                       r"T >= 1, got \(2, 3\)"):
        lstm_layer(tg.zeros(2, 3), None, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm_layer: expected w_ih of shape \(16, 3\), got "
                       r"\(16, 5\)"):
        lstm_layer(x, None, tg.zeros(16, 5), w_hh)
    with pytest.raises(ValueError, match=r"expected w_hh of shape \(4H, H\), got \(15, 4\)"):
        lstm_layer(x, None, w_ih, tg.zeros(15, 4))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 4\), got \(1, 2, 4\)"):
        lstm_layer(x, (tg.zeros(1, 2, 4), tg.zeros(2, 4)), w_ih, w_hh)
    with pytest.raises(TypeError, match=r"expected c0 of dtype float32 like the input, got "
                       r"float64"):
        lstm_layer(x, (tg.zeros(2, 4), tg.zeros(2, 4, dtype=tg.float64)), w_ih, w_hh)
    with pytest.raises(ValueError, match="pass both biases b_ih and b_hh, or neither"):
        lstm_layer(x, None, w_ih, w_hh, b_ih=tg.zeros(16))


# ----------------------------------------------------------------------------------------------
# Fused vs composable, and which path runs
# ----------------------------------------------------------------------------------------------


def _outputs_and_grads(lstm, x, hx, upstream):
    lstm.zero_grad()
    xt = tg.tensor(x, requires_grad=True)
    states = None if hx is None else tuple(tg.tensor(s, requires_grad=True) for s in hx)
    out, (h_n, c_n) = lstm(xt, states)
    outputs = [out, h_n, c_n]
    sum((o * tg.tensor(u)).sum() for o, u in zip(outputs, upstream, strict=True)).backward()
    grads = [xt.grad] + ([] if states is None else [s.grad for s in states])
    grads += [p.grad for p in lstm.parameters()]
    return [o.detach().numpy() for o in outputs] + [g.numpy() for g in grads]


@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_fused_equals_composable(with_state):
    lstm = nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, T, I))
    hx = tuple(rng.standard_normal((4, B, H)) for _ in range(2)) if with_state else None
    upstream = [rng.standard_normal(s) for s in ((B, T, 2 * H), (4, B, H), (4, B, H))]
    fused = _outputs_and_grads(lstm, x, hx, upstream)
    lstm.fused = False
    composable = _outputs_and_grads(lstm, x, hx, upstream)
    assert len(fused) == len(composable)
    for k, (a, b) in enumerate(zip(fused, composable, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"item {k}")


def test_fused_equals_composable_with_dropout_in_training():
    """Dropout sits between the layers, outside the fused op: the same seed draws the same
    masks on both paths."""
    lstm = nn.LSTM(I, H, num_layers=3, dropout=0.5).double()
    x = tg.tensor(np.random.default_rng(7).standard_normal((T, B, I)))
    tg.manual_seed(3)
    fused, _ = lstm(x)
    lstm.fused = False
    tg.manual_seed(3)
    composable, _ = lstm(x)
    np.testing.assert_allclose(fused.detach().numpy(), composable.detach().numpy(), rtol=1e-12,
                               atol=1e-14)


def _op_names(tensor) -> list:
    """The names of the ops in the graph that made ``tensor``, each op once."""
    names, seen, stack = [], set(), [tensor._ctx]
    while stack:
        ctx = stack.pop()
        if ctx is None or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        names.append(ctx.name)
        stack.extend(t._ctx for t in ctx.inputs)
    return names


def test_the_fused_path_is_one_node_per_layer_and_direction():
    x = tg.randn(T, B, I, requires_grad=True)
    out, _ = nn.LSTM(I, H, num_layers=2, bidirectional=True)(x)
    ops = _op_names(out.sum())
    assert ops.count("LSTMLayer") == 4
    assert "Sigmoid" not in ops and "Tanh" not in ops
    out, _ = nn.LSTM(I, H, fused=False)(x)
    assert "Sigmoid" in _op_names(out.sum())
    assert "fused=False" in repr(nn.LSTM(I, H, fused=False))
    assert "fused" not in repr(nn.LSTM(I, H))


def test_projection_falls_back_to_the_composable_path():
    """proj_size is not covered by the fused op: such an LSTM runs the per-step Tensor ops,
    so it is differentiable twice."""
    lstm = nn.LSTM(2, 3, proj_size=2).double()
    x = tg.tensor(np.random.default_rng(8).standard_normal((3, 2, 2)), requires_grad=True)
    out, _ = lstm(x)
    assert "LSTMLayer" not in _op_names(out.sum())
    (g,) = tg.grad((out * out).sum(), x, create_graph=True)
    (g * g).sum().backward()  # no error
    assert x.grad is not None


# ----------------------------------------------------------------------------------------------
# Gradients: central differences, once-differentiable, create_graph
# ----------------------------------------------------------------------------------------------


def test_gradcheck_fused_layer_wrt_input_state_and_weights():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(9)
    x = tg.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0 = tg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    c0 = tg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = tg.tensor(lstm.weight_hh_l1_reverse.detach().numpy().copy(), requires_grad=True)

    def fn(x, h0, c0, w):
        """Every output of the layer, with weight_hh_l1_reverse swapped for ``w``."""
        saved = lstm._parameters["weight_hh_l1_reverse"]
        lstm._parameters["weight_hh_l1_reverse"] = w
        try:
            out, (h_n, c_n) = lstm(x, (h0, c0))
        finally:
            lstm._parameters["weight_hh_l1_reverse"] = saved
        return out, h_n, c_n

    assert tg.gradcheck(fn, [x, h0, c0, w])


def test_second_derivative_raises_and_names_the_any_order_path():
    lstm = nn.LSTM(2, 3).double()
    x = tg.tensor(np.random.default_rng(10).standard_normal((4, 2, 2)), requires_grad=True)
    out, _ = lstm(x)
    (g,) = tg.grad((out * out).sum(), x, create_graph=True)  # the first derivative works
    with pytest.raises(RuntimeError, match=r"differentiated only once.*nn\.LSTM\(\.\.\., "
                       r"fused=False\)"):
        (g * g).sum().backward()
    # a gradient penalty on the parameters hits the same error
    out, _ = lstm(x)
    grads = tg.grad(out.sum(), list(lstm.parameters()), create_graph=True)
    with pytest.raises(RuntimeError, match="fused=False"):
        sum((gp * gp).sum() for gp in grads).backward()


def test_create_graph_gives_the_same_first_derivative():
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    x = tg.tensor(np.random.default_rng(11).standard_normal((4, 2, 2)), requires_grad=True)
    (plain,) = tg.grad((lstm(x)[0] ** 2).sum(), x)
    (graphed,) = tg.grad((lstm(x)[0] ** 2).sum(), x, create_graph=True)
    np.testing.assert_array_equal(plain.numpy(), graphed.detach().numpy())


def test_composable_path_is_twice_differentiable():
    lstm = nn.LSTM(2, 2, fused=False).double()
    x = tg.tensor(np.random.default_rng(12).standard_normal((3, 1, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: lstm(x)[0], [x])


def test_backward_twice_with_retain_graph_gives_the_same_gradients():
    lstm = nn.LSTM(I, H).double()
    x = tg.tensor(np.random.default_rng(13).standard_normal((T, B, I)), requires_grad=True)
    out, _ = lstm(x)
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


def test_no_grad_forward_records_nothing():
    lstm = nn.LSTM(I, H)
    with tg.no_grad():
        out, (h_n, c_n) = lstm(tg.randn(T, B, I))
    assert not out.requires_grad and out._ctx is None
    assert isinstance(LSTMLayer(), LSTMLayer)  # the Function class is importable
