"""Does a student follow its teachers? Table IV, seed by seed: each KD run's gain over its own seed's *no KD* run
against its best teacher's lead over that run.

Each KD run of Table IV starts from the weights and batches of its seed's *no KD* run (``tables.PAIRED_ROWS``), and
the CSVs keep its teachers' own test accuracy (``teacher_accuracy``). So for every seed and KD row there is one pair:

- *gain*: the student's macro accuracy minus its seed's *no KD* student's (points);
- *lead*: its best teacher's accuracy minus that same *no KD* student's (points): how far ahead of what the student
  reaches alone the best thing it learns from is (negative where the student alone beats all its teachers).

Where distillation passes on what the teachers know, the gain follows the lead. But both subtract the same *no KD*
run: a seed whose student alone was lucky has every gain and every lead low, whatever the teachers pass on, so
gain and lead correlate even where the student ignores its teachers (on generator 2 at 5 %, one seed's student
alone reached 47.6 % where the others reached 36–39). Pearson's p assumes independent pairs and cannot see that.
``lead_fit`` therefore tests r against the teachers shuffled among a subset's pairs (each student and its *no KD*
run kept): ``r_shuffled`` is what the shared run gives on its own, ``p`` the share of shuffles reaching the r
measured. The paper's own KD loss (τ 0.1, ``tables.CNN_PAPER_KD_ROW``) is left out: its cost is the loss's (it is the
lowest KD row at every subset), and the question is what the teachers pass on through the loss the other rows share
(CP-JKU's, at λ 0.3 or 0.02).

The same reading of a run store (``app.compare.teacher_lead_pairs``: the Compare page's Table IV tab, ``runs lead``)
pairs each finished run with teachers with the finished run of the same config without them."""

from __future__ import annotations

import json

import pandas as pd

from asc_core.tables import CNN_PAPER_KD_ROW

NO_KD = "no KD"
LEFT_OUT = (CNN_PAPER_KD_ROW,)
PAIR_COLUMNS = ["subset", "seed", "row", "gain", "lead", "student", "alone", "best_teacher", "teacher_accuracy"]


def _teachers(cell) -> list[tuple[str, float]]:
    """[(teacher, accuracy %)] from a CSV's teacher_accuracy ({name: accuracy}); [] for none, a row recorded before
    the column, or junk."""
    try:
        accs = json.loads(cell) if isinstance(cell, str) and cell else {}
    except ValueError:
        return []
    return [(str(k), float(v)) for k, v in accs.items()] if isinstance(accs, dict) else []


def pairs_of(items: list[dict]) -> pd.DataFrame:
    """``PAIR_COLUMNS`` from runs given as {key, subset, seed, row, acc, teachers: [(name, accuracy)], base}: each
    run with teachers against the run of its key that trained without (``base``; the last given where several did)."""
    alone = {i["key"]: i["acc"] for i in items if i["base"] and not pd.isna(i["acc"])}
    out = []
    for i in items:
        base = alone.get(i["key"])
        if i["base"] or not i["teachers"] or base is None or pd.isna(i["acc"]):
            continue
        best, acc = max(i["teachers"], key=lambda t: t[1])
        out.append([i["subset"], i["seed"], i["row"], i["acc"] - base, acc - base, i["acc"], base, best, acc])
    return pd.DataFrame(out, columns=PAIR_COLUMNS).sort_values(["subset", "seed", "row"], ignore_index=True)


def lead_pairs(results: pd.DataFrame) -> pd.DataFrame:
    """One row per Table IV KD run with a *no KD* run of its subset and seed and its teachers' accuracy recorded:
    ``PAIR_COLUMNS`` (gain and lead in points; student and alone: the two students' accuracy; best_teacher its
    name and teacher_accuracy its accuracy). ``results``: ``table_record.results_frame()``."""
    if results.empty or "table" not in results:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    d = results[(results["table"] == "IV") & ~results["row"].isin(LEFT_OUT)]
    items = [{"key": (int(r.subset), int(r.seed)), "subset": int(r.subset), "seed": int(r.seed), "row": r.row,
              "acc": pd.to_numeric(r.macro_accuracy, errors="coerce"), "base": r.row == NO_KD,
              "teachers": _teachers(getattr(r, "teacher_accuracy", ""))} for r in d.itertuples()]  # fmt: skip
    return pairs_of(items)


SHUFFLES = 2000  # teacher shuffles per subset: p to about ±0.01 at 0.05; seeded, so a page shows the same p


def _r(lead, gain):
    """Pearson's r of each row of ``lead`` (shuffles × pairs) with ``gain``."""
    import numpy as np

    lc, gc = lead - lead.mean(axis=-1, keepdims=True), gain - gain.mean()
    return (lc @ gc) / np.sqrt((lc**2).sum(axis=-1) * (gc**2).sum())


def lead_fit(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per subset and over all ("all", shuffled within each subset): n pairs, Pearson's r of gain on lead, the
    least-squares slope (points of gain per point of lead), ``r_shuffled`` (the mean r with the teachers' accuracy
    shuffled among the pairs, each student and its *no KD* run kept: what their shared run gives alone) and ``p``
    (one-sided: the share of ``SHUFFLES`` shuffles with an r at least the one measured). NaN below three pairs or
    where lead or gain does not vary."""
    import numpy as np

    groups = [(s, pairs[pairs["subset"] == s]) for s in sorted(set(pairs["subset"]))] + [("all", pairs)]
    rng = np.random.default_rng(0)
    out = []
    for subset, g in groups:
        if g.empty:
            continue
        r = p = slope = null = float("nan")
        if len(g) >= 3 and g["lead"].nunique() > 1 and g["gain"].nunique() > 1:
            gain, lead = g["gain"].to_numpy(float), g["lead"].to_numpy(float)
            teacher, alone = g["teacher_accuracy"].to_numpy(float), g["alone"].to_numpy(float)
            r = float(_r(lead[None], gain)[0])
            slope = float(np.polyfit(lead, gain, 1)[0])
            shuffled = np.tile(teacher, (SHUFFLES, 1))
            for s in set(g["subset"]):  # within a subset only: teachers of 5 % are not those of 100 %
                cols = np.flatnonzero(g["subset"].to_numpy() == s)
                shuffled[:, cols] = rng.permuted(shuffled[:, cols], axis=1)
            rs = _r(shuffled - alone, gain)
            null, p = float(rs.mean()), float((np.sum(rs >= r - 1e-12) + 1) / (SHUFFLES + 1))
        out.append({"subset": subset, "n": len(g), "r": r, "slope": slope, "r_shuffled": null, "p": p})
    return pd.DataFrame(out, columns=["subset", "n", "r", "slope", "r_shuffled", "p"])


def lead_words(fit: pd.DataFrame, store: bool = False) -> str:
    """``lead_fit``'s figures in one paragraph (RESULTS.md, the Learn and Compare pages, the commands), or "" where
    there are no pairs yet: Table IV's, or a run store's (``store``: ``app.compare.teacher_lead_pairs``)."""
    from asc_core.paper_results import p_words

    if fit.empty:
        return ""

    def one(f) -> str:
        where = "over all subsets" if f.subset == "all" else f"at {f.subset} %"
        if pd.isna(f.r):
            return f"{where}, {f.n} pair{'s' if f.n > 1 else ''} (too few for r)"
        return (
            f"{where}, r {f.r:.2f} against {f.r_shuffled:.2f} with the teachers shuffled (p {p_words(f.p)}, "
            f"{f.n} pairs)"
        )

    said = "; ".join(one(f) for f in fit.itertuples())
    if store:
        return ("Does the student follow its teachers? Each run with teachers against the run of the same config "
                "without them: its gain against its best teacher's lead (points; Pearson's r, tested against the "
                "teachers shuffled among the pairs, since gain and lead share the run without teachers; `python -m "
                f"asc_core runs lead` lists the pairs): {said}.")  # fmt: skip
    return ("Does the student follow its teachers? Each KD run's gain over its own seed's *no KD* run against its best "
            "teacher's lead over that run (points; the paper's KD loss left out, its cost being the loss's; Pearson's "
            "r, tested against the teachers shuffled among the pairs, since gain and lead share the *no KD* run — a "
            "lucky one lowers both; `python -m asc_core tables lead` lists the pairs): "
            f"{said}.")  # fmt: skip


def lead_text(pairs: pd.DataFrame, fit: pd.DataFrame, words: str) -> str:
    """The pairs, the fit and ``words`` as the commands print them (`tables lead`, `runs lead`)."""
    shown = pairs.assign(**{c: pairs[c].astype(float).round(1) for c in ("gain", "lead", "student", "alone",
                                                                         "teacher_accuracy")})  # fmt: skip
    rounded = fit.round({"r": 2, "slope": 2, "r_shuffled": 2, "p": 3})
    return "\n\n".join([shown.to_string(index=False), rounded.to_string(index=False), words])
