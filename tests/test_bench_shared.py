"""`bench train`'s shared-CPU figure: real training loops in real processes, started together."""

import pytest


def test_two_training_loops_at_once_each_report_their_speed(tiny_root):
    """Two processes, each with its worker's share of the threads, past their warm-up before either clock starts."""
    from asc_core.devtools.bench_shared import shared_loop_rates

    rates = shared_loop_rates(tiny_root, "rep_mobile", 16, 2, steps=2)
    assert len(rates) == 2 and all(r > 0 for r in rates)


def test_a_loop_that_fails_says_why(tiny_root):
    from asc_core.devtools.bench_shared import shared_loop_rates

    with pytest.raises(RuntimeError, match="before ASC-READY") as e:
        shared_loop_rates(tiny_root, "no_such_network", 32, 2, steps=2)
    assert "no_such_network" in str(e.value)  # the child's own error, from its stderr
