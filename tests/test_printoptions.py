"""tg.set_printoptions against torch.set_printoptions: the same repr text for the same
options, over shapes that wrap, summarize and switch to scientific notation."""

import numpy as np
import pytest
import torch

import tinygrad_edu as tg

SHAPES = [(2, 14), (3, 40), (40,), (2, 3, 20), (5, 11), (100,), (30, 30)]
OPTIONS = [dict(), dict(precision=2), dict(sci_mode=False), dict(sci_mode=True),
           dict(profile="short"), dict(profile="full"), dict(threshold=20, edgeitems=2),
           dict(linewidth=120)]


@pytest.fixture(autouse=True)
def default_options():
    yield
    tg.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_repr_matches_torch_under_print_options(options):
    tg.set_printoptions(**options)
    torch.set_printoptions(**options)
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        for scale in (1, 100, 1e-3):
            x = (rng.standard_normal(shape) * scale).astype(np.float32)
            assert repr(tg.tensor(x)) == repr(torch.tensor(x)), (shape, scale)
    for values in ([1.23456, 1e-5, 3.0], [1.5, 2.25], [1.0, 2.0], list(range(10))):
        x = np.array(values, np.float32)
        assert repr(tg.tensor(x)) == repr(torch.tensor(x)), values


def test_sci_mode_resets_on_every_call_as_torch():
    tg.set_printoptions(sci_mode=False)
    tg.set_printoptions(precision=4)  # sci_mode back to None (automatic), as torch
    assert repr(tg.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="set_printoptions: profile must be one of"):
        tg.set_printoptions(profile="long")
    with pytest.raises(ValueError, match="set_printoptions: precision must be an int >= 0"):
        tg.set_printoptions(precision=-1)
    with pytest.raises(ValueError, match="set_printoptions: linewidth must be an int >= 1"):
        tg.set_printoptions(linewidth=0)
    with pytest.raises(ValueError, match="set_printoptions: threshold must be a number"):
        tg.set_printoptions(threshold="all")
    with pytest.raises(ValueError, match="set_printoptions: sci_mode must be None, True or"):
        tg.set_printoptions(sci_mode="yes")
