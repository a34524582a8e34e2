"""Experiment, Jobs and Compare with AppTest: on an empty store, and on a store filled by the real
pipeline on the `tiny` dataset (done runs at two subsets, a failed run, a queued one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from asc_core import jobs, table_record
from asc_core.config import parse_config
from asc_core.store import Store
from asc_core.train.runner import run_experiment
from tests.conftest import student_config

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)

ROOT = Path(__file__).resolve().parents[2]


def _cfg(root, **over):
    return student_config(root, 16, optim={"epochs": 1, "batch_size": 16, "validate_every": 1}, name="tiny") | over


@pytest.fixture(scope="module")
def filled(tiny_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("filled") / "runs"
    store = Store(runs)
    for subset in (10, 25):
        s = run_experiment(parse_config(_cfg(tiny_root, subset=subset, name=f"rep16 {subset}")), store)
        assert s["status"] == "done", s
    s = run_experiment(
        parse_config(_cfg(tiny_root, student={"name": "dcase24_baseline", "width": 16}, name="baseline16")), store
    )
    assert s["status"] == "done", s
    bad = run_experiment(parse_config(_cfg(tiny_root / "missing", name="broken")), store)
    assert bad["status"] == "failed"
    jobs.submit(parse_config(_cfg(tiny_root, name="waiting")), store)
    return runs


def _app(monkeypatch, runs, data, page):
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("ASC_RUNS", str(runs))
    monkeypatch.setenv("ASC_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_experiment_shows_the_budget_and_queues_a_run(monkeypatch, tiny_root, tmp_path):
    runs = tmp_path / "runs"
    at = _app(monkeypatch, runs, tiny_root, "pages/experiment.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Parameters"] == "61,148" and labels["DCASE budget"] == "meets"  # quick: Rep-Mobile-32 folded
    assert any("No worker is running" in i.value for i in at.info)
    k = "exp_quick_"
    at.text_input(key=k + "dataset").input(str(tiny_root)).run()
    at.number_input(key=k + "width").set_value(64).run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["DCASE budget"] == "exceeds"
    # prune 64 → 32: the figures shown are the target's, as upper bounds
    at.radio(key=k + "pmode").set_value("single").run()
    at.text_input(key=k + "chain").input("32").run()
    assert {m.label: m.value for m in at.metric}["Parameters"] == "≤ 61,148"
    # a grid: 2 widths × 2 seeds = 4 runs, one group
    at.radio(key=k + "pmode").set_value("none").run()
    at.text_area(key=k + "grid").input("student.width=32,48").run()  # the verdict is per combination
    assert any("1 of 2 combinations meet the DCASE budget" in w.value for w in at.warning)
    at.text_area(key=k + "grid").input("student.width=24,32").run()
    at.text_input(key=k + "seeds").input("0,1").run()
    assert at.button(key="exp_launch").label == "Launch 4 run(s)"
    assert at.sidebar.button(key="exp_launch_side").label == "Launch 4 run(s)"  # reachable without scrolling
    at.text_input(key=k + "name").input("widths").run()
    at.button(key="exp_launch").click().run()
    at.button(key="exp_launch").click().run()  # a double click queues nothing more
    assert not at.exception
    queued = Store(runs).list_runs("queued")
    assert len(queued) == 4 and {r["group_name"] for r in queued} == {"widths"}
    assert {(r["config"]["student"]["width"], r["config"]["seed"]) for r in queued} == {
        (24, 0),
        (24, 1),
        (32, 0),
        (32, 1),
    }
    # a bad value is named, nothing launches
    at.text_area(key=k + "grid").input("student.width=24,13").run()
    assert any("student.width=13" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "exp_launch"]


def test_experiment_paper_preset_offers_init_and_says_when_weights_are_missing(monkeypatch, tiny_root, tmp_path):
    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path / "home"))  # no weights here
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/experiment.py")
    at.selectbox(key="exp_preset").set_value("paper").run()
    assert not at.exception
    k = "exp_paper_"
    assert at.selectbox(key=k + "t_init").value == "as in the preset"  # 3 AudioSet PaSSTs + 1 from scratch
    assert any("teachers download passt_s_audioset" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "exp_launch"]
    at.selectbox(key=k + "t_init").set_value("scratch").run()
    assert not any("teachers download" in e.value for e in at.error)


def test_jobs_and_compare_on_an_empty_store(monkeypatch, tiny_root, tmp_path):
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/jobs.py")
    assert any("Nothing is running" in i.value for i in at.info)
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/compare.py")
    assert any("No finished runs yet" in i.value for i in at.info)
    # the committed Tables IV and V instead, marked as such, with the paper's figure beside each subset
    assert any(c.value.startswith("Committed results (docs/results") for c in at.caption)
    v = next(d.value for d in at.dataframe if "width 96, unpruned" in d.value.index)
    assert v.loc["width 96, unpruned", "100 % · paper"] == "65.25" and v.loc["width 32, unpruned", "25 %"] != "missing"


def test_jobs_shows_queue_failures_and_curves(monkeypatch, filled, tiny_root):
    at = _app(monkeypatch, filled, tiny_root, "pages/jobs.py")
    text = " ".join(c.value for c in at.caption)
    assert "0 running · 1 queued" in text
    assert any("no worker is running" in w.value for w in at.warning)
    assert any("failed: broken" in e.label for e in at.expander)
    assert any("missing" in c.value and "Traceback" in c.value for c in at.code)  # the traceback is shown
    assert any("No metrics yet" in c.value for c in at.caption)  # the queued run, picked by default
    done = next(r["run_id"] for r in Store(filled).list_runs("done"))
    at.selectbox(key="jobs_pick").select(done).run()
    assert at.get("plotly_chart"), "learning curves of the run in detail"
    waiting = next(r for r in Store(filled).list_runs("queued"))
    at.button(key=f"cancel_{waiting['run_id']}").click().run()
    assert Store(filled).get_run(waiting["run_id"])["status"] == "cancelled"
    # a cancelled run can be retried: a new queued run with the same config
    at = _app(monkeypatch, filled, tiny_root, "pages/jobs.py")
    at.button(key=f"retry_{waiting['run_id']}").click().run()
    assert not at.exception
    assert [r["name"] for r in Store(filled).list_runs("queued")] == ["waiting"]


def test_jobs_lists_the_queue_in_the_workers_order_and_puts_a_run_next(monkeypatch, tiny_root, tmp_path):
    from asc_core import job_queue, jobs
    from asc_core.config import parse_config

    store = Store(tmp_path / "runs")
    cfg = {"dataset": str(tiny_root), "subset": 25, "student": {"name": "dcase24_baseline", "width": 16}}
    first, second = jobs.launch([parse_config({**cfg, "name": n}) for n in ("first", "second")], store, "g")
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/jobs.py")
    assert not [b for b in at.button if b.key == f"next_{first}"]  # the head of the queue has nothing to jump
    at.button(key=f"next_{second}").click().run()  # (AppTest reruns the whole page, where the app reruns the
    assert job_queue.queue_order(store) == [second, first]  # fragment: its st.rerun(scope="fragment") raises here only)
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/jobs.py")
    listed = [m.value for m in at.markdown if m.value.startswith(("1. ", "2. "))]
    assert listed[0].startswith("1. second") and listed[1].startswith("2. first")


def test_compare_draws_everything_and_fills_table_v(monkeypatch, filled, tiny_root):
    at = _app(monkeypatch, filled, tiny_root, "pages/compare.py")
    assert at.dataframe, "the runs table"
    assert len(at.get("plotly_chart")) >= 6  # Pareto, data efficiency, per device, confusion A, B, A−B, curves
    assert [t.label for t in at.tabs][-1] == "Table V (pruning)"
    runs_table = at.dataframe[0].value
    assert len(runs_table) == 3 and "subset" in runs_table.columns  # diff-only keeps the differing fields
    assert "batch_size" not in runs_table.columns
    at.toggle(key="cmp_diff").set_value(False).run()
    assert "optim.batch_size" in at.dataframe[0].value.columns
    before = len(Store(filled).list_runs())
    at.button(key="table_v_fill").click().run()
    assert not at.exception
    assert len(Store(filled).list_runs()) == before  # the first click shows the runs and their estimate only
    assert at.button(key="table_v_go").label.startswith("Queue these 3 runs (about ")
    at.button(key="table_v_go").click().run()
    new = [r for r in Store(filled).list_runs() if r["group_name"] == "fill table_v"]
    assert sorted(r["config"]["subset"] for r in new) == [5, 50, 100]  # rep_mobile width 16 had 10 and 25
    assert len(Store(filled).list_runs()) == before + 3


def test_compare_sets_each_run_with_teachers_against_its_twin_without(monkeypatch, tiny_root, tmp_path):
    """The Table IV tab: each finished run with teachers against the run of the same config without them, a panel per
    subset (the runs here carry a run's figures in a real store; `runs lead` and tests/test_teacher_lead.py check
    the pairs)."""
    import json

    from tests.conftest import finished_run, student_config

    store = Store(tmp_path / "runs")
    cnn = [{"model": {"name": "cp_resnet", "width": 32}}]
    for subset, seed, alone, taught, teacher in ((25, 0, 40.0, 44.0, 46.0), (25, 1, 42.0, 41.0, 40.0),
                                                  (25, 2, 41.0, 43.5, 45.0), (10, 0, 30.0, 29.0, 33.0)):  # fmt: skip
        cfg = student_config(tiny_root, 32, subset=subset, seed=seed)
        finished_run(store, cfg | {"name": f"alone {subset} {seed}"}, alone)
        finished_run(store, cfg | {"name": f"taught {subset} {seed}", "teachers": cnn}, taught, [teacher])
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/compare.py")
    assert any(c.value.startswith("Does the student follow its teachers? Each run with teachers") for c in at.caption)
    lead = json.loads(next(c for c in at.get("plotly_chart") if "cmp_teacher_lead" in c.proto.id).proto.spec)
    assert {t["xaxis"] for t in lead["data"]} == {"x", "x2"}  # 10 and 25 %
    assert any("25 % · 3 pairs<br>r " in a["text"] for a in lead["layout"]["annotations"])  # the panel's title


def test_listen_plays_a_mistake_and_follows_a_clicked_cell(monkeypatch, filled, tiny_root):
    at = _app(monkeypatch, filled, tiny_root, "pages/listen.py")
    assert len(at.get("audio")) == 1, "one player at a time"
    assert at.get("audio")[0].proto.url.endswith(".wav")
    assert len(at.get("plotly_chart")) == 3  # confusion, spectrogram, probabilities
    run_id = at.selectbox(key="listen_run").value
    pred = Store(filled).predictions(run_id)
    wrong = pred[pred["y_true"] != pred["y_pred"]].iloc[0]
    from asc_core.data.labels import SCENES

    t, p = SCENES[wrong["y_true"]], SCENES[wrong["y_pred"]]
    at.session_state["listen_cm"] = {
        "selection": {"points": [{"x": p, "y": t}], "point_indices": [], "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception
    assert at.selectbox(key="listen_true").value == t and at.selectbox(key="listen_pred").value == p
    shown = at.dataframe[0].value
    assert len(shown) and set(shown["true"]) == {t} and set(shown["predicted"]) == {p}
    assert wrong["filename"] in set(shown["filename"])
    other = next(r["run_id"] for r in Store(filled).list_runs("done") if r["run_id"] != run_id)
    at.selectbox(key="listen_other").set_value(other).run()
    assert not at.exception and len(at.get("audio")) == 1


def test_listen_on_an_empty_store(monkeypatch, tiny_root, tmp_path):
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/listen.py")
    assert any("No finished runs yet" in i.value for i in at.info)


def test_models_page_registered_and_from_a_run(monkeypatch, filled, tiny_root):
    at = _app(monkeypatch, filled, tiny_root, "pages/models.py")
    assert [m.value for m in at.metric][:3] == ["61,148", "29.42 M", "meets"]  # rep_mobile width 32, folded
    assert _folding_error(at.success[0].value) <= 1e-4  # the folding error is shown
    budget = at.dataframe[0].value
    assert list(budget["precision"]) == ["fp32", "fp16", "int8"] and list(budget["bytes fit"]) == [False, True, True]
    at.number_input(key="models_width").set_value(64).run()
    assert at.metric[2].value == "exceeds"
    at.radio(key="models_source").set_value("a finished run").run()
    assert not at.exception and at.get("plotly_chart")


def test_models_page_shows_a_pruning_trajectory(monkeypatch, progressive_run, tiny_root):
    store, s = progressive_run
    assert s["status"] == "done", s
    at = _app(monkeypatch, store.root, tiny_root, "pages/models.py")
    at.radio(key="models_source").set_value("a finished run").run()
    assert any(h.value == "Pruning trajectory" for h in at.subheader)
    traj = next(d.value for d in at.dataframe if "step" in d.value.columns)
    assert list(traj["params"]) == [
        s["pruning_rounds"][0]["params_before"],
        *[r["params"] for r in s["pruning_rounds"]],
    ]


def test_data_page_distributions_parallel_devices_and_map(monkeypatch, tiny_root, tmp_path):
    st.cache_data.clear()
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/data.py")
    assert len(at.get("audio")) == 9, "the same second from all nine devices"
    at.number_input(key="data_n").set_value(100).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) >= 3 + 9 + 1  # distributions, nine spectrograms, the map
    at.session_state["data_map"] = {
        "selection": {"points": [{"x": 0.0, "y": 0.0}], "point_indices": [], "box": [], "lasso": []}
    }
    at.run()
    assert len(at.get("audio")) == 10, "a clicked point plays its clip"
    at.text_input(key="data_root").input(str(tmp_path / "nowhere")).run()
    assert "does not exist" in at.error[0].value


def test_tryit_page(monkeypatch, filled, tiny_root, tmp_path):
    at = _app(monkeypatch, tmp_path / "empty", tiny_root, "pages/tryit.py")
    assert any("No finished runs yet" in i.value for i in at.info)
    at = _app(monkeypatch, filled, tiny_root, "pages/tryit.py")
    assert any("second by second" in c.value for c in at.caption)  # waiting for audio (uploads: see the e2e test)


def _folding_error(message: str) -> float:
    """The one number in scientific notation in a folding message (e.g. "… difference …: 2.4e-07")."""
    import re

    found = re.findall(r"\d+(?:\.\d+)?e[-+]\d+", message)
    assert len(found) == 1, message
    return float(found[0])


def test_learn_page_widgets_move_the_numbers(monkeypatch, filled, tiny_root):
    at = _app(monkeypatch, filled, tiny_root, "pages/learn.py")
    entropy = at.metric[0].value
    at.slider(key="learn_tau").set_value(6.0).run()
    assert at.metric[0].value != entropy and float(at.metric[0].value.split()[0]) > float(entropy.split()[0])
    import json

    chart = json.loads(at.get("plotly_chart")[0].proto.spec)  # the temperature chart: grouped, two named series
    assert chart["layout"]["barmode"] == "group" and len(chart["data"]) == 2
    assert {t["name"] for t in chart["data"]} == {"τ = 1 (as the teacher says)", "τ = 6 (what the student learns from)"}
    assert _folding_error(at.success[0].value) <= 1e-4  # folding error of the toy block
    at.multiselect(key="learn_branches").set_value(["1x3", "identity"]).run()
    assert not at.exception and _folding_error(at.success[0].value) <= 1e-4
    assert any("No pruned runs" in i.value for i in at.info)
    # the committed evidence: Table V's measured rows (docs/results), not runs of this store
    assert any(h.value == "Table V — widths and pruning" for h in at.subheader)
    assert any(c.value.startswith(f"{table_record.progress('V')[0]} of 40 runs recorded") for c in at.caption)
    v = next(d.value for d in at.dataframe if "width 96, unpruned" in d.value.index)
    assert re.search(r"\(n=([2-9]|[1-9]\d+)\)$", v.loc["width 96, unpruned", "25 %"])  # two seeds or more
    assert any(m.value.startswith("**What it shows") for m in at.markdown)  # each table's paragraph beside it
    assert "25 % · paper" in v.columns and v.loc["width 96, unpruned", "25 % · paper"] == "59.10"
    evidence = json.loads(next(c for c in at.get("plotly_chart") if "learn_evidence_V" in c.proto.id).proto.spec)
    assert {t["type"] for t in evidence["data"]} == {"bar"}  # gains over width 32, ours beside the paper's
    assert {t["xaxis"] for t in evidence["data"]} == {"x", "x2"}
    verdicts = next(d.value for d in at.dataframe if "verdict" in d.value.columns)  # row by row against the paper
    assert set(verdicts["verdict"]) <= {"agrees", "disagrees", "inside the spread", "one seed", "no paper figure"}
    sizes = verdicts.loc[verdicts["verdict"] == "agrees", "size, where it agrees"]  # the sign alone flatters
    assert sizes.str.fullmatch(r"as large|\d+\.\d× the paper's").all()
    assert (verdicts["n"] >= 2).all() and verdicts["p (Welch)"].str.fullmatch(r"0\.\d{2,3}|< 0\.001|1\.00").all()
    judged = verdicts["verdict"].isin(["agrees", "disagrees", "inside the spread"])  # q: BH over the judged cells
    assert verdicts.loc[judged, "q (BH)"].str.fullmatch(r"0\.\d{2,3}|< 0\.001|1\.00").all()
    assert (verdicts.loc[~judged, "q (BH)"] == "–").all()
    assert any(e.label.startswith("Row by row against the paper: ") for e in at.expander)
    assert any(c.value.startswith("Across Tables II–V, ") and "(Benjamini–Hochberg)" in c.value for c in at.caption)
    # the device table: each seed's device-specific models against its own general model, paired
    paired = r"Device-specific against general, seed by seed: .*paired t-test p "
    assert any(re.match(paired, c.value) for c in at.caption)
    same_parent = next(m.value for m in at.markdown if m.value.startswith("From the same parent, seed by seed"))
    assert "*progressive 96→64→32 (full FT per round)* against *single 96→32*: 5 % " in same_parent
    identity = next(m.value for m in at.markdown if m.value.startswith("RepVGG's identity branch, seed by seed"))
    assert "- *no KD* (Table IV) against *all branches (3×3, 1×1, 3×1, 1×3)*: 5 % " in identity  # under Table II
    kd = next(m.value for m in at.markdown if m.value.startswith("Each KD row against its own seed's *no KD* run"))
    assert "- *CNN teachers (CP-ResNet + CP-Mobile-64)* against *no KD*: 5 % " in kd  # Table IV, seed by seed
    assert any(c.value.startswith("Does the student follow its teachers?") for c in at.caption)
    lead = json.loads(next(c for c in at.get("plotly_chart") if "learn_teacher_lead" in c.proto.id).proto.spec)
    assert {t["xaxis"] for t in lead["data"]} == {"x", "x2", "x3"}  # a panel per subset
    assert "least squares" in {t["name"] for t in lead["data"]} and "no KD" not in {t["name"] for t in lead["data"]}
    at.radio(key="learn_view_V").set_value("accuracy per subset").run()
    assert not at.exception, at.exception
    evidence = json.loads(next(c for c in at.get("plotly_chart") if "learn_evidence_V" in c.proto.id).proto.spec)
    assert {t["type"] for t in evidence["data"]} == {"scatter"} and "width 32, unpruned" in {
        t["name"] for t in evidence["data"]
    }


def test_learn_page_lists_the_runs_behind_a_cell_and_opens_one_in_listen(monkeypatch, filled, tiny_root, tmp_path):
    import base64
    import csv
    import json

    import numpy as np

    from asc_core import table_record

    here = Store(filled).list_runs("done")[0]["run_id"]
    elsewhere = "20990101-000000-dead"  # trained on another machine: only its CSV row is here
    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    with open(tmp_path / "table_V.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy", "seen",
                               "unseen", "macs", "seconds", "machine", "per_device", "pruning", "threads",
                               "curve"])  # fmt: skip
        w.writeheader()
        path = [{"target": "width 32", "before": 63.0, "after_pruning": 13.2, "after_finetune": 60.0}]
        curve = {"test": [[2, 40.0], [4, 55.5]], "train": [[1, 30.0], [2, 45.0], [3, 60.0], [4, 70.0]]}
        for seed, run_id in ((0, here), (1, elsewhere)):  # the run elsewhere: recorded before its path was kept
            w.writerow({"table": "V", "row": "single 64→32", "subset": 25, "seed": seed, "config_digest": f"d{seed}",
                        "run_id": run_id, "macro_accuracy": 60 + seed, "seen": 62, "unseen": 55, "macs": 29e6,
                        "seconds": 100, "machine": "vm", "per_device": json.dumps({"a": 70.0, "s4": 50.0}),
                        "pruning": json.dumps(path) if seed == 0 else "", "threads": 1 if seed == 0 else "",
                        "curve": json.dumps(curve) if seed == 0 else ""})  # fmt: skip
    at = _app(monkeypatch, filled, tiny_root, "pages/learn.py")
    at.selectbox(key="learn_cell_row_V").set_value("single 64→32").run()
    at.selectbox(key="learn_cell_sub_V").set_value(25).run()
    assert not at.exception, at.exception
    listed = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert list(listed["run"]) == [here, elsewhere] and list(listed["macro accuracy (%)"]) == [60.0, 61.0]
    assert listed["CPU threads"].iloc[0] == 1 and listed["CPU threads"].isna().iloc[1]

    def chart(key):
        return json.loads(next(c for c in at.get("plotly_chart") if key in c.proto.id).proto.spec)

    bars = chart("learn_cell_dev_V")  # per device, one series per seed
    cut = chart("learn_cell_path_V")["data"]  # the path of the seed that kept it
    learned = chart("learn_cell_curves_V")["data"]  # the curve of the seed that kept it: test and training
    assert [t["name"] for t in learned] == ["seed 0, test", "seed 0, train"] and learned[0]["x"] == [2, 4]
    assert any("for the runs whose curve was kept" in c.value for c in at.caption)
    y = np.frombuffer(base64.b64decode(cut[0]["y"]["bdata"]), cut[0]["y"]["dtype"])  # plotly's packed array
    assert [t["name"] for t in cut] == ["seed 0"] and list(y) == [63.0, 13.2, 60.0]
    assert cut[0]["x"] == ["trained wide", "cut to width 32", "fine-tuned at width 32"]
    assert {t["name"].split(",")[0] for t in bars["data"]} >= {f"seed 0 ({here[-4:]})", f"seed 1 ({elsewhere[-4:]})"}
    assert any(elsewhere in c.value and "not this one's" in c.value for c in at.caption)
    at.button(key=f"learn_listen_V_{here}").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="listen_run").value == here  # Listen opened on that run


def test_learn_tells_a_cell_not_run_yet_from_one_not_planned(monkeypatch, filled, tiny_root, tmp_path):
    """Table II's 4×-steps pair is planned at 100 % only: at 5 % its cell says so, rather than 'not run yet'."""
    import csv

    from asc_core import table_record

    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    with open(tmp_path / "table_II.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["table", "row", "subset", "seed", "config_digest", "run_id", "macro_accuracy",
                               "dataset"])  # fmt: skip
        w.writeheader()
        for n, data in enumerate(("standard", "standard v2", "standard v2")):  # the table moved to the newer data
            w.writerow({"table": "II", "row": "without 3×3", "subset": 25, "seed": n, "config_digest": f"d{n}",
                        "run_id": f"20990101-000000-bee{n}", "macro_accuracy": 50.0 + n, "dataset": data})  # fmt: skip
    at = _app(monkeypatch, filled, tiny_root, "pages/learn.py")
    earlier = next(e for e in at.expander if e.label == "The same table on earlier data: standard")
    assert earlier.dataframe[0].value.loc["without 3×3", "25 %"] == "50.0"  # its one run, not the newer two
    shown = next(d.value for d in at.dataframe if "100 % · paper" in d.value.columns)
    assert shown.loc["without 3×3", "25 %"].startswith("51.5 ± ")
    at.selectbox(key="learn_cell_row_II").set_value("all branches, 4× the steps").run()
    for subset, says in ((5, "Not planned at this subset"), (100, "Not run yet")):
        at.selectbox(key="learn_cell_sub_II").set_value(subset).run()
        assert not at.exception, at.exception
        assert any(c.value.startswith(says) for c in at.caption), subset


def test_a_broken_results_file_is_named_on_learn_and_compare(monkeypatch, filled, tiny_root, tmp_path):
    from asc_core import table_record

    monkeypatch.setattr(table_record, "RESULTS_DIR", tmp_path)
    (tmp_path / "table_V.csv").write_text("table,row\nV,width 32\n")
    for runs, page in ((filled, "pages/learn.py"), (tmp_path / "empty", "pages/compare.py")):  # Compare: no runs
        at = _app(monkeypatch, runs, tiny_root, page)  # of its own, so it offers the committed ones
        assert any("table_V.csv: not a results table" in e.value for e in at.error), page
