"""The seed paper's figures beside the product's: the asset matches the paper, the rows are the tables' rows, the
comparison and gains frames are right, and the figures hold what they say."""

import csv
import re

import pandas as pd
import pytest

from asc_core import paper_results as pr
from asc_core import table_record, table_report, tables
from asc_core.paths import PROJECT_ROOT

SEED = next(iter(sorted((PROJECT_ROOT.parent / "shared" / "seeds").glob("004_*.txt"))), None)


def test_every_paper_row_is_a_row_the_product_runs():
    for table in ("II", "III", "IV", "V"):
        paper = pr.paper_frame(table)
        assert not paper.empty and set(paper["subset"]) <= set(tables.TABLE_SUBSETS)
        assert set(paper["row"]) <= set(tables.row_overrides(table)) | {tables.PRETRAINED_ROW}, table
    assert pr.paper_frame("device").empty  # the DCASE2025 baseline has no such table


@pytest.mark.skipif(SEED is None, reason="the seed paper's text (../shared/seeds/004_*.txt) is not on this machine")
def test_the_figures_are_the_papers():
    """Each figure of assets/paper_tables.csv is in the paper's table of that number (a typo would move a bar)."""
    text = SEED.read_text()
    sections = {t: text[text.index(f"TABLE {t}") :][:3000] for t in ("II", "III", "IV", "V")}
    with open(pr.PAPER_CSV, newline="") as f:
        for r in csv.DictReader(f):
            assert re.search(rf"\b{re.escape(r['accuracy'])}\b", sections[r["table"]]), r


def _results(rows):
    df = pd.DataFrame(rows, columns=["table", "row", "subset", "macro_acc"])
    return df.assign(**{"cfg.subset": df["subset"]})


def test_comparison_and_gains_from_the_committed_runs():
    res = _results([("V", "width 32, unpruned", 25, 60.0), ("V", "width 32, unpruned", 25, 62.0),
                    ("V", "single 64→32", 25, 65.0), ("V", "single 64→32", 25, 64.0),
                    ("V", "progressive 96→64→32 (same FT budget)", 100, 70.0),
                    ("IV", "no KD", 25, 1.0)])  # fmt: skip
    long = pr.comparison("V", res)
    ours = long[long["source"] == pr.OURS].set_index(["row", "subset"])
    assert ours.loc[("width 32, unpruned", 25), "mean"] == 61.0 and ours.loc[("width 32, unpruned", 25), "n"] == 2
    assert ours.loc[("width 32, unpruned", 25), "std"] == pytest.approx(2**0.5)
    # at 100 % the full-FT progressive row is the same-budget row's config: it shows those runs, as its cell does
    assert ours.loc[("progressive 96→64→32 (full FT per round)", 100), "mean"] == 70.0
    assert list(dict.fromkeys(long["row"]))[0] == "width 32, unpruned"  # the plan's order
    assert len(long[long["source"] == pr.PAPER]) == 18  # 6 rows × 3 subsets (one progressive row: the full-FT one)
    g = pr.gains(long, tables.reference_row("V")).set_index(["row", "subset", "source"])
    assert g.loc[("single 64→32", 25, pr.OURS), "gain"] == pytest.approx(3.5)
    assert g.loc[("single 64→32", 25, pr.OURS), "spread"] == pytest.approx((0.5 + 2) ** 0.5)
    assert g.loc[("single 64→32", 25, pr.PAPER), "gain"] == pytest.approx(58.43 - 57.27)
    assert ("single 64→32", 5, pr.OURS) not in g.index  # no reference run at 5 %: no gain claimed


def test_tables_carry_the_papers_column_only_where_it_has_figures():
    cells = table_record.table_cells(table_record.results_frame_empty(), "II")
    shown = pr.with_paper(cells, "II")
    assert list(shown.columns) == ["5 %", "25 %", "100 %", "100 % · paper"]  # Table II: 100 % only
    assert shown.loc["without 3×3", "100 % · paper"] == "57.06"
    assert shown.loc["plain CP-Mobile (no branches)", "100 % · paper"] == "–"
    # a row planned at 100 % only says so at the other subsets, rather than "missing" there for ever
    assert list(shown.loc["all branches, 4× the steps"]) == ["–", "–", "missing", "–"]
    device = table_record.table_cells(table_record.results_frame_empty(), "device")
    assert pr.with_paper(device, "device").equals(device)


def test_the_figures_show_each_row_in_both_panels():
    from asc_core.app.plots import vs_paper_figure, vs_paper_gain_figure

    res = _results(
        [("IV", "no KD", 25, 60.0), ("IV", "no KD", 25, 61.0), ("IV", "CNN + transformer teachers", 25, 63.0)]
    )
    long = pr.comparison("IV", res)
    fig = vs_paper_figure(long, pr.OURS, pr.PAPER)
    ours = [t for t in fig.data if t.xaxis == "x"]
    assert {t.name for t in ours} == {"no KD", "CNN + transformer teachers"} and len(fig.data) == 2 + 7
    assert sum(t.showlegend for t in fig.data) == 7  # one legend entry per row, shared by both panels
    gain = vs_paper_gain_figure(pr.gains(long, "no KD"), pr.OURS, pr.PAPER, "no KD")
    assert gain.layout.xaxis.type == gain.layout.xaxis2.type == "category"  # "5 %" is not the number 5
    bars = {(t.name, t.xaxis): list(t.y) for t in gain.data}
    assert bars[("CNN + transformer teachers", "x")] == [pytest.approx(2.5)]
    assert bars[("CNN + transformer teachers", "x2")] == pytest.approx([46.83 - 43.41, 56.94 - 51.22, 61.12 - 58.59])
    hover = {(t.name, t.xaxis): list(t.customdata) for t in gain.data}  # ours: the runs behind the bar, and its p
    assert hover[("CNN + transformer teachers", "x")] == ["<br>1 run, ± 0.7; Welch p –"]
    assert set(hover[("CNN + transformer teachers", "x2")]) == {""}


def test_a_finding_has_a_headline_for_the_demo(tmp_path, monkeypatch):
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    (tmp_path / "findings").mkdir()
    (tmp_path / "findings" / "V.md").write_text("In one line: pruning wins at 25 %.\n\n**What it shows.** More.\n")
    assert table_report.finding_parts("V") == ("pruning wins at 25 %.", "**What it shows.** More.")
    (tmp_path / "findings" / "IV.md").write_text("**What it shows.** No headline.\n")
    assert table_report.finding_parts("IV") == ("", "**What it shows.** No headline.")
    for table in tables.TABLES:  # the committed findings each have one, as the Learn page expects
        monkeypatch.setattr(table_record, "RESULTS_DIR", PROJECT_ROOT / "docs" / "results")
        assert table_report.finding_parts(table)[0], table


def test_each_cell_gets_a_verdict_against_the_papers_direction():
    from scipy.stats import false_discovery_control

    res = _results([("V", "width 32, unpruned", s, a) for s, a in ((5, 48.0), (5, 49.0), (25, 60.0), (25, 61.0),
                                                                   (100, 60.0), (100, 62.0))]
                   + [("V", "width 64, unpruned", 5, 45.0), ("V", "width 64, unpruned", 5, 46.0),  # below: paper above
                      ("V", "width 64, unpruned", 25, 64.0), ("V", "width 64, unpruned", 25, 65.0),  # above, as paper
                      ("V", "width 64, unpruned", 100, 60.0), ("V", "width 64, unpruned", 100, 64.0),  # +1 ± 2.4
                      ("V", "width 96, unpruned", 25, 70.0),  # one seed
                      ("V", "progressive 96→64→32 (same FT budget)", 25, 63.0),
                      ("V", "progressive 96→64→32 (same FT budget)", 25, 64.0)])  # fmt: skip
    d = pr.directions("V", res).set_index(["row", "subset"])["verdict"]
    assert d[("width 64, unpruned", 5)] == "disagrees"
    assert d[("width 64, unpruned", 25)] == "agrees"
    assert d[("width 64, unpruned", 100)] == "inside the spread"
    assert d[("width 96, unpruned", 25)] == "one seed"
    assert d[("progressive 96→64→32 (same FT budget)", 25)] == "no paper figure"  # the paper's is the full-FT one
    size = pr.directions("V", res).set_index(["row", "subset"])["size"]  # the sign alone flatters: how large
    assert size[("width 64, unpruned", 25)] == "3.3× the paper's"  # +4.0 ± 1.0 against +1.21
    assert size[("width 64, unpruned", 5)] == ""  # only an agreeing cell gets a size
    assert pr._size(-2.0, 1.0, -1.5) == "as large" and pr._size(-36.0, 4.4, -1.51) == "23.8× the paper's"
    text = pr.directions_text("V", res)
    # q: Benjamini–Hochberg over the three judged cells alone (not the one-seed and no-paper-figure cells)
    d = pr.directions("V", res).set_index(["row", "subset"])
    judged = [("width 64, unpruned", s) for s in (5, 25, 100)]
    q = dict(zip(judged, false_discovery_control(d.loc[judged, "p"].to_numpy(), method="bh")))
    assert d["q"].notna().sum() == 3 and [d.loc[c, "q"] for c in judged] == [q[c] for c in judged]
    assert (f"| width 64, unpruned | 5 % | -3.0 ± 1.0 | 2 | 0.051 | {pr.p_words(q[judged[0]])} | +0.55 | disagrees "
            "| – |") in text  # fmt: skip
    assert (f"| width 64, unpruned | 25 % | +4.0 ± 1.0 | 2 | 0.030 | {pr.p_words(q[judged[1]])} | +1.21 | agrees "
            "| 3.3× the paper's |") in text  # fmt: skip
    assert "| width 96, unpruned | 25 % | +9.5 ± 0.7 | 1 | – | – | +1.83 | one seed | – |" in text
    assert text.endswith(
        "1 agree (0 as large as the paper's, within the spread), 1 disagree, 1 inside the spread "
        "(of 3 cells with a paper figure and at least two seeds; 1 of them at p < 0.05, 0 with the false discovery "
        "rate held at 5 % (Benjamini–Hochberg))."
    )


def test_a_tables_cells_are_tested_together_with_the_false_discovery_rate_held():
    """One in twenty null cells passes p < 0.05: Benjamini–Hochberg keeps the k smallest p where p_(k) <= k/m · 5 %."""
    p = pd.Series([0.003, 0.005, 0.009, 0.014, 0.021, 0.022, 0.024, 0.027, 0.031, 0.053, float("nan")] + [0.5] * 5)
    # m = 15 (the NaN is no test): 0.009 <= 3/15 · 0.05 = 0.010 holds, 0.014 > 4/15 · 0.05 and none above catches up
    assert pr.fdr_held(p) == 3
    assert pr.fdr_held(pd.Series([0.001, 0.002, 0.003])) == 3 and pr.fdr_held(pd.Series([], dtype=float)) == 0
    judged = pd.DataFrame({"p": p})
    assert pr.significance_words(judged) == (
        "9 of them at p < 0.05, 3 with the false discovery rate held at 5 % (Benjamini–Hochberg)"
    )
    assert pr.significance_words(judged.assign(p=0.2)) == "0 of them at p < 0.05"
    committed = table_record.results_frame()  # the committed runs, all four tables at once
    across = pr.across_tables_words({t: pr.directions(t, committed) for t in ("II", "III", "IV", "V")})
    assert re.fullmatch(
        r"Across Tables II–V, (\d+) cells judged against the paper: \d+ at p < 0\.05, \d+ with the "
        r"false discovery rate held at 5 % \(Benjamini–Hochberg\), over all \1 at once\.",
        across,
    )
    fresh = {t: pr.directions(t, pd.DataFrame()) for t in ("II", "V")}  # a fresh results folder: nothing judged
    assert pr.across_tables_words(fresh) == "" and pr.across_tables_words({}) == ""


def test_the_p_value_is_welchs_t_test_on_the_runs_themselves():
    """The gain's p is Welch's two-sided t-test on the row's runs against the reference's: the same as scipy's on
    the raw accuracies (the cell's std is the sample std, ddof 1), at two seeds and three."""
    from scipy.stats import ttest_ind

    ref, row = [60.0, 61.5, 59.0], [63.0, 66.0]
    res = _results([("V", "width 32, unpruned", 25, a) for a in ref] + [("V", "width 64, unpruned", 25, a)
                                                                        for a in row])  # fmt: skip
    g = pr.gains(pr.comparison("V", res), "width 32, unpruned").set_index(["row", "subset", "source"])
    cell = g.loc[("width 64, unpruned", 25, pr.OURS)]
    assert cell["n"] == 2 and cell["p"] == pytest.approx(ttest_ind(row, ref, equal_var=False).pvalue)
    assert pd.isna(g.loc[("width 64, unpruned", 25, pr.PAPER), "p"])  # one figure a cell: nothing to test
    assert pd.isna(pr.welch_p(1.0, 0.0, 2, 0.0, 0.0, 2)) and pd.isna(pr.welch_p(1.0, 1.0, 1, 0.0, 1.0, 3))
    assert [pr.p_words(p) for p in (0.2049, 0.0512, 0.0042, 0.0004, float("nan"))] == [
        "0.20",
        "0.051",
        "0.004",
        "< 0.001",
        "–",
    ]


def test_the_directions_command_prints_the_committed_verdicts(tmp_path):
    import json

    from tests.conftest import run_cli

    r = run_cli("tables", "directions", "--tables", "V", "--json")
    assert r.returncode == 0, r.stderr
    cells = json.loads(r.stdout)["V"]
    expected = pr.directions("V", table_record.results_frame())
    assert len(cells) == len(expected) and {c["verdict"] for c in cells} == set(expected["verdict"])
    r = run_cli("tables", "directions", "--tables", "II", "--results", str(tmp_path))  # nothing recorded there
    assert r.returncode == 0 and "Table II\nnothing recorded yet" in r.stdout


def _recorded_cells() -> set[str]:
    """Every "mean ± std" the committed runs give, as the tables print it (one decimal)."""
    df = table_record.results_frame()
    cells = set()
    for table in tables.TABLES:
        ours = pr.comparison(table, df).query("source == @pr.OURS")
        cells |= {f"{m:.1f} ± {s:.1f}" for m, s in zip(ours["mean"], ours["std"])}
    spec = df.loc[df["table"] == "device", "device_specific_macro_accuracy"].astype(float)
    if len(spec) > 1:  # the device table's second figure: the device-specific models' macro accuracy
        cells.add(f"{spec.mean():.1f} ± {spec.std():.1f}")
    return cells


def test_every_cell_a_finding_quotes_is_a_recorded_cell():
    """The findings are written by hand from the runs: a "mean ± std" there that no longer matches the committed
    runs (a cell that gained a run, a rounding slip) fails here, not in front of a class."""
    cells = _recorded_cells()
    for table in tables.TABLES:
        stale = sorted(set(re.findall(r"\d+\.\d ± \d+\.\d", table_report.finding(table))) - cells)
        assert not stale, f"findings/{table}.md quotes {stale}, which no committed cell gives"


@pytest.mark.skipif(SEED is None, reason="the seed paper's text (../shared/seeds/004_*.txt) is not on this machine")
def test_every_paper_figure_a_finding_quotes_is_in_the_paper():
    """The findings quote the paper's figures (two decimals, as it prints them): each must be in its text."""
    text = SEED.read_text()
    for table in tables.TABLES:
        for figure in re.findall(r"(?<![\d.])\d{2}\.\d\d(?!\d)", table_report.finding(table)):
            assert re.search(rf"\b{re.escape(figure)}\b", text), (table, figure)


def test_the_device_table_tests_each_seed_against_its_own_general_model():
    """Device-specific models are fine-tuned from their seed's general model: the paired test sees a steady loss
    that the seeds' spread hides from an unpaired one (the committed runs: paired 0.010, Welch 0.39)."""
    from scipy.stats import ttest_rel

    gen, spec = [61.6, 58.0, 60.1], [60.0, 56.9, 58.8]
    assert pr.paired_p(spec, gen) == pytest.approx(ttest_rel(spec, gen).pvalue)
    assert pr.paired_p(spec, gen) < 0.05 < pr.welch_p(58.57, 1.57, 3, 59.9, 1.8, 3)
    assert pd.isna(pr.paired_p([60.0], [61.0])) and pd.isna(pr.paired_p([60.0, 58.0], [61.0, 59.0]))
    df = pd.DataFrame({"table": "device", "seed": [2, 0, 1], "macro_accuracy": [60.1, 61.6, 58.0],
                       "device_specific_macro_accuracy": [58.8, 60.0, 56.9]})  # fmt: skip
    words = table_report.device_gain_words(df)
    assert words.startswith("Device-specific against general, seed by seed: -1.6, -1.1, -1.3 points (mean -1.3")
    assert f"paired t-test p {pr.p_words(pr.paired_p(spec, gen))}, 3 seeds)." in words
    assert table_report.device_gain_words(df.iloc[1:2]).endswith("(mean -1.6, 1 seed).")  # no test at one seed
    assert table_report.device_gain_words(df.assign(table="V")) == ""
    assert table_report.device_gain_words(pd.DataFrame()) == ""  # a fresh results folder
    blank = df.astype(str).assign(device_specific_macro_accuracy=["", "60.0", "56.9"])  # as the CSVs read: text
    assert table_report.device_gain_words(blank).startswith("Device-specific against general, seed by seed: -1.6, -1.1")


def test_rows_pruning_the_same_parent_are_compared_seed_by_seed():
    """Table V's progressive and single-step rows prune one network per subset and seed: the paired test sees what
    the parents' spread hides, and a seed only one row has is left out of the pairs."""
    from scipy.stats import ttest_rel

    full, single = "progressive 96→64→32 (full FT per round)", "single 96→32"
    rows = [("V", full, 5, s, a) for s, a in ((0, 45.8), (1, 45.7), (2, 45.8))]
    rows += [("V", single, 5, s, a) for s, a in ((0, 46.4), (1, 43.8), (2, 42.8), (3, 50.0))]
    rows += [("V", full, 25, 0, 67.3)] + [("V", single, 25, 0, 66.7)]  # one pair: no test
    df = pd.DataFrame(rows, columns=["table", "row", "subset", "seed", "macro_accuracy"])
    text = table_report.paired_text("V", df)
    p = ttest_rel([45.8, 45.7, 45.8], [46.4, 43.8, 42.8]).pvalue
    assert f"*{full}* against *{single}*: 5 % -0.6, +1.9, +3.0 (mean +1.4; paired p {pr.p_words(p)}); 25 % +0.6 " \
           "(mean +0.6)." in text  # fmt: skip
    assert "same FT budget" not in text  # no runs of that row: no line
    assert table_report.paired_text("IV", df) == ""
    assert table_report.paired_text("V", pd.DataFrame()) == ""  # a fresh results folder renders


def test_the_identity_branch_is_measured_across_two_tables():
    """Table II shows Table IV's *no KD* (its first row plus RepVGG's identity branch) against its first row, seed
    by seed; Table IV shows each of its KD rows against its own *no KD*."""
    from scipy.stats import ttest_rel

    first = "all branches (3×3, 1×1, 3×1, 1×3)"
    rows = [("II", first, 25, s, a) for s, a in ((0, 59.4), (1, 61.3), (2, 61.9))]
    rows += [("IV", "no KD", 25, s, a) for s, a in ((0, 60.1), (1, 60.4), (2, 60.2))]
    rows += [("V", "no KD", 5, 0, 99.0)]  # another table's row of that name: not paired
    df = pd.DataFrame(rows, columns=["table", "row", "subset", "seed", "macro_accuracy"])
    text = table_report.paired_text("II", df)
    assert text.startswith("RepVGG's identity branch, seed by seed")
    p = pr.p_words(ttest_rel([60.1, 60.4, 60.2], [59.4, 61.3, 61.9]).pvalue)
    assert text.endswith(f"- *no KD* (Table IV) against *{first}*: 25 % +0.7, -0.9, -1.7 (mean -0.6; paired p {p}).")
    assert table_report.paired_text("II", df[df["table"] == "II"]) == ""  # no Table IV runs yet
    assert table_report.paired_text("IV", df) == ""  # no KD row has runs
    cnn = "CNN teachers (CP-ResNet + CP-Mobile-64)"
    kd = pd.DataFrame([("IV", cnn, 25, s, a) for s, a in ((0, 61.0), (1, 60.0), (3, 70.0))], columns=df.columns)
    text = table_report.paired_text("IV", pd.concat([df, kd]))
    assert text.startswith("Each KD row against its own seed's *no KD* run")
    p = pr.p_words(ttest_rel([61.0, 60.0], [60.1, 60.4]).pvalue)  # seed 3 has no *no KD* run: no pair
    assert text.endswith(f"- *{cnn}* against *no KD*: 25 % +0.9, -0.4 (mean +0.2; paired p {p}).")
