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
        shared_loop_rates(tiny_root, "no_such_network", 32, 1, steps=2)  # one loop: each costs a torch start
    assert "no_such_network" in str(e.value)  # the child's own error, from its stderr


def test_table_iis_branch_sets_are_measured_in_the_training_loop(tiny_root):
    """`bench train` runs Rep-Mobile-32's loop for each of Table II's branch sets and keeps each as a multiple of the
    default network's clips/s, and a row per set for the bench's table."""
    from asc_core.data import open_dataset
    from asc_core.devtools.bench_train import branch_loops
    from asc_core.tables import BRANCH_SETS

    ds = open_dataset(tiny_root)
    rows: list = []
    ratios = branch_loops(ds, 2, rows)
    assert set(ratios) == {",".join(b) for b in BRANCH_SETS.values()} and all(r > 0 for r in ratios.values())
    assert [r["network"] for r in rows] == [f"rep_mobile-32, branches {k.replace('x', '×')}" for k in ratios]


def test_the_shared_loops_train_the_network_variant_asked_for(tiny_root):
    """A branch set reaches the loops (as JSON data): one they cannot build fails with the network's own message."""
    from asc_core.devtools.bench_shared import shared_loop_rates

    with pytest.raises(RuntimeError, match="branches must be a non-empty subset"):
        shared_loop_rates(tiny_root, "rep_mobile", 16, 1, steps=2, kwargs={"branches": ["5x5"]})
