"""Shared test setup.

The Numba CUDA simulator must be switched on *before* numba is first imported, so this conftest
owns it: with no real GPU (detected through CuPy, never through numba, which reports True under
the simulator) the CUDA kernels run in the simulator on tiny shapes.
"""

import os


def _real_gpu_present() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# One thread per pool: BLAS and Numba pools busy-wait after each call and slow each other down
# badly on a 2-core machine (must be set before numpy/numba are imported).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REAL_GPU = _real_gpu_present()
if not REAL_GPU:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
CUDASIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU found through CuPy (cupy missing or 0 devices)")
    for item in items:
        if "gpu" in item.keywords and not REAL_GPU:
            item.add_marker(skip_gpu)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Every test that takes ``device`` runs on the CPU, and on the GPU when one is present."""
    return request.param


@pytest.fixture
def numba_gemm_at_every_size(monkeypatch):
    """Matrix products of conv2d and linear take the Numba GEMM (kernels/cpu/gemm.py) whatever
    their size and the CPU: the small products of the tests go to BLAS otherwise."""
    from tinygrad_edu.kernels.cpu import gemm

    import tinygrad_edu as tg  # here, not at the top: the simulator switch above comes first

    monkeypatch.setattr(gemm, "NUMBA_GEMM", True)
    monkeypatch.setattr(gemm, "MIN_WORK", 0)
    monkeypatch.setattr(gemm, "NT_MIN_K", 0)
    with tg.use_kernel("numba"):
        yield
