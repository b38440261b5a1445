"""Draw the graph autograd recorded: DOT text, a text tree, or a picture.

The forward graph has two kinds of nodes: tensors (boxes: name, shape, dtype, and the norm of
``.grad`` when it has one) and ops (ellipses: the ``Function`` that made a tensor). Edges run
from an op's inputs to the op and from the op to its output.

With ``show_backward=True`` the graph also shows what ``backward()`` walks (red, dashed): one
``<Op>Backward`` node per op, edges in the direction gradients flow, and an ``AccumulateGrad``
node writing each leaf's ``.grad``. A leaf whose ``.grad`` was built with
``create_graph=True`` has a graph of its own (the backward pass recorded as ops, which is what
makes second derivatives possible); it is drawn too, in yellow, linked by a ``.grad`` edge.

Draw after ``backward(retain_graph=True)`` (or before backward): a plain ``backward()`` frees
the graph, and freed ops are drawn without their inputs.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..autograd import _parents
from ..tensor import Tensor
from ._common import fmt_shape, new_figure, norm


@dataclass
class Node:
    """``kind``: "tensor", "op", "backward" or "accumulate"; ``part``: "forward" or "grad"
    (found while walking a ``create_graph`` gradient's own graph)."""

    id: str
    kind: str
    label: str
    part: str = "forward"


@dataclass
class Edge:
    """``kind``: "forward" (data flow), "backward" (gradient flow) or "grad" (leaf -> .grad)."""

    src: str
    dst: str
    kind: str = "forward"
    label: str = ""


@dataclass
class Graph:
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(n.kind == kind for n in self.nodes)

    def edge_count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.edges)


def _names_by_id(names) -> dict:
    """``names``: a dict name -> tensor or an iterable of (name, tensor), e.g.
    ``model.named_parameters()``; returns id(tensor) -> name."""
    if names is None:
        return {}
    items = names.items() if isinstance(names, dict) else names
    return {id(t): name for name, t in items}


def _tensor_label(t: Tensor, name: str) -> str:
    parts = [name, f"{fmt_shape(t.shape)} {t.dtype}"]
    if t._grad is not None:
        parts.append(f"|grad| = {norm(t._grad):.3g}")
    elif t._ctx is None and t.requires_grad:
        parts.append("leaf, requires_grad")
    elif t._ctx is None:
        parts.append("constant")
    return "\n".join(parts)


class _Builder:
    def __init__(self, names, show_backward: bool):
        self.graph = Graph()
        self.names = _names_by_id(names)
        self.show_backward = show_backward
        self.tensor_ids: dict[int, str] = {}
        self.op_ids: dict[int, str] = {}
        self.backward_ids: dict[int, str] = {}
        self.accumulate_ids: dict[int, str] = {}
        self.visited: set[str] = set()
        self.pending_leaf_edges: list = []
        self.keep: list = []  # tensors and ops seen: keeps their ids unique while building

    def tensor_id(self, t: Tensor) -> str:
        """The node id of ``t`` (assigned on first sight; the node is added when visited)."""
        key = id(t)
        if key not in self.tensor_ids:
            self.tensor_ids[key] = f"t{len(self.tensor_ids)}"
            self.keep.append(t)
        return self.tensor_ids[key]

    def walk(self, root: Tensor, part: str) -> None:
        """Iterative depth-first walk from ``root`` through ``_ctx.inputs`` (no recursion
        limit); inputs are visited in order, so the node order is the same on every run."""
        stack = [root]
        grads_to_walk = []
        while stack:
            t = stack.pop()
            t_id = self.tensor_id(t)
            if t_id in self.visited:
                continue
            self.visited.add(t_id)
            name = self.names.get(id(t), t_id)
            self.graph.nodes.append(Node(t_id, "tensor", _tensor_label(t, name), part))
            if self.show_backward and t._grad is not None and t._grad._ctx is not None:
                grads_to_walk.append(t)
            ctx = t._ctx
            if ctx is None:
                continue
            op_id = f"op{len(self.op_ids)}"
            self.op_ids[id(ctx)] = op_id
            self.keep.append(ctx)
            label = ctx.name + (" (freed)" if ctx.freed else "")
            self.graph.nodes.append(Node(op_id, "op", label, part))
            self.graph.edges.append(Edge(op_id, t_id))
            inputs = () if ctx.freed else _parents(ctx)  # as ctx saw them
            for inp in inputs:
                self.graph.edges.append(Edge(self.tensor_id(inp), op_id))
            stack.extend(reversed(inputs))
            if self.show_backward:
                self.backward_nodes(ctx, inputs, part)
        for t in grads_to_walk:
            self.names.setdefault(id(t._grad), f"{self.names.get(id(t), self.tensor_id(t))}.grad")
            self.walk(t._grad, "grad")
            self.graph.edges.append(Edge(self.tensor_id(t), self.tensor_id(t._grad), "grad",
                                         ".grad"))

    def backward_node(self, ctx, part: str) -> str:
        key = id(ctx)
        if key not in self.backward_ids:
            node_id = f"bw{len(self.backward_ids)}"
            self.backward_ids[key] = node_id
            self.graph.nodes.append(Node(node_id, "backward", f"{ctx.name}Backward", part))
        return self.backward_ids[key]

    def accumulate_node(self, leaf: Tensor, part: str) -> str:
        key = id(leaf)
        if key not in self.accumulate_ids:
            node_id = f"acc{len(self.accumulate_ids)}"
            self.accumulate_ids[key] = node_id
            self.graph.nodes.append(Node(node_id, "accumulate", "AccumulateGrad", part))
            self.pending_leaf_edges.append((node_id, leaf))
        return self.accumulate_ids[key]

    def backward_nodes(self, ctx, inputs, part: str) -> None:
        src = self.backward_node(ctx, part)
        for inp in inputs:
            if not inp.requires_grad:
                continue
            if inp._ctx is not None:
                dst = self.backward_node(inp._ctx, part)
            else:
                dst = self.accumulate_node(inp, part)
            self.graph.edges.append(Edge(src, dst, "backward", fmt_shape(inp.shape)))


def build_graph(tensor: Tensor, show_backward: bool = False, names=None) -> Graph:
    """The graph that produced ``tensor`` as ``Node`` and ``Edge`` lists (see the module doc).

    >>> import tinygrad_edu as tg
    >>> x = tg.ones(2, 3, requires_grad=True)
    >>> g = build_graph((x * x).sum())
    >>> g.count("tensor"), g.count("op"), len(g.edges)   # x enters Mul twice
    (3, 2, 5)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"build_graph: expected a Tensor, got {type(tensor).__name__}")
    builder = _Builder(names, show_backward)
    builder.walk(tensor, "forward")
    for acc_id, leaf in builder.pending_leaf_edges:
        builder.graph.edges.append(Edge(acc_id, builder.tensor_id(leaf), "backward",
                                        "writes .grad"))
    return builder.graph


# ----------------------------------------------------------------------------------------------
# DOT
# ----------------------------------------------------------------------------------------------

_NODE_STYLE = {
    ("tensor", "forward"): 'shape=box, style="rounded,filled", fillcolor="#eeeeee"',
    ("tensor", "grad"): 'shape=box, style="rounded,filled", fillcolor="#fff3c4"',
    ("op", "forward"): 'shape=ellipse, style=filled, fillcolor="#cfe2ff"',
    ("op", "grad"): 'shape=ellipse, style=filled, fillcolor="#ffe08a"',
    ("backward", "forward"): 'shape=ellipse, style=filled, fillcolor="#f8d7da", color=red',
    ("backward", "grad"): 'shape=ellipse, style=filled, fillcolor="#f8d7da", color=red',
    ("accumulate", "forward"): 'shape=octagon, style=filled, fillcolor="#f8d7da", color=red',
    ("accumulate", "grad"): 'shape=octagon, style=filled, fillcolor="#f8d7da", color=red',
}
_EDGE_STYLE = {"forward": "", "backward": "color=red, style=dashed, fontcolor=red",
               "grad": "color=orange, style=dotted"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor: Tensor, show_backward: bool = False, names=None) -> str:
    """The graph as Graphviz DOT text (render it with ``dot -Tsvg`` or ``draw``)."""
    graph = build_graph(tensor, show_backward, names)
    lines = ["digraph autograd {", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for n in graph.nodes:
        lines.append(f"  {n.id} [{_NODE_STYLE[(n.kind, n.part)]}, label={_quote(n.label)}];")
    for e in graph.edges:
        attrs = [a for a in (_EDGE_STYLE[e.kind], f"label={_quote(e.label)}" if e.label else "")
                 if a]
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {e.src} -> {e.dst}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Text tree
# ----------------------------------------------------------------------------------------------


def to_text_tree(tensor: Tensor, names=None) -> str:
    """The forward graph as an indented tree, output at the top, inputs below their op.

    A tensor reached a second time (used by two ops) is printed once, then "(see above)".

    >>> import tinygrad_edu as tg
    >>> x = tg.ones(2, requires_grad=True)
    >>> print(to_text_tree((x * x).sum(), names={"x": x}))
    t0 () float32 = Sum
    └── t1 (2,) float32 = Mul
        ├── x (2,) float32 leaf, requires_grad
        └── x (see above)
    """
    ids = _names_by_id(names)
    labels: dict[int, str] = {}
    unnamed: list = []  # tensors named t0, t1, ... (kept alive so their ids stay unique)

    def name_of(t: Tensor) -> str:
        if id(t) not in labels:
            if id(t) in ids:
                labels[id(t)] = ids[id(t)]
            else:
                labels[id(t)] = f"t{len(unnamed)}"
                unnamed.append(t)
        return labels[id(t)]

    lines = []
    printed: set[int] = set()
    stack = [(tensor, "", "")]  # (tensor, prefix of its line, prefix of its children's lines)
    while stack:
        t, head, tail = stack.pop()
        seen = id(t) in printed
        name = name_of(t)
        if seen:
            lines.append(f"{head}{name} (see above)")
            continue
        printed.add(id(t))
        desc = f"{name} {fmt_shape(t.shape)} {t.dtype}"
        ctx = t._ctx
        if ctx is None:
            extras = ["leaf"] + (["requires_grad"] if t.requires_grad else [])
            if t._grad is not None:
                extras.append(f"|grad| = {norm(t._grad):.3g}")
            lines.append(f"{head}{desc} {', '.join(extras)}")
            continue
        lines.append(f"{head}{desc} = {ctx.name}" + (" (freed)" if ctx.freed else ""))
        inputs = () if ctx.freed else _parents(ctx)  # as ctx saw them
        children = []
        for k, inp in enumerate(inputs):
            last = k == len(inputs) - 1
            children.append((inp, tail + ("└── " if last else "├── "),
                             tail + ("    " if last else "│   ")))
        stack.extend(reversed(children))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------------


def _levels(graph: Graph) -> dict:
    """Longest-path layering: sources at level 0, every edge goes at least one level down."""
    incoming = {n.id: 0 for n in graph.nodes}
    outgoing: dict[str, list] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        incoming[e.dst] += 1
        outgoing[e.src].append(e.dst)
    level = {n.id: 0 for n in graph.nodes}
    ready = [n.id for n in graph.nodes if incoming[n.id] == 0]
    done = set()
    while ready:
        node = ready.pop()
        done.add(node)
        for dst in outgoing[node]:
            level[dst] = max(level[dst], level[node] + 1)
            incoming[dst] -= 1
            if incoming[dst] == 0:
                ready.append(dst)
    top = max(level.values(), default=0) + 1
    for n in graph.nodes:  # only on a cycle, which autograd graphs never have
        if n.id not in done:
            level[n.id] = top
    return level


_FACE = {"tensor": "#eeeeee", "op": "#cfe2ff", "backward": "#f8d7da", "accumulate": "#f8d7da"}
_GRAD_FACE = {"tensor": "#fff3c4", "op": "#ffe08a"}


def render_matplotlib(graph: Graph, path) -> str:
    """Draw ``graph`` with matplotlib (no Graphviz needed): layers top to bottom."""
    level = _levels(graph)
    rows: dict[int, list] = {}
    for n in graph.nodes:
        rows.setdefault(level[n.id], []).append(n)
    width = max((len(r) for r in rows.values()), default=1)
    depth = max(rows, default=0) + 1
    position = {}
    for lvl, nodes in rows.items():
        for k, n in enumerate(nodes):
            position[n.id] = ((k + 1) / (len(nodes) + 1) * width, depth - lvl)
    fig = new_figure((max(4.0, 2.2 * width), max(3.0, 1.1 * depth)))
    ax = fig.add_subplot(1, 1, 1)
    for e in graph.edges:
        color = {"forward": "black", "backward": "red", "grad": "orange"}[e.kind]
        style = {"forward": "-", "backward": "--", "grad": ":"}[e.kind]
        ax.annotate("", xy=position[e.dst], xytext=position[e.src],
                    arrowprops={"arrowstyle": "->", "color": color, "linestyle": style,
                                "shrinkA": 12, "shrinkB": 12, "alpha": 0.7})
    for n in graph.nodes:
        x, y = position[n.id]
        face = _GRAD_FACE.get(n.kind, _FACE[n.kind]) if n.part == "grad" else _FACE[n.kind]
        box = "round,pad=0.3" if n.kind == "tensor" else "ellipse,pad=0.3"
        ax.text(x, y, n.label, ha="center", va="center", fontsize=7,
                bbox={"boxstyle": box, "facecolor": face, "edgecolor": "gray"})
    ax.set_xlim(0, width + 0.5)
    ax.set_ylim(0.3, depth + 0.7)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    return str(path)


# the suffixes ``draw`` writes: DOT text, the text tree, pictures
FILE_TYPES = ("dot", "gv", "txt", "svg", "png", "pdf")


def file_type(path, who: str) -> str:
    """The file type ``draw`` writes for ``path`` (its suffix, lowercase); a ValueError naming
    ``who`` for a suffix it cannot write."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FILE_TYPES:
        raise ValueError(f"{who}: cannot write {str(path)!r}: the file type follows the suffix, "
                         f"one of {', '.join('.' + t for t in FILE_TYPES)}")
    return suffix


def draw(tensor: Tensor, path, show_backward: bool = False, names=None,
         engine: str | None = None) -> str:
    """Write the graph of ``tensor`` to ``path`` and return the engine used.

    The file type follows the suffix: ``.dot``/``.gv`` (DOT text, always available), ``.txt``
    (the text tree), or a picture (``.svg``, ``.png``, ``.pdf``) drawn by Graphviz's ``dot``
    when it is installed (``engine="graphviz"``) and by matplotlib otherwise
    (``engine="matplotlib"``, a simpler layered layout).
    """
    path = Path(path)
    suffix = file_type(path, "draw")
    if suffix in ("dot", "gv"):
        path.write_text(to_dot(tensor, show_backward, names))
        return "dot-text"
    if suffix == "txt":
        path.write_text(to_text_tree(tensor, names) + "\n")
        return "text"
    if engine is None:
        engine = "graphviz" if shutil.which("dot") else "matplotlib"
    if engine == "graphviz":
        if shutil.which("dot") is None:
            raise RuntimeError(
                "draw: engine='graphviz' needs the Graphviz 'dot' program on the PATH "
                "(apt install graphviz / brew install graphviz); or use engine='matplotlib'"
            )
        subprocess.run(["dot", f"-T{suffix}", "-o", str(path)],
                       input=to_dot(tensor, show_backward, names), text=True, check=True)
        return "graphviz"
    if engine != "matplotlib":
        raise ValueError(f"draw: engine must be 'graphviz' or 'matplotlib', got {engine!r}")
    render_matplotlib(build_graph(tensor, show_backward, names), path)
    return "matplotlib"
