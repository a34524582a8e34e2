"""The paper tables: planned through the normal configs, collected from real runs into CSVs, rendered."""

import csv
import json
import re

import pytest

from asc_core import table_record, table_report, tables
from asc_core.store import Store
from asc_core.train.runner import run_experiment


def by_row(items, row, subset=100, seed=0):
    return next(i["config"] for i in items if (i["row"], i["subset"], i["seed"]) == (row, subset, seed))


def test_the_whole_plan_validates_with_scaled_epochs():
    items = tables.plan(dataset="data/mini")
    assert len(items) == 150  # II 34, III 30, IV 42, V 42, device 2
    assert len({(tables.result_key(i["config"]), i["seed"]) for i in items}) == len(items)
    # at 100 % (3 epochs) both progressive rows fine-tune one epoch per round: one config, run once
    same = [(i["row"], i["subset"], i["same_as"]) for i in items if i.get("same_as")]
    assert same == [("progressive 96→64→32 (full FT per round)", 100, "progressive 96→64→32 (same FT budget)")] * 2
    assert len(tables.runs_of(items)) == 148
    # Table II's pair at 4× the steps, at 100 % only: the same networks as their rows, 12 epochs instead of 3
    for row, base in (("all branches, 4× the steps", "all branches (3×3, 1×1, 3×1, 1×3)"),
                      ("plain CP-Mobile, 4× the steps", "plain CP-Mobile (no branches)")):  # fmt: skip
        assert sorted((i["subset"], i["seed"]) for i in items if i["row"] == row) == [(100, 0), (100, 1)]
        mine, theirs = by_row(items, row), by_row(items, base)
        assert (mine.optim.epochs, theirs.optim.epochs) == (12, 3) and mine.student == theirs.student
        assert not mine.teachers
    by = {(i["table"], i["row"], i["subset"], i["seed"]): i["config"] for i in items}
    assert by[("II", "without 1×1", 5, 0)].optim.epochs == 60 and by[("II", "without 1×1", 100, 1)].optim.epochs == 3
    assert by[("II", "without 1×1", 25, 0)].student.kwargs["branches"] == ["3x3", "3x1", "1x3"]
    assert not by[("II", "without 1×1", 25, 0)].teachers
    # PaSST-tiny once more at 4× the table's steps (the flat row: the budget or the data?); its curve as sampled
    longer, base = (
        by[("III", r, 100, 0)] for r in ("PaSST (tiny), from scratch, 4× the steps", "PaSST (tiny), from scratch")
    )
    assert (longer.optim.epochs, base.optim.epochs) == (12, 3) and longer.model_copy(
        update={"optim": base.optim, "name": base.name}) == base  # fmt: skip
    assert by[("III", "PaSST (tiny), from scratch, 4× the steps", 5, 1)].optim.validate_every == 20
    same = by[("V", "progressive 96→64→32 (same FT budget)", 25, 0)].pruning
    full = by[("V", "progressive 96→64→32 (full FT per round)", 25, 0)].pruning
    assert same.chain == full.chain == [64, 32] and full.finetune_epochs == 2 * same.finetune_epochs
    both = by[("IV", "CNN + transformer teachers", 25, 1)].teachers
    assert [t.model.name for t in both] == ["cp_resnet", "cp_mobile", "passt_tiny"] and {t.seed for t in both} == {1}
    assert by[("device", "general model → device-specific fine-tuning", 25, 0)].device_finetune.enabled
    paper_kd = by[("IV", "CNN teachers at lr 0.01, the paper's KD loss", 5, 0)]
    assert (paper_kd.kd.variant, paper_kd.kd.tau, paper_kd.kd.lam) == ("paper", 0.1, 0.02)
    # the lr-0.01 row's teachers, the same zoo entries: only the student's loss differs between the two rows
    assert paper_kd.teachers == by[("IV", "CNN teachers at the paper's lr 0.01", 5, 0)].teachers
    assert paper_kd.kd.views == by[("IV", "CNN teachers at the paper's lr 0.01", 5, 0)].kd.views
    # about 12 validations at most per training, student and teachers alike; how often is not part of a result
    cnn = by[("IV", "CNN teachers (CP-ResNet + CP-Mobile-64)", 5, 0)]
    assert cnn.optim.validate_every == 5 and {t.optim.validate_every for t in cnn.teachers} == {5}
    # the teacher recipe (lr 0.002) and, in its own row, the paper's (lr 0.01: every model trained alike)
    paper_lr = by[("IV", "CNN teachers at the paper's lr 0.01", 5, 0)]
    assert {t.optim.lr for t in cnn.teachers} == {0.002} and {t.optim.lr for t in paper_lr.teachers} == {0.01}
    assert [t.model for t in paper_lr.teachers] == [t.model for t in cnn.teachers] and paper_lr.student == cnn.student
    assert paper_lr.teachers[0].optim.model_dump() == {**cnn.teachers[0].optim.model_dump(), "lr": 0.01}
    assert by[("IV", "CNN teachers (CP-ResNet + CP-Mobile-64)", 25, 0)].optim.validate_every == 2
    often = cnn.model_copy(update={"optim": cnn.optim.model_copy(update={"validate_every": 1})})
    assert tables.result_key(often) == tables.result_key(cnn)


def test_paired_rows_differ_in_the_one_thing_they_measure():
    """Rows compared seed by seed share everything but one thing per subset and seed: Table IV's *no KD* is Table II's
    first row plus RepVGG's identity branch (``rep_mobile``'s default), so the pair measures that branch alone; each
    of Table IV's KD rows is its *no KD* with teachers (and a loss)."""
    assert {p.row for p in tables.PAIRED_ROWS["IV"]} == set(tables.row_overrides("IV")) - {"no KD"}
    from asc_core.models.rep_mobile import BRANCHES, PAPER_BRANCHES

    items = tables.plan(dataset="data/mini")
    by = {(i["table"], i["row"], i["subset"], i["seed"]): i["config"] for i in items}
    for table, pairs in tables.PAIRED_ROWS.items():
        for pair in pairs:
            for subset in tables.TABLE_SUBSETS:
                for seed in (0, 1):
                    a, b = by[(pair.of or table, pair.row, subset, seed)], by[(table, pair.ref, subset, seed)]
                    da, db = (c.model_dump(exclude={"name"}) for c in (a, b))
                    if table == "II":  # the branches alone: the default (the paper's four and identity) vs the four
                        assert da["student"].pop("kwargs") == {}
                        assert db["student"].pop("kwargs") == {"branches": list(PAPER_BRANCHES)}
                        assert set(BRANCHES) - set(PAPER_BRANCHES) == {"identity"}
                    elif table == "IV":  # the teachers and the loss: the student's recipe, seed and data the same
                        assert da.pop("teachers") and not db.pop("teachers")
                        da.pop("kd"), db.pop("kd")
                    else:  # the pruning: the same parent, pruned two ways
                        assert da.pop("pruning") != db.pop("pruning")
                    assert da == db, (table, pair, subset)


def test_a_kd_run_keeps_its_teachers_accuracy_and_thread_count_and_an_older_row_gains_them(tmp_path, monkeypatch):
    """The teachers' own accuracy goes into the CSV with the student's (what a KD row could learn from), and so does
    the thread count it trained with (a run reproduces only at its own); a row recorded before those columns existed
    gets them from its run in the store, and nothing else of it changes."""
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store = Store(tmp_path / "runs")
    items = [i for i in tables.plan(["IV"], (25,), 2, "standard") if i["row"].startswith("CNN teachers (")]
    summary = {"macro_accuracy": 61.5, "per_device": {"a": 70.0}, "teachers": ["cp_resnet", "cp_mobile"],
               "teacher_accuracy": [63.96, 58.04], "seconds": 10.0, "dataset_tag": "standard v2",
               "threads": 1, "cpu_share": 0.93}  # fmt: skip
    ids = []
    for i in items:
        ids.append(store.create_run(i["config"].model_dump(mode="json"), name=i["config"].name, status="done"))
        store.update_run(ids[-1], summary=summary)
    assert table_record.collect(store, items[:1]) == 1
    path = tmp_path / "results" / "table_IV.csv"
    with open(path, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert json.loads(row["teacher_accuracy"]) == {"cp_resnet": 63.96, "cp_mobile": 58.04}
    assert row["threads"] == "1" and row["cpu_share"] == "0.93"
    cell = table_record.cell_runs("IV", items[0]["row"], 25)
    assert list(cell["teachers"]) == ["cp_resnet 64.0 %, cp_mobile 58.0 %"] and list(cell["threads"]) == [1.0]
    # the row as an older collect wrote it (no such column): the next collect fills it in, and only it
    old = path.read_text().splitlines()
    head, body = old[0].split(","), next(csv.reader(old[1:2]))
    keep = [j for j, col in enumerate(head) if col not in ("teacher_accuracy", "threads", "cpu_share")]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([head[j] for j in keep])
        w.writerow([body[j] for j in keep])
    assert table_record.collect(store, items) == 1  # the second seed is new; the first is filled in
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run_id"] for r in rows] == ids and all(
        json.loads(r["teacher_accuracy"])["cp_mobile"] == 58.04 and r["threads"] == "1" and r["cpu_share"] == "0.93"
        for r in rows
    )
    assert rows[0]["macro_accuracy"] == row["macro_accuracy"] and rows[0]["per_device"] == row["per_device"]
    assert table_record.progress("IV") == (2, 42) and table_record.progress("V") == (0, 40)  # recorded of planned


def test_a_run_keeps_its_learning_curve_at_the_epochs_that_validated(tmp_path, monkeypatch):
    """The student's curve goes into the CSV beside its result: test accuracy where the run validated (every
    ``validate_every``, 2 at 25 %; a run logged before 28 Nov repeated the last figure in between, which is dropped)
    and training accuracy every epoch; a run that trained no student of its own keeps none. The Learn page draws it
    from the CSV, one colour a seed."""
    from asc_core.app.plots import seed_curves_figure
    from asc_core.machine import cpu_name

    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store = Store(tmp_path / "runs")
    items = [i for i in tables.plan(["IV"], (25,), 2, "standard") if i["row"] == "no KD"]
    assert {i["config"].optim.validate_every for i in items} == {2}
    ids = []
    for n, i in enumerate(items):
        ids.append(store.create_run(i["config"].model_dump(mode="json"), name=i["config"].name, status="done"))
        store.update_run(ids[-1], summary={"macro_accuracy": 50.0, "dataset_tag": "standard v2"})
        if n == 0:  # the first seed trained its student; the second (as a pruned run would) logged nothing
            for epoch, val in enumerate([None, 0.3, 0.3, 0.4, 0.4, 0.5]):
                vals = {"train_acc": 0.5 + epoch / 20} | ({"val_acc": val} if val is not None else {})
                store.log_metrics(ids[-1], "student training", epoch, 6 * (epoch + 1), vals)
            store.log_metrics(ids[-1], "teacher 1/1: cp_resnet", 0, 6, {"val_acc": 0.9})  # not the student's
    assert table_record.collect(store, items) == 2
    with open(tmp_path / "results" / "table_IV.csv", newline="") as f:
        rows = {r["run_id"]: r for r in csv.DictReader(f)}
    assert json.loads(rows[ids[0]]["curve"]) == {"test": [[2, 30.0], [4, 40.0], [6, 50.0]],
                                                 "train": [[e + 1, 50.0 + 5 * e] for e in range(6)]}  # fmt: skip
    assert rows[ids[1]]["curve"] == ""
    assert f"({cpu_name()}, " in rows[ids[0]]["machine"]  # the CPU's model: runs on two CPUs differ several times
    cell = table_record.cell_runs("IV", "no KD", 25)
    assert [bool(c) for c in cell["curve"]] == [True, False]
    fig = seed_curves_figure({"seed 0": cell["curve"][0]})
    assert [(t.name, t.line.dash) for t in fig.data] == [("seed 0, test", "solid"), ("seed 0, train", "dot")]
    assert list(fig.data[0].y) == [30.0, 40.0, 50.0]


def test_results_on_two_versions_of_the_embedded_set_are_kept_apart(tmp_path, monkeypatch):
    """Generator 1 gave each of b, c, s1–s3 two scenes; a result on it is not one on generator 2. A run records the
    data it trained on, its row says it, and a table shows one version — the newest it has — never a mix."""
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store = Store(tmp_path / "runs")
    old_set, new_set = tmp_path / "v1" / "standard", tmp_path / "v2" / "standard"
    for folder, version in ((old_set, 1), (new_set, 2)):
        folder.mkdir(parents=True)
        (folder / "synth.json").write_text(json.dumps({"preset": "standard", "seed": 0, "version": version}))
    assert (tables.dataset_tag(old_set), tables.dataset_tag(new_set)) == ("standard", "standard v2")
    on = {v: [i for i in tables.plan(["II"], (25,), 2, str(f)) if i["row"] == "without 3×3"]
          for v, f in ((1, old_set), (2, new_set))}  # fmt: skip
    assert tables.result_key(on[1][0]["config"]) != tables.result_key(on[2][0]["config"])
    summary = {"macro_accuracy": 50.0, "per_device": {"a": 55.0}}  # runs finished before runs named their data
    for item in on[1]:
        older = store.create_run(item["config"].model_dump(mode="json"), name="v1", status="done")
        store.update_run(older, summary=summary)
    assert table_record.collect(store, on[2]) == 0  # not a generator-2 result
    assert table_record.missing(on[2], store) == on[2]
    assert table_record.collect(store, on[1]) == 2 and table_record.shown_dataset("II") == "standard"
    newer = []
    for item in on[2]:
        newer.append(store.create_run(item["config"].model_dump(mode="json"), name="v2", status="done"))
        store.update_run(newer[-1], summary={**summary, "macro_accuracy": 60.0, "dataset_tag": "standard v2"})
        assert table_record.collect(store, on[2]) == 1
        if len(newer) == 1:  # one generator-2 run beside two on generator 1: the table stays where it has most
            assert table_record.shown_dataset("II") == "standard"
            assert list(table_record.results_frame()["macro_acc"]) == [50.0] * 2
            words = table_report.standing_words("II")
            assert words.startswith("2 of 34 runs recorded, on the embedded `standard` set of generator 1")
            assert "On `standard v2`, 1 of 34 so far: the table moves to them once they are as many" in words
    with open(tmp_path / "results" / "table_II.csv", newline="") as f:
        assert sorted(r["dataset"] for r in csv.DictReader(f)) == ["standard"] * 2 + ["standard v2"] * 2
    assert table_record.shown_dataset("II") == "standard v2"  # caught up: the newer data, alone
    assert list(table_record.results_frame()["macro_acc"]) == [60.0] * 2
    assert set(table_record.cell_runs("II", "without 3×3", 25)["run_id"]) == set(newer)
    assert table_record.progress("II")[0] == 2 and "set of generator 2, where every device" in table_report.render()
    assert "so far" not in table_report.standing_words("II")  # an older version is not "under way"
    # ... but what the table showed before is kept beside it, folded away, never mixed in
    assert table_record.earlier_datasets("II") == ["standard"]
    assert list(table_record.results_frame({"II": "standard"})["macro_acc"]) == [50.0] * 2
    assert "<details><summary>The same table on the embedded `standard` set of generator 1" in table_report.render()


def test_a_third_seed_is_counted_beside_the_plan(tmp_path, monkeypatch):
    """The plan is two seeds a cell; the issue's "3 where time allows" runs a third through the same plan
    (``--seeds 3``), and the table says in how many cells it has one: the cells' n says which."""
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store, data = Store(tmp_path / "runs"), tmp_path / "v2" / "standard"
    data.mkdir(parents=True)
    (data / "synth.json").write_text(json.dumps({"preset": "standard", "seed": 0, "version": 2}))
    items = [i for i in tables.plan(["II"], (25,), 3, str(data)) if i["row"] == "without 3×3"]
    for item in items:
        run = store.create_run(item["config"].model_dump(mode="json"), name="s", status="done")
        store.update_run(run, summary={"macro_accuracy": 50.0 + item["seed"], "dataset_tag": "standard v2"})
    assert table_record.collect(store, items) == 3
    assert table_record.progress("II") == (2, 34) and table_record.progress("II", seeds=3) == (3, 51)
    assert table_report.standing_words("II").startswith(
        "2 of 34 runs recorded, on the embedded `standard` set of generator 2"
    ) and "A third seed in 1 of its 17 cells; n says which." in table_report.standing_words("II")
    assert table_record.table_cells(table_record.results_frame(), "II").loc["without 3×3", "25 %"] == (
        "51.0 ± 1.0 (n=3)"
    )
    # a fourth seed, in one cell: said as such, after the third
    four = [i for i in tables.plan(["II"], (25,), 4, str(data)) if i["row"] == "without 3×3" and i["seed"] == 3]
    run = store.create_run(four[0]["config"].model_dump(mode="json"), name="s", status="done")
    store.update_run(run, summary={"macro_accuracy": 53.0, "dataset_tag": "standard v2"})
    assert table_record.collect(store, four) == 1
    assert table_report.standing_words("II").endswith(
        "A third seed in 1 of its 17 cells; n says which. More seeds in some cells (n says which): four in 1 of its "
        "17 cells."
    )


@pytest.mark.slow  # trains two small models
def test_collect_and_render_from_real_runs(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store = Store(tmp_path / "runs")
    items = tables.plan(["II"], (25,), 1, str(tiny_root))
    for i in items[:2]:
        cfg = i["config"].model_copy(update={"optim": i["config"].optim.model_copy(update={"epochs": 1})})
        i["config"] = cfg
        assert run_experiment(cfg, store)["status"] == "done"
    assert table_record.collect(store, items) == 2
    assert table_record.collect(store, items) == 0  # already recorded: merged, not duplicated
    with open(tmp_path / "results" / "table_II.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {r["config_digest"] for r in rows} == {tables.result_key(i["config"]) for i in items[:2]}
    assert all(float(r["macro_accuracy"]) >= 0 and r["per_device"].startswith("{") for r in rows)
    # a run recorded under a digest computed otherwise (an older key) is still one row, not two
    path = tmp_path / "results" / "table_II.csv"
    path.write_text(path.read_text().replace(rows[0]["config_digest"], "0123456789ab"))
    assert table_record.collect(store, items) == 0
    with open(path) as f:
        assert len(list(csv.DictReader(f))) == 2
    path.write_text(path.read_text().replace("0123456789ab", rows[0]["config_digest"]))
    assert len(table_record.missing(items, Store(tmp_path / "other"))) == 3  # the CSVs alone say what is done
    text = table_report.render(tmp_path / "RESULTS.md")
    assert "## Table II" in text and "| without 3×1 + 1×3 |" in text and "missing" in text
    cells = table_record.table_cells(table_record.results_frame(), "II")
    assert cells.loc["all branches (3×3, 1×1, 3×1, 1×3)", "25 %"] != "missing"
    assert cells.loc["plain CP-Mobile (no branches)", "25 %"] == "missing"


def test_a_row_that_is_another_rows_config_shows_its_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    row = "progressive 96→64→32 (same FT budget)"
    with open(tmp_path / "table_V.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy"])
        w.writeheader()
        for seed, acc in ((0, 60.0), (1, 62.0)):
            w.writerow({"table": "V", "row": row, "subset": 100, "seed": seed, "config_digest": f"d{seed}",
                        "run_id": f"r{seed}", "macro_accuracy": acc})  # fmt: skip
    cells = table_record.table_cells(table_record.results_frame(), "V")
    assert cells.loc[row, "100 %"] == "61.0 ± 1.4 (n=2)"
    assert cells.loc["progressive 96→64→32 (full FT per round)", "100 %"].startswith("61.0 ± 1.4 (n=2) (the runs above")
    assert cells.loc["progressive 96→64→32 (full FT per round)", "25 %"] == "missing"


def test_a_broken_results_file_is_named_and_left_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    bad = tmp_path / "table_V.csv"
    bad.write_text("table,row,subset,seed,run_id\nV,width 32,25,0,r0\n")  # no digest, no accuracy
    not_one = "table_V.csv: not a results table .*config_digest, macro_accuracy"
    with pytest.raises(table_record.ResultsError, match=not_one):
        table_record.recorded()
    with pytest.raises(table_record.ResultsError):
        table_record.collect(Store(tmp_path / "runs"), [])
    assert bad.read_text() == "table,row,subset,seed,run_id\nV,width 32,25,0,r0\n"  # nothing rewritten, nothing lost
    bad.write_text("table,row,subset,seed,config_digest,run_id,macro_accuracy\nV,width 32,25,one,d,r0,50\n")
    with pytest.raises(table_record.ResultsError, match="line 2: subset '25' or seed 'one'"):
        table_record.results_frame()


def test_the_pretrained_passt_row_is_planned_only_where_its_weights_are(tmp_path, monkeypatch):
    from asc_core.config import ConfigError, parse_config

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path))  # no weights here
    assert "PaSST-S, AudioSet-pretrained" not in {i["row"] for i in tables.plan(["III"], dataset="data/mini")}
    with pytest.raises(ConfigError, match="teachers download passt_s_audioset"):  # before any work starts
        parse_config({"student": {"name": "passt_s", "kwargs": {"checkpoint": "audioset"}}})
    with pytest.raises(ConfigError, match="is the passt_s AudioSet release, not a passt_tiny"):
        parse_config({"student": {"name": "passt_tiny", "kwargs": {"checkpoint": "audioset"}}})
    monkeypatch.setattr(tables, "_audioset_present", lambda: True)
    monkeypatch.setattr("asc_core.weights.check_present", lambda name: tmp_path)
    rows = [i for i in tables.plan(["III"], dataset="data/mini") if i["row"] == "PaSST-S, AudioSet-pretrained"]
    assert [(i["subset"], i["seed"]) for i in rows] == [(5, 0), (5, 1), (25, 0), (25, 1), (100, 0), (100, 1)]
    student = rows[0]["config"].student
    assert student.name == "passt_s" and student.kwargs["checkpoint"] == "audioset"
    assert rows[0]["config"].optim.lr == 1e-5 and not rows[0]["config"].teachers


def test_the_tables_command_plans_with_estimates_and_renders(tiny_root, tmp_path):
    import json

    from tests.conftest import run_cli

    common = ["--tables", "II", "--subsets", "25", "--seeds", "1", "--dataset", str(tiny_root),
              "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]  # fmt: skip
    r = run_cli("tables", "plan", *common, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["planned"] == out["to_run"] == 5 and all(x["estimate_s"] > 0 for x in out["runs"])
    assert "`python -m asc_core bench train`" in out["rates"]  # where its times come from, and how to measure here
    assert {x["row"] for x in out["runs"]} >= {"without 3×3", "plain CP-Mobile (no branches)"}
    r = run_cli("tables", "plan", *common, "--workers", "2", "--json")  # the sum is one run at a time
    wall = json.loads(r.stdout)["wall_s"]
    assert out["estimate_s"] / 2 <= wall < out["estimate_s"]
    assert run_cli("tables", "queue", *common).returncode == 0
    r = run_cli("tables", "plan", *common)  # a campaign under way: its queued runs and the time they need
    assert r.returncode == 0, r.stderr
    assert "0 of 5 runs recorded; 5 queued, running, interrupted or done" in r.stdout and "0 to queue" in r.stdout
    assert r.stdout.count(" queued  ") == 5  # each run says what it is doing
    # a worker stopped under one of them: the plan says so, and queue resumes that run instead of training it anew
    store = Store(tmp_path / "runs")
    stopped = store.list_runs()[0]["run_id"]
    store.update_run(stopped, status="interrupted", started_at=1.0, run_progress=0.5)
    r = run_cli("tables", "plan", *common)
    assert r.stdout.count("  interrupted  ") == 1 and "`tables queue` resumes it from its checkpoint" in r.stdout
    assert run_cli("tables", "queue", *common).returncode == 0
    runs = store.list_runs()
    assert len(runs) == 5 and {r["status"] for r in runs} == {"queued"}
    assert store.get_run(stopped)["stage"] == "queued to resume"
    r = run_cli("tables", "render", *common)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("0 of 5 planned runs recorded, 5 in the store, 0 to run;") and "written" in r.stdout
    assert "## Table II" in (tmp_path / "RESULTS.md").read_text()


def test_the_tables_command_checks_its_data_before_it_queues(tmp_path):
    from tests.conftest import run_cli

    runs = tmp_path / "runs"
    # a folder named with --dataset that is not there: nothing queued, the reason named
    r = run_cli("tables", "queue", "--tables", "II", "--dataset", str(tmp_path / "nope"), "--runs", str(runs))
    assert r.returncode == 2 and "nope: dataset folder does not exist" in r.stderr
    assert not Store(runs).list_runs()
    # the default embedded set not generated yet: the plan says who makes it, and gives no "about 0 s"
    env = {"ASC_DATA_HOME": str(tmp_path / "home")}
    r = run_cli("tables", "plan", "--tables", "II", "--subsets", "5", "--runs", str(runs),
                "--results", str(tmp_path / "results"), env_extra=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "standard is not here yet: `tables queue` or `tables run` generates it first" in r.stderr
    assert "10 to queue (no estimate yet)" in r.stdout


def test_collect_keeps_columns_it_does_not_know(tmp_path, monkeypatch):
    """A folder shared with a newer version of this code: its extra columns survive this version's collect."""
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    path = tmp_path / "table_V.csv"
    path.write_text("table,row,subset,seed,config_digest,run_id,macro_accuracy,newer_column\n"
                    "V,width 32,25,0,d0,r0,50.0,kept\n")  # fmt: skip
    table_record.collect(Store(tmp_path / "runs"), [])
    with open(path, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["newer_column"] == "kept" and row["macro_accuracy"] == "50.0"


@pytest.mark.slow  # a real worker trains one small run
def test_a_failing_collect_does_not_stop_the_campaign(tiny_root, tmp_path, monkeypatch):
    """`tables run` collects every 15 s; one collect that fails (a CSV another process is rewriting, a newer
    schema) is reported and tried again — it once took the workers down with it, runs and all."""
    from asc_core import jobs
    from asc_core.cli import tables as cli

    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path / "results")
    store = Store(tmp_path / "runs")
    items = tables.plan(["II"], (25,), 1, str(tiny_root))[:1]
    cfg = items[0]["config"]
    items[0]["config"] = cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"epochs": 1})})
    (run_id,) = jobs.launch([items[0]["config"]], store)
    real, calls = table_record.collect, []

    def collect_failing_once(*a):
        calls.append(1)
        if len(calls) == 1:
            raise table_record.ResultsError("table_II.csv: being rewritten")
        return real(*a)

    monkeypatch.setattr(table_record, "collect", collect_failing_once)
    monkeypatch.setattr(cli, "CHECK_S", 1.0)  # a collect every second, not every 15 s
    cli._run_workers(store, items, workers=1, budget_s=300)
    assert store.get_run(run_id)["status"] == "done" and len(calls) >= 2
    with open(tmp_path / "results" / "table_II.csv", newline="") as f:
        assert [r["run_id"] for r in csv.DictReader(f)] == [run_id]


@pytest.mark.slow  # a real `tables run` with its worker, stopped mid-run
def test_tables_run_started_in_the_background_stops_its_workers_when_told(tiny_root, tmp_path):
    """`nohup python -m asc_core tables run … &` from a script ignores SIGINT, and so did the command: told to
    stop, it went on, its workers training. Now SIGINT (and SIGTERM) stop it wherever it was started: the run in
    progress checkpoints and is interrupted (the next `tables queue` resumes it), the queued ones stay queued, and no
    worker is left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asc_core", "tables", "run", "--tables", "II", "--subsets", "25", "--seeds", "1",
         "--dataset", str(tiny_root), "--runs", str(runs), "--results", str(tmp_path / "results")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `nohup … &` leaves it
    )  # fmt: skip
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            time.sleep(0.5)
            if (runs / "asc.db").exists() and any(r["status"] == "running" for r in Store(runs).list_runs()):
                break
        else:
            pytest.fail("no run started")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    statuses = [r["status"] for r in Store(runs).list_runs()]
    assert "running" not in statuses and len(statuses) == 5, (statuses, err[-2000:])
    assert set(statuses) <= {"interrupted", "done", "queued"} and "queued" in statuses
    alive = subprocess.run(["pgrep", "-f", f"asc_core worker .*{runs}"], capture_output=True, text=True).stdout
    assert not alive.strip(), f"workers left behind: {alive}"


@pytest.mark.slow  # a real `tables run` whose worker drains at once
def test_tables_run_with_a_grace_starts_nothing_after_its_budget(tiny_root, tmp_path):
    """`--grace-s`: once the budget is spent the workers finish the runs in hand and take no other (a lent machine's
    last minutes). A budget of 0 is spent before the worker is up: it is told once it has registered (SIGUSR1 before
    that would end it), so it has taken at most the first run by then; it finishes that one, takes no other, and
    exits; the other planned runs stay queued for the next `tables run`, none left running or interrupted."""
    from tests.conftest import run_cli

    runs = tmp_path / "runs"
    r = run_cli("tables", "run", "--tables", "II", "--subsets", "100", "--seeds", "1", "--dataset", str(tiny_root),
                "--runs", str(runs), "--results", str(tmp_path / "results"),
                "--budget-s", "0", "--grace-s", "120")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "the budget is spent: the runs in hand finish (up to 120 s more), no other starts" in r.stderr
    statuses = sorted(x["status"] for x in Store(runs).list_runs())  # 7 runs: Table II at 100 % has the 4× pair too
    assert statuses in (["queued"] * 7, ["done"] + ["queued"] * 6), (statuses, r.stderr[-2000:])
    assert f"the workers ended (status 0); {statuses.count('queued')} runs left in the queue" in r.stderr, r.stderr
    assert re.search(r"^\[\d+ s\] [01] running, [67] queued$", r.stderr, re.M)  # the campaign's progress lines


def test_the_plan_counts_only_what_is_left_of_a_run_in_the_store():
    from asc_core.cli.tables import _done_part

    assert _done_part(None) == 0.0 and _done_part({"status": "done"}) == 1.0
    assert _done_part({"status": "queued", "started_at": 1.0, "run_progress": 0.25}) == 0.25  # resumes from there
    assert _done_part({"status": "running", "started_at": 1.0, "run_progress": 0.6}) == 0.6
    assert _done_part({"status": "queued", "started_at": None, "run_progress": None}) == 0.0


def test_a_pruned_run_keeps_its_path_cut_by_cut():
    summary = {"pruning_rounds": [
        {"round": 1, "target": "width 64", "accuracy_before": 63.0001, "accuracy_after_pruning": 38.1111,
         "accuracy_after_finetune": 64.5, "params": 225310, "macs": 109846942, "channels": {"a": 1}},
        {"round": 2, "target": "width 32", "accuracy_before": 64.5, "accuracy_after_pruning": 13.17,
         "accuracy_after_finetune": 64.8, "params": 60680, "macs": 29e6}]}  # fmt: skip
    path = json.loads(table_record._pruning(summary))
    assert [p["target"] for p in path] == ["width 64", "width 32"] and path[0]["after_pruning"] == 38.11
    assert "channels" not in path[0]  # what the figure needs, not the layer-by-layer widths
    assert table_record._pruning({}) == "" and table_record._json_cell("", list) == []
    assert table_record._json_cell("{broken", list) == [] and table_record._json_cell("[1]", dict) == {}
    assert tables.row_prunes("V", "single 64→32") and not tables.row_prunes("V", "width 32, unpruned")
