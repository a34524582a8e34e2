"""Comparison logic on hand-made runs: Pareto front, diff-only columns, seeds, data efficiency, Tables IV/V
with missing cells and the configs that fill them, LaTeX export."""

import numpy as np

from asc_core.app import compare
from asc_core.config import parse_config


def _run(i, subset, width, acc, seed=0, pruning=None, teachers=(), init_from=None, macs=None):
    cfg = parse_config(
        {
            "preset": "quick",
            "subset": subset,
            "seed": seed,
            "teachers": [{"model": {"name": t, "width": 32}} for t in teachers],
            "student": {"name": "rep_mobile", "width": width, "init_from": init_from},
            "optim": {"epochs": 0 if init_from else 12},
            "pruning": pruning or {"mode": "none"},
        }
    ).model_dump(mode="json")
    return {
        "run_id": f"r{i}",
        "name": f"run {i}",
        "group_name": "g",
        "status": "done",
        "created_at": 1000.0 + i,
        "config": cfg,
        "summary": {
            "macro_accuracy": acc,
            "seen": acc + 3,
            "unseen": acc - 6,
            "per_device": {"a": acc + 5, "s4": acc - 8},
            "complexity": {
                "params": width * 2000,
                "macs": macs or width * 900_000,
                "bytes": {"fp16": width * 4000},
                "meets_dcase": width <= 32,
            },
            "seconds": 10.0,
        },
    }


RUNS = [
    _run(1, 25, 32, 60.0),
    _run(2, 25, 32, 62.0, seed=1),
    _run(3, 5, 32, 40.0),
    _run(4, 25, 64, 63.0),
    _run(5, 25, 64, 63.5, pruning={"mode": "single", "chain": [32]}, init_from="r4", macs=28_000_000),
    _run(6, 25, 32, 64.0, teachers=("cp_resnet",)),
]


def test_runs_frame_labels_and_diff_only():
    df = compare.runs_frame(RUNS)
    assert list(df["strategy"]) == ["width 32"] * 3 + ["width 64", "single 64→32", "width 32"]
    assert df.loc[5, "teachers"] == "cp_resnet" and df.loc[5, "ensemble"] == "cp_resnet → rep_mobile 32"
    diff = compare.differing_columns(df)
    assert "cfg.subset" in diff and "cfg.seed" in diff and "cfg.optim.batch_size" not in diff
    only = compare.filter_runs(df, {"cfg.subset": [5]})
    assert list(only["run_id"]) == ["r3"]


def test_pareto_front():
    mask = compare.pareto_mask([10, 20, 20, 30, 5], [50, 60, 55, 58, 40])
    assert mask.tolist() == [True, True, False, False, True]


def test_seeds_and_data_efficiency():
    df = compare.runs_frame(RUNS)
    stats = compare.seed_stats(df)
    two = stats[stats["runs"] == 2].iloc[0]
    assert two["mean"] == 61.0 and np.isclose(two["std"], np.std([60, 62], ddof=1))
    curves = compare.data_efficiency(df)
    w32 = curves[curves["configuration"] == "width 32 · teachers: none"].set_index("subset")
    assert w32.loc[5, "mean"] == 40.0 and w32.loc[25, "mean"] == 61.0 and w32.loc[25, "runs"] == 2


def test_tables_missing_cells_fill_and_latex():
    df = compare.runs_frame(RUNS)
    means, cells = compare.table_v(df)
    assert cells.loc["width 32 · teachers: none", "25 %"] == "61.0 ± 1.4 (n=2)"
    assert cells.loc["width 32 · teachers: cp_resnet", "25 %"] == "64.0"
    assert cells.loc["width 64 · teachers: none", "5 %"] == "missing"
    fill = compare.fill_configs(df, RUNS, "strategy_row", cells)
    single = [c for c in fill if c["pruning"]["mode"] == "single"]
    assert sorted(c["subset"] for c in single) == [5, 10, 50, 100]
    assert all(c["student"]["init_from"] is None and c["optim"]["epochs"] == 12 for c in single)  # trains its own
    for c in fill:
        parse_config(c)  # every fill config is valid
    _, cells_iv = compare.table_iv(df)
    assert set(cells_iv.index) == {"none → rep_mobile 32", "none → rep_mobile 64", "cp_resnet → rep_mobile 32"}
    tex = compare.to_latex(means, caption="Table V")
    assert r"25 \%" in tex and r"single 64$\to$32 $\cdot$ teachers: none" in tex and r"\toprule" in tex


def test_confusion_matrix_rows_are_percent():
    import pandas as pd

    pred = pd.DataFrame({"y_true": [0, 0, 1, 1], "y_pred": [0, 1, 1, 1], "device": ["a", "b", "a", "s4"]})
    m = compare.confusion_matrix(pred)
    assert m[0, 0] == 50 and m[0, 1] == 50 and m[1, 1] == 100 and m[2].sum() == 0
    assert compare.confusion_matrix(pred, "a")[0, 0] == 100


def test_table_cells_pool_seeds_only_not_other_fields():
    runs = [_run(100, 25, 32, 10.0, seed=0), _run(101, 25, 32, 10.0, seed=1)]
    for r, lam in zip(runs, (0.1, 0.9)):  # two λ values, as a grid over kd.lam makes them
        r["config"]["kd"]["lam"] = lam
    seeds = [_run(102, 25, 32, 60.0, seed=0), _run(103, 25, 32, 62.0, seed=1)]  # differ by seed only
    _, cells = compare.table_v(compare.runs_frame(runs))
    assert "10.0 ± 0.0 (n=2)" not in cells.to_string()  # never pooled as if seeds
    assert {"width 32 · teachers: none · kd.lam=0.1", "width 32 · teachers: none · kd.lam=0.9"} <= set(cells.index)
    _, cells = compare.table_v(compare.runs_frame(seeds))
    assert cells.loc["width 32 · teachers: none", "25 %"] == "61.0 ± 1.4 (n=2)"
