"""tg.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) against
torch.autograd.functional: values, result nesting, strict, create_graph and errors."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TAF

import tinygrad_edu as tg
from tinygrad_edu.autograd import functional as AF

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 2))
B = RNG.standard_normal(3)
V2 = RNG.standard_normal(2)
V3 = RNG.standard_normal(3)


def pair(lib, *arrays):
    return tuple(lib.tensor(a) for a in arrays)


def close(ours, theirs):
    """Same nesting (tuples of tuples) and the same numbers."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            close(a, b)
        return
    assert isinstance(ours, tg.Tensor) and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


# functions written once for both libraries (methods and operators only)
def f_vec(x):  # R^2 -> R^3
    return x.repeat(2)[:3].sin() * x.exp().sum()


def f_two(x, y):  # (R^2, R^3) -> (R^3, scalar)
    return y * x.sum().sin(), (x * x).sum() * y.exp().sum()


def f_scalar(x):  # R^2 -> R
    return (x[0] ** 3) * x[1].sin() + x.exp().sum()


def f_scalar_two(x, y):
    return (x * x).sum() * y.sum() + (y ** 3).sum()


def test_jacobian_one_input_one_output():
    ours = AF.jacobian(f_vec, tg.tensor(V2))
    theirs = TAF.jacobian(f_vec, torch.tensor(V2))
    close(ours, theirs)
    assert ours.shape == (3, 2)


def test_jacobian_tuples_nest_as_torch():
    close(AF.jacobian(f_two, pair(tg, V2, V3)), TAF.jacobian(f_two, pair(torch, V2, V3)))
    # one input given as a tuple: the inner level stays
    close(AF.jacobian(f_vec, (tg.tensor(V2),)), TAF.jacobian(f_vec, (torch.tensor(V2),)))
    close(AF.jacobian(lambda x: (x.sin(), x.cos()), tg.tensor(V3)),
          TAF.jacobian(lambda x: (x.sin(), x.cos()), torch.tensor(V3)))


def test_jacobian_of_a_matrix_function_has_out_shape_then_in_shape():
    ours = AF.jacobian(lambda m: m @ tg.tensor(V2), tg.tensor(A))
    theirs = TAF.jacobian(lambda m: m @ torch.tensor(V2), torch.tensor(A))
    close(ours, theirs)
    assert ours.shape == (3, 3, 2)


@pytest.mark.parametrize("inputs", [(V2,), (V2, V3)])
def test_hessian_like_torch(inputs):
    fn = f_scalar if len(inputs) == 1 else f_scalar_two
    ours_in = pair(tg, *inputs) if len(inputs) > 1 else tg.tensor(inputs[0])
    theirs_in = pair(torch, *inputs) if len(inputs) > 1 else torch.tensor(inputs[0])
    close(AF.hessian(fn, ours_in), TAF.hessian(fn, theirs_in))


def test_vjp_and_jvp_like_torch():
    close(AF.vjp(f_vec, tg.tensor(V2), tg.tensor(V3)),
          TAF.vjp(f_vec, torch.tensor(V2), torch.tensor(V3)))
    v_out = (tg.tensor(V3), tg.tensor(1.5))
    close(AF.vjp(f_two, pair(tg, V2, V3), v_out),
          TAF.vjp(f_two, pair(torch, V2, V3), (torch.tensor(V3), torch.tensor(1.5))))
    close(AF.jvp(f_vec, tg.tensor(V2), tg.tensor(V2[::-1].copy())),
          TAF.jvp(f_vec, torch.tensor(V2), torch.tensor(V2[::-1].copy())))
    close(AF.jvp(f_two, pair(tg, V2, V3), pair(tg, V2, V3)),
          TAF.jvp(f_two, pair(torch, V2, V3), pair(torch, V2, V3)))
    # a scalar function's vjp with v omitted (1), as torch
    close(AF.vjp(f_scalar, tg.tensor(V2)), TAF.vjp(f_scalar, torch.tensor(V2)))


def test_vhp_and_hvp_like_torch():
    for ours, theirs in ((AF.vhp, TAF.vhp), (AF.hvp, TAF.hvp)):
        close(ours(f_scalar, tg.tensor(V2), tg.tensor(V2 + 1)),
              theirs(f_scalar, torch.tensor(V2), torch.tensor(V2 + 1)))
        close(ours(f_scalar_two, pair(tg, V2, V3), pair(tg, V2, V3)),
              theirs(f_scalar_two, pair(torch, V2, V3), pair(torch, V2, V3)))


def test_independent_inputs_give_zeros_or_strict_errors():
    def fn(x, y):
        return x * 2

    close(AF.jacobian(fn, pair(tg, V2, V3)), TAF.jacobian(fn, pair(torch, V2, V3)))
    with pytest.raises(RuntimeError, match="jacobian: the output of func is independent of "
                       "input 1"):
        AF.jacobian(fn, pair(tg, V2, V3), strict=True)
    with pytest.raises(RuntimeError):
        TAF.jacobian(fn, pair(torch, V2, V3), strict=True)
    close(AF.hessian(lambda x: x.sum(), tg.tensor(V2)),
          TAF.hessian(lambda x: x.sum(), torch.tensor(V2)))  # linear: zeros


def test_results_carry_no_graph_unless_create_graph():
    x = tg.tensor(V2, requires_grad=True)
    jac = AF.jacobian(f_scalar, x)
    assert not jac.requires_grad and x.grad is None
    jac = AF.jacobian(f_scalar, x, create_graph=True)  # d/dx of the gradient: the Hessian
    (h_row,) = tg.autograd.grad(jac[0], x)
    xt = torch.tensor(V2, requires_grad=True)
    (t_row,) = torch.autograd.grad(TAF.jacobian(f_scalar, xt, create_graph=True)[0], xt)
    close(h_row, t_row)


def test_works_inside_no_grad_as_torch():
    with tg.no_grad():
        ours = AF.jacobian(f_vec, tg.tensor(V2))
    with torch.no_grad():
        theirs = TAF.jacobian(f_vec, torch.tensor(V2))
    close(ours, theirs)


def test_errors():
    with pytest.raises(TypeError, match=r"jacobian: expected inputs\[1\] to be a Tensor, got "
                       r"list"):
        AF.jacobian(f_two, (tg.tensor(V2), [1.0]))
    with pytest.raises(TypeError, match="vjp: expected the output of func to be a Tensor, got "
                       "float"):
        AF.vjp(lambda x: 3.0, tg.tensor(V2))
    with pytest.raises(RuntimeError, match="vjp: v can be omitted only when every output has "
                       "a single element"):
        AF.vjp(f_vec, tg.tensor(V2))
    with pytest.raises(RuntimeError, match=r"jvp: v\[0\] has shape \(3,\) but input 0 has "
                       r"shape \(2,\)"):
        AF.jvp(f_vec, tg.tensor(V2), tg.tensor(V3))
    with pytest.raises(RuntimeError, match="hessian: func must return a single Tensor with a "
                       "single element"):
        AF.hessian(f_vec, tg.tensor(V2))
    with pytest.raises(NotImplementedError, match="only strategy='reverse-mode'"):
        AF.jacobian(f_vec, tg.tensor(V2), strategy="forward-mode")
    with pytest.raises(AttributeError, match="has no attribute 'functionals'"):
        tg.autograd.functionals  # noqa: B018
