"""Review tests: nn.utils.rnn packing on odd lengths (length-1, equal, ties, batch of 1) and
RNN/LSTM/GRU on packed input, against torch in float64 (values, final states, every gradient);
samplers, BatchSampler and the sampler parts of DataLoader: invariants and distributions (their
random numbers cannot match torch's), lengths, errors."""

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn
import torch.utils.data as tud
from helpers import module_outputs_and_grads_match
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)
from tinygrad_edu.nn.utils.rnn import (
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

I, H = 3, 4  # input and hidden features


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, (torch.Tensor, tg.Tensor)) else np.asarray(t)


def _close(a, b, msg=""):
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12, err_msg=msg)


def _padded(lengths, batch_first, rng, F=I):
    """A float64 padded batch (B, T, F) or (T, B, F), zero past each length."""
    x = rng.standard_normal((len(lengths), max(lengths), F))
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x if batch_first else x.transpose(1, 0, 2).copy()


# ----------------------------------------------------------------------------------------------
# RNN / LSTM / GRU on packed input: odd lengths, every output and gradient against torch
# ----------------------------------------------------------------------------------------------

ODD_LENGTHS = [
    [1],  # batch of 1, one step
    [4],  # batch of 1
    [1, 1, 1],  # every sequence one step
    [3, 3],  # equal lengths (sorted, no sorting needed)
    [1, 3],  # unsorted, the shortest first
    [2, 3, 2, 3, 1],  # ties, unsorted
    [5, 5, 1, 1],
]
MODULES = [
    ("RNN", dict(num_layers=3, bidirectional=True, nonlinearity="relu")),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2, bias=False)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
]


def _pair(name, **kwargs):
    """(ours, torch's) float64 module, torch's weights copied into ours."""
    theirs = getattr(torch.nn, name)(I, H, **kwargs).double()
    ours = getattr(nn, name)(I, H, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("lengths", ODD_LENGTHS, ids=str)
@pytest.mark.parametrize("name,kwargs", MODULES)
def test_packed_recurrent_layers_on_odd_lengths_match_torch(name, kwargs, lengths, with_hx):
    rng = np.random.default_rng(len(lengths) * 10 + sum(lengths))
    ours, theirs = _pair(name, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    enforce_sorted = lengths == sorted(lengths, reverse=True)
    B = len(lengths)
    LD = kwargs["num_layers"] * 2
    H_out = kwargs.get("proj_size", 0) or H
    arrays = [_padded(lengths, batch_first, rng)]
    if with_hx:
        arrays.append(rng.standard_normal((LD, B, H_out)))
        if name == "LSTM":
            arrays.append(rng.standard_normal((LD, B, H)))
    ours_in = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(module, pack, pad, lens, tensors):
        packed = pack(tensors[0], lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        hx = None
        if with_hx:
            hx = tensors[1] if name != "LSTM" else (tensors[1], tensors[2])
        out, state = module(packed, hx)
        padded, out_lengths = pad(out, batch_first=batch_first, padding_value=-3.0,
                                  total_length=max(lengths) + 2)
        states = list(state) if name == "LSTM" else [state]
        return [padded] + states, out_lengths

    ours_out, ours_len = run(ours, pack_padded_sequence, pad_packed_sequence, lengths, ours_in)
    theirs_out, theirs_len = run(theirs, trnn.pack_padded_sequence, trnn.pad_packed_sequence,
                                 torch.tensor(lengths), theirs_in)
    assert ours_len.tolist() == theirs_len.tolist() == lengths
    # h_n / c_n come back in the original batch order, like torch's
    module_outputs_and_grads_match(ours, theirs, ours_in, theirs_in, ours_out, theirs_out, rng,
                                   label=f"({name}, lengths {lengths})")


def test_packed_hx_of_the_wrong_rank_or_batch_is_refused_with_shapes():
    gru = nn.GRU(I, H, num_layers=2)
    p = pack_sequence([tg.randn(3, I), tg.randn(1, I)])
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 2, 4\).*got \(2, 4\)"):
        gru(p, tg.zeros(2, H))
    lstm = nn.LSTM(I, H)
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(1, 2, 4\).*got \(1, 3, 4\)"):
        lstm(p, (tg.zeros(1, 2, H), tg.zeros(1, 3, H)))


# ----------------------------------------------------------------------------------------------
# pad / pack / unpack on odd inputs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding_value", [float("inf"), float("-inf"), float("nan"), 1e300])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_packed_sequence_non_finite_padding_value_leaves_data_alone(padding_value,
                                                                        batch_first):
    """Regression: the fill was is_pad * padding_value, and 0 * inf = nan overwrote the data."""
    x = np.random.default_rng(0).standard_normal((3, 4, 2))  # (T, B, 2)
    lengths = [1, 3, 2, 1]
    p = pack_padded_sequence(tg.tensor(x), lengths, enforce_sorted=False)
    q = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), enforce_sorted=False)
    ours, _ = pad_packed_sequence(p, batch_first, padding_value, total_length=5)
    theirs, _ = trnn.pad_packed_sequence(q, batch_first, padding_value, total_length=5)
    np.testing.assert_array_equal(_np(ours), _np(theirs))  # nan == nan here
    steps = _np(ours) if batch_first else _np(ours).transpose(1, 0, 2)  # (B, 5, 2)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(steps[b, :n], x[:n, b])  # the real steps are untouched
        pad = steps[b, n:]
        assert np.all(np.isnan(pad) if np.isnan(padding_value) else pad == padding_value)


def test_pad_packed_sequence_gradient_ignores_padding_value():
    lengths = [2, 1]
    x = np.random.default_rng(1).standard_normal((2, 2, 3))
    ours_x = tg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    y, _ = pad_packed_sequence(pack_padded_sequence(ours_x, lengths), padding_value=7.5)
    z, _ = trnn.pad_packed_sequence(trnn.pack_padded_sequence(theirs_x, torch.tensor(lengths)),
                                    padding_value=7.5)
    _close(y, z)
    (y * y).sum().backward()
    (z * z).sum().backward()
    _close(ours_x.grad, theirs_x.grad)
    assert ours_x.grad.numpy()[1, 1].tolist() == [0.0, 0.0, 0.0]  # padding gets no gradient


def test_pad_packed_sequence_total_length_must_be_an_int():
    p = pack_sequence([tg.tensor([1.0, 2.0]), tg.tensor([3.0])])
    with pytest.raises(TypeError, match="pad_packed_sequence: expected total_length to be an "
                                        "int, got 4.5"):
        pad_packed_sequence(p, total_length=4.5)
    padded, _ = pad_packed_sequence(p, total_length=np.int64(4))
    assert tuple(padded.shape) == (4, 2)


def test_pack_padded_sequence_empty_input_is_refused_like_torch():
    for shape, lengths in (((0, 2, 3), [1, 1]), ((3, 0, 3), [])):
        with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
            trnn.pack_padded_sequence(torch.zeros(shape), torch.tensor(lengths, dtype=torch.long))
        with pytest.raises(RuntimeError, match=r"pack_padded_sequence: Cannot pack empty tensors"
                                               r" \(input shape"):
            pack_padded_sequence(tg.zeros(*shape), lengths)


def test_pack_padded_sequence_errors_name_the_op_and_values():
    x = tg.zeros(3, 2, 1)
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence: expected len\(lengths\) to be "
                                           r"equal to batch_size, but got 3 \(batch_size=2"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(RuntimeError, match=r"longest length 4 is more than the 3 time steps"):
        pack_padded_sequence(x, [4, 1])
    with pytest.raises(RuntimeError, match=r"greater than 0.*lengths \[2, -1\]"):
        pack_padded_sequence(x, [-1, 2], enforce_sorted=False)
    with pytest.raises(TypeError, match="expected lengths to be an integer tensor, got dtype"):
        pack_padded_sequence(x, tg.tensor([3.0, 1.0]))


def test_unpad_sequence_rejects_negative_lengths():
    """torch's mask gives [] for a negative length; a Python slice [:-1] gave all but the last
    step. A negative length is a caller's mistake: say so."""
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match=r"unpad_sequence: expected lengths >= 0, got \[-1, 0\]"):
        unpad_sequence(x, [-1, 0], batch_first=True)
    pieces = unpad_sequence(x, tg.tensor([3, 0]), batch_first=True)
    assert [p.tolist() for p in pieces] == [[0.0, 1.0, 2.0], []]


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_zero_length_and_single_sequences_match_torch(padding_side):
    rng = np.random.default_rng(2)
    for lengths in ([0, 2], [0], [1], [3, 0, 3]):
        arrays = [rng.standard_normal((n, 2)) for n in lengths]
        for batch_first in (False, True):
            ours = pad_sequence([tg.tensor(a) for a in arrays], batch_first, -1.0, padding_side)
            theirs = trnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first, -1.0,
                                       padding_side)
            assert tuple(ours.shape) == tuple(theirs.shape)
            _close(ours, theirs)


def test_pack_sequence_equal_lengths_and_batch_of_one_match_torch():
    rng = np.random.default_rng(3)
    for lengths in ([2, 2, 2], [1], [4]):
        arrays = [rng.standard_normal((n, I)) for n in lengths]
        for enforce_sorted in (True, False):
            p = pack_sequence([tg.tensor(a) for a in arrays], enforce_sorted)
            q = trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted)
            _close(p.data, q.data)
            assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
            assert (p.sorted_indices is None) == (q.sorted_indices is None)
            if q.sorted_indices is not None:
                assert p.sorted_indices.tolist() == q.sorted_indices.tolist()
            for s, a in zip(unpack_sequence(p), arrays, strict=True):
                _close(s, a)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=6),
       batch_first=st.booleans(), seed=st.integers(0, 2**16))
def test_pack_pad_round_trip_matches_torch_for_any_lengths(lengths, batch_first, seed):
    """Any lengths (ties included): the same batch_sizes and padded result as torch, and the
    round trip gives the input back. (With ties, torch's unstable sort may order the tied
    sequences differently inside the packed data; ours keeps them in input order.)"""
    x = _padded(lengths, batch_first, np.random.default_rng(seed), F=2)
    p = pack_padded_sequence(tg.tensor(x), lengths, batch_first, enforce_sorted=False)
    q = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first,
                                  enforce_sorted=False)
    assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
    order = p.sorted_indices.tolist()
    assert order == sorted(range(len(lengths)), key=lambda b: -lengths[b])  # stable
    assert p.unsorted_indices.tolist() == np.argsort(order).tolist()
    ours, ours_len = pad_packed_sequence(p, batch_first, padding_value=0.0)
    theirs, theirs_len = trnn.pad_packed_sequence(q, batch_first, padding_value=0.0)
    _close(ours, theirs)
    _close(ours, x)
    assert ours_len.tolist() == theirs_len.tolist() == lengths


# ----------------------------------------------------------------------------------------------
# Samplers: invariants, distributions, lengths, errors
# ----------------------------------------------------------------------------------------------


def test_random_sampler_without_replacement_repeats_whole_permutations():
    """num_samples > n: whole permutations one after another, the last one cut (torch's rule)."""
    n = 4
    for num_samples in (1, 3, 4, 9, 12):
        sampler = RandomSampler(range(n), num_samples=num_samples,
                                generator=np.random.default_rng(num_samples))
        drawn = list(sampler)
        assert len(drawn) == len(sampler) == num_samples
        for start in range(0, num_samples, n):
            block = drawn[start : start + n]
            assert len(set(block)) == len(block), (num_samples, drawn)
            if len(block) == n:
                assert sorted(block) == list(range(n))


def test_random_sampler_positions_are_uniform_and_epochs_differ():
    g = np.random.default_rng(0)
    sampler = RandomSampler(range(4), generator=g)
    first = np.array([next(iter(sampler)) for _ in range(8000)])
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 8000, 0.25, atol=0.02)
    # two epochs of the same sampler are two draws, one seed makes them repeat
    a = [list(RandomSampler(range(50), generator=np.random.default_rng(3))) for _ in range(2)]
    s = RandomSampler(range(50), generator=np.random.default_rng(3))
    assert a[0] == a[1] == list(s) != list(s)


def test_random_sampler_length_follows_the_data_source_like_torch():
    data = [0, 1, 2]
    ours, theirs = RandomSampler(data), tud.RandomSampler(data)
    data.append(3)
    assert len(ours) == len(theirs) == 4
    assert sorted(ours) == [0, 1, 2, 3]


def test_random_sampler_on_empty_data_source_explains():
    """torch fails with ZeroDivisionError (or random_'s 'from < to'); name the sampler."""
    for replacement in (False, True):
        sampler = RandomSampler([], replacement=replacement, num_samples=3)
        with pytest.raises(ValueError, match=r"RandomSampler: cannot draw num_samples=3 indices "
                                             r"from an empty data_source"):
            iter(sampler)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but "
                                         "got num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler_is_a_permutation_of_its_indices():
    indices = [7, 3, 3, 9]
    g = np.random.default_rng(4)
    sampler = SubsetRandomSampler(indices, generator=g)
    firsts = []
    for _ in range(4000):
        drawn = list(sampler)
        assert sorted(drawn) == sorted(indices)
        firsts.append(drawn[0])
    counts = {i: firsts.count(i) / 4000 for i in set(indices)}
    np.testing.assert_allclose([counts[7], counts[3], counts[9]], [0.25, 0.5, 0.25], atol=0.03)
    assert len(SubsetRandomSampler(range(2, 9, 3))) == 3 and list(SubsetRandomSampler([])) == []


def test_weighted_sampler_without_replacement_is_successive_sampling():
    """P(first = i) = w_i / W, P(second = j) = sum_{i != j} w_i / W * w_j / (W - w_i)."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    W = w.sum()
    sampler = WeightedRandomSampler(w, 2, replacement=False, generator=np.random.default_rng(5))
    trials = 20000
    pairs = np.array([list(sampler) for _ in range(trials)])  # (trials, 2)
    assert np.all(pairs[:, 0] != pairs[:, 1])
    second = [sum(w[i] / W * w[j] / (W - w[i]) for i in range(4) if i != j) for j in range(4)]
    np.testing.assert_allclose(np.bincount(pairs[:, 0], minlength=4) / trials, w / W, atol=0.015)
    np.testing.assert_allclose(np.bincount(pairs[:, 1], minlength=4) / trials, second,
                               atol=0.015)


def test_weighted_sampler_huge_weights_do_not_overflow():
    """Regression: weights / weights.sum() overflowed (sum = inf), numpy refused p."""
    sampler = WeightedRandomSampler([1e308, 1e308, 0.0], 4000,
                                    generator=np.random.default_rng(6))
    drawn = np.array(list(sampler))
    assert set(drawn.tolist()) == {0, 1}
    assert abs((drawn == 0).mean() - 0.5) < 0.05
    once = list(WeightedRandomSampler([1e308, 1e308, 0.0], 2, replacement=False))
    assert sorted(once) == [0, 1]


def test_weighted_sampler_accepts_tensor_and_integer_weights():
    for weights in (tg.tensor([0.0, 1.0]), np.array([0, 3]), [False, True]):
        assert list(WeightedRandomSampler(weights, 5)) == [1] * 5


def test_sampler_lengths_match_torch():
    for n in (0, 1, 6, 7, 8):
        for size in (1, 3, 7, 9):
            for drop_last in (False, True):
                ours = BatchSampler(SequentialSampler(range(n)), size, drop_last)
                theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), size, drop_last)
                assert len(ours) == len(theirs) == len(list(ours)), (n, size, drop_last)
                assert list(ours) == list(theirs)


class _Huge:
    """A sized sampler whose length a float cannot hold exactly."""

    def __len__(self):
        return 2**60 + 1

    def __iter__(self):
        return iter(range(3))


def test_lengths_are_exact_integers_for_huge_samplers():
    """Regression: math.ceil(n / size) went through a float; (2**60 + 1) / 2 rounds down."""
    assert len(BatchSampler(_Huge(), 2, drop_last=False)) == 2**59 + 1
    assert len(tud.BatchSampler(_Huge(), 2, drop_last=False)) == 2**59 + 1
    ds = TensorDataset(np.zeros((3, 1), np.float32))
    assert len(DataLoader(ds, batch_size=2, sampler=_Huge())) == 2**59 + 1
    assert len(DataLoader(ds, batch_size=2, sampler=_Huge(), drop_last=True)) == 2**59


# ----------------------------------------------------------------------------------------------
# DataLoader: sampler, batch_sampler, generator, batch_size=None
# ----------------------------------------------------------------------------------------------


def _ds():
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    return TensorDataset(x, np.arange(7)), tud.TensorDataset(torch.tensor(x),
                                                             torch.arange(7))


def test_loader_without_batching_follows_the_sampler_like_torch():
    ours_ds, theirs_ds = _ds()
    for sampler in ([3, 1, 1, 6], range(0)):
        ours = DataLoader(ours_ds, batch_size=None, sampler=sampler)
        theirs = tud.DataLoader(theirs_ds, batch_size=None, sampler=sampler)
        got = [(xb.tolist(), int(yb)) for xb, yb in ours]
        want = [(xb.tolist(), int(yb)) for xb, yb in theirs]
        assert got == want and len(ours) == len(theirs) == len(sampler)
        assert all(np.asarray(xb).shape == (2,) for xb, _ in ours)
    shuffled = DataLoader(ours_ds, batch_size=None, shuffle=True,
                          generator=np.random.default_rng(0))
    assert len(shuffled) == 7 and sorted(int(y) for _, y in shuffled) == list(range(7))


def test_loader_generator_orders_repeat_and_epochs_differ():
    ours_ds, _ = _ds()

    def epochs(loader, k=3):
        return [np.concatenate([yb for _, yb in loader]).tolist() for _ in range(k)]

    a = epochs(DataLoader(ours_ds, batch_size=3, shuffle=True,
                          generator=np.random.default_rng(9)))
    b = epochs(DataLoader(ours_ds, batch_size=3, shuffle=True,
                          generator=np.random.default_rng(9)))
    assert a == b
    assert all(sorted(e) == list(range(7)) for e in a)
    assert len({tuple(e) for e in a}) > 1


def test_loader_batch_sampler_and_drop_last_like_torch():
    ours_ds, theirs_ds = _ds()
    batches = [[6, 0], [1], [2, 2, 5]]
    ours = DataLoader(ours_ds, batch_sampler=batches)
    theirs = tud.DataLoader(theirs_ds, batch_sampler=batches)
    assert len(ours) == len(theirs) == 3
    assert [yb.tolist() for _, yb in ours] == [yb.tolist() for _, yb in theirs]
    for kwargs in ({"batch_size": None}, {"batch_size": 2}, {"drop_last": True},
                   {"shuffle": True}, {"sampler": [0]}):
        with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
            tud.DataLoader(theirs_ds, batch_sampler=batches, **kwargs)
        with pytest.raises(ValueError, match=r"DataLoader: batch_sampler option is mutually "
                                             r"exclusive.*\(got batch_size="):
            DataLoader(ours_ds, batch_sampler=batches, **kwargs)
    for drop_last in (False, True):
        sampler = RandomSampler(range(7), num_samples=10, generator=np.random.default_rng(1))
        loader = DataLoader(ours_ds, batch_size=4, sampler=sampler, drop_last=drop_last)
        sizes = [len(yb) for _, yb in loader]
        assert sizes == ([4, 4] if drop_last else [4, 4, 2]) and len(loader) == len(sizes)
