"""Hand-written kernels, installed as ``tinygrad_edu.kernels``.

Pure array functions: arrays in, arrays out. Nothing here knows about Tensor or autograd.

Every kernel family exists three times with the same signatures:

- ``reference`` -- plain NumPy, obviously correct, loops allowed (the oracle for tests);
- ``cpu``       -- Numba ``@njit`` (parallel where it pays);
- ``cuda``      -- Numba ``@cuda.jit`` kernels plus a launcher.

Families: ``conv`` (im2col / col2im), ``pool`` (max / avg / adaptive avg pooling) and
``attention`` (scaled dot-product attention forward/backward, softmax).

``tinygrad_edu.backend`` is the only place that picks one of the three.
"""

IMPLEMENTATIONS = ("reference", "cpu", "cuda")
FAMILIES = ("conv", "pool", "attention")
