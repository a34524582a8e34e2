"""Table IV seed by seed: a KD run's gain over its own seed's no-KD run against its best teacher's lead over it."""

import json

import pandas as pd
import pytest
from scipy.stats import pearsonr

from asc_core import table_record, teacher_lead
from asc_core.tables import CNN_PAPER_KD_ROW

CNN = "CNN teachers (CP-ResNet + CP-Mobile-64)"
PASST = "transformer teacher (PaSST tiny)"


def _frame(rows) -> pd.DataFrame:
    """Rows as the committed CSVs read (text): (row, subset, seed, accuracy, {teacher: accuracy})."""
    return pd.DataFrame(
        [
            {
                "table": "IV",
                "row": r,
                "subset": str(s),
                "seed": str(seed),
                "macro_accuracy": str(a),
                "teacher_accuracy": json.dumps(t) if t else "",
            }
            for r, s, seed, a, t in rows
        ]  # fmt: skip
    )


def test_each_kd_run_is_set_against_its_own_seeds_run_without_teachers():
    df = _frame([
        ("no KD", 5, 0, 40.0, None), ("no KD", 5, 1, 45.0, None), ("no KD", 5, 2, 38.0, None),
        (CNN, 5, 0, 44.0, {"cp_resnet": 46.0, "cp_mobile": 43.0}),  # led by 6, gained 4
        (CNN, 5, 1, 42.0, {"cp_resnet": 41.0, "cp_mobile": 40.0}),  # trailed by 4, lost 3
        (CNN, 5, 2, 39.0, {"cp_resnet": 41.0, "cp_mobile": 42.0}),  # led by 4, gained 1
        (PASST, 5, 0, 41.0, {"passt_tiny": 30.0}),
        (CNN, 5, 3, 50.0, {"cp_resnet": 50.0}),  # no *no KD* run of seed 3: no pair
        (PASST, 5, 1, 44.0, None),  # its teachers' accuracy not recorded (a row from before the column): no pair
        (CNN_PAPER_KD_ROW, 5, 0, 30.0, {"cp_resnet": 46.0}),  # the paper's loss: its cost is the loss's, left out
        ("no KD", 25, 0, 60.0, None), (CNN, 25, 0, 61.0, {"cp_resnet": 64.0}),
    ])  # fmt: skip
    pairs = teacher_lead.lead_pairs(df)
    assert list(zip(pairs["subset"], pairs["seed"], pairs["row"])) == [
        (5, 0, CNN), (5, 0, PASST), (5, 1, CNN), (5, 2, CNN), (25, 0, CNN)]  # fmt: skip
    five = pairs[pairs["subset"] == 5]
    assert list(five["gain"]) == pytest.approx([4.0, 1.0, -3.0, 1.0])
    assert list(five["lead"]) == pytest.approx([6.0, -10.0, -4.0, 4.0])
    assert list(five["best_teacher"]) == ["cp_resnet", "passt_tiny", "cp_resnet", "cp_mobile"]

    fit = teacher_lead.lead_fit(pairs).set_index("subset")
    r = pearsonr(five["lead"], five["gain"])[0]
    assert fit.loc[5, "n"] == 4 and fit.loc[5, "r"] == pytest.approx(r) and 0 < fit.loc[5, "p"] <= 1
    assert fit.loc[25, "n"] == 1 and pd.isna(fit.loc[25, "r"])  # one pair: no r
    assert fit.loc["all", "n"] == 5 and 100 not in fit.index  # a subset with no pair has no line
    words = teacher_lead.lead_words(teacher_lead.lead_fit(teacher_lead.lead_pairs(df)))
    assert words.startswith("Does the student follow its teachers?")
    assert f"at 5 %, r {r:.2f} against " in words and "at 25 %, 1 pair (too few for r)" in words
    assert teacher_lead.lead_fit(pairs).equals(teacher_lead.lead_fit(pairs))  # seeded: a page shows the same p


def _seeds(alone, student, teacher) -> pd.DataFrame:
    """One no-KD and one KD run per seed, as the CSVs keep them."""
    rows = [("no KD", 5, k, a, None) for k, a in enumerate(alone)]
    rows += [(CNN, 5, k, s, {"cp_resnet": t}) for k, (s, t) in enumerate(zip(student, teacher))]
    return _frame(rows)


def test_a_lucky_run_without_teachers_is_not_taken_for_students_following_their_teachers():
    """Gain and lead both subtract the seed's no-KD run: where it varies more than the rest, they correlate even for
    students that ignore their teachers. Pearson's p calls that a finding; the shuffled teachers do not."""
    import numpy as np

    rng = np.random.default_rng(1)
    alone = 40 + 4 * rng.standard_normal(30)  # the no-KD runs: a wide seed spread, as at 5 %
    pairs = teacher_lead.lead_pairs(_seeds(alone, 41 + 1.5 * rng.standard_normal(30), 43 + 2 * rng.standard_normal(30)))
    ignored = teacher_lead.lead_fit(pairs).set_index("subset")
    assert ignored.loc[5, "r"] > 0.5 and pearsonr(pairs["lead"], pairs["gain"]).pvalue < 0.01  # by construction alone
    assert ignored.loc[5, "r_shuffled"] > 0.5 and ignored.loc[5, "p"] > 0.1
    teacher = 43 + 4 * rng.standard_normal(30)
    followed = teacher_lead.lead_fit(
        teacher_lead.lead_pairs(_seeds(alone, 30 + 0.25 * teacher + 0.3 * alone + rng.standard_normal(30), teacher))
    ).set_index("subset")
    assert followed.loc[5, "p"] < 0.01 and followed.loc[5, "r"] > followed.loc[5, "r_shuffled"] + 0.2


def test_nothing_to_pair_says_nothing():
    assert (
        teacher_lead.lead_pairs(pd.DataFrame()).empty
        and teacher_lead.lead_words(teacher_lead.lead_fit(teacher_lead.lead_pairs(pd.DataFrame()))) == ""
    )
    only = _frame([("no KD", 5, 0, 40.0, None), (CNN, 5, 0, 41.0, "")])  # a hand-edited cell reads as none
    only.loc[1, "teacher_accuracy"] = "not json"
    assert teacher_lead.lead_pairs(only).empty


def test_the_lead_command_lists_the_committed_pairs(tmp_path):
    from tests.conftest import run_cli

    r = run_cli("tables", "lead", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    expected = teacher_lead.lead_pairs(table_record.results_frame())
    assert len(out["pairs"]) == len(expected) and {f["subset"] for f in out["fit"]} >= {"all"}
    r = run_cli("tables", "lead", "--results", str(tmp_path))  # nothing recorded there
    assert r.returncode == 0 and "no KD run beside a no-KD run" in r.stdout


def test_every_r_findings_iv_quotes_is_the_committed_runs():
    """findings/IV.md is written by hand: each "r 0.59 (shuffled 0.38), p 0.065" (or a bare "r 0.08") it quotes for
    the students following their teachers must be a subset's fit on the committed runs: a new seed cannot leave it
    stale."""
    import re

    from asc_core import table_report
    from asc_core.paper_results import p_words

    fit = teacher_lead.lead_fit(teacher_lead.lead_pairs(table_record.results_frame()))
    given = {(f"{r:.2f}", p_words(p)) for r, p in zip(fit["r"], fit["p"])}
    text = table_report.finding("IV")
    quoted = re.findall(r"\br (-?0\.\d\d)(?: \(shuffled [-\d.]+\))?(?:, p (< 0\.001|0\.\d+))?", text)
    assert quoted, "findings/IV.md quotes no r: the check reads nothing"
    for r, p in quoted:
        assert (r, p) in given if p else r in {g[0] for g in given}, f"findings/IV.md quotes r {r}, p {p or '–'}"


def test_a_store_pairs_each_run_with_teachers_with_its_twin_without(tmp_path, monkeypatch):
    from asc_core.app import compare
    from asc_core.store import Store
    from tests.conftest import finished_run, run_cli, student_config

    store = Store(tmp_path / "runs")
    base = student_config(tmp_path / "data", 32)
    cnn = [{"model": {"name": "cp_resnet", "width": 32}}, {"model": {"name": "cp_mobile", "width": 64}}]
    finished_run(store, base | {"name": "alone"}, 40.0)
    finished_run(store, base | {"teachers": cnn, "name": "taught"}, 44.0, [46.0, 39.0])  # led by 6, gained 4
    finished_run(store, base | {"teachers": cnn, "kd": {"lam": 0.3}}, 38.0, [37.0, 35.0])  # trailed by 3, lost 2
    finished_run(store, base | {"teachers": cnn, "seed": 1}, 50.0, [46.0, 39.0])  # no twin at seed 1
    finished_run(store, base | {"teachers": cnn, "student": {"name": "rep_mobile", "width": 24}}, 50.0, [46.0, 39.0])
    finished_run(store, base | {"teachers": cnn}, 0.0, status="failed")  # a failed run has no figures
    pairs = compare.teacher_lead_pairs(store.list_runs())
    assert sorted(zip(pairs["gain"], pairs["lead"])) == [(-2.0, -3.0), (4.0, 6.0)]
    assert set(pairs["row"]) == {"cp_mobile + cp_resnet (CP-JKU's loss, τ 2, λ 0.02)",
                                 "cp_mobile + cp_resnet (CP-JKU's loss, τ 2, λ 0.3)"}  # fmt: skip
    assert set(pairs["best_teacher"]) == {"cp_resnet"} and set(pairs["subset"]) == {25}

    r = run_cli("runs", "lead", "--runs", str(tmp_path / "runs"), "--json")  # what the Compare page shows
    assert r.returncode == 0, r.stderr
    assert sorted(p["gain"] for p in json.loads(r.stdout)["pairs"]) == [-2.0, 4.0]
    r = run_cli("runs", "lead", "--runs", str(tmp_path / "empty"))
    assert r.returncode == 0 and r.stdout.startswith("no finished run with teachers beside")
