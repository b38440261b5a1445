"""tinygrad_edu: a from-scratch NumPy/CuPy deep-learning engine built for understanding.

Read in this order: ``tensor.py`` (the Tensor), ``autograd.py`` (Function and the graph walk),
``functional/`` (every op's forward and backward side by side), ``backend.py`` (NumPy vs CuPy,
kernel choice), then ``nn/``, ``optim/``, ``data/``, ``models/`` and ``study/``.

>>> import tinygrad_edu as tg
>>> w = tg.tensor([2.0, -1.0], requires_grad=True)
>>> loss = ((w * 3).relu() ** 2).sum()     # only w[0] is active: 9 w0^2
>>> loss.backward()
>>> w.grad.tolist()
[36.0, 0.0]
"""

import numpy as np

from . import cuda, distributions, functional, linalg, nn, optim
from .autograd import (
    Config,
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
    use_kernel,
)
from .backend import Device, gpu_available, set_num_threads
from .functional import (
    abs,
    absolute,
    acos,
    acosh,
    addbmm,
    addcdiv,
    addcmul,
    addmm,
    addmv,
    addr,
    allclose,
    amax,
    amin,
    aminmax,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    argmax,
    argmin,
    argsort,
    argwhere,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    baddbmm,
    bincount,
    block_diag,
    bmm,
    broadcast_shapes,
    broadcast_tensors,
    broadcast_to,
    bucketize,
    cat,
    cdist,
    ceil,
    chunk,
    clamp,
    clone,
    column_stack,
    copysign,
    cos,
    cosh,
    count_nonzero,
    cross,
    cummax,
    cummin,
    cumprod,
    cumsum,
    cumulative_trapezoid,
    diag,
    diag_embed,
    diagflat,
    diagonal,
    diagonal_scatter,
    diff,
    digamma,
    divide,
    dot,
    dsplit,
    dstack,
    einsum,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    flatten,
    flip,
    fliplr,
    flipud,
    float_power,
    floor,
    floor_divide,
    fmod,
    frac,
    gather,
    greater,
    greater_equal,
    heaviside,
    histc,
    hsplit,
    hstack,
    hypot,
    index_add,
    index_copy,
    index_fill,
    inner,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    isreal,
    kron,
    kthvalue,
    lerp,
    less,
    less_equal,
    lgamma,
    log,
    log1p,
    log2,
    log10,
    log_softmax,
    logaddexp,
    logaddexp2,
    logcumsumexp,
    logit,
    logsumexp,
    masked_fill,
    masked_select,
    matmul,
    max,
    maximum,
    mean,
    median,
    meshgrid,
    min,
    minimum,
    mm,
    mode,
    moveaxis,
    movedim,
    msort,
    multiply,
    mv,
    nan_to_num,
    nanmean,
    nanquantile,
    nansum,
    narrow,
    negative,
    nonzero,
    not_equal,
    numel,
    outer,
    permute,
    polygamma,
    positive,
    prod,
    quantile,
    ravel,
    reciprocal,
    relu,
    remainder,
    repeat_interleave,
    reshape,
    roll,
    rot90,
    round,
    row_stack,
    scatter,
    scatter_add,
    scatter_reduce,
    searchsorted,
    select,
    select_scatter,
    sgn,
    sigmoid,
    sign,
    signbit,
    sin,
    sinc,
    sinh,
    slice_scatter,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    subtract,
    sum,
    swapaxes,
    swapdims,
    take,
    take_along_dim,
    tan,
    tanh,
    tensor_split,
    tile,
    topk,
    trace,
    transpose,
    trapezoid,
    tril,
    triu,
    true_divide,
    trunc,
    unique,
    unique_consecutive,
    unsqueeze,
    var,
    vdot,
    vsplit,
    vstack,
    where,
    xlogy,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .serialization import load, save  # safe, pickle-free state_dict files
from .tensor import (
    Generator,
    Tensor,
    arange,
    as_tensor,
    bernoulli,
    bool_,
    cartesian_prod,
    combinations,
    double,
    empty,
    empty_like,
    equal,
    eye,
    float16,
    float32,
    float64,
    fork_rng,
    from_numpy,
    full,
    full_like,
    generator,
    get_rng_state,
    half,
    int8,
    int16,
    int32,
    int64,
    linspace,
    logspace,
    long,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_printoptions,
    set_rng_state,
    tensor,
    tril_indices,
    triu_indices,
    uint8,
    vander,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

concat = cat


def device(name: str) -> Device:
    """``tg.device("cuda:0")``, like ``torch.device``."""
    from .backend import as_device

    return as_device(name)


def cuda_is_available() -> bool:
    """``tg.cuda.is_available()`` under its older name."""
    return gpu_available()


def is_tensor(obj) -> bool:
    """True for a tinygrad_edu Tensor (torch.is_tensor)."""
    return isinstance(obj, Tensor)


def set_default_dtype(dtype) -> None:
    """The dtype of tensors made from Python floats (``Config.default_dtype``): a floating
    dtype, as in torch (float16, float32 or float64)."""
    from .tensor import _as_dtype

    resolved = _as_dtype(dtype)
    if resolved is None or resolved.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {dtype!r}")
    Config.default_dtype = resolved.type


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless set_default_dtype)."""
    return np.dtype(Config.default_dtype)


# torch's short dtype names (torch.bool, torch.float, torch.int): they shadow the builtins in
# this namespace only, as in torch; defined last, after every use of the builtins above
bool = bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001
short = int16
