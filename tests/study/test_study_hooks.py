"""Study tools install hooks in Config.hooks; leaving them, in any order, removes only their own."""

import itertools

import pytest

import tinygrad_edu as tg
from tinygrad_edu.autograd import Config, add_hook
from tinygrad_edu.study import BackwardTracer, OpProfiler


@pytest.fixture(autouse=True)
def _clean_hooks():
    """A failing test here must not leave hooks behind for the tests that follow."""
    before = Config.hooks
    yield
    Config.hooks = before


def _tools():
    return {"profiler": OpProfiler(), "tracer": BackwardTracer(file=None),
            "profiler2": OpProfiler()}


@pytest.mark.parametrize("exit_order", list(itertools.permutations(range(3))))
def test_tools_left_in_any_order_restore_the_hooks(exit_order):
    assert Config.hooks == ()
    tools = list(_tools().values())
    for tool in tools:
        tool.__enter__()
    assert Config.hooks == tuple(tools)
    still_on = list(tools)
    for k in exit_order:
        tools[k].__exit__(None, None, None)
        still_on.remove(tools[k])
        assert Config.hooks == tuple(still_on)  # only the one that ended is gone
    assert Config.hooks == ()


def test_the_other_tool_keeps_observing_after_one_ends_first():
    a, b = OpProfiler(), OpProfiler()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    tg.randn(3, requires_grad=True).exp()
    b.__exit__(None, None, None)
    tg.randn(3, requires_grad=True).tanh()  # nobody observes this one
    assert a.forward_counts() == {}
    assert b.forward_counts() == {"Exp": 1}
    assert Config.hooks == ()


def test_the_same_hook_added_twice_is_removed_once_per_block():
    hook = object()
    outer, inner = add_hook(hook), add_hook(hook)
    with outer:
        with inner:
            assert Config.hooks == (hook, hook)
        assert Config.hooks == (hook,)
    assert Config.hooks == ()


def test_hooks_are_removed_after_an_exception():
    with pytest.raises(KeyError):
        with OpProfiler(), BackwardTracer(file=None):
            raise KeyError("boom")
    assert Config.hooks == ()
