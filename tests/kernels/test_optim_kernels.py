"""Optimizer kernels: the Numba Adam update (cpu) is bitwise equal to the reference lines.

Bitwise, not close: the Numba loop does the reference's operations in the same order in the
arrays' dtype, so any difference is a bug (a lost cast to float32, fastmath, a fused
multiply-add). The reference itself is checked against torch through the optimizer tests
(tests/optim/test_optimizers.py).
"""

import importlib

import numpy as np
import pytest

ref = importlib.import_module("tinygrad_edu.kernels.reference.optim")
cpu = importlib.import_module("tinygrad_edu.kernels.cpu.optim")

DTYPES = [np.float32, np.float64]
SHAPES = [(7,), (3, 5), (2, 3, 5), (1,), (0,), ()]
# (beta1, beta2, lr, eps): torch's defaults, and a faster one with a large eps
HYPER = [(0.9, 0.999, 1e-3, 1e-8), (0.8, 0.99, 0.05, 1e-4)]


def bias_corrected(beta1, beta2, lr, t):
    """(step_size, bc2_sqrt) of step t, as Adam computes them."""
    return lr / (1 - beta1**t), (1 - beta2**t) ** 0.5


def run_steps(impl, p0, grads, hyper, amsgrad):
    """p, m, v (and v_max) after one adam_step per gradient, starting from p0 and zero moments."""
    beta1, beta2, lr, eps = hyper
    p, m, v, max_v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        step_size, bc2_sqrt = bias_corrected(beta1, beta2, lr, t)
        impl.adam_step(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps,
                       max_v=max_v if amsgrad else None)
    return (p, m, v, max_v) if amsgrad else (p, m, v)


def assert_bitwise_equal(got, expected):
    for name, a, b in zip(("p", "m", "v", "max_v"), got, expected):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=True), (  # the message is built on failure only
            f"{name}: max |diff| {np.max(np.abs(a.astype(np.float64) - b), initial=0)}")


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numba_adam_is_bitwise_equal_to_reference(shape, dtype, amsgrad):
    rng = np.random.default_rng(0)
    p0 = np.asarray(rng.standard_normal(shape), dtype)  # asarray: shape () stays an array
    # gradients of every scale, shrinking over the steps: v_max then holds old maxima
    grads = [np.asarray(rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 2, shape) / t,
                        dtype) for t in range(1, 6)]
    for hyper in HYPER:
        assert_bitwise_equal(run_steps(cpu, p0, grads, hyper, amsgrad),
                             run_steps(ref, p0, grads, hyper, amsgrad))


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_numba_adam_propagates_nan_and_inf_like_the_reference(amsgrad):
    """NaN/inf gradients, a zero gradient with eps = 0 (0 / 0), a NaN already in v_max: the
    error model is NumPy's (no exception) and the NaN rules are np.maximum's."""
    g = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, 2.0], np.float32)
    results = []
    for impl in (ref, cpu):
        p = np.ones(6, np.float32)
        m, v = np.zeros(6, np.float32), np.zeros(6, np.float32)
        max_v = np.array([0, 0, 0, 0, np.nan, 0], np.float32)
        with np.errstate(invalid="ignore"):  # NumPy warns about inf - inf and 0 / 0
            impl.adam_step(p, g, m, v, 0.9, 0.999, 0.1, 0.03, 0.0,
                           max_v=max_v if amsgrad else None)
        results.append((p, m, v, max_v))
    assert_bitwise_equal(*results)
    assert np.isnan(results[1][0][0]) and np.isnan(results[1][0][3])  # NaN grad; 0 / 0


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_numba_adam_loop_is_vectorized(amsgrad):
    """LLVM turns the loop into packed (SIMD) arithmetic: that is the whole 3-4x over NumPy's
    ten passes. Numba's default error model (a ZeroDivisionError test per division) or a
    float64 detour (math.sqrt) silently keeps it scalar, 8x slower. Compiled again here with
    the kernel's own options but without the disk cache, whose code cannot be inspected."""
    import numba

    options = {k: v for k, v in cpu._adam_kernel.targetoptions.items() if k != "nopython"}
    fn = numba.njit(**options)(cpu._adam_kernel.py_func)
    p = np.ones(40, np.float32)
    max_v = np.zeros_like(p) if amsgrad else None
    fn(p, p.copy(), np.zeros_like(p), np.zeros_like(p), max_v, np.full(6, 0.5, np.float32))
    ir = fn.inspect_llvm(fn.signatures[0])
    assert "fdiv <" in ir and "@llvm.sqrt.v" in ir  # vector division and square root


def test_numba_adam_casts_scalars_to_the_arrays_dtype():
    """A float64 scalar must not turn a float32 update into a float64 one (NEP 50)."""
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(50).astype(np.float32)
    grads = [rng.standard_normal(50).astype(np.float32) for _ in range(3)]
    expected = run_steps(ref, p0, grads, HYPER[0], False)
    as_numpy_floats = tuple(np.float64(h) for h in HYPER[0])
    assert_bitwise_equal(run_steps(cpu, p0, grads, as_numpy_floats, False), expected)
    assert_bitwise_equal(run_steps(ref, p0, grads, as_numpy_floats, False), expected)


def test_numba_adam_updates_views_in_place():
    """p, m, v are updated through the caller's arrays (any C-contiguous view works)."""
    block = np.zeros((4, 3, 5), np.float32)
    p, g, m, v = block  # four C-contiguous (3, 5) views into one array
    p += 1.0
    g += 0.5
    cpu.adam_step(p, g, m, v, 0.9, 0.999, 0.1 / (1 - 0.9), (1 - 0.999) ** 0.5, 1e-8)
    np.testing.assert_allclose(block[0], 0.9, rtol=1e-6)  # first step: p -= lr * sign(g)
    np.testing.assert_allclose(block[2], 0.05, rtol=1e-6)  # m = (1 - beta1) g
    np.testing.assert_allclose(block[3], 0.001 * 0.25, rtol=1e-6)  # v = (1 - beta2) g^2


def arrays(shape=(3, 5), dtype=np.float32, n=4):
    return [np.zeros(shape, dtype) for _ in range(n)]


HYPER_ARGS = (0.9, 0.999, 0.01, 0.03, 1e-8)


def test_numba_adam_refuses_what_is_not_a_numpy_array():
    p, g, m, v = arrays()
    with pytest.raises(TypeError, match=r"adam_step: g must be a NumPy array .* got list"):
        cpu.adam_step(p, g.tolist(), m, v, *HYPER_ARGS)
    with pytest.raises(TypeError, match=r"adam_step: max_v must be a NumPy array .* got list"):
        cpu.adam_step(p, g, m, v, *HYPER_ARGS, max_v=[0.0])


def test_numba_adam_refuses_mixed_or_unsupported_dtypes():
    p, g, m, v = arrays()
    with pytest.raises(TypeError, match=r"adam_step: expected arrays that are all float32 or "
                                        r"all float64, got p float32, g float64, m float32, "
                                        r"v float32"):
        cpu.adam_step(p, g.astype(np.float64), m, v, *HYPER_ARGS)
    with pytest.raises(TypeError, match=r"all float64, got p float16, g float16"):
        cpu.adam_step(*[a.astype(np.float16) for a in (p, g, m, v)], *HYPER_ARGS)
    with pytest.raises(TypeError, match=r"got p int64, g int64"):
        cpu.adam_step(*[a.astype(np.int64) for a in (p, g, m, v)], *HYPER_ARGS)


def test_numba_adam_refuses_shapes_that_differ():
    p, g, m, v = arrays()
    with pytest.raises(ValueError, match=r"adam_step: expected arrays of one shape, got "
                                         r"p \(3, 5\), g \(5, 3\), m \(3, 5\), v \(3, 5\), "
                                         r"max_v \(3, 5\)"):
        cpu.adam_step(p, g.reshape(5, 3), m, v, *HYPER_ARGS, max_v=np.zeros_like(p))


def test_numba_adam_refuses_strided_and_read_only_arrays():
    p, g, m, v = arrays(shape=(5, 5))
    with pytest.raises(ValueError, match=r"adam_step: g must be C-contiguous .* got shape "
                                         r"\(5, 5\) with strides \(4, 20\)"):
        cpu.adam_step(p, g.T, m, v, *HYPER_ARGS)
    with pytest.raises(ValueError, match=r"adam_step: p must be C-contiguous .* strides \(40, 8\)"):
        cpu.adam_step(np.zeros((5, 10), np.float32)[:, ::2], g, m, v, *HYPER_ARGS)
    m.setflags(write=False)
    with pytest.raises(ValueError, match=r"adam_step: m is updated in place but is read-only "
                                         r"\(shape \(5, 5\), float32\)"):
        cpu.adam_step(p, g, m, v, *HYPER_ARGS)


def test_fits_adam_kernel_says_what_adam_step_takes():
    """The optimizer asks ``fits_adam_kernel`` and then calls ``adam_step_unchecked``: its
    answer must match what the checked launcher takes, and both update alike."""
    p, g, m, v = arrays(shape=(5, 5))
    g.setflags(write=False)  # g is only read: a read-only gradient is fine
    assert cpu.fits_adam_kernel(p, g, m, v) and cpu.fits_adam_kernel(p, g, m, v, v.copy())
    assert not cpu.fits_adam_kernel(p, g.T, m, v)
    assert not cpu.fits_adam_kernel(p, g, m, v, v.tolist())
    assert not cpu.fits_adam_kernel(p, g, m, v.astype(np.float64))
    assert not cpu.fits_adam_kernel(*(a.astype(np.float16) for a in (p, g, m, v)))
    read_only_v = v.copy()
    read_only_v.setflags(write=False)
    assert not cpu.fits_adam_kernel(p, g, m, read_only_v)
    rng = np.random.default_rng(4)
    p0, g0 = rng.standard_normal((2, 5, 5)).astype(np.float32)
    checked = [p0.copy(), g0, *arrays((5, 5), n=2)]
    unchecked = [p0.copy(), g0, *arrays((5, 5), n=2)]
    for _ in range(3):
        cpu.adam_step(*checked, *HYPER_ARGS)
        cpu.adam_step_unchecked(*unchecked, *HYPER_ARGS)
    assert_bitwise_equal(checked, unchecked)


def test_reference_adam_takes_strided_arrays():
    """The fallback for what the kernel refuses: strided arrays give the same bits as the
    Numba kernel on contiguous copies."""
    rng = np.random.default_rng(2)
    p0, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    strided = [np.asfortranarray(p0), g.T.copy().T, np.zeros((4, 5)).T, np.zeros((4, 5)).T]
    contiguous = [p0.copy(), g.copy(), np.zeros((5, 4)), np.zeros((5, 4))]
    for _ in range(3):
        ref.adam_step(*strided, *HYPER_ARGS)
        cpu.adam_step(*contiguous, *HYPER_ARGS)
    assert not strided[0].flags.c_contiguous
    assert_bitwise_equal([strided[i] for i in (0, 2, 3)], [contiguous[i] for i in (0, 2, 3)])


# ---------------------------------------------------------------------------------------------
# cuda: the Numba CUDA kernel (under the simulator without a GPU; tiny shapes, the simulator
# runs each thread as Python) vs the reference. Not bitwise: on a GPU the compiler may fuse a
# multiply and an add (FMA), and the simulator computes math.sqrt in float64.
# ---------------------------------------------------------------------------------------------

CUDA_TOLERANCE = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-14, atol=0)}


@pytest.mark.cudasim
@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_cuda_adam_matches_reference(dtype, amsgrad):
    cuda = importlib.import_module("tinygrad_edu.kernels.cuda.optim")
    rng = np.random.default_rng(5)
    shape = (3, 5)  # 15 threads: one block, most of it spare
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [(rng.standard_normal(shape) / t).astype(dtype) for t in (1, 2, 3)]
    got = run_steps(cuda, p0, grads, HYPER[1], amsgrad)
    expected = run_steps(ref, p0, grads, HYPER[1], amsgrad)
    for name, a, b in zip(("p", "m", "v", "max_v"), got, expected):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, err_msg=name, **CUDA_TOLERANCE[dtype])


@pytest.mark.cudasim
def test_cuda_adam_nan_rules_and_errors_match_the_other_kernels():
    cuda = importlib.import_module("tinygrad_edu.kernels.cuda.optim")
    g = np.array([np.nan, 1.0, 2.0], np.float32)
    results = []
    for impl in (ref, cuda):
        p, m, v = np.ones(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32)
        max_v = np.array([0.0, np.nan, 0.0], np.float32)  # a NaN already in v_max stays
        with np.errstate(invalid="ignore"):
            impl.adam_step(p, g, m, v, 0.9, 0.999, 0.1, 0.03, 1e-8, max_v=max_v)
        results.append((p, m, v, max_v))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # NaNs in the same places
    p, g, m, v = arrays()
    with pytest.raises(ValueError, match=r"adam_step: expected arrays of one shape"):
        cuda.adam_step(p, g.reshape(5, 3), m, v, *HYPER_ARGS)
    with pytest.raises(TypeError, match=r"adam_step: g must be a CuPy or NumPy array, got list"):
        cuda.adam_step(p, g.tolist(), m, v, *HYPER_ARGS)
