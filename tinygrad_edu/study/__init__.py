"""Tools for studying backprop: look inside the forward and backward passes of any model.

Every tool observes the engine through ``Config.hooks`` (``autograd.add_hook``) or through
``nn.Module`` forward hooks, so no op changes and nothing costs anything while no tool is active.

gradcheck_report   gradient-check every op of a model separately, in float64, as a table
eps_sweep          numeric-vs-analytic error as a function of eps (the U curve), heatmaps
trace_backward     print the backward pass step by step (rule, shapes, norms, broadcasts)
to_dot / draw      the forward graph (and the backward / create_graph graphs) as DOT or PNG
saved_tensor_ledger which arrays every op keeps alive for backward, and how many bytes
OpProfiler         forward/backward time and call counts per op, device and kernel
GradientHealth     per-layer gradient norms and update/weight ratios across training steps
check_my_backward  gradient-check a hand-written Function and explain the likely mistake

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.study import trace_backward
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> events = trace_backward((x * x).sum(), file=None)
>>> [e.op for e in events]
['Sum', 'Mul']
"""

from .backward_lab import BackwardDiagnosis, check_my_backward
from .eps_sweep import EpsSweepResult, eps_sweep, error_heatmap, plot_eps_sweep
from .gradcheck_report import GradcheckReport, OpCheck, gradcheck_report
from .graph import build_graph, draw, to_dot, to_text_tree
from .health import GradientHealth, compare_deep_nets
from .ledger import Ledger, saved_tensor_ledger
from .profiler import OpProfiler
from .trace import BackwardEvent, BackwardTracer, trace_backward

__all__ = [
    "BackwardDiagnosis",
    "BackwardEvent",
    "BackwardTracer",
    "EpsSweepResult",
    "GradcheckReport",
    "GradientHealth",
    "Ledger",
    "OpCheck",
    "OpProfiler",
    "build_graph",
    "check_my_backward",
    "compare_deep_nets",
    "draw",
    "eps_sweep",
    "error_heatmap",
    "gradcheck_report",
    "plot_eps_sweep",
    "saved_tensor_ledger",
    "to_dot",
    "to_text_tree",
    "trace_backward",
]
