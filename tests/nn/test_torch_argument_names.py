"""The argument names of ``forward`` and of ``nn.functional`` match torch's, so ported code that
passes them by keyword (``m(input=x)``, ``loss(input=y, target=t)``) and forward hooks
registered with ``with_kwargs=True`` that read or replace ``kwargs["input"]`` work unchanged.

Every module class that ``tinygrad_edu.nn`` and ``torch.nn`` both have under the same name is
compared through ``inspect.signature`` (self excluded); so is every public function of
``nn.functional`` that both have (torch's C builtins have no signature: their docstring's first
line, ``conv2d(input, weight, bias=None, ...) -> Tensor``, gives the names). Deliberate or
not-yet-fixed differences are listed below with their reason; an entry that no longer differs
fails the test, so the lists only shrink. Behavioural tests then call layers and losses by
keyword and compare with torch (weights copied).
"""

import ast
import inspect

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

_LAZY_REASON = ("lazy.py: LazyModuleMixin.forward(*args, **kwargs) materializes from the first "
                "positional argument, then runs the regular class's forward")

# Module classes whose forward parameter names deliberately differ from torch's.
MODULE_ALLOWED = {
    name: _LAZY_REASON
    for name in (
        "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
        "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
        "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
    )
}

# nn.functional functions still naming their first argument differently from torch (none now:
# an entry added here must still differ, and must match torch after the first argument).
FUNCTIONAL_FIRST_ALLOWED: dict = {}

# nn.functional functions whose first argument matches torch but whose full list does not.
FUNCTIONAL_FULL_ALLOWED = {
    "normalize": "torch's out= (write into a given tensor) is not supported",
}


def _forward_names(cls) -> list:
    return list(inspect.signature(cls.forward).parameters)[1:]  # without self


def _torch_has_forward(cls) -> bool:
    """False for torch's abstract bases and containers (Module, ModuleList, RNNBase, ...),
    whose forward is Module's unimplemented ``forward(*input)``: there is nothing to match."""
    return cls.forward is not tnn.Module.forward


def _shared_module_classes() -> list:
    names = []
    for name in sorted(dir(nn)):
        ours, theirs = getattr(nn, name), getattr(tnn, name, None)
        if inspect.isclass(ours) and issubclass(ours, nn.Module) and inspect.isclass(theirs) \
                and issubclass(theirs, tnn.Module) and _torch_has_forward(theirs):
            names.append(name)
    return names


def _torch_function_names(fn) -> list | None:
    """The parameter names of a torch.nn.functional function: from its signature, or, for C
    builtins and boolean_dispatch wrappers (``max_pool2d(*args, **kwargs)``), from the
    signature line that opens its docstring. None where neither gives them."""
    try:
        params = list(inspect.signature(fn).parameters.values())
        if any(p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            return [p.name for p in params]
    except (TypeError, ValueError):
        pass
    doc = (fn.__doc__ or "").strip()
    if "(" not in doc.split("\n", 1)[0]:
        return None
    start = doc.index("(")
    depth = 0
    for end in range(start, len(doc)):
        depth += {"(": 1, ")": -1}.get(doc[end], 0)
        if depth == 0:
            break
    try:
        args = ast.parse(f"def f{doc[start:end + 1]}: pass").body[0].args
    except SyntaxError:
        return None
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg is not None:
        names.append(args.vararg.arg)
    return names + [a.arg for a in args.kwonlyargs]


def _shared_functions() -> list:
    pairs = []
    for name in sorted(dir(F)):
        ours, theirs = getattr(F, name), getattr(TF, name, None)
        if name.startswith("_") or theirs is None or not callable(theirs) \
                or not inspect.isfunction(ours):
            continue
        torch_names = _torch_function_names(theirs)
        if torch_names is not None:
            pairs.append((name, list(inspect.signature(ours).parameters), torch_names))
    return pairs


SHARED_MODULES = _shared_module_classes()
SHARED_FUNCTIONS = _shared_functions()


def test_the_comparisons_cover_the_library():
    assert len(SHARED_MODULES) > 120, SHARED_MODULES
    assert len(SHARED_FUNCTIONS) > 100, [name for name, _, _ in SHARED_FUNCTIONS]
    assert {"Linear", "Conv2d", "Sequential", "CrossEntropyLoss", "TripletMarginLoss",
            "RMSNorm", "MultiheadAttention", "Transformer", "LSTM"} <= set(SHARED_MODULES)


@pytest.mark.parametrize("name", SHARED_MODULES)
def test_forward_parameter_names_match_torch(name):
    ours, theirs = _forward_names(getattr(nn, name)), _forward_names(getattr(tnn, name))
    if name in MODULE_ALLOWED:
        assert ours != theirs, f"{name} now matches torch: remove it from MODULE_ALLOWED"
        return
    assert ours == theirs, f"nn.{name}.forward{tuple(ours)}, torch: forward{tuple(theirs)}"


@pytest.mark.parametrize("name, ours, theirs", SHARED_FUNCTIONS,
                         ids=[name for name, _, _ in SHARED_FUNCTIONS])
def test_functional_parameter_names_match_torch(name, ours, theirs):
    where = f"F.{name}{tuple(ours)}, torch: {name}{tuple(theirs)}"
    if name in FUNCTIONAL_FIRST_ALLOWED:
        assert ours[:1] != theirs[:1], f"{where}: remove it from FUNCTIONAL_FIRST_ALLOWED"
        assert ours[1:] == theirs[1:], where
        return
    assert ours[:1] == theirs[:1], where
    if name in FUNCTIONAL_FULL_ALLOWED:
        assert ours != theirs, f"{where}: remove it from FUNCTIONAL_FULL_ALLOWED"
        return
    assert ours == theirs, where


def test_allow_lists_name_existing_things():
    assert set(MODULE_ALLOWED) <= set(SHARED_MODULES)
    functions = {name for name, _, _ in SHARED_FUNCTIONS}
    assert set(FUNCTIONAL_FIRST_ALLOWED) | set(FUNCTIONAL_FULL_ALLOWED) <= functions


# ----------------------------------------------------------------------------------------------
# Calls by keyword, against torch
# ----------------------------------------------------------------------------------------------


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _copy_parameters(ours, theirs):
    """Our module's parameters set to the torch module's values (same names)."""
    mine = dict(ours.named_parameters())
    for name, value in theirs.named_parameters():
        mine[name].data[...] = value.detach().numpy()


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_linear_input_keyword_like_torch():
    x = _randn(4, 3)
    theirs = tnn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    _copy_parameters(ours, theirs)
    _close(ours(input=tg.tensor(x)), theirs(input=torch.from_numpy(x)))


def test_conv2d_input_keyword_like_torch():
    x = _randn(2, 3, 7, 6)
    theirs = tnn.Conv2d(3, 4, 3, padding=1)
    ours = nn.Conv2d(3, 4, 3, padding=1)
    _copy_parameters(ours, theirs)
    _close(ours(input=tg.tensor(x)), theirs(input=torch.from_numpy(x)))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_output_size_like_torch(dims):
    x = _randn(2, 3, *(5, 4, 3)[:dims])
    name = f"ConvTranspose{dims}d"
    theirs = getattr(tnn, name)(3, 2, 3, stride=3, padding=1, output_padding=1)
    ours = getattr(nn, name)(3, 2, 3, stride=3, padding=1, output_padding=1)
    _copy_parameters(ours, theirs)
    smallest = tuple((n - 1) * 3 - 2 + 3 for n in x.shape[2:])  # (I - 1) S - 2 P + (K - 1) + 1
    for extra in (0, 2):  # output_size overrides output_padding=1
        size = tuple(n + extra for n in smallest)
        out = ours(input=tg.tensor(x), output_size=size)
        expected = theirs(input=torch.from_numpy(x), output_size=size)
        assert out.shape == tuple(expected.shape) == x.shape[:2][:1] + (2,) + size
        _close(out, expected)
    full = (2, 2) + smallest  # the whole output shape works too
    _close(ours(tg.tensor(x), full), theirs(torch.from_numpy(x), full))
    _close(ours(tg.tensor(x[0]), smallest), theirs(torch.from_numpy(x[0]), smallest))
    too_big = tuple(n + 3 for n in smallest)
    with pytest.raises(ValueError, match="output size"):
        theirs(torch.from_numpy(x), output_size=too_big)
    with pytest.raises(ValueError, match=f"{name}: requested an output size"):
        ours(tg.tensor(x), output_size=too_big)
    with pytest.raises(ValueError, match="output_size must have"):
        ours(tg.tensor(x), output_size=(7,) * (dims + 1))


def test_functional_input_keyword_like_torch():
    x, w, b = _randn(2, 3, 6, 5), _randn(4, 3, 3, 3, seed=1), _randn(4, seed=2)
    t = {name: torch.from_numpy(a) for name, a in (("x", x), ("w", w), ("b", b))}
    _close(F.conv2d(input=tg.tensor(x), weight=tg.tensor(w), bias=tg.tensor(b), padding=1),
           TF.conv2d(input=t["x"], weight=t["w"], bias=t["b"], padding=1))
    _close(F.max_pool2d(input=tg.tensor(x), kernel_size=2),
           TF.max_pool2d(input=t["x"], kernel_size=2))
    lw = _randn(2, 5, seed=3)  # (out_features, in_features = x's last dim)
    _close(F.linear(input=tg.tensor(x), weight=tg.tensor(lw)),
           TF.linear(input=t["x"], weight=torch.from_numpy(lw)))
    for name in ("sigmoid", "tanh"):  # torch.sigmoid(input=...) too: the same function
        _close(getattr(tg, name)(input=tg.tensor(x)), getattr(torch, name)(input=t["x"]))
    _close(F.gelu(input=tg.tensor(x), approximate="tanh"),
           TF.gelu(input=t["x"], approximate="tanh"))


def test_losses_by_keyword_like_torch():
    logits, y = _randn(5, 4), np.array([0, 3, 1, 1, 2])
    _close(nn.CrossEntropyLoss()(input=tg.tensor(logits), target=tg.tensor(y)),
           tnn.CrossEntropyLoss()(input=torch.from_numpy(logits), target=torch.from_numpy(y)))
    a, b, c = _randn(5, 4, seed=1), _randn(5, 4, seed=2), _randn(5, 4, seed=3)
    _close(nn.MSELoss()(input=tg.tensor(a), target=tg.tensor(b)),
           tnn.MSELoss()(input=torch.from_numpy(a), target=torch.from_numpy(b)))
    _close(nn.TripletMarginLoss()(anchor=tg.tensor(a), positive=tg.tensor(b),
                                  negative=tg.tensor(c)),
           tnn.TripletMarginLoss()(anchor=torch.from_numpy(a), positive=torch.from_numpy(b),
                                   negative=torch.from_numpy(c)))
    var = np.abs(c) + 0.1
    _close(nn.GaussianNLLLoss()(input=tg.tensor(a), target=tg.tensor(b), var=tg.tensor(var)),
           tnn.GaussianNLLLoss()(input=torch.from_numpy(a), target=torch.from_numpy(b),
                                 var=torch.from_numpy(var)))


def test_forward_pre_hook_with_kwargs_replaces_input_like_torch():
    x, replacement = _randn(4, 3), _randn(4, 3, seed=1)
    theirs = tnn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    _copy_parameters(ours, theirs)

    def replace_input(module, args, kwargs, tensor):
        assert args == () and set(kwargs) == {"input"}
        return args, {**kwargs, "input": tensor}

    theirs.register_forward_pre_hook(
        lambda m, args, kwargs: replace_input(m, args, kwargs, torch.from_numpy(replacement)),
        with_kwargs=True)
    ours.register_forward_pre_hook(
        lambda m, args, kwargs: replace_input(m, args, kwargs, tg.tensor(replacement)),
        with_kwargs=True)
    expected = theirs(input=torch.from_numpy(x))
    out = ours(input=tg.tensor(x))
    _close(out, expected)
    _close(out, ours.forward(tg.tensor(replacement)))


def test_sequential_and_embedding_input_keyword_like_torch():
    x = _randn(4, 3)
    theirs = tnn.Sequential(tnn.Linear(3, 5), tnn.ReLU(), tnn.Linear(5, 2))
    ours = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    _copy_parameters(ours, theirs)
    _close(ours(input=tg.tensor(x)), theirs(input=torch.from_numpy(x)))
    idx = np.array([[0, 2], [4, 1]])
    theirs, ours = tnn.Embedding(5, 3), nn.Embedding(5, 3)
    _copy_parameters(ours, theirs)
    _close(ours(input=tg.tensor(idx)), theirs(input=torch.from_numpy(idx)))


SINGLE_INPUT_LAYERS = [  # (name, constructor arguments, input shape)
    ("ReLU", (), (2, 3)),
    ("GELU", (), (2, 3)),
    ("Softmax", (1,), (2, 3)),
    ("Dropout", (0.5,), (2, 3)),
    ("Identity", (), (2, 3)),
    ("Flatten", (), (2, 3, 2)),
    ("Unflatten", (1, (3, 2)), (2, 6)),
    ("LayerNorm", (3,), (2, 3)),
    ("BatchNorm1d", (3,), (4, 3)),
    ("GroupNorm", (1, 2), (2, 2, 3)),
    ("MaxPool2d", (2,), (1, 2, 4, 4)),
    ("AdaptiveAvgPool1d", (2,), (1, 2, 5)),
    ("ReflectionPad1d", (1,), (1, 2, 4)),
    ("Upsample", (None, 2), (1, 2, 3)),
    ("PixelShuffle", (2,), (1, 4, 2, 2)),
    ("Unfold", (2,), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("name, args, shape", SINGLE_INPUT_LAYERS,
                         ids=[name for name, _, _ in SINGLE_INPUT_LAYERS])
def test_single_input_layers_take_input_keyword(name, args, shape):
    x = _randn(*shape)
    theirs = getattr(tnn, name)(*args).eval()  # eval: Dropout the identity
    ours = getattr(nn, name)(*args).eval()
    _copy_parameters(ours, theirs)
    _close(ours(input=tg.tensor(x)), theirs(input=torch.from_numpy(x)))
