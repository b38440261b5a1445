"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells, with torch's names,
parameter shapes, gate order, initialization and return values.

Notation: T time steps, B batch, I input features (``input_size``), H hidden features
(``hidden_size``), G = gates * H (the stacked gate rows of one weight), L layers, D directions
(2 when ``bidirectional``), P projected hidden size (LSTM's ``proj_size``).

The cell equations (torch's gate order; ``*`` is the elementwise product)::

    RNN   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)          (or relu)
    LSTM  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh, 4)
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
          h' = sigmoid(o) * tanh(c')                            (then h' W_hr^T if proj_size)
    GRU   r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z)       x_* = rows of x W_ih^T + b_ih
          n = tanh(x_n + r * h_n)                               h_* = rows of h W_hh^T + b_hh
          h' = (1 - z) * n + z * h

How one layer runs in one direction:

1. ``xw = x @ W_ih^T + b`` for all T steps in one matmul (T, B, G): the input does not depend
   on the recurrence, so the big product leaves the loop.
2. ``for t in range(T): h = step(xw[t], h)``: only ``h @ W_hh^T`` and the gate math are left
   inside the loop.

Everything here is built from Tensor ops, so backpropagation through time, and higher-order
gradients, come from autograd: there is no hand-written backward in this file. That is the
composable path. ``LSTM`` has a second, default one, ``fused=True``: each layer and direction
is one op, ``functional.rnn.lstm_layer``, which runs the loop on raw arrays and has a
hand-written backward (fast, one graph node instead of ~15 per step, differentiable once).

A ``PackedSequence`` input (``nn.utils.rnn``) always takes the composable path: step t runs on
the first ``batch_sizes[t]`` rows of the state (the sequences still running), so each
sequence's final state is the one at its own last step.
"""

from __future__ import annotations

import math
import warnings
from functools import partial

from ..autograd import no_grad
from ..functional import cat, dropout, stack
from ..functional.rnn import lstm_layer
from ..tensor import Tensor, empty, zeros
from .module import Module, Parameter, check_input_dtype
from .utils.rnn import PackedSequence

# ----------------------------------------------------------------------------------------------
# One time step of each cell. ``xw`` is the input part x W_ih^T + b_ih, computed beforehand;
# ``w_hh_t`` is W_hh^T (transposed once per layer, not once per step). Each returns the new
# state: (h,) for RNN and GRU, (h, c) for LSTM.
# ----------------------------------------------------------------------------------------------


def _hidden_part(h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """h W_hh^T + b_hh  (B, H) @ (H, G) -> (B, G); b_hh is None when it was folded into xw."""
    hw = h @ w_hh_t  # (B, G)
    return hw if b_hh is None else hw + b_hh


def _rnn_tanh_step(xw, state, w_hh_t, b_hh=None):
    """h' = tanh(xw + h W_hh^T + b_hh)"""
    (h,) = state
    return ((xw + _hidden_part(h, w_hh_t, b_hh)).tanh(),)


def _rnn_relu_step(xw, state, w_hh_t, b_hh=None):
    """h' = relu(xw + h W_hh^T + b_hh)"""
    (h,) = state
    return ((xw + _hidden_part(h, w_hh_t, b_hh)).relu(),)


def _lstm_step(xw, state, w_hh_t, b_hh=None, w_hr_t=None):
    """i, f, g, o = split(xw + h W_hh^T + b_hh);  c' = s(f) c + s(i) tanh(g);
    h' = s(o) tanh(c')  (times W_hr^T when the LSTM projects its hidden state)"""
    h, c = state
    gates = xw + _hidden_part(h, w_hh_t, b_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()  # (B, H)
    h = o.sigmoid() * c.tanh()  # (B, H)
    if w_hr_t is not None:
        h = h @ w_hr_t  # (B, H) @ (H, P) -> (B, P)
    return h, c


def _gru_step(xw, state, w_hh_t, b_hh=None):
    """r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r * h_n), h' = (1 - z) n + z h.

    b_hh cannot be folded into xw here: its n rows sit inside r * (h W_hn^T + b_hn)."""
    (h,) = state
    hw = _hidden_part(h, w_hh_t, b_hh)  # (B, 3H)
    x_r, x_z, x_n = xw.chunk(3, dim=-1)  # each (B, H)
    h_r, h_z, h_n = hw.chunk(3, dim=-1)  # each (B, H)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return ((1 - z) * n + z * h,)


_STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step,
          "GRU": _gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _unbind_time(x: Tensor) -> list:
    """``list(x.unbind(0))``: the T time steps (B, G) of x (T, B, G), as T slices.

    The gradient of one slice x[t] is zero except in row t. The graph walk adds each slice's
    gradient straight into one gradient array of x's shape (``GetItem.add_grad_into``), so the
    backward of all T slices costs one (T, B, G) array. (With ``create_graph=True`` every
    slice's gradient is a differentiable op of its own, one (T, B, G) array each.)
    """
    return [x[t] for t in range(x.shape[0])]  # each (B, G), a view


def _init_uniform(shape, bound: float, device, dtype) -> Parameter:
    """A Parameter drawn from U(-bound, bound), torch's default for recurrent weights."""
    p = Parameter(empty(*shape, device=device, dtype=dtype))
    with no_grad():
        p.uniform_(-bound, bound)
    return p


# ----------------------------------------------------------------------------------------------
# Multi-layer, optionally bidirectional recurrent layers
# ----------------------------------------------------------------------------------------------


class RNNBase(Module):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU``: parameters, input checks, the time
    loop. ``mode`` is one of "RNN_TANH", "RNN_RELU", "LSTM", "GRU".

    Parameters, per layer k and direction (suffix "" or "_reverse"), in torch's order:
    ``weight_ih_l{k}`` (G, I) for k = 0 else (G, D * H_out), ``weight_hh_l{k}`` (G, H_out),
    ``bias_ih_l{k}`` (G,), ``bias_hh_l{k}`` (G,) and, for an LSTM with ``proj_size`` > 0,
    ``weight_hr_l{k}`` (P, H). H_out is P if ``proj_size`` > 0 else H. All are drawn from
    U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = type(self).__name__
        if mode not in _STEPS:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {list(_STEPS)}")
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in [0, 1] representing the probability "
                f"of an element being zeroed, got {dropout!r}"
            )
        if proj_size < 0 or (proj_size > 0 and mode != "LSTM"):
            raise ValueError(f"{name}: proj_size must be >= 0 and is only supported by LSTM, "
                             f"got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) has to be smaller than "
                             f"hidden_size ({hidden_size})")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1: dropout is applied "
                "between stacked layers (to the outputs of every layer but the last)",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size

        D = 2 if bidirectional else 1
        G = _GATES[mode] * hidden_size
        H_out = proj_size if proj_size > 0 else hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        self._weight_names: list[list[str]] = []  # one list per (layer, direction)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else D * H_out
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {f"weight_ih{suffix}": (G, layer_input), f"weight_hh{suffix}": (G, H_out)}
                if bias:
                    shapes[f"bias_ih{suffix}"] = (G,)
                    shapes[f"bias_hh{suffix}"] = (G,)
                if proj_size > 0:
                    shapes[f"weight_hr{suffix}"] = (proj_size, hidden_size)
                for param_name, shape in shapes.items():
                    setattr(self, param_name, _init_uniform(shape, bound, device, dtype))
                self._weight_names.append(list(shapes))

    @property
    def all_weights(self) -> list:
        """The parameters grouped per (layer, direction), like torch's ``all_weights``."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.mode == "LSTM" and not self.fused:
            s += ", fused=False"
        return s

    # ------------------------------------------------------------------------------------------
    # Input checks: one place, messages that name the layer, the expectation and the shapes
    # ------------------------------------------------------------------------------------------

    def _describe(self) -> str:
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size})")

    def _check_input(self, x) -> bool:
        """Validate the input; return True if it is batched (3-d)."""
        name = type(self).__name__
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected the input to be a Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected a 3-d batched input {layout} (batch_first="
                f"{self.batch_first}) or a 2-d unbatched input (T, I), got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._describe()}: expected input with {self.input_size} features, got "
                f"{x.shape[-1]} (input shape {tuple(x.shape)}, batch_first={self.batch_first})"
            )
        check_input_dtype(self, x, self.weight_ih_l0)
        return x.ndim == 3

    def _check_state(self, state, what: str, size: int, batch: int | None, dtype) -> Tensor:
        """``state`` must be (L * D, B, size), or (L * D, size) for an unbatched input."""
        name = type(self).__name__
        LD = self.num_layers * (2 if self.bidirectional else 1)
        if batch is None:
            expected = (LD, size)
            meaning = "(num_layers * num_directions, hidden_size)"
        else:
            expected = (LD, batch, size)
            meaning = "(num_layers * num_directions, batch, hidden_size)"
        if what == "c_0":
            meaning = meaning.replace("hidden_size", "cell size = hidden_size")
        elif self.proj_size > 0:
            meaning = meaning.replace("hidden_size", "proj_size")
        if not isinstance(state, Tensor):
            raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(state).__name__}")
        if tuple(state.shape) != expected:
            batched = "an unbatched 2-d" if batch is None else "a batched 3-d"
            raise ValueError(
                f"{name}: expected {what} of shape {expected} {meaning}, got "
                f"{tuple(state.shape)} (for {batched} input)"
            )
        if state.dtype != dtype:
            raise TypeError(f"{name}: expected {what} of dtype {dtype} like the input, got "
                            f"{state.dtype}")
        return state

    def _initial_states(self, hx, B: int | None, dtype, device) -> list:
        """The initial state tensors, each (L * D, B, size), zeros when ``hx`` is None.
        B is None for an unbatched input (the states then come without B and get B = 1)."""
        name = type(self).__name__
        LD = self.num_layers * (2 if self.bidirectional else 1)
        H_out = self.proj_size if self.proj_size > 0 else self.hidden_size
        batched = B is not None
        if self.mode == "LSTM":
            sizes = {"h_0": H_out, "c_0": self.hidden_size}
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(
                    f"{name}: expected hx to be a tuple (h_0, c_0) of two Tensors, got "
                    f"{type(hx).__name__}"
                )
        else:
            sizes = {"h_0": H_out}
            if hx is not None:
                hx = (hx,)
        states = []
        for k, (what, size) in enumerate(sizes.items()):
            if hx is None:
                shape = (LD, B, size) if batched else (LD, size)
                state = zeros(*shape, dtype=dtype, device=device)
            else:
                state = self._check_state(hx[k], what, size, B, dtype)
            if not batched:
                state = state.unsqueeze(1)  # (L * D, 1, size)
            states.append(state)
        return states

    # ------------------------------------------------------------------------------------------
    # Forward: layers, directions, then the loop over time
    # ------------------------------------------------------------------------------------------

    fused = False  # LSTM only: run each layer and direction as one op (see LSTM)

    def _runs_fused(self) -> bool:
        return self.fused and self.mode == "LSTM" and self.proj_size == 0

    def _input_part_and_step(self, x: Tensor, names: list) -> tuple:
        """``xw = x W_ih^T + b`` for every step at once ((..., I_layer) -> (..., G)) and the
        one-step function of this layer and direction, ``step(xw_t, state) -> state``."""
        w_ih = getattr(self, names[0])
        w_hh = getattr(self, names[1])
        xw = x @ w_ih.t()  # (..., I_layer) @ (I_layer, G) -> (..., G), all steps at once
        b_hh = None
        if self.bias:
            b_ih = getattr(self, names[2])
            b_hh = getattr(self, names[3])
            if self.mode == "GRU":
                xw = xw + b_ih  # GRU keeps b_hh inside the step (see _gru_step)
            else:
                xw = xw + (b_ih + b_hh)  # (..., G): both biases added once, outside the loop
                b_hh = None
        step = partial(_STEPS[self.mode], w_hh_t=w_hh.t(), b_hh=b_hh)  # w_hh.t(): (H_out, G)
        if self.proj_size > 0:
            step = partial(step, w_hr_t=getattr(self, names[-1]).t())  # (H, P)
        return xw, step

    def _run_direction(self, x: Tensor, state: tuple, names: list, reverse: bool):
        """One layer in one direction: x (T, B, I_layer) -> outputs (T, B, H_out), final state."""
        w_ih = getattr(self, names[0])
        w_hh = getattr(self, names[1])
        if self._runs_fused():
            biases = (getattr(self, names[2]), getattr(self, names[3])) if self.bias else ()
            out, h_n, c_n = lstm_layer(x, state, w_ih, w_hh, *biases, reverse=reverse)
            return out, (h_n, c_n)  # (T, B, H), ((B, H), (B, H))
        xw, step = self._input_part_and_step(x, names)  # xw: (T, B, G)
        xw_steps = _unbind_time(xw)  # T tensors (B, G)
        T = len(xw_steps)
        outputs = [None] * T
        for t in (reversed(range(T)) if reverse else range(T)):
            state = step(xw_steps[t], state)
            outputs[t] = state[0]  # h_t: (B, H_out)
        return stack(outputs, dim=0), state  # (T, B, H_out)

    def _run_direction_packed(self, data: Tensor, state: tuple, names: list, reverse: bool,
                              batch_sizes: list):
        """One layer in one direction on packed rows (see ``nn.utils.rnn``): data
        (N, I_layer) -> outputs (N, H_out), and the final state (B, .) of every sequence at
        its own last step. Step t runs on the first ``batch_sizes[t]`` rows of the state: the
        sequences are sorted longest first, so those are exactly the ones still running.

        Forward in time, the state loses its last rows when sequences end (their final state
        is kept aside); backward in time, every sequence starts at its own last step, so rows
        of the initial state join as the step count reaches their lengths.
        """
        xw, step = self._input_part_and_step(data, names)  # (N, G), all rows at once
        starts = [0]
        for bs in batch_sizes[:-1]:
            starts.append(starts[-1] + bs)  # row offset of each time step in the packed data
        T = len(batch_sizes)
        outputs = [None] * T
        if not reverse:
            ended = []  # final states of sequences that ended before T, in order of ending
            for t in range(T):
                bs = batch_sizes[t]
                if bs < state[0].shape[0]:  # rows bs.. ended at step t - 1
                    ended.append(tuple(s[bs:] for s in state))
                    state = tuple(s[:bs] for s in state)  # each (bs, .)
                state = step(xw[starts[t] : starts[t] + bs], state)
                outputs[t] = state[0]  # (bs, H_out)
            # rows in order: the longest sequences (still running at T - 1) first, then the
            # ones that ended later before those that ended earlier
            pieces = [state] + ended[::-1]
            final = tuple(cat([p[i] for p in pieces], dim=0) for i in range(len(state)))
        else:
            initial = state  # each (B, .)
            state = tuple(s[: batch_sizes[-1]] for s in initial)
            for t in reversed(range(T)):
                bs = batch_sizes[t]
                rows = state[0].shape[0]
                if bs > rows:  # rows..bs start here, at their own last step
                    state = tuple(cat([s, s0[rows:bs]], dim=0)
                                  for s, s0 in zip(state, initial, strict=True))
                state = step(xw[starts[t] : starts[t] + bs], state)
                outputs[t] = state[0]  # (bs, H_out)
            final = state  # each (B, .)
        return cat(outputs, dim=0), final  # (N, H_out)

    def _run_layers(self, x: Tensor, initial, run_direction) -> tuple:
        """Every layer and direction; x is (T, B, I) or packed (N, I), ``initial`` the
        per-(layer, direction) states (or None: the fused op starts from zeros). Returns the
        last layer's output (T, B, D * H_out) or (N, D * H_out) and the final states stacked,
        h_n (L * D, B, H_out) [and c_n (L * D, B, H)]."""
        D = 2 if self.bidirectional else 1
        finals = []  # final state of every (layer, direction), in torch's order
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = dropout(x, self.dropout, training=True)  # between layers, never after last
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                state = None if initial is None else tuple(s[k] for s in initial)
                # state: (B, H_out) [, (B, H)]
                out, state = run_direction(x, state, self._weight_names[k],
                                           reverse=direction == 1)
                outputs.append(out)
                finals.append(state)
            x = outputs[0] if D == 1 else cat(outputs, dim=-1)  # (..., D * H_out)
        last = [stack([s[i] for s in finals], dim=0) for i in range(len(finals[0]))]
        return x, last

    def _forward_packed(self, input: PackedSequence, hx):  # noqa: A002
        """``forward`` for a PackedSequence: always the step-by-step composable path (the fused
        LSTM op takes only full (T, B, I) batches). hx and the returned states are in the
        original batch order; inside, the batch is in the packed (sorted) order."""
        name = type(self).__name__
        data = input.data
        if not isinstance(data, Tensor) or data.ndim != 2:
            got = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
            raise ValueError(f"{name}: expected the data of a PackedSequence to be 2-d "
                             f"(N, I), got {got}")
        if data.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._describe()}: expected input with {self.input_size} features, got "
                f"{data.shape[-1]} (packed data shape {tuple(data.shape)})"
            )
        check_input_dtype(self, data, self.weight_ih_l0)
        batch_sizes = [int(b) for b in input.batch_sizes.tolist()]  # (T,)
        states = self._initial_states(hx, batch_sizes[0], data.dtype, data.device)
        if input.sorted_indices is not None:
            states = [s.index_select(1, input.sorted_indices) for s in states]  # sorted order
        initial = [s.unbind(0) for s in states]  # each L * D tensors (B, .)
        run = partial(self._run_direction_packed, batch_sizes=batch_sizes)
        output, last = self._run_layers(data, initial, run)  # (N, D * H_out), states
        if input.unsorted_indices is not None:
            last = [s.index_select(1, input.unsorted_indices) for s in last]  # original order
        output = PackedSequence(output, input.batch_sizes, input.sorted_indices,
                                input.unsorted_indices)
        if self.mode == "LSTM":
            return output, (last[0], last[1])
        return output, last[0]

    def forward(self, input: Tensor, hx=None):  # noqa: A002 - torch's argument name
        """Run the layers over the sequence.

        input: (T, B, I), or (B, T, I) with ``batch_first``, or (T, I) unbatched.
        hx: h_0 (L * D, B, H_out) for RNN and GRU, (h_0, c_0) for LSTM (c_0 is
        (L * D, B, H)); zeros when None. Unbatched inputs take unbatched states (no B).
        Returns (output, h_n) for RNN and GRU and (output, (h_n, c_n)) for LSTM; output is
        (T, B, D * H_out) (batch first with ``batch_first``); the states are never batch
        first, like torch.

        A ``PackedSequence`` input (``nn.utils.rnn``) gives a PackedSequence output and the
        states of each sequence at its own last step, in the original batch order; it runs
        step by step on the composable path (``fused`` is not used for it).
        """
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        batched = self._check_input(input)
        x = input
        if not batched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        if hx is None and self._runs_fused():
            initial = None  # the fused op starts from zeros itself (and skips h_0 W_hh^T)
        else:
            B = x.shape[1] if batched else None  # x is (T, B, I) here when batched
            states = self._initial_states(hx, B, x.dtype, x.device)
            initial = [s.unbind(0) for s in states]  # each L * D tensors (B, .)
        output, last = self._run_layers(x, initial, self._run_direction)
        # output: (T, B, D * H_out); last: h_n (L * D, B, H_out) [and c_n (L * D, B, H)]
        if not batched:
            output = output.squeeze(1)  # (T, D * H_out)
            last = [s.squeeze(1) for s in last]  # (L * D, H_out)
        elif self.batch_first:
            output = output.transpose(0, 1)  # (B, T, D * H_out)
        if self.mode == "LSTM":
            return output, (last[0], last[1])
        return output, last[0]


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep, optionally bidirectional (torch.nn.RNN).

    >>> import tinygrad_edu as tg
    >>> rnn = RNN(input_size=10, hidden_size=20, num_layers=2)
    >>> out, h_n = rnn(tg.randn(5, 3, 10))      # (T, B, I)
    >>> out.shape, h_n.shape                    # (T, B, H), (num_layers, B, H)
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or "
                             "'relu'")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (torch.nn.LSTM); gates i, f, g, o in that order:

        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g),   h_t = sigmoid(o) * tanh(c_t)

    Returns ``output, (h_n, c_n)``. With ``proj_size`` > 0, h_t is projected to P features by
    ``weight_hr_l{k}`` (P, H).

    Two paths compute it, with the same parameters and the same results (up to rounding):

    - ``fused=True`` (the default): each layer and direction is one op,
      ``functional.rnn.lstm_layer``: one GEMM per step and in-place array math, a
      hand-written backpropagation through time. Differentiable once: a second derivative
      raises. ``proj_size`` > 0 is not covered; such an LSTM takes the composable path.
    - ``fused=False``: the composable path, every step built from Tensor ops (matmul, chunk,
      sigmoid, tanh, ...): several times slower, but differentiable to any order
      (``backward(create_graph=True)``, gradient penalties, Hessian-vector products).

    ``fused`` is a plain attribute: ``lstm.fused = False`` switches an existing layer.

    >>> import tinygrad_edu as tg
    >>> lstm = LSTM(28, 64, batch_first=True, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(tg.randn(8, 28, 28))   # (B, T, I)
    >>> out.shape, h_n.shape, c_n.shape
    ((8, 28, 128), (2, 8, 64), (2, 8, 64))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None,
                 fused: bool = True):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)
        self.fused = fused


class GRU(RNNBase):
    """Gated recurrent unit (torch.nn.GRU); gates r, z, n in that order:

        r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z),  n = tanh(x_n + r * h_n),
        h_t = (1 - z) * n + z * h_{t-1}

    >>> import tinygrad_edu as tg
    >>> gru = GRU(4, 6)
    >>> out, h_n = gru(tg.randn(7, 4))          # unbatched (T, I)
    >>> out.shape, h_n.shape
    ((7, 6), (1, 6))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Cells: one time step, for writing the loop yourself
# ----------------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Parameters and checks shared by the cells: ``weight_ih`` (G, I), ``weight_hh`` (G, H),
    ``bias_ih`` (G,), ``bias_hh`` (G,), all U(-1/sqrt(H), 1/sqrt(H))."""

    def _describe(self) -> str:
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size})")

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        G = _GATES[mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _init_uniform((G, input_size), bound, device, dtype)
        self.weight_hh = _init_uniform((G, hidden_size), bound, device, dtype)
        if bias:
            self.bias_ih = _init_uniform((G,), bound, device, dtype)
            self.bias_hh = _init_uniform((G,), bound, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s

    def _check(self, x, states: tuple, names: tuple) -> tuple:
        """Validate input (B, I) or (I,) and the states; return (x, states, batched) with
        everything made 2-d (zeros for missing states)."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected the input to be a Tensor, got {type(x).__name__}")
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected a 2-d batched input (B, I) or a 1-d unbatched "
                             f"input (I,), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._describe()}: expected input with {self.input_size} features, got "
                f"{x.shape[-1]} (input shape {tuple(x.shape)})"
            )
        check_input_dtype(self, x, self.weight_ih)
        batched = x.ndim == 2
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        checked = []
        for state, what in zip(states, names, strict=True):
            if state is None:
                state = zeros(*expected, dtype=x.dtype, device=x.device)
            elif not isinstance(state, Tensor) or tuple(state.shape) != expected:
                got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
                layout = "(batch, hidden_size)" if batched else "(hidden_size,)"
                raise ValueError(f"{name}: expected {what} of shape {expected} {layout} for "
                                 f"input of shape {tuple(x.shape)}, got {got}")
            checked.append(state if batched else state.unsqueeze(0))  # (B, H)
        if not batched:
            x = x.unsqueeze(0)  # (1, I)
        return x, tuple(checked), batched

    def _step(self, x: Tensor, states: tuple) -> tuple:
        xw = x @ self.weight_ih.t()  # (B, I) @ (I, G) -> (B, G)
        if self.bias:
            xw = xw + self.bias_ih
        return _STEPS[self.mode](xw, states, self.weight_hh.t(), self.bias_hh)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    >>> import tinygrad_edu as tg
    >>> cell = RNNCell(3, 5)
    >>> h = cell(tg.randn(2, 3))             # h defaults to zeros
    >>> cell(tg.randn(2, 3), h).shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' "
                             "or 'relu'")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, states, batched = self._check(input, (hx,), ("hx",))
        (h,) = self._step(x, states)  # (B, H)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh),
    c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'). Returns (h', c').

    >>> import tinygrad_edu as tg
    >>> cell = LSTMCell(3, 5)
    >>> h, c = cell(tg.randn(2, 3))
    >>> h, c = cell(tg.randn(2, 3), (h, c))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None) -> tuple:  # noqa: A002
        if hx is None:
            hx = (None, None)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: expected hx to be a tuple (h, c) of two Tensors, got "
                            f"{type(hx).__name__}")
        x, states, batched = self._check(input, tuple(hx), ("h", "c"))
        h, c = self._step(x, states)  # each (B, H)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n),
    h' = (1 - z) n + z h.

    >>> import tinygrad_edu as tg
    >>> cell = GRUCell(3, 5)
    >>> cell(tg.randn(3)).shape              # unbatched (I,) -> (H,)
    (5,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, states, batched = self._check(input, (hx,), ("hx",))
        (h,) = self._step(x, states)  # (B, H)
        return h if batched else h.squeeze(0)
