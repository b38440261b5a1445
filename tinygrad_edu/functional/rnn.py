"""A whole LSTM layer (one direction) as one op: ``lstm_layer``, forward and backpropagation
through time written by hand on raw arrays. ``nn.LSTM`` runs on it by default (``fused=True``).

Notation: T time steps, B batch, I input features, H hidden features, G = 4H gate rows.
torch's gate order i, f, g, o; ``s`` is the logistic sigmoid, ``*`` the elementwise product::

    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh                     (B, G)
    i, f, g, o = s(z_i), s(z_f), tanh(z_g), s(z_o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

Backward, from the last step to the first, with dh and dc the gradients arriving at h_t and
c_t (dh = dout_t + the dh that step t+1 sent back)::

    dz_o = dh * tanh(c_t) * o (1 - o)
    dc  += dh * o * (1 - tanh(c_t)^2)
    dz_i = dc * g * i (1 - i),   dz_f = dc * c_{t-1} * f (1 - f),   dz_g = dc * i * (1 - g^2)
    dc_{t-1} = dc * f,   dh_{t-1} = dz W_hh
    dW_hh = sum_t dz_t^T h_{t-1},   dW_ih = sum_t dz_t^T x_t,   db_ih = db_hh = sum_t,b dz_t,
    dx_t = dz_t W_ih

Why one op instead of the per-step Tensor ops of ``nn.rnn``: a step of the composable path
records about fifteen graph nodes (matmul, add, chunk, sigmoid, tanh, mul...), each with its
own Python call, fresh arrays and backward; here a step is one GEMM and a dozen in-place array
operations, and the graph holds one node per layer and direction. Outside the loops: the input
part of all T steps is one batched GEMM, and dW_hh, dW_ih and db come out of one GEMM together.

Tricks that keep the array passes few and fast:

- the gate rows are reordered o, i, f, g inside the op (a roll of torch's i, f, g, o by H):
  the three sigmoid gates sit side by side, and so do the three gates multiplied by dc;
- sigmoid(z) = (1 + tanh(z / 2)) / 2, and the rows of the sigmoid gates are halved in the
  weights (exact: a power of two), so one tanh call covers all four gates;
- per-step arrays are feature-major, (G, B) and (H, B), so a gate is a contiguous block
  (see ``LSTMLayer``).

Two implementations of the same op. NumPy float32/float64 arrays run the Numba kernels of
``functional/_lstm_cpu.py`` (batch-major layout, one compiled loop for the whole forward and
one for the whole backward, blocked matrix products that use AVX-512 where the CPU has it),
unless ``Config.kernel`` is "reference". CuPy arrays, other dtypes and ``kernel="reference"``
run the array-module code of ``LSTMLayer`` below, written against ``xp``; the tests check
that the two agree.

Differentiable once: the gradients are computed on arrays, outside the graph. Asked for a
second derivative they raise an error that names the any-order path, ``nn.LSTM(...,
fused=False)``, whose steps are ordinary Tensor ops. (The class does not set the
``once_differentiable`` flag: that flag's error points to attention's switch, and the
profiler would list the op as kernel-backed. Its backward wraps the gradients itself, in a
``_NotTwiceDifferentiable`` subclass with an LSTM message, when a graph is being recorded.)
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Config, Function, _NotTwiceDifferentiable
from ..backend import get_array_module, resolve_kernel_choice
from ..tensor import Tensor


def _o_first(w):
    """torch's gate rows i, f, g, o -> o, i, f, g (G, ...): the sigmoid gates o, i, f side by
    side, and the gates i, f, g that the backward multiplies by dc side by side."""
    H = w.shape[0] // 4
    return get_array_module(w).concatenate((w[3 * H:], w[:3 * H]), axis=0)


def _o_last(w):
    """The inverse of ``_o_first``: rows o, i, f, g -> torch's i, f, g, o."""
    H = w.shape[0] // 4
    return get_array_module(w).concatenate((w[H:], w[:H]), axis=0)


class _LSTMGradient(_NotTwiceDifferentiable):
    """A gradient of ``LSTMLayer``: the same array, connected to the layer's inputs; its own
    backward (a second derivative) raises, naming the any-order path."""

    def backward(self, dy):
        raise RuntimeError(
            "lstm_layer: the fused LSTM computes its gradients on arrays (hand-written "
            "backpropagation through time) and can be differentiated only once. For "
            "second-order gradients use the composable path, whose steps are ordinary Tensor "
            "ops: nn.LSTM(..., fused=False), or set lstm.fused = False on an existing layer"
        )


class LSTMLayer(Function):
    """One LSTM layer over a whole sequence, one direction (module docstring: the formulas).

    Tensor arguments: x, w_ih, w_hh, then b_ih, b_hh when ``bias``, then h0, c0 when ``state``
    (without them the initial state is zeros, and the first step skips its W_hh h_0 product).

    Returns one array (T + 1, B, H): rows 0..T-1 are h_t in time order (the output), row T is
    the final cell state c_n (one Function has one output; ``lstm_layer`` slices it).

    Layout. Every per-step array is feature-major, (G, B) and (H, B), so that a gate is one
    contiguous block of rows: NumPy runs its fast loops on contiguous blocks (a gate of a
    (B, G) array is a strided column block, about three times slower per element). A step
    computes z_t^T = W_hh h_{t-1}^T + [W_ih b] [x_t; 1]^T. The columns [h_{t-1}; x_t; 1] of
    every step live in one buffer ``hx`` (T + 1, K, B), K = H + I + 1 (padded to a multiple
    of 8 with zero rows), so the backward gets dW_hh, dW_ih and db from one GEMM:
    [dW_hh dW_ih db] = sum_t dz_t [h_{t-1}; x_t; 1]^T.

    Saved for the backward: ``hx``, the gate activations (T, G, B), c_0..c_T (T + 1, H, B)
    and tanh(c_t) (T, H, B).
    """

    def forward(self, x, w_ih, w_hh, *rest, bias, state, reverse):
        self.on_cpu_kernels = _use_cpu_kernels(x)
        if self.on_cpu_kernels:
            return self._forward_cpu(x, w_ih, w_hh, *rest, bias=bias, state=state,
                                     reverse=reverse)
        xp = get_array_module(x)
        T, B, I = x.shape
        G = w_ih.shape[0]
        H = G // 4
        K = -(-(H + I + 1) // 8) * 8  # rows of hx: h (H), x (I), 1, zero padding
        self.bias, self.state, self.reverse = bias, state, reverse
        # slots of hx in time order: step t reads slot t + r and writes h_t to slot t + 1 - r
        # (r = 1 when reverse): the initial state comes first in the order of the steps
        r = 1 if reverse else 0
        hx = xp.zeros((T + 1, K, B), dtype=x.dtype)
        hx[r:T + r, H:H + I] = x.transpose(0, 2, 1)  # x_t^T (I, B)
        hx[:, H + I] = 1
        if state:
            hx[T * r, :H] = rest[-2].T  # h_0^T (H, B): slot 0, or slot T when reverse

        # halve the rows of the sigmoid gates o, i, f: tanh then gives tanh(z / 2) for them
        w_in = xp.zeros((G, I + 1), dtype=x.dtype)  # [W_ih b]
        w_in[:, :I] = _o_first(w_ih)
        if bias:
            w_in[:, I] = _o_first(rest[0] + rest[1])
        w_in[:3 * H] *= 0.5
        w_hh_half = _o_first(w_hh)  # (G, H), a fresh array
        w_hh_half[:3 * H] *= 0.5
        # the input part of every step at once; overwritten by the activations below
        acts = xp.matmul(w_in, hx[r:T + r, H:H + I + 1])  # (G, I+1) @ (T, I+1, B) -> (T, G, B)

        cs = xp.empty((T + 1, H, B), dtype=x.dtype)  # c_0 .. c_T, in time order
        cs[T * r] = rest[-1].T if state else 0
        tanh_cs = xp.empty((T, H, B), dtype=x.dtype)  # tanh(c_t)
        hw = xp.empty((G, B), dtype=x.dtype)  # W_hh h_{t-1}^T of the current step
        ig = xp.empty((H, B), dtype=x.dtype)
        first = T - 1 if reverse else 0
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            prev, cur = t + r, t + 1 - r
            a = acts[t]  # (G, B): W_ih x_t^T + b, becomes o, i, f, g
            if state or t != first:
                xp.matmul(w_hh_half, hx[prev, :H], out=hw)  # (G, H) @ (H, B)
                a += hw
            xp.tanh(a, out=a)
            sig = a[:3 * H]  # tanh(z / 2) of o, i, f -> s(z) = (1 + tanh(z / 2)) / 2
            sig *= 0.5
            sig += 0.5
            o, i, f, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]  # each (H, B)
            c = xp.multiply(f, cs[prev], out=cs[cur])  # c_t = f * c_{t-1} + i * g
            c += xp.multiply(i, g, out=ig)
            xp.tanh(c, out=tanh_cs[t])
            xp.multiply(o, tanh_cs[t], out=hx[cur, :H])  # h_t = o * tanh(c_t)
        self.save_for_backward(hx, acts, cs, tanh_cs)
        out = xp.empty((T + 1, B, H), dtype=x.dtype)
        out[:T] = hx[1 - r:T + 1 - r, :H].transpose(0, 2, 1)  # (T, H, B) -> (T, B, H)
        out[T] = cs[T * (1 - r)].T  # c_n
        return out

    def backward(self, dy):
        names = ["x", "w_ih", "w_hh"] + ["b_ih", "b_hh"] * self.bias + ["h0", "c0"] * self.state
        needs = dict(zip(names, self.needs_input_grad, strict=True))
        if self.on_cpu_kernels:
            grads = self._backward_cpu(dy.data, needs)
        else:
            grads = self._backward_xp(dy.data, needs)
        result = [grads.get(name) if needs[name] else None for name in names]
        if Config.grad_enabled:
            # backward(create_graph=True): keep the gradients connected to the layer's
            # inputs, so that differentiating them again raises a clear error
            result = [None if gi is None else _LSTMGradient.apply(Tensor._wrap(gi, False),
                                                                   *self.inputs,
                                                                   op_name=self.name)
                      for gi in result]
        return tuple(result)

    def _backward_xp(self, dy, needs) -> dict:
        """The array-module backward (NumPy or CuPy); dy (T + 1, B, H): dh_t, then dc_n."""
        hx, acts, cs, tanh_cs = self.saved
        need_h0 = needs.get("h0", False)
        need_c0 = needs.get("c0", False)
        xp = get_array_module(dy)
        T, G, B = acts.shape
        H = G // 4
        r = 1 if self.reverse else 0
        w_hh_t = _o_first(self.inputs[2].data).T  # (H, G)

        dh_out = xp.ascontiguousarray(dy[:T].transpose(0, 2, 1))  # (T, H, B)
        dz = xp.empty_like(acts)  # (T, G, B): dL/dz_t, o, i, f, g order
        dz4 = dz.reshape(T, 4, H, B)
        dh = xp.zeros((H, B), dtype=dy.dtype)  # dL/dh_t arriving from step t+1
        dc = xp.array(dy[T].T, order="C")  # (H, B): dL/dc_t, from c_n's gradient (a copy)
        ds = xp.empty((4, H, B), dtype=dy.dtype)  # s (1 - s) of o, i, f; 1 - g^2
        tmp = xp.empty((H, B), dtype=dy.dtype)
        steps = range(T) if r else range(T - 1, -1, -1)
        for n, t in enumerate(steps):
            last = n == T - 1  # the step that read h_0 and c_0
            a = acts[t]
            o, i, f, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            tanh_c = tanh_cs[t]
            xp.multiply(a.reshape(4, H, B), a.reshape(4, H, B), out=ds)  # a^2
            xp.subtract(a[:3 * H].reshape(3, H, B), ds[:3], out=ds[:3])  # s - s^2
            xp.subtract(1, ds[3], out=ds[3])  # 1 - g^2
            dh += dh_out[t]
            dz_o = xp.multiply(dh, tanh_c, out=dz[t, :H])  # dz_o = dh tanh(c) o (1 - o)
            dz_o *= ds[0]
            xp.multiply(tanh_c, tanh_c, out=tmp)  # dc += dh o (1 - tanh(c)^2)
            xp.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            xp.multiply(dc, ds[1:], out=dz4[t, 1:])  # dc times i (1 - i), f (1 - f), 1 - g^2
            dz[t, H:2 * H] *= g  # dz_i = dc g i (1 - i)
            dz[t, 2 * H:3 * H] *= cs[t + r]  # dz_f = dc c_{t-1} f (1 - f)
            dz[t, 3 * H:] *= i  # dz_g = dc i (1 - g^2)
            if not last or need_c0:
                dc *= f  # dL/dc_{t-1}
            if not last or need_h0:
                xp.matmul(w_hh_t, dz[t], out=dh)  # dL/dh_{t-1}^T: (H, G) @ (G, B)

        dz2 = xp.ascontiguousarray(dz.transpose(1, 0, 2)).reshape(G, T * B)  # (G, T*B)
        grads = {}
        if needs["x"]:
            grads["x"] = (dz2.T @ _o_first(self.inputs[1].data)).reshape(T, B, -1)  # @ (G, I)
        if any(needs.get(name) for name in ("w_ih", "w_hh", "b_ih", "b_hh")):
            I, K = self.inputs[0].shape[2], hx.shape[1]
            columns = xp.ascontiguousarray(hx[r:T + r].transpose(0, 2, 1))  # (T, B, K)
            dw = dz2 @ columns.reshape(T * B, K)  # (G, T*B) @ (T*B, K): [dW_hh dW_ih db 0]
            grads["w_hh"] = _o_last(dw[:, :H])
            grads["w_ih"] = _o_last(dw[:, H:H + I])
            if self.bias:
                grads["b_ih"] = _o_last(dw[:, H + I])
                grads["b_hh"] = grads["b_ih"].copy()
        if need_h0:
            grads["h0"] = xp.ascontiguousarray(dh.T)  # (B, H)
        if need_c0:
            grads["c0"] = xp.ascontiguousarray(dc.T)
        return grads

    # -- NumPy arrays: the Numba kernels of _lstm_cpu, batch-major layout --------------------

    def _forward_cpu(self, x, w_ih, w_hh, *rest, bias, state, reverse):
        """Same result as the array-module forward; the recurrence runs in
        ``_lstm_cpu.lstm_forward`` (its docstring has the layout: hx rows [h; x_t; 1])."""
        from . import _lstm_cpu

        T, B, I = x.shape
        G = w_ih.shape[0]
        H = G // 4
        K = _lstm_cpu.row_length(H, I)
        self.bias, self.state, self.reverse = bias, state, reverse
        r = 1 if reverse else 0  # step t reads slot t + r, writes slot t + 1 - r
        hx = np.zeros((T + 1, B, K), dtype=x.dtype)
        hx[r:T + r, :, H:H + I] = x  # (T, B, I)
        hx[:, :, H + I] = 1
        if state:
            hx[T * r, :, :H] = rest[-2]  # h_0 (B, H)
        wt = np.zeros((K, G), dtype=x.dtype)  # [W_hh W_ih b 0]^T
        wt[:H] = w_hh.T
        wt[H:H + I] = w_ih.T
        if bias:
            wt[H + I] = rest[0] + rest[1]
        cs = np.empty((T + 1, B, H), dtype=x.dtype)  # c_0 .. c_T
        cs[T * r] = rest[-1] if state else 0
        acts = np.empty((T, B, G), dtype=x.dtype)  # i, f, g, o
        tanh_cs = np.empty((T, B, H), dtype=x.dtype)
        z = np.empty((B, G), dtype=x.dtype)  # scratch: one step's pre-activations
        _lstm_cpu.lstm_forward(hx, wt, cs, acts, tanh_cs, z, reverse, not state)
        self.save_for_backward(hx, acts, cs, tanh_cs)
        out = np.empty((T + 1, B, H), dtype=x.dtype)
        out[:T] = hx[1 - r:T + 1 - r, :, :H]  # h_1 .. h_T (or h_0 .. h_{T-1} when reverse)
        out[T] = cs[T * (1 - r)]  # c_n
        return out

    def _backward_cpu(self, dy, needs) -> dict:
        """dy (T + 1, B, H): dh_t for t < T, then dc_n. BPTT in ``_lstm_cpu.lstm_backward``,
        then the products over all steps at once (``backend.cpu_matmul``: the Numba GEMM, or
        BLAS): [dW_hh dW_ih db] = dZ^T HX over the T * B rows, dx = dZ W_ih."""
        from . import _lstm_cpu

        hx, acts, cs, tanh_cs = self.saved
        T, B, G = acts.shape
        H = G // 4
        r = 1 if self.reverse else 0
        dtype = acts.dtype
        dy = np.asarray(dy, dtype=dtype)
        dout = np.ascontiguousarray(dy[:T])  # (T, B, H)
        dc = np.array(dy[T], order="C")  # (B, H): dc_n, becomes dc_0
        dh = np.empty((B, H), dtype=dtype)
        dz = np.empty((T, B, G), dtype=dtype)  # dL/dz_t, gates i, f, g, o
        w_hh = np.ascontiguousarray(self.inputs[2].data)  # (G, H)
        need_h0 = needs.get("h0", False)
        _lstm_cpu.lstm_backward(dout, dc, hx, w_hh, cs, acts, tanh_cs, dz, dh, self.reverse,
                                need_h0)
        dz2 = dz.reshape(T * B, G)
        mm = backend.cpu_matmul(dz2, hx) or np.matmul  # the Numba GEMM where it beats BLAS
        grads = {}
        if needs["x"]:
            grads["x"] = mm(dz2, self.inputs[1].data).reshape(T, B, -1)  # (T*B, G) @ (G, I)
        if any(needs.get(name) for name in ("w_ih", "w_hh", "b_ih", "b_hh")):
            I, K = self.inputs[0].shape[2], hx.shape[2]
            # [dW_hh dW_ih db 0] = dZ^T HX (G, K): the GEMM reads dZ^T in place (F order)
            dw = mm(dz2.T, hx[r:T + r].reshape(T * B, K))  # (G, T*B) @ (T*B, K) -> (G, K)
            grads["w_hh"] = np.ascontiguousarray(dw[:, :H])
            grads["w_ih"] = np.ascontiguousarray(dw[:, H:H + I])
            if self.bias:
                grads["b_ih"] = dw[:, H + I].copy()
                grads["b_hh"] = grads["b_ih"].copy()
        if need_h0:
            grads["h0"] = dh
        if needs.get("c0", False):
            grads["c0"] = dc
        return grads


def _use_cpu_kernels(x) -> bool:
    """The Numba kernels run for float32 and float64 NumPy arrays under ``use_kernel("numba")``,
    and under "auto" on CPUs where their products win: where ``kernels/cpu/gemm.py`` turns its
    GEMM on (AVX-512, or ``TINYGRAD_EDU_NUMBA_GEMM=1``). Elsewhere (an AVX2 CPU, where the
    outer products lose to BLAS: run.py's LSTM fwd+bwd, AMD EPYC without AVX-512, was 1.5x
    the NumPy floor and 1.7-1.9x torch with the kernels, 0.85-0.9x and 1.1x with the array
    path) and under "reference", the array-module path runs, the one CuPy arrays take."""
    if not (isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)):
        return False
    if resolve_kernel_choice(Config.kernel, on_gpu=False) != "numba":
        return False
    from ..kernels.cpu import gemm  # read at call time: tests switch it

    return Config.kernel == "numba" or gemm.NUMBA_GEMM


def _check(name: str, what: str, t, shape: tuple, dtype) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: expected {what} of shape {shape}, got {tuple(t.shape)}")
    if t.dtype != dtype:
        raise TypeError(f"{name}: expected {what} of dtype {dtype} like the input, got "
                        f"{t.dtype}")


def lstm_layer(x: Tensor, hx, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
               b_hh: Tensor | None = None, reverse: bool = False) -> tuple:
    """One LSTM layer in one direction over a whole sequence, as one fused op.

    x (T, B, I); hx = (h0, c0), each (B, H), or None for zeros; w_ih (4H, I), w_hh (4H, H),
    b_ih and b_hh (4H,) or both None; torch's gate order i, f, g, o. ``reverse`` runs from
    t = T-1 down to 0. Returns (output (T, B, H), h_n (B, H), c_n (B, H)). Differentiable
    once (see the module docstring).

    >>> import tinygrad_edu as tg
    >>> x = tg.randn(5, 2, 3)                                     # (T, B, I)
    >>> out, h_n, c_n = lstm_layer(x, None, tg.randn(16, 3), tg.randn(16, 4))
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (2, 4), (2, 4))
    >>> bool((h_n == out[4]).all())
    True
    """
    name = "lstm_layer"
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[0] == 0:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected x of shape (T, B, I) with T >= 1, got {got}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got {x.dtype}")
    T, B, I = x.shape
    if not isinstance(w_hh, Tensor) or w_hh.ndim != 2 or w_hh.shape[0] != 4 * w_hh.shape[1]:
        got = tuple(w_hh.shape) if isinstance(w_hh, Tensor) else type(w_hh).__name__
        raise ValueError(f"{name}: expected w_hh of shape (4H, H), got {got}")
    H = w_hh.shape[1]
    _check(name, "w_hh", w_hh, (4 * H, H), x.dtype)
    _check(name, "w_ih", w_ih, (4 * H, I), x.dtype)
    tensors = [x, w_ih, w_hh]
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{name}: pass both biases b_ih and b_hh, or neither")
    if b_ih is not None:
        _check(name, "b_ih", b_ih, (4 * H,), x.dtype)
        _check(name, "b_hh", b_hh, (4 * H,), x.dtype)
        tensors += [b_ih, b_hh]
    if hx is not None:
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: expected hx to be None or a tuple (h0, c0), got "
                            f"{type(hx).__name__}")
        _check(name, "h0", hx[0], (B, H), x.dtype)
        _check(name, "c0", hx[1], (B, H), x.dtype)
        tensors += list(hx)
    packed = LSTMLayer.apply(*tensors, bias=b_ih is not None, state=hx is not None,
                             reverse=reverse)  # (T + 1, B, H)
    output = packed[:T]  # (T, B, H)
    h_n = packed[0] if reverse else packed[T - 1]  # (B, H)
    return output, h_n, packed[T]
