"""to_dot / build_graph / to_text_tree / draw: the recorded graph, as text and pictures."""

import re
import shutil

import pytest

import tinygrad_edu as tg
from tinygrad_edu.study import build_graph, draw, to_dot, to_text_tree
from tinygrad_edu.study import graph as graph_module


def _simple():
    x = tg.randn(2, 3, requires_grad=True)
    w = tg.randn(3, requires_grad=True)
    y = (x * w).sum()
    return x, w, y


def _dot_counts(dot: str):
    nodes = [n for n in re.findall(r"^\s+(\w+) \[", dot, flags=re.M) if n not in ("node", "edge")]
    edges = re.findall(r"^\s+(\w+) -> (\w+)", dot, flags=re.M)
    return nodes, edges


def test_forward_dot_has_the_expected_nodes_and_edges():
    x, w, y = _simple()
    dot = to_dot(y, names={"x": x, "w": w})
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    nodes, edges = _dot_counts(dot)
    # tensors x, w, x*w, y and ops Mul, Sum; x->Mul, w->Mul, Mul->x*w, x*w->Sum, Sum->y
    assert len(nodes) == 6 and len(edges) == 5
    graph = build_graph(y, names={"x": x, "w": w})
    assert graph.count("tensor") == 4 and graph.count("op") == 2
    labels = {n.id: n.label for n in graph.nodes}
    by_label = {label.split("\n")[0]: node_id for node_id, label in labels.items()}
    assert (by_label["x"], by_label["Mul"]) in edges and (by_label["w"], by_label["Mul"]) in edges
    assert (by_label["Sum"], by_label["t0"]) in edges
    assert "(2, 3) float32" in labels[by_label["x"]]


def test_backward_graph_adds_backward_and_accumulate_nodes():
    x, w, y = _simple()
    y.backward(retain_graph=True)
    graph = build_graph(y, show_backward=True, names={"x": x, "w": w})
    assert graph.count("backward") == 2 and graph.count("accumulate") == 2
    assert {n.label for n in graph.nodes if n.kind == "backward"} == {"SumBackward",
                                                                      "MulBackward"}
    # SumBackward -> MulBackward -> AccumulateGrad(x), AccumulateGrad(w); each writes a .grad
    assert graph.edge_count("backward") == 5 and graph.edge_count("forward") == 5
    x_label = next(n.label for n in graph.nodes if n.label.startswith("x\n"))
    assert "|grad| =" in x_label
    dot = to_dot(y, show_backward=True)
    assert dot.count("style=dashed") == 5


def test_create_graph_gradients_have_their_own_graph():
    x = tg.randn(3, requires_grad=True)
    y = (x ** 3).sum()
    y.backward(create_graph=True)  # x.grad = 3 x^2, itself recorded as a graph
    graph = build_graph(y, show_backward=True, names={"x": x})
    grad_part = [n for n in graph.nodes if n.part == "grad"]
    assert any(n.kind == "op" for n in grad_part)
    assert any(n.label.startswith("x.grad") for n in grad_part)
    assert graph.edge_count("grad") == 1
    plain = build_graph(y, names={"x": x})
    assert all(n.part == "forward" for n in plain.nodes)
    assert "x.grad" in to_dot(y, show_backward=True, names={"x": x})


def test_text_tree_prints_shared_inputs_once():
    x = tg.ones(2, requires_grad=True)
    w = tg.ones(2, requires_grad=True)
    y = (x * w + x).sum()
    assert to_text_tree(y, names={"x": x, "w": w}) == "\n".join([
        "t0 () float32 = Sum",
        "└── t1 (2,) float32 = Add",
        "    ├── t2 (2,) float32 = Mul",
        "    │   ├── x (2,) float32 leaf, requires_grad",
        "    │   └── w (2,) float32 leaf, requires_grad",
        "    └── x (see above)",
    ])


def test_freed_graph_is_drawn_without_inputs():
    x, w, y = _simple()
    y.backward()  # frees the graph
    assert to_text_tree(y) == "t0 () float32 = Sum (freed)"
    graph = build_graph(y)
    assert graph.count("op") == 1 and "(freed)" in graph.nodes[1].label


def test_draw_falls_back_to_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    x, w, y = _simple()
    y.backward(retain_graph=True)
    engine = draw(y, tmp_path / "g.png", show_backward=True)
    data = (tmp_path / "g.png").read_bytes()
    assert engine == "matplotlib"
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert draw(y, tmp_path / "g.svg") == "matplotlib"
    assert b"<svg" in (tmp_path / "g.svg").read_bytes()[:500]
    with pytest.raises(RuntimeError, match="needs the Graphviz 'dot' program"):
        draw(y, tmp_path / "g2.svg", engine="graphviz")


def test_draw_writes_dot_and_text(tmp_path):
    x, w, y = _simple()
    assert draw(y, tmp_path / "g.dot") == "dot-text"
    assert (tmp_path / "g.dot").read_text() == to_dot(y)
    assert draw(y, tmp_path / "g.txt") == "text"
    assert (tmp_path / "g.txt").read_text().startswith("t0 () float32 = Sum")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_draw_uses_graphviz_when_installed(tmp_path):
    x, w, y = _simple()
    assert draw(y, tmp_path / "g.svg") == "graphviz"
    assert b"<svg" in (tmp_path / "g.svg").read_bytes()


def test_deep_graph_has_no_recursion_limit():
    x = tg.randn(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    graph = graph_module.build_graph(y)
    assert graph.count("op") == 3000 and graph.count("tensor") == 6001  # chain + constants
    short = x
    for _ in range(300):  # (the tree's indentation grows with depth: keep it small)
        short = short * 1.0
    assert len(to_text_tree(short).splitlines()) == 601
