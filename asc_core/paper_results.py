"""The seed paper's own figures beside this product's, for the tables ``tables`` reproduces.

``assets/paper_tables.csv`` holds what Han et al., "Data-Efficient Low-Complexity Acoustic Scene Classification
via Distilling and Progressive Pruning" (the Rep-Mobile paper, ``../shared/seeds/004_*``) report in its Tables
II–V at the subsets the product runs (5, 25, 100 %; Table II at 100 % only), keyed by the product's row labels.
Their numbers are on TAU22's development split, ours on the embedded ``standard`` set (1/20 of its size, synthetic
scenes): read the two for their *direction* — which row is above which, how a row moves with the data — never as one
scale, which is why the figure gives each its own axis. The device fine-tuning table has no paper figures (the
DCASE2025 baseline reports no per-device table at 25 %).
"""

from __future__ import annotations

import csv
from functools import lru_cache

import pandas as pd

from asc_core.paths import ASSETS

PAPER_CSV = ASSETS / "paper_tables.csv"
OURS, PAPER = "this product (embedded set)", "paper (TAU22)"


@lru_cache(maxsize=1)
def _paper_rows() -> tuple[dict, ...]:
    with open(PAPER_CSV, newline="") as f:
        return tuple(csv.DictReader(f))


def paper_frame(table: str) -> pd.DataFrame:
    """The paper's accuracy (%) per row and subset for one table: columns row, subset, accuracy, source."""
    rows = [r for r in _paper_rows() if r["table"] == table]
    df = pd.DataFrame(rows, columns=["table", "row", "subset", "accuracy", "source"])
    return df.astype({"subset": int, "accuracy": float}).drop(columns="table")


def comparison(table: str, results: pd.DataFrame) -> pd.DataFrame:
    """Long form for the figure: row, subset, source (OURS or PAPER), mean, std, n — ours from ``results`` (the
    committed runs, ``table_record.results_frame()``), a row that shares another's config at a subset (``same_as``)
    shown with that row's runs, as its table cell is; rows in the plan's order."""
    from asc_core.tables import TABLE_SUBSETS, plan

    subsets = (25,) if table == "device" else TABLE_SUBSETS
    items = plan([table], subsets, 1, "standard")
    order = list(dict.fromkeys(i["row"] for i in items))
    shown = {(i["row"], i["subset"]): i.get("same_as") or i["row"] for i in items}
    mine = results[results["table"] == table].dropna(subset=["macro_acc"]) if not results.empty else results
    stats = mine.groupby(["row", "cfg.subset"])["macro_acc"].agg(["mean", "std", "count"]) if len(mine) else None
    out = []
    for (row, subset), src in shown.items():
        if stats is not None and (src, subset) in stats.index:
            m = stats.loc[(src, subset)]
            out.append({"row": row, "subset": subset, "source": OURS, "mean": m["mean"],
                        "std": m["std"] if m["count"] > 1 else 0.0, "n": int(m["count"])})  # fmt: skip
    for r in paper_frame(table).itertuples():
        out.append({"row": r.row, "subset": r.subset, "source": PAPER, "mean": r.accuracy, "std": 0.0, "n": 1})
    df = pd.DataFrame(out, columns=["row", "subset", "source", "mean", "std", "n"])
    rank = {r: k for k, r in enumerate(order + sorted(set(df["row"]) - set(order)))}
    return df.sort_values(["row", "subset"], key=lambda s: s.map(rank) if s.name == "row" else s, ignore_index=True)


def with_paper(cells: pd.DataFrame, table: str) -> pd.DataFrame:
    """``table_record.table_cells`` with the paper's figure after each subset's column ("5 % · paper"); a table the
    paper does not have (device fine-tuning) comes back as it was."""
    paper = paper_frame(table)
    if paper.empty:
        return cells
    out = pd.DataFrame(index=cells.index)
    for col in cells.columns:
        out[col] = cells[col]
        subset = int(col.split()[0])
        by_row = paper[paper["subset"] == subset].set_index("row")["accuracy"]
        if by_row.empty:  # the paper has no figure at this subset (Table II: 100 % only)
            continue
        out[f"{col} · paper"] = [f"{by_row[r]:.2f}" if r in by_row.index else "–" for r in cells.index]
    return out


def gains(long: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each row's accuracy minus the ``reference`` row's at the same subset and source (points): whether a row is
    above or below the table's reference (its first row: no KD, width 32, all branches, CP-ResNet) is what can agree
    or disagree between two datasets. ``spread`` is the two rows' seed std combined (√(s₁² + s₂²)); a gain
    inside it is not a finding. ``n`` is the row's runs, ``p`` the two-sided p-value of Welch's t-test of the row's
    runs against the reference's (``welch_p``; NaN for the paper's single figures). Rows other than the reference,
    where both it and the reference have a figure."""
    ref = long[long["row"] == reference].set_index(["source", "subset"])
    out = []
    for r in long[long["row"] != reference].itertuples():
        if (r.source, r.subset) in ref.index:
            b = ref.loc[(r.source, r.subset)]
            out.append({"row": r.row, "subset": r.subset, "source": r.source, "gain": r.mean - b["mean"],
                        "spread": (r.std**2 + b["std"] ** 2) ** 0.5, "n": r.n,
                        "p": welch_p(r.mean, r.std, r.n, b["mean"], b["std"], int(b["n"]))})  # fmt: skip
    return pd.DataFrame(out, columns=["row", "subset", "source", "gain", "spread", "n", "p"])


def welch_p(mean1: float, std1: float, n1: int, mean2: float, std2: float, n2: int) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) from two rows' seed mean, sample std and count; NaN
    where a row has fewer than two runs or neither varies. At two seeds a row, Welch's test has one to two degrees of
    freedom, so only a gain of several spreads reaches p < 0.05; a third seed lowers that bar about twofold: the p
    column is what the seeds can say, the verdict which way they point."""
    from scipy.stats import ttest_ind_from_stats

    if min(n1, n2) < 2 or (std1 == 0 and std2 == 0):
        return float("nan")
    return float(ttest_ind_from_stats(mean1, std1, n1, mean2, std2, n2, equal_var=False).pvalue)


def paired_p(after, before) -> float:
    """Two-sided p-value of the paired t-test of ``after`` against ``before``, seed by seed (the device table:
    each seed's device-specific models are fine-tuned from that seed's general model, so the seeds' level cancels);
    NaN below two pairs or where the differences do not vary."""
    from scipy.stats import ttest_rel

    diff = [a - b for a, b in zip(after, before)]
    if len(diff) < 2 or len(set(diff)) < 2:
        return float("nan")
    return float(ttest_rel(after, before).pvalue)


JUDGED = ("agrees", "disagrees", "inside the spread")  # the verdicts of cells with a paper figure and two seeds


def directions(table: str, results: pd.DataFrame) -> pd.DataFrame:
    """Row by row and subset, does this product's gain over the table's reference row go the paper's way? Columns
    row, subset, ours (gain, points), spread, paper (gain), verdict, size — the verdict one of:

    - ``agrees``: the same sign as the paper's, and larger than the spread (the two rows' seed std combined);
    - ``disagrees``: the opposite sign, and larger than the spread;
    - ``inside the spread``: a gain the seeds cannot tell from none, whichever its sign;
    - ``one seed``: no spread to judge by; ``no paper figure``: the paper did not run this cell.

    The verdict reads the sign only, so ``size`` says how large an agreeing gain is beside the paper's: ``as large``
    where the two differ by no more than the spread, else the ratio ("23.9× the paper's": PaSST-tiny 36 points
    under CP-ResNet where the paper has 1.51 "agrees"); empty for the other verdicts.

    The spread is the seeds' standard deviation, as the issue asks ("larger than the seed-to-seed spread"). It is a
    reading rule, not a test: an *agrees* or *disagrees* says which way the runs point. Whether the seeds can tell
    the gain from none is ``p`` (Welch's t-test, ``welch_p``) and ``n`` (the row's runs), carried beside it."""
    from asc_core.tables import reference_row

    g = gains(comparison(table, results), reference_row(table))
    ours = g[g["source"] == OURS].set_index(["row", "subset"])
    paper = g[g["source"] == PAPER].set_index(["row", "subset"])["gain"]
    out = []
    for (row, subset), r in ours.iterrows():
        p = paper.get((row, subset))
        if p is None:
            verdict = "no paper figure"
        elif r["n"] < 2:
            verdict = "one seed"
        elif round(abs(r["gain"]), 1) <= round(r["spread"], 1):  # as shown: "+1.2 ± 1.2" is not beyond it
            verdict = "inside the spread"
        else:
            verdict = "agrees" if (r["gain"] > 0) == (p > 0) else "disagrees"
        out.append(
            {
                "row": row,
                "subset": subset,
                "ours": r["gain"],
                "spread": r["spread"],
                "paper": p,
                "verdict": verdict,
                "size": _size(r["gain"], r["spread"], p) if verdict == "agrees" else "",
                "n": int(r["n"]),
                "p": r["p"],
            }
        )
    d = pd.DataFrame(out, columns=["row", "subset", "ours", "spread", "paper", "verdict", "size", "n", "p"])
    return d.assign(q=bh_q(d["p"].where(d["verdict"].isin(JUDGED))))


def bh_q(p: pd.Series) -> pd.Series:
    """Benjamini–Hochberg's adjusted p-values (q) over the non-NaN ``p`` at once, NaN elsewhere: a cell with q at
    0.05 or below holds with the false discovery rate over them all at 5 %."""
    import numpy as np
    from scipy.stats import false_discovery_control

    values = p.to_numpy(dtype=float)
    q, tested = np.full(len(values), np.nan), ~np.isnan(values)
    if tested.any():
        q[tested] = false_discovery_control(values[tested], method="bh")
    return pd.Series(q, index=p.index)


def p_words(p: float) -> str:
    """A p-value as the tables print it: '0.21', '0.051', '0.004', '< 0.001', '–' where there is none (three
    decimals below 0.1, so that 0.051 does not read as 0.05)."""
    if pd.isna(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _size(ours: float, spread: float, paper: float) -> str:
    """An agreeing gain beside the paper's: 'as large' within the spread, else how many times the paper's."""
    if round(abs(ours - paper), 1) <= round(spread, 1):
        return "as large"
    return f"{abs(ours) / abs(paper):.1f}× the paper's"


def directions_text(table: str, results: pd.DataFrame) -> str:
    """``directions`` as a pipe table: 'gain ± spread' (points over the reference row), the paper's, the verdict."""
    from asc_core.tables import reference_row

    d = directions(table, results)
    if d.empty:
        return ""
    lines = [f"Against the paper, row by row (points over *{reference_row(table)}*; ± the seeds' spread — beyond "
             "it, a direction worth reading; n: the row's runs; p: Welch's two-sided t-test of the row's runs "
             "against the reference row's, which at two seeds a row needs a gain of several spreads to pass 0.05; q: "
             "p adjusted for the table's judged cells at once, Benjamini–Hochberg — at 0.05 or below, the cell holds "
             "with the false discovery rate at 5 %):",
             "", "| row | subset | ours | n | p | q | paper | verdict | size, where it agrees |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in d.itertuples():
        paper = "–" if pd.isna(r.paper) else f"{r.paper:+.2f}"
        lines.append(f"| {r.row} | {r.subset} % | {r.ours:+.1f} ± {r.spread:.1f} | {r.n} | {p_words(r.p)} "
                     f"| {p_words(r.q)} | {paper} "
                     f"| {r.verdict} | {r.size or '–'} |")  # fmt: skip
    return "\n".join([*lines, "", verdict_counts(d)])


def verdict_counts(d: pd.DataFrame) -> str:
    """'6 agree, 3 disagree, 2 inside the spread (of 12 cells with a paper figure)'."""
    judged = d[d["verdict"].isin(JUDGED)]
    counts = judged["verdict"].value_counts()
    as_large = (judged["size"] == "as large").sum()  # the sign alone flatters: how many agree at the paper's size
    words = {"agrees": f"agree ({as_large} as large as the paper's, within the spread)", "disagrees": "disagree",
             "inside the spread": "inside the spread"}  # fmt: skip
    said = ", ".join(f"{counts[v]} {w}" for v, w in words.items() if v in counts)
    if not said:
        return ""
    return f"{said} (of {len(judged)} cells with a paper figure and at least two seeds; {significance_words(judged)})."


def fdr_held(p: pd.Series, q: float = 0.05) -> int:
    """How many of the p-values stay discoveries with the false discovery rate held at ``q`` over all of them
    (Benjamini–Hochberg: a table's cells are many tests at once, and at 0.05 one in twenty of the nulls passes)."""
    return int((bh_q(p) <= q).sum())


def significance_words(judged: pd.DataFrame) -> str:
    """'9 of them at p < 0.05, 8 with the false discovery rate held at 5 % (Benjamini–Hochberg)'."""
    significant, held = int((judged["p"] < 0.05).sum()), fdr_held(judged["p"])
    if not significant:
        return "0 of them at p < 0.05"
    return f"{significant} of them at p < 0.05, {held} with the false discovery rate held at 5 % (Benjamini–Hochberg)"


def across_tables_words(frames: dict[str, pd.DataFrame]) -> str:
    """The verdicts of several tables at once (``frames``: each table's ``directions``, in order): 'Across Tables
    II–V, 48 cells judged against the paper: ...', or ""."""
    judged = [d[d["verdict"].isin(JUDGED)] for d in frames.values() if not d.empty]
    judged = pd.concat(judged) if judged else pd.DataFrame()
    if judged.empty:
        return ""
    names = list(frames)
    return (f"Across Tables {names[0]}–{names[-1]}, {len(judged)} cells judged against the paper: "
            f"{significance_words(judged).replace(' of them', '')}, over all {len(judged)} at once.")  # fmt: skip
