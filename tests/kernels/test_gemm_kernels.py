"""The Numba matrix products of ``kernels/cpu/gemm.py`` against np.matmul: both kernels
(gemm_nn, gemm_nt) and the checked launcher (matmul) in float32 and float64, on odd,
non-square shapes (M, N, K not multiples of the tile sizes, 1 included), strided and
transposed inputs, the (n, M, L) output layout and the bias, one thread and two; then the
errors, and the structure that makes gemm_nn fast (its tile of sums kept in registers)."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinygrad_edu.kernels.cpu import gemm

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
DTYPES = [np.float32, np.float64]
# (M, N, K): 1s, fewer rows than a tile, rows/columns past the last tile, long K (pieces)
SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 33, 5), (8, 32, 16), (13, 70, 37),
          (17, 65, 300), (61, 701, 29), (3, 5, 2500), (30, 9, 1100)]


@pytest.fixture
def numba_gemm(monkeypatch):
    """matmul takes the Numba kernels for every size (small products go to BLAS otherwise)."""
    monkeypatch.setattr(gemm, "NUMBA_GEMM", True)
    monkeypatch.setattr(gemm, "MIN_WORK", 0)
    monkeypatch.setattr(gemm, "NT_MIN_K", 0)


def operands(M, N, K, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (M, K)).astype(dtype)
    b = rng.uniform(-1, 1, (K, N)).astype(dtype)
    return a, b


def close(actual, expected, dtype, K):
    tol = TOL[dtype]
    scale = max(1.0, np.sqrt(K))  # sums of K products: rounding grows with K
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"] * scale,
                               atol=tol["atol"] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K", SHAPES)
def test_gemm_nn_matches_matmul(M, N, K, dtype):
    a, b = operands(M, N, K, dtype)
    out = np.full((M, N), np.nan, dtype=dtype)  # every entry is written
    assert gemm.gemm_nn(a, b, out) is out
    close(out, a @ b, dtype, K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K", SHAPES)
def test_gemm_nn_serial_matches_matmul(M, N, K, dtype):
    """The @njit-callable gemm_nn (attention, LSTM): every entry written, also for a left
    operand that is a column slice (the LSTM's first step reads hx[prev, :, H:])."""
    a, b = operands(M, N, K, dtype)
    out = np.full((M, N), np.nan, dtype=dtype)
    assert gemm.gemm_nn_serial(a, b, out) is out
    close(out, a @ b, dtype, K)
    wide = np.concatenate([np.ones((M, 3), dtype), a], axis=1)[:, 3:]  # not C-contiguous
    out[:] = np.nan
    gemm.gemm_nn_serial(wide, b, out)
    close(out, a @ b, dtype, K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K", SHAPES)
def test_gemm_nt_matches_matmul(M, N, K, dtype):
    a, b = operands(M, N, K, dtype)
    bt = np.ascontiguousarray(b.T)  # (N, K)
    out = np.full((M, N), np.nan, dtype=dtype)
    gemm.gemm_nt(a, bt, out)
    close(out, a @ b, dtype, K)
    out[:] = np.nan
    gemm.gemm_nt_blocked(a, bt, out)  # the sum over k in pieces of NT_K_PIECE
    close(out, a @ b, dtype, K)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_nt_range_is_a_part_of_the_product(dtype):
    """gemm_nt_range: rows i0:i1 of out, the sum over k0:k1 only (the fused LSTM's first step
    leaves out the h columns this way)."""
    a, b = operands(11, 9, 40, dtype)
    bt = np.ascontiguousarray(b.T)
    out = np.full((11, 9), np.nan, dtype=dtype)
    gemm.gemm_nt_range(a, bt, out, 2, 9, 5, 31)
    close(out[2:9], a[2:9, 5:31] @ b[5:31], dtype, 26)
    assert np.isnan(out[:2]).all() and np.isnan(out[9:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K", SHAPES)
def test_matmul_layouts_bias_and_grouped_output(numba_gemm, M, N, K, dtype):
    """C-ordered, transposed (gemm_nt) and strided operands; the bias; the (n, M, L) output
    with runs of L columns that do not line up with the tiles."""
    a, b = operands(M, N, K, dtype)
    expected = a @ b
    close(gemm.matmul(a, b), expected, dtype, K)
    close(gemm.matmul(a, np.ascontiguousarray(b.T).T), expected, dtype, K)  # transposed b
    close(gemm.matmul(np.asfortranarray(a), b[:, ::1]), expected, dtype, K)
    wide = np.repeat(b, 2, axis=1)[:, ::2]  # strided columns: copied first
    close(gemm.matmul(a, wide), expected, dtype, K)
    bias = np.linspace(-2, 2, M).astype(dtype)
    close(gemm.matmul(a, b, bias=bias), expected + bias[:, None], dtype, K)
    for n in sorted({1, N} | ({3} if N % 3 == 0 else set())):
        out = np.full((n, M, N // n), np.nan, dtype=dtype)
        assert gemm.matmul(a, b, out=out, bias=bias) is out
        close(out, (expected + bias[:, None]).reshape(M, n, -1).swapaxes(0, 1), dtype, K)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_blas_path_gives_the_same_layouts(monkeypatch, dtype):
    """With the Numba GEMM off (a CPU without AVX-512, TINYGRAD_EDU_NUMBA_GEMM=0) matmul is
    NumPy's, with the same out/bias handling."""
    monkeypatch.setattr(gemm, "NUMBA_GEMM", False)
    a, b = operands(9, 12, 5, dtype)
    bias = np.arange(9, dtype=dtype)
    out = np.empty((4, 9, 3), dtype=dtype)
    gemm.matmul(a, b, out=out, bias=bias)
    close(out, (a @ b + bias[:, None]).reshape(9, 4, 3).swapaxes(0, 1), dtype, 5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_threads_split_the_work(dtype):
    """Products of at least PARALLEL_GRAIN * 64 multiply-adds run on the thread pool: groups
    of panels (gemm_nn, with a C- or F-ordered a) and of rows (gemm_nt) give the same result
    as one thread."""
    M, N, K = 70, 1000, 150
    assert M * N * K >= gemm.PARALLEL_GRAIN * 64
    a, b = operands(M, N, K, dtype)
    a_f = np.asfortranarray(a)  # a transposed left operand, as a layer's dy^T
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out = np.empty((M, N), dtype=dtype)
            out_f = np.empty((M, N), dtype=dtype)
            out_t = np.empty((M, N), dtype=dtype)
            results.append((gemm.gemm_nn(a, b, out).copy(), gemm.gemm_nn(a_f, b, out_f).copy(),
                            gemm.gemm_nt_blocked(a, np.ascontiguousarray(b.T), out_t).copy()))
    finally:
        numba.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)  # the same sums in the same order
    close(results[0][0], a @ b, dtype, K)
    np.testing.assert_array_equal(results[0][1], results[0][0])  # F order: the same sums


@settings(deadline=None, max_examples=40)
@given(M=st.integers(1, 40), N=st.integers(1, 90), K=st.integers(1, 70),
       dtype=st.sampled_from(DTYPES), transposed=st.booleans(), short_k=st.booleans(),
       a_transposed=st.booleans(), seed=st.integers(0, 2**16))
def test_hypothesis_matmul_matches_numpy(M, N, K, dtype, transposed, short_k, a_transposed,
                                         seed):
    a, b = operands(M, N, K, dtype, seed)
    a_in = np.ascontiguousarray(a.T).T if a_transposed else a  # F order: gemm_nn reads it
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gemm, "NUMBA_GEMM", True)
        mp.setattr(gemm, "MIN_WORK", 0)
        # a transposed b: dot products (gemm_nt), or for a "short" K gemm_nn on copies
        mp.setattr(gemm, "NT_MIN_K", 10**9 if short_k else 0)
        b_in = np.ascontiguousarray(b.T).T if transposed else b
        close(gemm.matmul(a_in, b_in), a @ b, dtype, K)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_reads_a_transposed_left_operand_without_copying_it(numba_gemm, monkeypatch,
                                                                   dtype):
    """dW = dy^T x of a layer (dy: 300 x 40, x: 300 x 7): gemm_nn gets dy^T itself, an
    F-ordered view, and returns the C-contiguous product; with ``out`` and a bias too."""
    rng = np.random.default_rng(2)
    dy = rng.standard_normal((300, 40)).astype(dtype)
    x = rng.standard_normal((300, 7)).astype(dtype)
    seen = []
    real_nn = gemm.gemm_nn
    monkeypatch.setattr(gemm, "gemm_nn", lambda a, b, *rest: seen.append(a) or
                        real_nn(a, b, *rest))
    got = gemm.matmul(dy.T, x)
    assert len(seen) == 1 and np.shares_memory(seen[0], dy)  # dy^T, not a copy
    assert got.shape == (40, 7) and got.flags.c_contiguous
    close(got, dy.T @ x, dtype, 300)
    out = np.empty((40, 7), dtype)
    bias = np.arange(40, dtype=dtype)
    assert gemm.matmul(dy.T, x, out=out, bias=bias) is out
    close(out, dy.T @ x + bias[:, None], dtype, 300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K, copied", [
    (37, 61, 29, "b"),  # a layer's x W^T: copy W^T (K * N) for gemm_nn
    (5, 130, 70, "a"),  # few rows, many columns: (y a^T)^T, copying a and the result
])
def test_matmul_with_a_transposed_b_and_a_short_k_runs_gemm_nn_on_the_smaller_copy(
        numba_gemm, monkeypatch, M, N, K, copied, dtype):
    """matmul(a, y.T) with K < NT_MIN_K: gemm_nn (not BLAS, not gemm_nt) on a C-order copy of
    the operand that costs less to copy; the same C-contiguous product either way, and with
    ``out`` or a bias the copy of b."""
    monkeypatch.setattr(gemm, "NT_MIN_K", K + 1)
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (M, K)).astype(dtype)
    y = rng.uniform(-1, 1, (N, K)).astype(dtype)
    calls = []
    real_nn = gemm.gemm_nn
    monkeypatch.setattr(gemm, "gemm_nn", lambda x, z, *rest: calls.append(x.shape) or
                        real_nn(x, z, *rest))
    monkeypatch.setattr(gemm, "gemm_nt_blocked", None)  # never called here
    monkeypatch.setattr(gemm, "_blas_matmul", None)
    got = gemm.matmul(a, y.T)
    assert calls == [(M, K) if copied == "b" else (N, K)]  # gemm_nn's a: a itself, or y
    assert got.shape == (M, N) and got.flags.c_contiguous
    close(got, a @ y.T, dtype, K)
    calls.clear()
    bias = np.linspace(-1, 1, M).astype(dtype)
    out = np.full((M, N), np.nan, dtype)
    assert gemm.matmul(a, y.T, out=out, bias=bias) is out and calls == [(M, K)]
    close(out, a @ y.T + bias[:, None], dtype, K)


def test_nan_and_inf_propagate(numba_gemm):
    a, b = operands(9, 40, 6, np.float32)
    a[3, 2] = np.nan
    b[1, 7] = np.inf
    out = gemm.matmul(a, b)
    expected = a @ b
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))


# ---------------------------------------------------------------------------------------------
# bad input: errors that name the op
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, error, match", [
    (np.ones((2, 3)), np.ones((4, 5)), ValueError,
     r"matmul: a \(M, K\) is \(2, 3\) but b is \(4, 5\); expected b of shape \(3, N\)"),
    (np.ones(3), np.ones((3, 2)), ValueError, r"matmul: a must be 2-d, got shape \(3,\)"),
    (np.ones((2, 3)), np.ones((1, 3, 2)), ValueError, r"matmul: b must be 2-d"),
    (np.ones((2, 3), np.int64), np.ones((3, 2)), TypeError,
     r"matmul: a must be float32 or float64, got int64"),
    (np.ones((2, 3), np.float32), np.ones((3, 2)), TypeError,
     r"matmul: a and b must have one dtype, got float32 and float64"),
    ([[1.0, 2.0]], np.ones((2, 2)), TypeError, r"matmul: a must be a NumPy array, got list"),
])
def test_matmul_bad_operands(a, b, error, match):
    with pytest.raises(error, match=match):
        gemm.matmul(a, b)


def test_matmul_bad_out_and_bias():
    a, b = np.ones((4, 3)), np.ones((3, 6))
    with pytest.raises(ValueError, match=r"matmul: out must have shape \(M, N\) = \(4, 6\) or "
                                         r"\(n, M, L\) with n \* L = 6, got \(4, 5\)"):
        gemm.matmul(a, b, out=np.empty((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: out must have shape .* got \(4, 4, 2\)"):
        gemm.matmul(a, b, out=np.empty((4, 4, 2)))
    with pytest.raises(ValueError, match=r"matmul: out must be a C-contiguous float64 array, "
                                         r"got float32"):
        gemm.matmul(a, b, out=np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match=r"matmul: out must be a C-contiguous .*not contiguous"):
        gemm.matmul(a, b, out=np.empty((6, 4)).T)
    with pytest.raises(ValueError, match=r"matmul: bias must be a \(4,\) float64 array, got "
                                         r"\(\(3,\), dtype\('float64'\)\)"):
        gemm.matmul(a, b, bias=np.ones(3))


# ---------------------------------------------------------------------------------------------
# what makes gemm_nn fast: the tile of sums lives in registers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_nn_keeps_its_tile_in_registers(dtype):
    """After LLVM's optimizations no stack array of the tile's size is left in gemm_nn's panel
    loop: SROA turned it into values (registers). Small edits to _tile_8xnr (another array
    read between the stores of the tile's rows, as the bias once was) silently undo that and
    cost 3-5x, which this test catches. Compiled again here without the disk cache, whose code
    cannot be inspected."""
    fn = numba.njit(fastmath=gemm.FAST, error_model="numpy")(gemm._gemm_nn_panels.py_func)
    a, b = operands(9, 40, 6, dtype)
    out = np.empty((1, 9, 40), dtype=dtype)
    a_tail = np.zeros((gemm.MR, 6), dtype=dtype)
    fn(a, a_tail, b, np.zeros(9, dtype=dtype), False, out, 0, 2)
    ir = fn.inspect_llvm(fn.signatures[0])
    tile_elements = gemm.MR * gemm.TILE_ROW_BYTES // np.dtype(dtype).itemsize
    element = "float" if dtype == np.float32 else "double"
    assert f"alloca [{tile_elements} x {element}]" not in ir
