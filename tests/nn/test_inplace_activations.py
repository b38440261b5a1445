"""``inplace=True`` activations and dropout, and nn.functional's ``relu_``-style twins, against
torch 2.13: the result is written into the input, which is returned; inside a graph the update
is recorded, so values and gradients match torch's; a leaf that requires grad is refused."""

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn as nn
import tinygrad_edu.nn.functional as F

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

X = np.random.default_rng(0).uniform(-4, 8, (3, 5))  # crosses every kink (-3, -1, 0, 1, 3, 6)

# (name, ours, torch's): each called as fn(x, inplace=True) on a tensor
FUNCTIONAL = [
    ("relu", F.relu, tF.relu),
    ("relu6", F.relu6, tF.relu6),
    ("leaky_relu", lambda x, inplace: F.leaky_relu(x, 0.2, inplace),
     lambda x, inplace: tF.leaky_relu(x, 0.2, inplace)),
    ("elu", lambda x, inplace: F.elu(x, 0.7, inplace), lambda x, inplace: tF.elu(x, 0.7, inplace)),
    ("celu", lambda x, inplace: F.celu(x, 1.3, inplace),
     lambda x, inplace: tF.celu(x, 1.3, inplace)),
    ("selu", F.selu, tF.selu),
    ("silu", F.silu, tF.silu),
    ("mish", F.mish, tF.mish),
    ("hardtanh", lambda x, inplace: F.hardtanh(x, -0.5, 2.0, inplace),
     lambda x, inplace: tF.hardtanh(x, -0.5, 2.0, inplace)),
    ("hardsigmoid", F.hardsigmoid, tF.hardsigmoid),
    ("hardswish", F.hardswish, tF.hardswish),
    ("threshold", lambda x, inplace: F.threshold(x, 0.5, -2.0, inplace),
     lambda x, inplace: tF.threshold(x, 0.5, -2.0, inplace)),
    ("rrelu_eval", lambda x, inplace: F.rrelu(x, 0.1, 0.3, False, inplace),
     lambda x, inplace: tF.rrelu(x, 0.1, 0.3, False, inplace)),
]

# (name, our module, torch's module), both built with inplace=True
MODULES = [
    ("ReLU", lambda m: m.ReLU(inplace=True)),
    ("ReLU6", lambda m: m.ReLU6(inplace=True)),
    ("LeakyReLU", lambda m: m.LeakyReLU(0.3, inplace=True)),
    ("ELU", lambda m: m.ELU(0.5, inplace=True)),
    ("CELU", lambda m: m.CELU(2.0, inplace=True)),
    ("SELU", lambda m: m.SELU(inplace=True)),
    ("SiLU", lambda m: m.SiLU(inplace=True)),
    ("Mish", lambda m: m.Mish(inplace=True)),
    ("Hardtanh", lambda m: m.Hardtanh(-2.0, 1.5, inplace=True)),
    ("Hardsigmoid", lambda m: m.Hardsigmoid(inplace=True)),
    ("Hardswish", lambda m: m.Hardswish(inplace=True)),
    ("Threshold", lambda m: m.Threshold(1.0, 3.0, inplace=True)),
]

# nn.functional's in-place twins: (name, ours, torch's), each called as fn(x)
TWINS = [
    ("relu_", F.relu_, tF.relu_),
    ("leaky_relu_", lambda x: F.leaky_relu_(x, 0.25), lambda x: tF.leaky_relu_(x, 0.25)),
    ("elu_", lambda x: F.elu_(x, 0.5), lambda x: tF.elu_(x, 0.5)),
    ("celu_", lambda x: F.celu_(x, 0.5), lambda x: tF.celu_(x, 0.5)),
    ("selu_", F.selu_, tF.selu_),
    ("hardtanh_", lambda x: F.hardtanh_(x, -1.5, 0.5), lambda x: tF.hardtanh_(x, -1.5, 0.5)),
    ("threshold_", lambda x: F.threshold_(x, 0.0, 7.0), lambda x: tF.threshold_(x, 0.0, 7.0)),
    ("rrelu_", lambda x: F.rrelu_(x, 0.1, 0.2), lambda x: tF.rrelu_(x, 0.1, 0.2)),
]


def _in_graph_matches_torch(ours, theirs, rtol: float = 1e-10) -> None:
    """h = 2 w (a non-leaf), act(h) in place, then a loss that reads h again: h must hold the
    activation, and dL/dw must flow through it, as in torch (to ``rtol``: see ``_rtol``)."""
    w = tg.tensor(X, requires_grad=True)
    h = w * 2.0
    out = ours(h)
    assert out is h
    (h * h + h).sum().backward()

    tw = torch.tensor(X, requires_grad=True)
    th = tw * 2.0
    theirs(th)
    (th * th + th).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=rtol, atol=1e-12)


def _rtol(name: str) -> float:
    # torch 2.13's CELU and Hardsigmoid gradients are off from the exact values by a relative
    # 1e-8 and 3e-8 (2^-25: a float32 1/6) in float64; ours are exact
    return 1e-7 if "celu" in name.lower() or "hardsigmoid" in name.lower() else 1e-10


@pytest.mark.parametrize("name,ours,theirs", FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_functional_inplace_writes_the_input_and_records_the_graph(name, ours, theirs):
    _in_graph_matches_torch(lambda x: ours(x, inplace=True), lambda x: theirs(x, inplace=True),
                            _rtol(name))


@pytest.mark.parametrize("name,make", MODULES, ids=[m[0] for m in MODULES])
def test_module_inplace_writes_the_input_and_records_the_graph(name, make):
    ours, theirs = make(nn), make(tnn)
    assert repr(ours) == repr(theirs)
    _in_graph_matches_torch(ours, theirs, _rtol(name))


@pytest.mark.parametrize("name,ours,theirs", TWINS, ids=[t[0] for t in TWINS])
def test_functional_twins_match_torch(name, ours, theirs):
    _in_graph_matches_torch(ours, theirs, _rtol(name))


@pytest.mark.parametrize("name,ours,theirs", FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_inplace_outside_a_graph_overwrites_the_tensor(name, ours, theirs):
    x, tx = tg.tensor(X.copy()), torch.tensor(X.copy())
    assert ours(x, inplace=True) is x
    theirs(tx, inplace=True)
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,ours,theirs", FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_inplace_default_false_leaves_the_input_alone(name, ours, theirs):
    x = tg.tensor(X.copy())
    y = ours(x, inplace=False)
    assert y is not x
    np.testing.assert_array_equal(x.numpy(), X)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_like_torch():
    with pytest.raises(RuntimeError):
        tF.relu(torch.tensor(X, requires_grad=True), inplace=True)
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        nn.ReLU(inplace=True)(tg.tensor(X, requires_grad=True))
    with pytest.raises(RuntimeError, match="dropout_: a leaf tensor"):
        nn.Dropout(0.5, inplace=True)(tg.tensor(X, requires_grad=True))


def test_inplace_under_no_grad_on_a_leaf_is_allowed_like_torch():
    w = tg.tensor(X.copy(), requires_grad=True)
    with tg.no_grad():
        F.relu_(w)
    assert w.detach().numpy().min() == 0.0 and w.grad is None and w.requires_grad


def test_a_non_tensor_input_is_a_clear_error():
    with pytest.raises(TypeError, match="relu_: expected a Tensor, got ndarray"):
        F.relu(X, inplace=True)


def test_inplace_through_an_indexing_view_updates_the_base():
    w = tg.tensor(X, requires_grad=True)
    h = w * 1.0
    F.relu(h[1:], inplace=True)  # rows 1.. of h change; row 0 keeps its negatives
    h.sum().backward()
    tw = torch.tensor(X, requires_grad=True)
    th = tw * 1.0
    tF.relu(th[1:], inplace=True)
    th.sum().backward()
    np.testing.assert_array_equal(h.detach().numpy(), th.detach().numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


def test_resnet_style_block_with_inplace_relu_matches_torch():
    """conv -> batch norm -> ReLU(inplace=True) -> conv, then out += identity and ReLU again in
    place (torchvision's BasicBlock), forward and gradients against torch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5))

    def build(m):
        torch.manual_seed(0)
        return [m.Conv2d(3, 3, 3, padding=1, bias=False), m.BatchNorm2d(3),
                m.ReLU(inplace=True), m.Conv2d(3, 3, 3, padding=1, bias=False), m.BatchNorm2d(3),
                m.ReLU(inplace=True)]

    theirs = [layer.double() for layer in build(tnn)]
    ours = build(nn)
    for a, b in zip(ours, theirs):
        for p, tp in zip(a.parameters(), b.parameters()):
            p.data = tp.detach().numpy().copy()

    def run(layers, inp):
        conv1, bn1, relu1, conv2, bn2, relu2 = layers
        out = relu1(bn1(conv1(inp)))
        out = bn2(conv2(out))
        out += inp
        return relu2(out)

    xt = torch.tensor(x, requires_grad=True)
    xo = tg.tensor(x, requires_grad=True)
    # a leaf that requires grad can't be updated in place: feed a non-leaf copy, in both
    yt, yo = run(theirs, xt * 1.0), run(ours, xo * 1.0)
    (yt * yt).sum().backward()
    (yo * yo).sum().backward()
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for a, b in zip(ours, theirs):
        for p, tp in zip(a.parameters(), b.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-11)


DROPOUTS = [
    ("Dropout", lambda: nn.Dropout(0.4, inplace=True), lambda x: F.dropout(x, 0.4)),
    ("Dropout1d", lambda: nn.Dropout1d(0.4, inplace=True), lambda x: F.dropout1d(x, 0.4)),
    ("Dropout2d", lambda: nn.Dropout2d(0.4, inplace=True), lambda x: F.dropout2d(x, 0.4)),
    ("Dropout3d", lambda: nn.Dropout3d(0.4, inplace=True), lambda x: F.dropout3d(x, 0.4)),
    ("AlphaDropout", lambda: nn.AlphaDropout(0.4, inplace=True),
     lambda x: F.alpha_dropout(x, 0.4, True)),
    ("FeatureAlphaDropout", lambda: nn.FeatureAlphaDropout(0.4, inplace=True),
     lambda x: F.feature_alpha_dropout(x, 0.4, True)),
]


@pytest.mark.parametrize("name,make,out_of_place", DROPOUTS, ids=[d[0] for d in DROPOUTS])
def test_dropout_inplace_is_the_same_draw_written_into_the_input(name, make, out_of_place):
    """Same seed, same mask: in place equals out of place, the input holds it, and the
    gradient of the non-leaf's source is the out-of-place one."""
    x = np.random.default_rng(2).standard_normal((2, 4, 3, 3, 2))
    if name == "Dropout1d":
        x = x.reshape(2, 4, 18)
    elif name == "Dropout2d":
        x = x.reshape(2, 4, 3, 6)
    tg.manual_seed(7)
    w1 = tg.tensor(x, requires_grad=True)
    expected = out_of_place(w1 * 1.0)
    expected.sum().backward()

    tg.manual_seed(7)
    w2 = tg.tensor(x, requires_grad=True)
    h = w2 * 1.0
    layer = make()
    assert layer(h) is h
    h.sum().backward()
    np.testing.assert_array_equal(h.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(w2.grad.numpy(), w1.grad.numpy())
    # in evaluation the layer is the identity and leaves the input alone
    y = tg.tensor(x.copy())
    assert layer.eval()(y) is y
    np.testing.assert_array_equal(y.numpy(), x)


def test_functional_dropout_inplace_and_its_identity_cases():
    x = np.ones((4, 6))
    tg.manual_seed(3)
    expected = F.dropout(tg.tensor(x), 0.5).numpy()
    tg.manual_seed(3)
    t = tg.tensor(x.copy())
    assert F.dropout(t, 0.5, inplace=True) is t
    np.testing.assert_array_equal(t.numpy(), expected)
    for training, p in ((False, 0.5), (True, 0.0)):
        u = tg.tensor(x.copy())
        assert F.dropout(u, p, training, inplace=True) is u
        np.testing.assert_array_equal(u.numpy(), x)


def test_inplace_keeps_the_dtype_and_refuses_a_wider_result():
    i = tg.tensor(np.array([-2, 0, 3]))
    assert F.relu(i, inplace=True) is i and i.tolist() == [0, 0, 3]
    with pytest.raises(RuntimeError, match="elu_: result type float32 can't be cast"):
        F.elu(tg.tensor(np.array([1, -1])), inplace=True)  # torch refuses an int elu too


@pytest.mark.parametrize("make_input", ["sigmoid", "norm"])
def test_inplace_after_an_op_that_reads_its_output(make_input):
    """sigmoid's and the plain normalization's backwards read their output, which an in-place
    activation overwrites: the update runs on a copy, whose values those backwards read.
    (torch refuses sigmoid's case, whose output it saves too; its batch norm saves the input.)"""
    x = np.random.default_rng(4).standard_normal((4, 3))
    w = tg.tensor(x, requires_grad=True)
    tw = torch.tensor(x, requires_grad=True)
    if make_input == "sigmoid":
        h, th = (w * 3.0).sigmoid(), (tw * 3.0).sigmoid().clone()  # torch needs the clone
    else:
        h = nn.BatchNorm1d(3, affine=False).double()(w)
        th = tnn.BatchNorm1d(3, affine=False).double()(tw)
    F.hardtanh(h, 0.3, 0.6, inplace=True)
    tF.hardtanh(th, 0.3, 0.6, inplace=True)
    (h * h).sum().backward()
    (th * th).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_first_and_second_order_through_inplace_activations():
    """gradcheck and gradgradcheck (float64 numerical gradients) through in-place SiLU after
    sigmoid (whose backward reads its output: the copy) and in-place ELU after a product."""
    x = tg.tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)

    def fn(w):
        h = (w * 2.0).sigmoid()
        F.silu(h, inplace=True)
        g = w * 1.5
        nn.ELU(0.7, inplace=True)(g)
        return h * g + h

    assert tg.gradcheck(fn, (x,))
    assert tg.gradgradcheck(fn, (x,))
