"""RNN, LSTM, GRU and their cells against torch in float64 (same weights loaded from torch's
state_dict): outputs, final states, input / initial-state gradients and every parameter
gradient; gradcheck on small layers; input checks."""

import warnings

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn.rnn import _unbind_time

T, B, I, H = 5, 3, 4, 6  # time steps, batch, input features, hidden features


def _pair(name: str, *args, **kwargs):
    """(ours, torch's) module of class ``name`` in float64 with torch's weights loaded."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    their_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(our_shapes) == list(their_shapes)  # same names, same order
    assert our_shapes == their_shapes
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out) -> list:
    """Nested output tuples (output, (h_n, c_n)) as a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(ours, theirs, arrays, call=lambda m, *xs: m(*xs)):
    """Run both modules on the same float64 inputs (None passes through), then compare every
    output, the gradients of the inputs and of every parameter, for a random upstream grad."""
    tg_in = [None if a is None else tg.tensor(a, requires_grad=True) for a in arrays]
    th_in = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    tg_out = _flat(call(ours, *tg_in))
    th_out = _flat(call(theirs, *th_in))
    assert len(tg_out) == len(th_out)
    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(tuple(o.shape)) for o in th_out]
    for k, (a, b) in enumerate(zip(tg_out, th_out, strict=True)):
        assert tuple(a.shape) == tuple(b.shape), f"output {k}"
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=f"output {k}")
    sum((o * tg.tensor(u)).sum() for o, u in zip(tg_out, upstream, strict=True)).backward()
    sum((o * torch.tensor(u)).sum() for o, u in zip(th_out, upstream, strict=True)).backward()
    for k, (a, b) in enumerate(zip(tg_in, th_in, strict=True)):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"grad of input {k}")
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), their_params[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=f"grad of {name}")
    return tg_out


LAYERS = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}),
          ("LSTM", {}), ("GRU", {})]
LAYER_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def _initial_state(name: str, shape, rng):
    h0 = rng.standard_normal(shape)
    if name == "LSTM":
        return h0, rng.standard_normal(shape)
    return h0


# ----------------------------------------------------------------------------------------------
# Full layers vs torch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", LAYERS, ids=LAYER_IDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_two_layer_bidirectional_matches_torch(name, kwargs, batch_first, with_state):
    ours, theirs = _pair(name, I, H, num_layers=2, bidirectional=True, batch_first=batch_first,
                         **kwargs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    if not with_state:
        out = _compare(ours, theirs, [x])
    elif name == "LSTM":
        h0, c0 = _initial_state(name, (4, B, H), rng)
        out = _compare(ours, theirs, [x, h0, c0], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        out = _compare(ours, theirs, [x, _initial_state(name, (4, B, H), rng)])
    assert tuple(out[0].shape) == ((B, T, 2 * H) if batch_first else (T, B, 2 * H))
    assert tuple(out[1].shape) == (4, B, H)  # h_n is never batch first


@pytest.mark.parametrize("name, kwargs", LAYERS, ids=LAYER_IDS)
def test_single_layer_without_bias_matches_torch(name, kwargs):
    ours, theirs = _pair(name, I, H, bias=False, **kwargs)
    assert not any("bias" in n for n, _ in ours.named_parameters())
    _compare(ours, theirs, [np.random.default_rng(2).standard_normal((T, B, I))])


@pytest.mark.parametrize("name, kwargs", LAYERS, ids=LAYER_IDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_unbatched_input_matches_torch(name, kwargs, with_state):
    ours, theirs = _pair(name, I, H, num_layers=2, bidirectional=True, **kwargs)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((T, I))
    if not with_state:
        out = _compare(ours, theirs, [x])
    elif name == "LSTM":
        h0, c0 = _initial_state(name, (4, H), rng)
        out = _compare(ours, theirs, [x, h0, c0], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        out = _compare(ours, theirs, [x, _initial_state(name, (4, H), rng)])
    assert tuple(out[0].shape) == (T, 2 * H)
    assert tuple(out[1].shape) == (4, H)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_with_projection_matches_torch(bidirectional):
    ours, theirs = _pair("LSTM", I, H, num_layers=2, proj_size=3, bidirectional=bidirectional,
                         batch_first=True)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, I))
    h0, c0 = rng.standard_normal((2 * D, B, 3)), rng.standard_normal((2 * D, B, H))
    out = _compare(ours, theirs, [x, h0, c0], call=lambda m, x, h, c: m(x, (h, c)))
    assert tuple(out[0].shape) == (B, T, D * 3)
    assert tuple(out[1].shape) == (2 * D, B, 3)  # h_n projected
    assert tuple(out[2].shape) == (2 * D, B, H)  # c_n not


def test_float32_forward_matches_torch():
    theirs = torch.nn.LSTM(I, H, num_layers=2)
    ours = nn.LSTM(I, H, num_layers=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((T, B, I)).astype(np.float32)
    out, (h, c) = ours(tg.tensor(x))
    ref, (h_ref, c_ref) = theirs(torch.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(c.detach().numpy(), c_ref.detach().numpy(), atol=1e-6)


def test_dropout_between_layers_only_in_training():
    ours, theirs = _pair("GRU", I, H, num_layers=3, dropout=0.5)
    x = np.random.default_rng(6).standard_normal((T, B, I))
    ours.eval()
    theirs.eval()
    _compare(ours, theirs, [x])  # eval: dropout off, exactly torch's numbers
    ours.train()
    tg.manual_seed(0)
    a, _ = ours(tg.tensor(x))
    tg.manual_seed(1)
    b, _ = ours(tg.tensor(x))
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())  # different masks
    tg.manual_seed(1)
    c, _ = ours(tg.tensor(x))
    np.testing.assert_array_equal(b.detach().numpy(), c.detach().numpy())  # same seed, same


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        nn.LSTM(I, H, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(I, H, num_layers=2, dropout=0.2)


# ----------------------------------------------------------------------------------------------
# Parameters and init
# ----------------------------------------------------------------------------------------------


def test_parameter_names_and_shapes_follow_torch():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse"]
    assert tuple(lstm.weight_ih_l0.shape) == (80, 10)  # 4 gates i, f, g, o stacked
    assert tuple(lstm.weight_ih_l1.shape) == (80, 40)  # layer 1 sees both directions
    assert tuple(nn.GRU(10, 20).weight_hh_l0.shape) == (60, 20)  # r, z, n
    assert len(lstm.all_weights) == 4 and len(lstm.all_weights[0]) == 4
    assert "num_layers=2" in repr(lstm) and "bidirectional=True" in repr(lstm)


def test_default_init_is_uniform_within_one_over_sqrt_hidden():
    tg.manual_seed(0)
    gru = nn.GRU(16, 64, num_layers=2)
    bound = 1 / np.sqrt(64)
    values = np.concatenate([p.detach().numpy().ravel() for p in gru.parameters()])
    assert np.abs(values).max() <= bound
    # U(-b, b) has std b / sqrt(3); 24k samples pin it within a few percent
    assert abs(values.std() - bound / np.sqrt(3)) < 0.03 * bound
    assert abs(values.mean()) < 0.02 * bound


# ----------------------------------------------------------------------------------------------
# Cells vs torch
# ----------------------------------------------------------------------------------------------

CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu"}),
         ("LSTMCell", {}), ("GRUCell", {})]
CELL_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize("name, kwargs", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_cells_match_torch(name, kwargs, batched, with_state):
    ours, theirs = _pair(name, I, H, **kwargs)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, I) if batched else (I,))
    state_shape = (B, H) if batched else (H,)
    if not with_state:
        out = _compare(ours, theirs, [x])
    elif name == "LSTMCell":
        h, c = rng.standard_normal(state_shape), rng.standard_normal(state_shape)
        out = _compare(ours, theirs, [x, h, c], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        out = _compare(ours, theirs, [x, rng.standard_normal(state_shape)])
    assert all(tuple(o.shape) == state_shape for o in out)


def test_cell_without_bias_matches_torch():
    ours, theirs = _pair("LSTMCell", I, H, bias=False)
    assert ours.bias_ih is None
    _compare(ours, theirs, [np.random.default_rng(8).standard_normal((B, I))])


def test_cell_loop_equals_layer():
    """Unrolling an LSTMCell by hand gives the LSTM layer's output (same weights)."""
    cell = nn.LSTMCell(I, H).double()
    layer = nn.LSTM(I, H).double()
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = tg.tensor(np.random.default_rng(9).standard_normal((T, B, I)))
    h, c = None, None
    outputs = []
    for t in range(T):
        h, c = cell(x[t], None if h is None else (h, c))
        outputs.append(h)
    out, (h_n, c_n) = layer(x)
    np.testing.assert_allclose(tg.stack(outputs).detach().numpy(), out.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.detach().numpy(), c_n[0].detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Numerical gradients and higher-order gradients
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_gradcheck_small_bidirectional_layer(name):
    layer = getattr(nn, name)(2, 3, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(10)
    x = tg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    if name == "LSTM":
        c0 = tg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
        assert tg.gradcheck(lambda x, h, c: layer(x, (h, c))[0], [x, h0, c0])
    else:
        assert tg.gradcheck(lambda x, h: layer(x, h)[0], [x, h0])


def test_gradcheck_wrt_weights():
    """Differentiate with respect to the recurrent weight itself (BPTT through W_hh)."""
    gru = nn.GRU(2, 3).double()
    x = tg.tensor(np.random.default_rng(11).standard_normal((4, 2, 2)))
    w = tg.tensor(gru.weight_hh_l0.detach().numpy().copy(), requires_grad=True)

    def fn(w):
        """The GRU output as a function of W_hh (swapped in for the Parameter)."""
        saved = gru._parameters["weight_hh_l0"]
        gru._parameters["weight_hh_l0"] = w
        try:
            return gru(x)[0]
        finally:
            gru._parameters["weight_hh_l0"] = saved

    assert tg.gradcheck(fn, [w])


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradgradcheck_cells(name):
    cell = getattr(nn, name)(2, 3).double()
    rng = np.random.default_rng(12)
    x = tg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    h = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    if name == "LSTMCell":
        assert tg.gradgradcheck(lambda x, h: cell(x, (h, h * 0.5))[1], [x, h])
    else:
        assert tg.gradgradcheck(lambda x, h: cell(x, h), [x, h])


def test_unbind_time_matches_unbind_forward_and_backward():
    x = tg.tensor(np.random.default_rng(13).standard_normal((7, 2, 3)), requires_grad=True)
    pieces = _unbind_time(x)
    assert len(pieces) == 7
    weights = [float(t + 1) for t in range(7)]
    sum((p * w).sum() for p, w in zip(pieces, weights, strict=True)).backward()
    for t in range(7):
        np.testing.assert_array_equal(pieces[t].detach().numpy(), x.detach().numpy()[t])
        np.testing.assert_array_equal(x.grad.numpy()[t], np.full((2, 3), weights[t]))


# ----------------------------------------------------------------------------------------------
# Errors that teach
# ----------------------------------------------------------------------------------------------


def test_wrong_number_of_features_is_explained():
    lstm = nn.LSTM(input_size=28, hidden_size=128, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM\(input_size=28, hidden_size=128\): expected "
                       r"input with 28 features, got 30 \(input shape \(64, 28, 30\), "
                       r"batch_first=True\)"):
        lstm(tg.zeros(64, 28, 30))


def test_wrong_initial_state_shape_is_explained():
    lstm = nn.LSTM(8, 16, num_layers=2)
    x = tg.zeros(5, 4, 8)
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 4, 16\) "
                       r"\(num_layers \* num_directions, batch, hidden_size\), got \(1, 4, 16\)"):
        lstm(x, (tg.zeros(1, 4, 16), tg.zeros(2, 4, 16)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 4, 16\)"):
        lstm(x, (tg.zeros(2, 4, 16), tg.zeros(2, 3, 16)))
    with pytest.raises(TypeError, match=r"hx to be a tuple \(h_0, c_0\)"):
        lstm(x, tg.zeros(2, 4, 16))
    with pytest.raises(TypeError, match=r"expected c_0 of dtype float32 like the input, got "
                       r"float64"):
        lstm(x, (tg.zeros(2, 4, 16), tg.zeros(2, 4, 16, dtype=tg.float64)))
    gru = nn.GRU(8, 16, bidirectional=True)
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 16\) .*unbatched"):
        gru(tg.zeros(5, 8), tg.zeros(2, 1, 16))


def test_wrong_input_rank_dtype_and_arguments_are_explained():
    rnn = nn.RNN(4, 6)
    with pytest.raises(ValueError, match=r"RNN: expected a 3-d batched input \(T, B, I\).*"
                       r"got shape \(2, 3, 4, 4\)"):
        rnn(tg.zeros(2, 3, 4, 4))
    with pytest.raises(TypeError, match=r"RNN\(input_size=4, hidden_size=6\): input has dtype "
                       r"float64 but the parameters are float32"):
        rnn(tg.zeros(2, 3, 4, dtype=tg.float64))
    with pytest.raises(TypeError, match=r"LSTMCell\(input_size=4, hidden_size=6\): input has "
                       r"dtype float64"):
        nn.LSTMCell(4, 6)(tg.zeros(3, 4, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'sigmoid'"):
        nn.RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer, got 0"):
        nn.GRU(4, 0)
    with pytest.raises(ValueError, match=r"dropout should be a number in \[0, 1\]"):
        nn.LSTM(4, 6, num_layers=2, dropout=1.5)


def test_cell_errors_are_explained():
    cell = nn.GRUCell(4, 6)
    with pytest.raises(ValueError, match=r"GRUCell\(input_size=4, hidden_size=6\): expected "
                       r"input with 4 features, got 5"):
        cell(tg.zeros(3, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(3, 6\)"):
        cell(tg.zeros(3, 4), tg.zeros(2, 6))
    with pytest.raises(ValueError, match=r"2-d batched input \(B, I\) or a 1-d unbatched"):
        cell(tg.zeros(2, 3, 4))
    with pytest.raises(TypeError, match=r"LSTMCell: expected hx to be a tuple \(h, c\)"):
        nn.LSTMCell(4, 6)(tg.zeros(3, 4), tg.zeros(3, 6))
