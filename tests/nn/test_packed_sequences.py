"""nn.utils.rnn (pad/pack/unpack of variable-length sequences) and RNN/LSTM/GRU on a
PackedSequence, against torch in float64: values, round trips, gradients, final states, every
parameter gradient, errors."""

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn
from helpers import module_outputs_and_grads_match

import tinygrad_edu as tg
import tinygrad_edu.nn.utils.rnn as rnn_utils
from tinygrad_edu import nn
from tinygrad_edu.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

I, H = 3, 4  # input and hidden features
SORTED = [5, 3, 3, 1]  # lengths, decreasing (with a tie)
UNSORTED = [2, 5, 1, 4]  # distinct, so the sort order is unambiguous


def _arr(t) -> np.ndarray:
    if isinstance(t, (torch.Tensor, tg.Tensor)):
        return t.detach().numpy()
    return np.asarray(t)


def _close(a, b, msg=""):
    np.testing.assert_allclose(_arr(a), _arr(b), rtol=1e-9, atol=1e-12, err_msg=msg)


def _padded(lengths, batch_first, F=I, seed=0):
    """A random float64 padded batch (B, T, F) or (T, B, F) with zeros past each length."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((len(lengths), max(lengths), F))
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x if batch_first else x.transpose(1, 0, 2).copy()


def _seqs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, I)) for n in lengths]


def _same_packed(ours: PackedSequence, theirs):
    _close(ours.data, theirs.data, "data")
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
    assert ours.batch_sizes.dtype == tg.int64
    for name in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.tolist() == b.tolist(), name


# ----------------------------------------------------------------------------------------------
# pad / pack / unpack
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_forward_backward(batch_first, padding_side):
    arrays = _seqs(UNSORTED)
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = pad_sequence(ours, batch_first, 0.5, padding_side)
    z = trnn.pad_sequence(theirs, batch_first, 0.5, padding_side)
    _close(y, z)
    u = np.random.default_rng(3).standard_normal(tuple(z.shape))
    (y * tg.tensor(u)).sum().backward()
    (z * torch.tensor(u)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        _close(a.grad, b.grad)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [(SORTED, True), (SORTED, False),
                                                    (UNSORTED, False)])
def test_pack_pad_round_trip_and_gradients(batch_first, lengths, enforce_sorted):
    x = _padded(lengths, batch_first)
    ours_x = tg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    p = pack_padded_sequence(ours_x, lengths, batch_first, enforce_sorted)
    q = trnn.pack_padded_sequence(theirs_x, torch.tensor(lengths), batch_first, enforce_sorted)
    assert isinstance(p, PackedSequence) and isinstance(p, tuple)
    _same_packed(p, q)
    y, y_len = pad_packed_sequence(p, batch_first, padding_value=-2.0, total_length=7)
    z, z_len = trnn.pad_packed_sequence(q, batch_first, padding_value=-2.0, total_length=7)
    _close(y, z)
    assert y_len.tolist() == z_len.tolist() == list(lengths)
    assert y_len.dtype == tg.int64
    # gradients through pack then pad (the padding gets none)
    u = np.random.default_rng(4).standard_normal(tuple(z.shape))
    (y * tg.tensor(u)).sum().backward()
    (z * torch.tensor(u)).sum().backward()
    _close(ours_x.grad, theirs_x.grad)
    # the round trip gives back the input (padding 0 and no total_length)
    back, _ = pad_packed_sequence(p, batch_first)
    _close(back, x)


def test_pad_packed_gradient_into_packed_data():
    lengths = UNSORTED
    x = _padded(lengths, False)
    q = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), enforce_sorted=False)
    p = pack_padded_sequence(tg.tensor(x), lengths, enforce_sorted=False)
    theirs = q.data.clone().requires_grad_(True)
    ours = tg.tensor(q.data.numpy(), requires_grad=True)
    y, _ = pad_packed_sequence(p._replace(data=ours), batch_first=True, padding_value=1.0)
    z, _ = trnn.pad_packed_sequence(q._replace(data=theirs), batch_first=True, padding_value=1.0)
    _close(y, z)
    u = np.random.default_rng(5).standard_normal(tuple(z.shape))
    (y * tg.tensor(u)).sum().backward()
    (z * torch.tensor(u)).sum().backward()
    _close(ours.grad, theirs.grad)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_unpack_sequence_unpad(enforce_sorted):
    lengths = SORTED if enforce_sorted else UNSORTED
    arrays = _seqs(lengths)
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    p = pack_sequence(ours, enforce_sorted=enforce_sorted)
    q = trnn.pack_sequence(theirs, enforce_sorted=enforce_sorted)
    _same_packed(p, q)
    back = unpack_sequence(p)
    assert [tuple(s.shape) for s in back] == [a.shape for a in arrays]
    for s, a in zip(back, arrays, strict=True):
        _close(s, a)
    sum((s * (k + 1)).sum() for k, s in enumerate(back)).backward()
    for k, t in enumerate(ours):
        _close(t.grad, np.full(arrays[k].shape, k + 1.0))
    for batch_first in (False, True):
        padded = pad_sequence(ours, batch_first)
        pieces = unpad_sequence(padded, tg.tensor(lengths), batch_first)
        their = trnn.unpad_sequence(trnn.pad_sequence(theirs, batch_first),
                                    torch.tensor(lengths), batch_first)
        for a, b in zip(pieces, their, strict=True):
            _close(a, b)


def test_packed_sequence_is_a_named_tuple_like_torch():
    assert PackedSequence._fields == trnn.PackedSequence._fields
    p = pack_sequence([tg.tensor([1.0, 2.0]), tg.tensor([3.0])])
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert sorted_indices is None and unsorted_indices is None
    assert batch_sizes.tolist() == [2, 1]
    p2 = PackedSequence(p.data, p.batch_sizes, tg.tensor([1, 0]))
    assert p2.unsorted_indices.tolist() == [1, 0]
    assert p.to(tg.float64).data.dtype == tg.float64
    assert p.to("cpu") is p
    assert tg.nn.utils.rnn.pad_sequence is pad_sequence
    assert rnn_utils.invert_permutation(tg.tensor([2, 0, 1])).tolist() == [1, 2, 0]


def test_errors_like_torch():
    x = _padded([3, 2, 1], False)
    for lengths, msg in (([2, 3, 1], "sorted in decreasing order"),
                         ([3, 2, 0], "greater than 0")):
        with pytest.raises(RuntimeError, match=msg):
            trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths))
        with pytest.raises(RuntimeError, match=msg):
            pack_padded_sequence(tg.tensor(x), lengths)
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(tg.tensor(x), [3, 0, 2], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_sequence([tg.tensor([1.0]), tg.tensor([1.0, 2.0])])
    p = pack_padded_sequence(tg.tensor(x), [3, 2, 1])
    q = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor([3, 2, 1]))
    with pytest.raises(ValueError, match="total_length"):
        trnn.pad_packed_sequence(q, total_length=2)
    with pytest.raises(ValueError, match="total_length"):
        pad_packed_sequence(p, total_length=2)
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([tg.tensor([1.0])], padding_side="middle")


# ----------------------------------------------------------------------------------------------
# RNN / LSTM / GRU on packed input
# ----------------------------------------------------------------------------------------------


def _pair(name: str, **kwargs):
    """(ours, torch's) float64 module with torch's weights copied in."""
    theirs = getattr(torch.nn, name)(I, H, **kwargs).double()
    ours = getattr(nn, name)(I, H, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


CASES = [
    ("RNN", dict(num_layers=1), SORTED, True),
    ("RNN", dict(num_layers=2, bidirectional=True, nonlinearity="relu"), UNSORTED, False),
    ("LSTM", dict(num_layers=1, bidirectional=True), SORTED, True),
    ("LSTM", dict(num_layers=2, batch_first=True), UNSORTED, False),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True), UNSORTED, False),
    ("LSTM", dict(num_layers=1, proj_size=2, bidirectional=True), UNSORTED, False),
    ("GRU", dict(num_layers=2, bidirectional=True), UNSORTED, False),
    ("GRU", dict(num_layers=1, batch_first=True), SORTED, True),
]


@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("name,kwargs,lengths,enforce_sorted", CASES)
def test_recurrent_layers_on_packed_input(name, kwargs, lengths, enforce_sorted, with_hx):
    ours, theirs = _pair(name, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    x = _padded(lengths, batch_first, seed=7)
    B = len(lengths)
    LD = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    H_out = kwargs.get("proj_size", 0) or H
    rng = np.random.default_rng(8)
    hx_arrays = []
    if with_hx:
        hx_arrays = [rng.standard_normal((LD, B, H_out))]
        if name == "LSTM":
            hx_arrays.append(rng.standard_normal((LD, B, H)))
    ours_in = [tg.tensor(a, requires_grad=True) for a in [x] + hx_arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in [x] + hx_arrays]

    def run(module, lib, pack, pad, tensors):
        packed = pack(tensors[0], lengths if lib is tg else torch.tensor(lengths),
                      batch_first=batch_first, enforce_sorted=enforce_sorted)
        hx = None
        if with_hx:
            hx = tensors[1] if name != "LSTM" else (tensors[1], tensors[2])
        out, state = module(packed, hx)
        assert type(out).__name__ == "PackedSequence"
        padded, _ = pad(out, batch_first=batch_first)
        return [out.data, padded] + _flat(state), out

    ours_out, p = run(ours, tg, pack_padded_sequence, pad_packed_sequence, ours_in)
    theirs_out, q = run(theirs, torch, trnn.pack_padded_sequence, trnn.pad_packed_sequence,
                        theirs_in)
    _same_packed(p, q)
    module_outputs_and_grads_match(ours, theirs, ours_in, theirs_in, ours_out, theirs_out, rng)


def test_packed_lstm_ignores_fused_and_matches_unfused():
    """The fused LSTM path and the composable one give the same packed result."""
    lengths = UNSORTED
    x = tg.tensor(_padded(lengths, False, seed=9))
    lstm = nn.LSTM(I, H, num_layers=2, bidirectional=True).double()
    p = pack_padded_sequence(x, lengths, enforce_sorted=False)
    assert lstm.fused
    out_fused, (h1, c1) = lstm(p)
    lstm.fused = False
    out_plain, (h2, c2) = lstm(p)
    for a, b in ((out_fused.data, out_plain.data), (h1, h2), (c1, c2)):
        _close(a, b)
    # a full-length packed batch equals the padded (unpacked) run
    full = pack_padded_sequence(x, [5, 5, 5, 5])
    out_full, (h3, _) = lstm(full)
    out_pad, (h4, _) = lstm(x)
    _close(pad_packed_sequence(out_full)[0], out_pad)
    _close(h3, h4)


def test_packed_input_checks():
    gru = nn.GRU(I, H)
    p = pack_sequence([tg.randn(3, I + 1), tg.randn(2, I + 1)])
    with pytest.raises(ValueError, match=f"expected input with {I} features"):
        gru(p)
    p = pack_sequence([tg.randn(3, I), tg.randn(2, I)])
    with pytest.raises(ValueError, match="h_0"):
        gru(p, tg.zeros(1, 3, H))
    out, h_n = gru(p, tg.zeros(1, 2, H))
    assert tuple(out.data.shape) == (5, H) and tuple(h_n.shape) == (1, 2, H)


def test_trailing_dims_and_tensor_of_sequences():
    """Sequences with several feature dims (L, *), and a stacked tensor given to pad_sequence."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 2, 5))  # (T, B, 2, 5)
    lengths = [4, 1, 3]
    ours_x = tg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    p = pack_padded_sequence(ours_x, lengths, enforce_sorted=False)
    q = trnn.pack_padded_sequence(theirs_x, torch.tensor(lengths), enforce_sorted=False)
    _same_packed(p, q)
    y = pad_packed_sequence(p, batch_first=True, padding_value=3.0)[0]
    z = trnn.pad_packed_sequence(q, batch_first=True, padding_value=3.0)[0]
    _close(y, z)
    (y * y).sum().backward()
    (z * z).sum().backward()
    _close(ours_x.grad, theirs_x.grad)
    stacked = rng.standard_normal((3, 2, 4))
    _close(pad_sequence(tg.tensor(stacked)), trnn.pad_sequence(torch.tensor(stacked)))
