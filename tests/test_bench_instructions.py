"""benchmarks/instructions.py: parsing valgrind's count, the client request outside valgrind, and
(with valgrind on PATH) a small count of tinygrad_edu's tiny op: in a sane range, the same on a
second count, and the same whether only the loop or the whole run is instrumented."""

import shutil

import pytest
from helpers import benchmark_script

CALLGRIND_STDERR = """\
==4264== Callgrind, a call-graph generating cache profiler
==4264== Copyright (C) 2002-2017, and GNU GPL'd, by Josef Weidendorfer et al.
==4264== Using Valgrind-3.19.0 and LibVEX; rerun with -h for copyright info
==4264== Command: python benchmarks/instructions.py --child tiny-fwd tinygrad_edu 3
==4264==
==4264== For interactive control, run 'callgrind_control -h'.
==4264==
==4264== Events    : Ir
==4264== Collected : 1143153952
==4264==
==4264== I   refs:      1,143,153,952
"""


@pytest.fixture(scope="module")
def instructions():
    with benchmark_script("instructions.py", "bench_instructions") as module:
        yield module


def test_parse_collected_reads_callgrinds_total(instructions):
    assert instructions.parse_collected(CALLGRIND_STDERR) == 1143153952


def test_parse_collected_names_the_output_it_could_not_read(instructions):
    garbage = "valgrind: failed to start tool 'callgrind'\nvex amd64->IR: unhandled instruction"
    with pytest.raises(ValueError, match="no 'Collected : <count>' line") as error:
        instructions.parse_collected(garbage)
    assert "unhandled instruction" in str(error.value)  # the tail of valgrind's output


def test_client_request_answers_zero_on_a_real_cpu(instructions):
    if not instructions.client_requests_work_here():
        pytest.skip("valgrind client requests are only wired up for x86-64 Linux")
    assert instructions.client_request(instructions.RUNNING_ON_VALGRIND) == 0


needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not on PATH")


def tiny_op_count(instructions, instrument_loop: bool) -> float:
    """tinygrad_edu's instructions per op of the chain's forward, from 1 and 3 chains."""
    return instructions.count_instructions("tiny-fwd", "tinygrad_edu", n1=1, n2=3,
                                           instrument_loop=instrument_loop).per_unit


@needs_valgrind
def test_tiny_op_count_is_sane_and_repeats(instructions):
    fast = instructions.client_requests_work_here()
    first = tiny_op_count(instructions, fast)
    assert 5_000 < first < 200_000, f"{first:,.0f} instructions per op"
    assert tiny_op_count(instructions, fast) == pytest.approx(first, rel=0.01)


@needs_valgrind
@pytest.mark.slow
def test_instrumenting_the_loop_only_counts_what_the_whole_run_counts(instructions):
    if not instructions.client_requests_work_here():
        pytest.skip("valgrind client requests are only wired up for x86-64 Linux")
    loop_only = tiny_op_count(instructions, True)
    # 3%: the two modes run different command lines, hence a different memory layout, which
    # moves the tiny op's count by up to 1.8% (benchmarks/instructions.py's docstring); within
    # one mode the count repeats (the test above)
    assert tiny_op_count(instructions, False) == pytest.approx(loop_only, rel=0.03)
