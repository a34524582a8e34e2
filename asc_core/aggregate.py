"""Runs aggregated into tables: a cell pools the seeds of one configuration, nothing else. Used by the Compare
page's Tables IV/V and by ``python -m asc_core tables`` (the same code for both)."""

from __future__ import annotations

import json

import pandas as pd

from asc_core.constants import SUBSETS

_NOT_FACTORS = {"name", "dataset", "accelerator", "devices", "num_workers"}


def config_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("cfg.") and c[4:] not in _NOT_FACTORS]


def paper_table(df: pd.DataFrame, row_col: str, where) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(means, cells): rows × subsets of mean macro accuracy; ``cells`` holds 'mean ± std (n)' or 'missing'."""
    done = df[(df["status"] == "done") & df["macro_acc"].notna()]
    done = done[where(done)] if not done.empty else done
    if not done.empty:
        done = done.assign(**{row_col: split_rows(done, row_col)})
    rows = sorted(done[row_col].unique()) if not done.empty else []
    means = pd.DataFrame(index=rows, columns=list(SUBSETS), dtype=float)
    cells = pd.DataFrame(index=rows, columns=list(SUBSETS), dtype=object)
    for r in rows:
        for s in SUBSETS:
            v = done[(done[row_col] == r) & (done["cfg.subset"] == s)]["macro_acc"]
            if v.empty:
                cells.loc[r, s] = "missing"
                continue
            means.loc[r, s] = v.mean()
            cells.loc[r, s] = f"{v.mean():.1f}" + (f" ± {v.std(ddof=1):.1f} (n={len(v)})" if len(v) > 1 else "")
    cells.columns = [f"{s} %" for s in SUBSETS]
    means.columns = cells.columns
    return means, cells


def _seedless(specs: str) -> str:
    """Teacher specs without their seeds (a run's teachers follow its seed: that is a seed, not a factor)."""
    try:
        return json.dumps([{k: v for k, v in t.items() if k != "seed"} for t in json.loads(specs)], sort_keys=True)
    except (TypeError, ValueError):
        return str(specs)


def split_rows(done: pd.DataFrame, row_col: str) -> pd.Series:
    """A cell pools seeds only: runs with the same row label and subset that differ in another config field
    (λ, τ, the learning rate, ...) get that field in their label, so they are never averaged as if seeds."""
    cols = [c for c in config_columns(done) if c[4:] not in ("seed", "subset")]
    if not cols:
        return done[row_col]
    norm = done[cols].astype(str).copy()
    if "cfg.teacher_specs" in norm:
        norm["cfg.teacher_specs"] = norm["cfg.teacher_specs"].map(_seedless)
    key = norm.agg(" | ".join, axis=1)
    labels = done[row_col].copy()
    for (_, _), g in done.groupby([row_col, "cfg.subset"]):
        if key[g.index].nunique() < 2:
            continue
        differ = [c for c in cols if norm.loc[g.index, c].nunique() > 1]
        for i in g.index:
            labels[i] = f"{done.at[i, row_col]} · " + ", ".join(f"{c[4:]}={norm.at[i, c]}" for c in differ)
    return labels
