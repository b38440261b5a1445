"""Fixed-size scratch arrays on the stack, for ``@njit`` kernels.

``stack_allocator(nbytes)`` makes an intrinsic ``stack(like)`` that returns a pointer to
``nbytes // like.itemsize`` elements of like's dtype: an LLVM ``alloca`` in the entry block of
the function that calls it (wrap it with ``numba.np.numpy_support.carray``). Contents are
undefined on entry, as with np.empty.

Why not np.empty: LLVM knows that a stack array is memory no other pointer reaches. Then

- a loop that adds an array into it needs no run-time check that the two overlap, and
  vectorizes for short trip counts too (col2im's padded planes, ``conv.py``);
- when every index into it is a constant, LLVM keeps it in registers (gemm_nn's tile of
  outputs, ``gemm.py``).

An array from np.empty is a pointer returned by Numba's allocator, which LLVM cannot tell
apart from any other, and it costs an allocation per call.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def stack_allocator(nbytes: int):
    """An intrinsic ``stack(like) -> pointer`` to ``nbytes // like.itemsize`` elements of
    like's dtype on the stack (``nbytes`` is fixed when the kernel is compiled)."""

    @intrinsic
    def stack(typingctx, like):
        dtype = like.dtype
        count = nbytes // (dtype.bitwidth // 8)

        def codegen(context, builder, signature, args):
            return cgutils.alloca_once(builder, context.get_value_type(dtype), size=count)

        return types.CPointer(dtype)(like), codegen

    return stack
