"""Setup for the model tests.

BLAS and Numba are pinned to one thread here. These tests run many tiny matrix products and
small convolutions; on a shared 2-core machine, threads that spin-wait for each other made them
10-40x slower (measured under load: a (64, 128) @ (128, 512) product took 0.25 ms with one
OpenBLAS thread and 40 ms with two; a ResNet step on 8x8 images took 0.06 s with one Numba
thread and 0.69 s with two).
"""

import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # threadpoolctl comes with scikit-learn; without it BLAS is not pinned
    threadpool_limits = None


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    import numba

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=1, user_api="blas"):
                yield
    finally:
        numba.set_num_threads(numba_threads)
