"""Layers against torch.nn with the same weights: forward, input gradient and every parameter
gradient in float64 on several shapes; gradcheck of each layer as a function of its input AND
its parameters; BatchNorm running statistics and eval mode; init-free behaviour (Dropout);
errors that name the layer and the shapes."""

import contextlib
import math
import re
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op, to_numpy

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as NF

# ----------------------------------------------------------------------------------------------
# Helpers: twin modules, side-by-side comparison, gradcheck over input and parameters
# ----------------------------------------------------------------------------------------------


def twin(ours, theirs, device="cpu"):
    """Both modules in float64 with torch's parameters and buffers copied into ours."""
    theirs.double()
    ours.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.to(device)
    return ours, theirs


def compare(ours, theirs, x, device="cpu", seed=0):
    """Forward, input gradient and parameter gradients of ours vs torch's for input ``x``."""
    rng = np.random.default_rng(seed)
    tg_x = tg.tensor(x, device=device, requires_grad=True)
    th_x = torch.tensor(x, requires_grad=True)
    out, th_out = ours(tg_x), theirs(th_x)
    assert tuple(out.shape) == tuple(th_out.shape)
    assert_close(out, th_out, what="forward")
    upstream = rng.standard_normal(out.shape)
    (out * tg.tensor(upstream, device=device)).sum().backward()
    (th_out * torch.tensor(upstream)).sum().backward()
    assert_close(tg_x.grad, th_x.grad, what="input gradient")
    ours_params = dict(ours.named_parameters())
    theirs_params = dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        assert_close(p.grad, theirs_params[name].grad, what=f"gradient of {name}")
    return out


@contextlib.contextmanager
def parameters_replaced(module, tensors: dict):
    """Temporarily use ``tensors`` (name -> Tensor) as the module's parameters."""
    saved = []
    for name, t in tensors.items():
        owner_name, _, leaf = name.rpartition(".")
        owner = module.get_submodule(owner_name)
        saved.append((owner, leaf, owner._parameters[leaf]))
        owner._parameters[leaf] = t
    try:
        yield
    finally:
        for owner, leaf, p in saved:
            owner._parameters[leaf] = p


def gradcheck_layer(module, x, device="cpu", **kwargs):
    """gradcheck the function (x, *params) -> module(x), so the parameter gradients are
    checked against central differences too."""
    module.double().to(device)
    names = [n for n, _ in module.named_parameters()]

    def layer_as_function(x, *params):
        with parameters_replaced(module, dict(zip(names, params, strict=True))):
            return module(x)

    params = [p.detach() for _, p in module.named_parameters()]
    x = np.asarray(x)
    inputs = [tg.tensor(x, device=device, requires_grad=x.dtype.kind == "f")]
    inputs += [tg.tensor(p.data, requires_grad=True) for p in params]
    assert tg.gradcheck(layer_as_function, inputs, **kwargs)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# Linear, Identity, Flatten, Unflatten, MLP
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (4, 6), (2, 3, 6)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(device, shape, bias):
    ours, theirs = twin(nn.Linear(6, 3, bias=bias), torch.nn.Linear(6, 3, bias=bias), device)
    compare(ours, theirs, randn(*shape), device)


def test_linear_float32_matches_torch():
    ours, theirs = nn.Linear(5, 4), torch.nn.Linear(5, 4)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert ours.weight.dtype == np.float32
    check_op(lambda x: ours(x), lambda x: theirs(x), [(3, 5)], dtypes=(np.float32,),
             gradcheck=False)


def test_linear_gradcheck():
    gradcheck_layer(nn.Linear(4, 3), randn(2, 4))
    gradcheck_layer(nn.Linear(3, 2, bias=False), randn(2, 2, 3))


def test_linear_errors_name_the_layer_and_shapes():
    layer = nn.Linear(784, 10)
    expected = "Linear(in_features=784, out_features=10): input has 100 features (input shape " \
               "(8, 100))"
    with pytest.raises(ValueError, match=re.escape(expected)):
        layer(tg.randn(8, 100))
    with pytest.raises(ValueError, match="0-d tensor"):
        layer(tg.tensor(1.0))
    with pytest.raises(ValueError, match="in_features must be a non-negative int"):
        nn.Linear(2.5, 3)
    assert repr(layer) == repr(torch.nn.Linear(784, 10))


def test_identity_flatten_unflatten_match_torch():
    x = randn(2, 3, 4, 5)
    assert nn.Identity(54, unused="x")(tg.tensor(x)).tolist() == x.tolist()
    for ours, theirs in [(nn.Flatten(), torch.nn.Flatten()),
                         (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (nn.Unflatten(1, (3, 4)), torch.nn.Unflatten(1, (3, 4))),
                         (nn.Unflatten(-1, (-1, 2)), torch.nn.Unflatten(-1, (-1, 2)))]:
        data = x if isinstance(ours, nn.Flatten) else randn(2, 12)
        compare(ours, theirs, data)
        assert repr(ours) == repr(theirs)


def test_flatten_unflatten_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Unflatten(dim=1, unflattened_size=(4, 4)): dimension 1 has size 6, which can't be "
            "split into 4 * 4 (input shape (2, 6))")):
        nn.Unflatten(1, (4, 4))(tg.randn(2, 6))
    with pytest.raises(ValueError, match="has no dimension 1"):
        nn.Flatten()(tg.randn(5))
    with pytest.raises(ValueError, match="only one size may be -1"):
        nn.Unflatten(0, (-1, -1))


def test_mlp_is_a_torch_compatible_sequential():
    model = nn.MLP(5, [8, 6], 3, activation="gelu", dropout=0.2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "GELU", "Dropout", "Linear", "GELU", "Dropout", "Linear"]
    theirs = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.GELU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(8, 6), torch.nn.GELU(), torch.nn.Dropout(0.2), torch.nn.Linear(6, 3))
    ours, theirs = twin(model, theirs)
    ours.eval()
    theirs.eval()
    compare(ours, theirs, randn(4, 5))
    assert model.num_parameters() == sum(p.numel() for p in theirs.parameters())
    ours.train()
    out = ours(tg.randn(64, 5, dtype=tg.float64))
    assert out.shape == (64, 3)


def test_mlp_activation_choices_and_errors():
    assert isinstance(nn.MLP(2, 4, 1, activation=nn.Tanh)[1], nn.Tanh)
    assert isinstance(nn.MLP(2, [4], 1, activation="identity")[1], nn.Identity)
    assert len(nn.MLP(2, [], 1)) == 1
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        nn.MLP(2, [4], 1, activation="rellu")
    with pytest.raises(TypeError, match="not an instance"):
        nn.MLP(2, [4], 1, activation=nn.ReLU())
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.MLP(2, [4], 1, dropout=1.5)


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------

ACTIVATIONS = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    (lambda: nn.ELU(alpha=0.7), lambda: torch.nn.ELU(alpha=0.7)),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(2.0, 3.0)),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda pair: repr(pair[0]()))
def test_activation_modules_match_torch(device, make):
    ours, theirs = make[0](), make[1]()
    assert repr(ours) == repr(theirs)
    check_op(lambda x: ours(x), lambda x: theirs(x), [(4, 5)], device=device, low=-3, high=3)


def test_softmax_without_dim_uses_torchs_implicit_dim_with_a_warning():
    x = randn(3, 4)
    for ours, theirs in [(nn.Softmax(), torch.nn.Softmax()),
                         (nn.LogSoftmax(), torch.nn.LogSoftmax())]:
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            out = ours(tg.tensor(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = theirs(torch.tensor(x))
        assert_close(out, expected)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------


def test_dropout_training_statistics_and_gradient():
    tg.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = tg.ones(20000, dtype=tg.float64, requires_grad=True)
    out = drop(x)
    values = out.detach().numpy()
    assert abs((values == 0).mean() - 0.3) < 0.015
    np.testing.assert_allclose(values[values != 0], 1 / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values)  # dx = mask / (1 - p)


def test_dropout_and_mlp_gradcheck():
    drop = nn.Dropout(0.4)

    def same_mask_every_call(x):
        tg.manual_seed(5)
        return drop(x)

    x = tg.tensor(randn(3, 4), requires_grad=True)
    assert tg.gradcheck(same_mask_every_call, [x])
    gradcheck_layer(nn.MLP(3, [4], 2, activation="tanh"), randn(2, 3))


def test_dropout_eval_is_identity_and_follows_the_model_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    x = tg.randn(4, 3)
    model.eval()
    assert_close(model(x), model[0](x), np.float32)
    assert nn.Dropout(1.0)(tg.ones(5)).tolist() == [0.0] * 5
    assert nn.Dropout(0.0)(tg.ones(2)).tolist() == [1.0, 1.0]
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.2"):
        nn.Dropout(1.2)


# ----------------------------------------------------------------------------------------------
# BatchNorm
# ----------------------------------------------------------------------------------------------

BN_CASES = [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (6, 4, 5)), ("BatchNorm2d", (5, 4, 3, 2))]


@pytest.mark.parametrize("name,shape", BN_CASES)
def test_batchnorm_training_step_matches_torch(device, name, shape):
    ours, theirs = twin(getattr(nn, name)(4), getattr(torch.nn, name)(4), device)
    with torch.no_grad():  # non-trivial affine parameters
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    compare(ours, theirs, randn(*shape) * 3 + 1, device)
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(ours.state_dict()[key], theirs.state_dict()[key], what=key)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_stats_after_several_steps_then_eval(momentum):
    ours, theirs = twin(nn.BatchNorm2d(3, momentum=momentum),
                        torch.nn.BatchNorm2d(3, momentum=momentum))
    for step in range(5):
        x = randn(4, 3, 2, 3, seed=step) * (step + 1) + step
        with torch.no_grad():
            theirs(torch.tensor(x))
        ours(tg.tensor(x))
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, what=key)
    assert ours.num_batches_tracked.item() == 5
    ours.eval()
    theirs.eval()
    out = compare(ours, theirs, randn(2, 3, 2, 2, seed=9) * 4)
    # eval mode uses the running statistics and leaves them untouched
    assert ours.num_batches_tracked.item() == 5
    assert out.shape == (2, 3, 2, 2)


def test_batchnorm_without_running_stats_or_affine_matches_torch():
    for kwargs in (dict(track_running_stats=False), dict(affine=False)):
        ours, theirs = twin(nn.BatchNorm1d(3, **kwargs), torch.nn.BatchNorm1d(3, **kwargs))
        for mode in ("train", "eval"):
            getattr(ours, mode)()
            getattr(theirs, mode)()
            compare(ours, theirs, randn(5, 3, 2) * 2)
    bn = nn.BatchNorm1d(3, track_running_stats=False)
    assert bn.running_mean is None and list(bn.state_dict()) == ["weight", "bias"]


def test_batchnorm_float32_matches_torch():
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    check_op(lambda x: ours(x), lambda x: theirs(x), [(4, 3, 5, 5)], dtypes=(np.float32,),
             gradcheck=False)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradcheck(train):
    for module, shape in [(nn.BatchNorm1d(3), (4, 3, 2)), (nn.BatchNorm2d(2), (3, 2, 2, 2))]:
        with tg.no_grad():
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-1, 1)
            module.running_var.fill_(2.0)
        module.train(train)
        gradcheck_layer(module, randn(*shape))


def _fused_or_composite(module, fused_op, x, dy, kernel, watched, x_grad=True):
    """module(x).backward(dy) with Config.kernel = ``kernel`` ("auto": the fused op runs,
    "reference": the composite), under a study hook if ``watched``; (output, input tensor)."""
    xt = tg.tensor(x, requires_grad=x_grad)
    hook = tg.autograd.add_hook(object()) if watched else contextlib.nullcontext()
    with tg.use_kernel(kernel), hook:
        out = module(xt)
        assert (type(out._ctx).__name__ == fused_op) == (kernel == "auto")
        out.backward(tg.tensor(dy))
    return out, xt


@pytest.mark.parametrize("watched", [False, True])
@pytest.mark.parametrize("x_grad,frozen_affine", [(True, False), (False, False), (True, True)])
def test_batchnorm_fused_op_matches_the_composite(x_grad, frozen_affine, watched):
    """Training-mode BatchNorm on NumPy runs as one op on the Numba kernels (BatchNormTrain);
    the reference setting runs the composite (Normalize, then the affine ops). Same outputs,
    gradients and running statistics, also with some inputs not wanting a gradient and while
    a study hook watches (the backward then gets a Tensor)."""
    x = randn(6, 4, 3, 5) * 2 + 1
    dy = randn(6, 4, 3, 5, seed=1)
    results = {}
    for kernel in ("auto", "reference"):
        bn = nn.BatchNorm2d(4).double()
        bn.weight.data[...] = np.linspace(0.5, 1.5, 4)
        bn.bias.data[...] = np.linspace(-1, 1, 4)
        bn.weight.requires_grad_(not frozen_affine)
        bn.bias.requires_grad_(not frozen_affine)
        out, xt = _fused_or_composite(bn, "BatchNormTrain", x, dy, kernel, watched, x_grad)
        grads = [t.grad for t in (xt, bn.weight, bn.bias)]
        stats = [bn.running_mean.numpy(), bn.running_var.numpy()]
        results[kernel] = [out.detach().numpy()] + stats + [
            None if g is None else g.numpy() for g in grads]
    for fused, composite in zip(results["auto"], results["reference"], strict=True):
        if composite is None:
            assert fused is None
        else:
            np.testing.assert_allclose(fused, composite, rtol=1e-10, atol=1e-10)
    assert (results["auto"][3] is None) == (not x_grad)
    assert (results["auto"][4] is None) == frozen_affine


@pytest.mark.parametrize("watched", [False, True])
@pytest.mark.parametrize("options", [dict(), dict(bias=False), dict(elementwise_affine=False)])
@pytest.mark.parametrize("normalized_shape", [(5,), (3, 5)])
def test_layernorm_fused_op_matches_the_composite(normalized_shape, options, watched):
    """LayerNorm on NumPy runs as one op on the Numba kernels (LayerNormFused); the reference
    setting runs the composite (Normalize, then the affine ops): same outputs and gradients,
    also over two dims, without bias or affine parameters, and while a study hook watches."""
    x = randn(2, 4, 3, 5) * 2 + 1
    dy = randn(2, 4, 3, 5, seed=1)
    results = {}
    for kernel in ("auto", "reference"):
        ln = nn.LayerNorm(normalized_shape, **options).double()
        params = [p for p in (ln.weight, ln.bias) if p is not None]
        for i, p in enumerate(params):
            p.data[...] = np.linspace(0.5 - i, 1.5, p.data.size).reshape(p.shape)
        out, xt = _fused_or_composite(ln, "LayerNormFused", x, dy, kernel, watched)
        results[kernel] = [out.detach().numpy()] + [t.grad.numpy() for t in [xt] + params]
    for fused, composite in zip(results["auto"], results["reference"], strict=True):
        np.testing.assert_allclose(fused, composite, rtol=1e-10, atol=1e-10)


def test_batchnorm2d_second_derivatives():
    """Under create_graph the fused op differentiates the composite: exact to any order."""
    bn = nn.BatchNorm2d(2).double()
    with tg.no_grad():
        bn.weight.uniform_(0.5, 1.5)
    x = tg.tensor(randn(3, 2, 2, 3), requires_grad=True)
    assert tg.gradgradcheck(lambda x: bn(x) ** 2, [x])


def test_normalize_second_derivatives():
    """The closed-form backward is written in Tensor ops: double backward is exact."""
    bn = nn.BatchNorm1d(3).double()
    ln = nn.LayerNorm(4).double()
    x = tg.tensor(randn(5, 3), requires_grad=True)
    assert tg.gradgradcheck(lambda x: bn(x) ** 2, [x])
    y = tg.tensor(randn(2, 4), requires_grad=True)
    assert tg.gradgradcheck(lambda y: ln(y).tanh(), [y])


def test_batchnorm_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=re.escape(
            "BatchNorm2d(16): input has 3 channels (dim 1), expected 16 (input shape "
            "(8, 3, 28, 28))")):
        nn.BatchNorm2d(16)(tg.randn(8, 3, 28, 28))
    with pytest.raises(ValueError, match=re.escape(
            "BatchNorm1d(4): expected 2D (N, C) or 3D (N, C, L) input, got a 4D input")):
        nn.BatchNorm1d(4)(tg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="expected 4D"):
        nn.BatchNorm2d(4)(tg.randn(2, 4))
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        bn(tg.randn(1, 4))
    assert bn.eval()(tg.randn(1, 4)).shape == (1, 4)  # fine in eval mode


def test_functional_batch_norm_matches_torch():
    x = randn(6, 3, 4)
    rm, rv = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out = NF.batch_norm(tg.tensor(x), rm, rv, training=True, momentum=0.3)
    expected = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True,
                                              momentum=0.3)
    assert_close(out, expected)
    assert_close(rm, trm)
    assert_close(rv, trv)


# ----------------------------------------------------------------------------------------------
# LayerNorm
# ----------------------------------------------------------------------------------------------

LN_CASES = [
    (dict(normalized_shape=6), (4, 6)),
    (dict(normalized_shape=(3, 4)), (2, 3, 4)),
    (dict(normalized_shape=[4], bias=False), (2, 3, 4)),
    (dict(normalized_shape=5, elementwise_affine=False, eps=1e-3), (3, 5)),
]


@pytest.mark.parametrize("kwargs,shape", LN_CASES)
def test_layernorm_matches_torch(device, kwargs, shape):
    ours, theirs = twin(nn.LayerNorm(**kwargs), torch.nn.LayerNorm(**kwargs), device)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    compare(ours, theirs, randn(*shape) * 2 + 1, device)
    # torch before 2.13 leaves bias out of the repr
    assert re.sub(", bias=(True|False)", "", repr(ours)) == re.sub(
        ", bias=(True|False)", "", repr(theirs))


def test_layernorm_gradcheck_and_errors():
    gradcheck_layer(nn.LayerNorm((2, 3)), randn(2, 2, 3))
    with pytest.raises(ValueError, match=re.escape(
            "LayerNorm((10,)): input's last 1 dimension(s) (5,) don't match normalized_shape "
            "(input shape (2, 5))")):
        nn.LayerNorm(10)(tg.randn(2, 5))


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(device, padding_idx):
    ours, theirs = twin(nn.Embedding(7, 3, padding_idx=padding_idx),
                        torch.nn.Embedding(7, 3, padding_idx=padding_idx), device)
    indices = np.array([[1, 2, 2, 6], [0, 2, 5, 1]])  # repeated ids accumulate gradients
    out = ours(tg.tensor(indices, device=device))
    th_out = theirs(torch.tensor(indices))
    assert_close(out, th_out)
    upstream = randn(2, 4, 3)
    (out * tg.tensor(upstream, device=device)).sum().backward()
    (th_out * torch.tensor(upstream)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)
    if padding_idx is not None:
        assert not np.any(to_numpy(ours.weight.grad)[padding_idx])
    assert repr(ours) == repr(theirs)


def test_embedding_padding_row_is_zero_and_frozen_but_still_read():
    emb = nn.Embedding(5, 2, padding_idx=0)
    assert emb.weight.detach().numpy()[0].tolist() == [0.0, 0.0]
    with tg.no_grad():
        emb.weight[0] = 7.0  # like torch: the row is read as is, it just gets no gradient
    out = emb(tg.tensor([0, 0, 3]))
    assert out.tolist()[0] == [7.0, 7.0]
    out.sum().backward()
    assert emb.weight.grad.tolist()[0] == [0.0, 0.0]
    assert emb.weight.grad.tolist()[3] == [1.0, 1.0]


def test_embedding_gradcheck_and_functional_form():
    indices = tg.tensor([[0, 3], [3, 1]])
    # (no padding_idx here: its row's gradient is zero by design, not the true derivative)
    gradcheck_layer(nn.Embedding(4, 2), indices.numpy())
    weight = randn(4, 2)
    out = NF.embedding(indices, tg.tensor(weight), padding_idx=3)
    expected = torch.nn.functional.embedding(torch.tensor(indices.numpy()),
                                             torch.tensor(weight), padding_idx=3)
    assert_close(out, expected)


def test_embedding_errors():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=re.escape(
            "Embedding(10, 3): index 12 is out of range [0, 10) (indices shape (4,)")):
        emb(tg.tensor([1, 2, 12, 3]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(tg.tensor([-1, 2]))
    with pytest.raises(TypeError, match="indices must be an integer tensor"):
        emb(tg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="padding_idx 10 must be within"):
        nn.Embedding(10, 3, padding_idx=10)


def test_embedding_from_pretrained():
    table = tg.tensor(randn(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.num_parameters(trainable_only=True) == 0
    assert_close(frozen(tg.tensor([2])), table.numpy()[2:3])
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    assert trainable.weight.requires_grad


# ----------------------------------------------------------------------------------------------
# nn.functional extras
# ----------------------------------------------------------------------------------------------


def test_nn_functional_namespace_matches_torch():
    import torch.nn.functional as TF

    check_op(lambda x: NF.normalize(x, dim=1), lambda x: TF.normalize(x, dim=1), [(3, 4)])
    check_op(lambda x: NF.normalize(x, p=1.0, dim=0), lambda x: TF.normalize(x, p=1.0, dim=0),
             [(3, 4)])
    check_op(NF.logsigmoid, TF.logsigmoid, [(3, 4)], low=-30, high=30)
    check_op(lambda x: NF.softmax(x, dim=-1, dtype=tg.float64),
             lambda x: TF.softmax(x, dim=-1, dtype=torch.float64), [(2, 5)],
             dtypes=(np.float64,))
    check_op(lambda x: NF.relu(x * 1.0, inplace=True),  # a leaf can't be: x * 1.0
             lambda x: TF.relu(x * 1.0, inplace=True), [(5,)])
    check_op(lambda x: NF.pad(x, (1, 2)), lambda x: TF.pad(x, (1, 2)), [(2, 3)])
    labels = np.array([0, 3, 1])
    assert NF.one_hot(tg.tensor(labels)).tolist() == TF.one_hot(torch.tensor(labels)).tolist()
    assert NF.one_hot(tg.tensor(labels), 5).shape == (3, 5)
    with pytest.raises(ValueError, match="class values must be in"):
        NF.one_hot(tg.tensor(labels), 2)
    zero = tg.zeros(1, 3, dtype=tg.float64, requires_grad=True)
    NF.normalize(zero).sum().backward()
    assert np.all(np.isfinite(zero.grad.numpy()))
    assert math.isclose(float(NF.logsigmoid(tg.tensor([-1e4])).item()), -1e4)


def test_nn_functional_unfold_fold_conv_pool_match_torch():
    import tinygrad_edu.nn.functional as NF

    x = np.random.randn(2, 3, 6, 5)
    opts = dict(kernel_size=(2, 3), padding=1, stride=(2, 1))
    cols = NF.unfold(tg.tensor(x), **opts)
    tcols = torch.nn.functional.unfold(torch.tensor(x), **opts)
    np.testing.assert_allclose(cols.numpy(), tcols.numpy())
    back = NF.fold(cols, (6, 5), **opts)
    tback = torch.nn.functional.fold(tcols, (6, 5), **opts)
    np.testing.assert_allclose(back.numpy(), tback.numpy(), rtol=1e-12)
    assert NF.conv2d is tg.functional.conv2d and NF.max_pool2d is tg.functional.max_pool2d
    assert NF.scaled_dot_product_attention is tg.functional.scaled_dot_product_attention


def test_linear_weight_replaced_by_a_plain_tensor_attribute():
    """torch-style reparametrization (weight norm, parametrize): the Parameter is deleted and
    a computed tensor set as a plain attribute; forward must read that attribute."""
    lin = tg.nn.Linear(3, 2)
    v = lin.weight.detach().numpy().copy()
    del lin.weight
    lin.weight = tg.tensor(v * 2.0)
    x = tg.tensor(np.ones((1, 3), np.float32))
    expected = np.ones((1, 3), np.float32) @ (v * 2.0).T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), expected, rtol=1e-6)
    assert [name for name, _ in lin.named_parameters()] == ["bias"]


def test_linear_reads_a_parametrized_weight_and_a_missing_bias():
    """torch.nn.utils.parametrize's way: the Parameter is deleted and the instance's class is
    swapped for a subclass whose ``weight`` is a property computed from another parameter;
    forward must read the property. A Linear without bias reads None."""
    lin = tg.nn.Linear(3, 2, bias=False)
    v = lin.weight.detach().numpy().copy()
    del lin.weight
    lin.original = tg.nn.Parameter(tg.tensor(v))
    lin.__class__ = type("ParametrizedLinear", (tg.nn.Linear,),
                         {"weight": property(lambda self: self.original * 2.0)})
    x = tg.tensor(np.ones((1, 3), np.float32))
    out = lin(x)
    np.testing.assert_allclose(out.detach().numpy(), np.ones((1, 3)) @ (v * 2.0).T, rtol=1e-6)
    out.sum().backward()  # the gradient reaches the parameter behind the property
    np.testing.assert_allclose(lin.original.grad.numpy(), np.full((2, 3), 2.0))
    assert lin.bias is None and [name for name, _ in lin.named_parameters()] == ["original"]


# ----------------------------------------------------------------------------------------------
# Argument checks: pooling strides, convolution constructors
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [0, -1, (0, 1), (2, -1)])
def test_pool_stride_zero_or_negative_is_an_error_not_the_kernel_size(stride):
    problem = "should not be zero" if 0 in np.atleast_1d(stride) else "should be greater than"
    with pytest.raises(RuntimeError, match="stride should"):  # torch refuses it too
        torch.nn.functional.max_pool2d(torch.zeros(1, 1, 6, 6), 2, stride)
    for layer in (nn.MaxPool2d, nn.AvgPool2d):
        with pytest.raises(ValueError, match=f"{layer.__name__}: stride {problem}"):
            layer(2, stride=stride)
    for op in (NF.max_pool2d, NF.avg_pool2d):
        with pytest.raises(ValueError, match=f"{op.__name__}: stride {problem}"):
            op(tg.randn(1, 1, 6, 6), 2, stride)


def test_pool_stride_none_means_the_kernel_size():
    x = randn(1, 2, 6, 6)
    for ours, theirs in ((nn.MaxPool2d(3), torch.nn.MaxPool2d(3)),
                         (nn.AvgPool2d(3, stride=None), torch.nn.AvgPool2d(3, stride=None))):
        assert repr(ours) == repr(theirs)
        assert_close(ours(tg.tensor(x)), theirs(torch.tensor(x)))
    assert NF.max_pool2d(tg.tensor(x), 2, ()).shape == (1, 2, 3, 3)  # torch's empty stride


CONV_BAD_ARGUMENTS = [  # layer, keyword arguments, the error message
    (nn.Conv2d, dict(padding="full"), "Conv2d: invalid padding string 'full'"),
    (nn.Conv2d, dict(padding="same", stride=2),
     "Conv2d: padding='same' is not supported for strided convolutions (stride (2, 2))"),
    (nn.Conv2d, dict(padding="same", stride=(1, 2)), "not supported for strided"),
    (nn.Conv2d, dict(kernel_size=4, padding="same", stride=(2, 1)),
     "Conv2d: padding='same' is not supported for strided convolutions (stride (2, 1))"),
    (nn.ConvTranspose2d, dict(padding="same"), "ConvTranspose2d: padding must be an int or a "
                                               "pair of ints"),
    (nn.Conv2d, dict(kernel_size=0), "Conv2d: kernel_size must be >= 1, got (0, 0)"),
    (nn.ConvTranspose2d, dict(kernel_size=(3, -1)), "ConvTranspose2d: kernel_size must be >= 1"),
    (nn.Conv2d, dict(stride=0), "Conv2d: stride must be >= 1, got (0, 0)"),
    (nn.ConvTranspose2d, dict(stride=(1, -2)), "ConvTranspose2d: stride must be >= 1"),
    (nn.Conv2d, dict(dilation=0), "Conv2d: dilation must be >= 1, got (0, 0)"),
    (nn.Conv2d, dict(padding=-1), "Conv2d: padding must be >= 0, got (-1, -1)"),
    (nn.ConvTranspose2d, dict(padding=(1, -1)), "ConvTranspose2d: padding must be >= 0"),
    (nn.ConvTranspose2d, dict(stride=2, output_padding=2),
     "ConvTranspose2d: output_padding must be >= 0 and smaller than stride or dilation"),
]


@pytest.mark.parametrize("layer, kwargs, message", CONV_BAD_ARGUMENTS)
def test_conv_constructors_refuse_invalid_arguments(layer, kwargs, message):
    kwargs = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        layer(2, 4, **kwargs)


def test_conv_constructors_accept_what_torch_runs():
    for kwargs in (dict(padding="same"), dict(padding="valid", stride=2),
                   dict(kernel_size=2, dilation=2, padding="same")):
        kwargs = {"kernel_size": 3, **kwargs}
        x = randn(1, 2, 7, 7)
        ours, theirs = twin(nn.Conv2d(2, 4, **kwargs), torch.nn.Conv2d(2, 4, **kwargs))
        assert_close(ours(tg.tensor(x)), theirs(torch.tensor(x)))
    options = dict(kernel_size=3, stride=2, output_padding=1)
    ours, theirs = twin(nn.ConvTranspose2d(2, 4, **options), torch.nn.ConvTranspose2d(2, 4,
                                                                                      **options))
    assert_close(ours(tg.tensor(randn(1, 2, 4, 4))), theirs(torch.tensor(randn(1, 2, 4, 4))))


# ----------------------------------------------------------------------------------------------
# Mixed dtypes: the layers refuse them like torch; the functional conv keeps gradient dtypes
# ----------------------------------------------------------------------------------------------

DTYPE_LAYERS = [  # name, make(lib), input shape
    ("Linear", lambda lib: lib.Linear(3, 2), (4, 3)),
    ("Conv2d", lambda lib: lib.Conv2d(3, 2, 3), (1, 3, 5, 5)),
    ("ConvTranspose2d", lambda lib: lib.ConvTranspose2d(3, 2, 3), (1, 3, 5, 5)),
    ("BatchNorm1d", lambda lib: lib.BatchNorm1d(3), (4, 3)),
    ("BatchNorm2d", lambda lib: lib.BatchNorm2d(3, affine=False), (4, 3, 2, 2)),
    ("BatchNorm1d", lambda lib: lib.BatchNorm1d(3).eval(), (4, 3)),
    ("LayerNorm", lambda lib: lib.LayerNorm(3), (4, 3)),
    ("LayerNorm", lambda lib: lib.LayerNorm(3, bias=False), (4, 3)),
]


@pytest.mark.parametrize("name, make, shape", DTYPE_LAYERS)
def test_layers_refuse_an_input_of_another_dtype_like_torch(name, make, shape):
    with pytest.raises(RuntimeError):  # the oracle: torch refuses each of these
        make(torch.nn)(torch.zeros(shape, dtype=torch.float64))
    layer = make(nn)
    with pytest.raises(TypeError, match=re.escape(
            "input has dtype float64 but the parameters are float32; convert one of them "
            "(x.to(float32) or module.to(float64))")) as error:
        layer(tg.zeros(*shape, dtype=tg.float64))
    assert str(error.value).startswith(name)
    with pytest.raises(TypeError, match="input has dtype float32 but the parameters are float64"):
        layer.double()(tg.zeros(*shape))
    assert all(p.grad is None for p in layer.parameters())
    assert layer(tg.zeros(*shape, dtype=tg.float64)).dtype == np.float64  # same dtype: fine


def test_linear_refuses_an_integer_input_and_stateless_norms_take_any_float():
    with pytest.raises(TypeError, match=re.escape(
            "Linear(in_features=3, out_features=2): input has dtype int64 but the parameters "
            "are float32; convert the input (x.to(float32))")):
        nn.Linear(3, 2)(tg.ones(4, 3, dtype=tg.int64))
    x = tg.randn(4, 3, 2, dtype=tg.float64)  # nothing to mix with: float64 in and out, as torch
    assert nn.BatchNorm1d(3, affine=False, track_running_stats=False)(x).dtype == np.float64
    assert nn.LayerNorm(2, elementwise_affine=False)(x).dtype == np.float64


@pytest.mark.parametrize("kernel", ["reference", "numba"])
@pytest.mark.parametrize("x_dtype, w_dtype", [(np.float64, np.float32),
                                              (np.float32, np.float64)])
@pytest.mark.parametrize("transposed", [False, True])
def test_functional_conv_gradients_keep_each_inputs_dtype(kernel, x_dtype, w_dtype, transposed):
    x64, w64, b64 = randn(2, 4, 5, 5), randn(4, 3, 3, 3, seed=1), randn(3, seed=2)
    if not transposed:
        w64 = w64.transpose(1, 0, 2, 3).copy()  # (OC=3, C=4, 3, 3)
    op = NF.conv_transpose2d if transposed else NF.conv2d
    theirs = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    x = tg.tensor(x64.astype(x_dtype), requires_grad=True)
    w = tg.tensor(w64.astype(w_dtype), requires_grad=True)
    b = tg.tensor(b64.astype(w_dtype), requires_grad=True)
    with tg.use_kernel(kernel):
        y = op(x, w, b, padding=1)
        y.sum().backward()
    assert y.dtype == np.float64
    assert (x.grad.dtype, w.grad.dtype, b.grad.dtype) == (x_dtype, w_dtype, w_dtype)
    tx, tw, tb = (torch.tensor(to_numpy(a).astype(np.float64), requires_grad=True)
                  for a in (x, w, b))
    theirs(tx, tw, tb, padding=1).sum().backward()
    for ours, expected in ((y, theirs(tx, tw, tb, padding=1)), (x.grad, tx.grad),
                           (w.grad, tw.grad), (b.grad, tb.grad)):
        assert_close(ours, expected, np.float32)


# ----------------------------------------------------------------------------------------------
# Functional forms check bias / weight / running statistics shapes and name themselves
# ----------------------------------------------------------------------------------------------


def _bad_state_calls():
    x4, x3 = tg.randn(1, 2, 5, 5), tg.randn(4, 3, 2)
    w_conv, w_convt = tg.randn(4, 2, 3, 3), tg.randn(2, 4, 3, 3)
    c3 = tg.ones(3)
    return {
        "conv2d bias (3,)": (lambda: NF.conv2d(x4, w_conv, tg.zeros(3)),
                             "conv2d: bias must have shape (out_channels,) = (4,) for weight "
                             "(4, 2, 3, 3), got (3,)"),
        "conv2d bias (4, 1)": (lambda: NF.conv2d(x4, w_conv, tg.zeros(4, 1)), "got (4, 1)"),
        "conv_transpose2d bias (1,)": (
            lambda: NF.conv_transpose2d(x4, w_convt, tg.zeros(1)),
            "conv_transpose2d: bias must have shape (out_channels,) = (4,) for weight "
            "(2, 4, 3, 3), got (1,)"),
        "linear bias (3,)": (lambda: NF.linear(tg.randn(2, 5), tg.randn(4, 5), tg.zeros(3)),
                             "linear: bias must have shape (out_features,) = (4,)"),
        "linear bias (4, 1)": (lambda: NF.linear(tg.randn(2, 5), tg.randn(4, 5), tg.zeros(4, 1)),
                               "got (4, 1) (weight: (4, 5))"),
        "batch_norm running_mean": (lambda: NF.batch_norm(x3, tg.zeros(4), c3),
                                    "batch_norm: running_mean must have shape (C,) = (3,) for "
                                    "input of shape (4, 3, 2), got (4,)"),
        "batch_norm running_var": (lambda: NF.batch_norm(x3, tg.zeros(3), tg.ones(3, 1),
                                                         training=True),
                                   "batch_norm: running_var must have shape (C,) = (3,)"),
        "batch_norm weight": (lambda: NF.batch_norm(x3, None, None, tg.ones(4), training=True),
                              "batch_norm: weight must have shape (C,) = (3,)"),
        "batch_norm bias": (lambda: NF.batch_norm(x3, tg.zeros(3), c3, c3, tg.zeros(1)),
                            "batch_norm: bias must have shape (C,) = (3,) for input of shape "
                            "(4, 3, 2), got (1,)"),
        "layer_norm weight": (lambda: NF.layer_norm(x3, (2,), tg.ones(3)),
                              "layer_norm: weight must have shape normalized_shape = (2,), got "
                              "(3,)"),
        "layer_norm bias": (lambda: NF.layer_norm(x3, (3, 2), tg.ones(3, 2), tg.zeros(2)),
                            "layer_norm: bias must have shape normalized_shape = (3, 2), got "
                            "(2,)"),
    }


@pytest.mark.parametrize("case", list(_bad_state_calls()))
def test_functional_ops_check_parameter_shapes(case):
    call, message = _bad_state_calls()[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_functional_shapes_torch_also_accepts_still_work():
    x = randn(2, 5)
    w, b = randn(4, 5, seed=1), randn(1, seed=2)  # a bias that broadcasts, as torch allows
    expected = torch.nn.functional.linear(*(torch.tensor(a) for a in (x, w, b)))
    assert_close(NF.linear(tg.tensor(x), tg.tensor(w), tg.tensor(b)), expected)
    x3, weight = randn(4, 3, 2), randn(1, 3, seed=3)  # torch takes C elements in any shape
    for training in (True, False):
        theirs = torch.nn.functional.batch_norm(
            torch.tensor(x3), torch.zeros(3, dtype=torch.float64),
            torch.ones(3, dtype=torch.float64), torch.tensor(weight), training=training)
        ours = NF.batch_norm(tg.tensor(x3), tg.zeros(3, dtype=tg.float64),
                             tg.ones(3, dtype=tg.float64), tg.tensor(weight), training=training)
        assert_close(ours, theirs)
