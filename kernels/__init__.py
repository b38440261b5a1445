"""Hand-written kernels, installed as ``tinygrad_edu.kernels``.

Pure array functions: arrays in, arrays out. Nothing here knows about Tensor or autograd.

Every kernel family exists three times with the same signatures:

- ``reference`` -- plain NumPy, obviously correct, loops allowed (the oracle for tests);
- ``cpu``       -- Numba ``@njit`` (parallel where it pays);
- ``cuda``      -- Numba ``@cuda.jit`` kernels plus a launcher.

Families: ``conv`` (im2col / col2im), ``pool`` (max / avg / adaptive avg pooling),
``attention`` (scaled dot-product attention forward/backward, softmax), ``optim`` (Adam's
update of one parameter: ten array passes in the reference, one pass in the compiled two) and
``activation`` (ReLU, leaky ReLU and GELU forward and backward, the sigmoid's and erf's
forward: one branch-free pass where NumPy's ``maximum`` with a scalar and ``where`` are slow
loops, SciPy's erf a scalar one, and GELU five array passes forward and ten backward).
``norm`` (batch normalization in training mode and layer normalization, forward and backward:
two passes over the data each way, against about ten for the array ops) exists as
``reference`` and ``cpu`` only: on a GPU the ops run CuPy's array code. So does ``loss``
(softmax cross entropy of a batch of logits: every row's loss and its gradient in one pass,
against about ten array passes).

``cpu`` has one module more, ``gemm``: register-blocked matrix products that use AVX-512 where
NumPy's BLAS may not (the Numba conv2d and the fused LSTM call it; it hands small products, and
all of them on CPUs without AVX-512, to BLAS). The other implementations multiply with their
array module's matmul (NumPy's BLAS, cuBLAS). ``winograd`` (Winograd F(2x2, 3x3): 3x3
stride-1 convolution as 16 products of transformed tiles: the forward, input gradient and
weight gradient of conv2d where it pays) exists as ``reference`` and ``cpu``, on the ``cpu``
GEMM's tiles; on a GPU conv2d stays im2col + cuBLAS.

``optim.Adam`` gets the ``cpu`` Adam from ``backend.numba_kernels`` where the kernel setting
picks Numba and runs the reference lines otherwise; on CuPy arrays it runs a fused CuPy kernel
of its own, the path measured on an H100 (``cuda.optim``, the Numba version, is for study and
for the kernel benchmarks). The ReLU, leaky ReLU, sigmoid, erf and GELU ops get the ``cpu``
activations the same way (GELU for float32 only) and compute with CuPy's own elementwise code
on the GPU (``cuda.activation`` is for study and the kernel benchmarks too). Training-mode
``BatchNorm`` and ``LayerNorm`` get the
``cpu`` norm kernels the same way (``nn/normalization.py``: ``BatchNormTrain``,
``LayerNormFused``).

``tinygrad_edu.backend`` is the only place that picks one of the three.
"""

import numpy as np

IMPLEMENTATIONS = ("reference", "cpu", "cuda")
# norm and loss: no cuda
FAMILIES = ("conv", "pool", "attention", "optim", "activation", "norm", "loss")
# the dtypes the kernels compute in; dtype objects, so ``in`` compares them without converting
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
