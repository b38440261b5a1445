"""reference implementations of the kernel families (see tinygrad_edu.kernels)."""
