"""The experiment pipeline, for real, on the tiny embedded dataset: teachers, KD, evaluation, store."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from asc_core.config import parse_config
from asc_core.data.labels import DEVICES, SCENES
from asc_core.store import Store
from asc_core.train.runner import resume_run, run_experiment
from tests.conftest import tiny_config

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)


def test_experiment_records_everything_and_reuses_its_teacher(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    s1 = run_experiment(parse_config(tiny_config(tiny_root)), store)
    assert s1["status"] == "done", s1
    assert set(s1["per_device"]) == set(DEVICES) and set(s1["per_class"]) == set(SCENES)
    assert s1["complexity"]["params"] > 0 and s1["teachers_reused"] == [False]
    run = store.get_run(s1["run_id"])
    assert run["status"] == "done" and run["code_version"] and run["host"]
    assert run["run_progress"] == 1.0 and run["run_eta_s"] == 0.0  # the whole run's progress, to its end
    assert set(s1["peak_memory_mb"]) >= {"teacher 1/1", "student training", "evaluation"}
    assert s1["health"]["collapsed"] in (True, False) and "top_share" in s1["health"]
    preds = store.predictions(s1["run_id"])
    assert len(preds) == 180 and len(preds["probs"].iloc[0]) == 10
    m = store.metrics(s1["run_id"])
    assert {"train_loss", "val_acc"} <= set(m["key"]) and (m["stage"] == "student training").any()
    arts = store.artifacts(s1["run_id"])
    import torch

    state = torch.load(arts["deployed"]["path"], weights_only=True)
    assert any(k.endswith("weight") for k in state)
    # a second experiment with the same teacher (different student) takes it from the zoo
    s2 = run_experiment(parse_config(tiny_config(tiny_root, kd={"lam": 0.5, "tau": 3.0, "views": 2})), store)
    assert s2["status"] == "done" and s2["teachers_reused"] == [True]
    assert len(store.list_teachers()) == 1
    teacher = store.list_teachers()[0]
    assert teacher["status"] == "done" and teacher["run_id"] == s1["run_id"]


def test_device_specific_finetuning(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    cfg = tiny_config(tiny_root, teachers=[], device_finetune={"enabled": True, "epochs": 1, "labels": "hard"})
    s = run_experiment(parse_config(cfg), store)
    assert s["status"] == "done", s
    ds = s["device_specific"]
    assert set(ds["gain"]) == set(DEVICES)
    for d in ("s4", "s5", "s6"):  # unknown devices fall back to the general model
        assert ds["gain"][d] == pytest.approx(0.0)
    assert len(store.predictions(s["run_id"], "device_specific")) == 180
    assert "device_a" in store.artifacts(s["run_id"])
    assert ds["recipe"]["optimizer"] == "adamw" and ds["recipe"]["warmup_steps"] == 200  # the DCASE2025 baseline's
    assert "each" in ds["budget"] and "separately" in ds["budget"]


def test_device_finetuning_defaults_are_the_dcase2025_baseline():
    """train_device_specific.py: all parameters, 50 epochs, AdamW 5e-4, 200 warm-up steps, wd 1e-4, batch 256,
    hard labels; Freq-MixStyle is switched off in the runner (and the short CPU setting is a preset)."""
    from asc_core.config import DeviceFinetune, load_config

    d = DeviceFinetune()
    assert (d.epochs, d.optimizer, d.lr, d.warmup_steps, d.weight_decay, d.batch_size, d.labels) == (
        50, "adamw", 5e-4, 200, 1e-4, 256, "hard")  # fmt: skip
    quick = load_config("quick-device").device_finetune
    assert quick.enabled and (quick.epochs, quick.warmup_steps) == (3, 0)


def test_failing_run_is_recorded(tmp_path):
    store = Store(tmp_path / "runs")
    s = run_experiment(parse_config({"dataset": str(tmp_path / "nowhere"), "accelerator": "cpu"}), store)
    assert s["status"] == "failed" and "does not exist" in s["error"]
    run = store.get_run(s["run_id"])
    assert run["status"] == "failed" and "Traceback" in run["traceback"]


def test_train_cli_json_contract(tiny_root, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tiny_root, teachers=[])))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "asc_core",
            "train",
            str(cfg),
            "--runs",
            str(tmp_path / "runs"),
            "--set",
            "optim.epochs=1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["status"] == "done" and s["run_id"]
    assert {"params", "macs", "bytes"} <= set(s["complexity"])
    assert set(s["per_device"]) == set(DEVICES) and "macro_accuracy" in s and s["pruning_rounds"] == []
    r = subprocess.run(
        [sys.executable, "-m", "asc_core", "runs", "list", "--runs", str(tmp_path / "runs"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    runs = json.loads(r.stdout)
    assert runs[0]["run_id"] == s["run_id"] and runs[0]["status"] == "done"
    r = subprocess.run(
        [sys.executable, "-m", "asc_core", "train", str(cfg), "--set", "optim.lr=-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "optim.lr" in r.stderr and "greater than 0" in r.stderr


def test_a_run_cancelled_mid_epoch_resumes_with_every_step_of_its_recipe(tiny_root, tmp_path):
    """Lightning runs the epoch-end hooks when a stop cuts an epoch short; the checkpoint saved there counted the
    part-epoch as done, and the resumed run skipped the rest of it (a Table V parent trained 256 of 330 steps)."""
    import math
    import threading

    from asc_core.data import open_dataset
    from asc_core.jobs import record

    store = Store(tmp_path / "runs")
    optim = {"epochs": 3, "batch_size": 4, "lr": 0.005, "validate_every": 1000}
    cfg = parse_config(tiny_config(tiny_root, teachers=[], subset=100, optim=optim))
    per_epoch = math.ceil(len(open_dataset(tiny_root).subset(100)) / 4)
    run_id, out = record(cfg, store), {}
    t = threading.Thread(target=lambda: out.update(s=run_experiment(cfg, store, run_id)))
    t.start()
    deadline = time.time() + 240
    while time.time() < deadline and (store.get_run(run_id)["step"] or 0) < per_epoch + per_epoch // 2:
        time.sleep(0.05)  # halfway through the second epoch
    store.update_run(run_id, cancel_requested=1)
    t.join(240)
    assert out["s"]["status"] == "cancelled", out
    s = resume_run(store, run_id)
    assert s["status"] == "done", s
    m = store.metrics(run_id).query("key == 'train_loss' and stage == 'student training'")
    assert m.groupby("epoch")["step"].max().tolist() == [per_epoch, 2 * per_epoch, 3 * per_epoch], m


def test_killed_run_leaves_a_consistent_store_and_resumes(tiny_root, tmp_path):
    runs = tmp_path / "runs"
    cfg = tmp_path / "c.yaml"
    # many short epochs: the kill lands mid-run however fast the machine is
    cfg.write_text(
        yaml.safe_dump(
            tiny_config(
                tiny_root,
                teachers=[],
                subset=100,
                optim={"epochs": 20, "batch_size": 4, "lr": 0.005, "validate_every": 1000},
            )
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "asc_core", "train", str(cfg), "--runs", str(runs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = None
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.05)
        if (runs / "asc.db").exists():
            store = store or Store(runs)
            rs = store.list_runs()
            if rs and (rs[0]["epoch"] or 0) >= 2 and list(runs.glob("*/ckpt/last.ckpt")):
                break
    else:
        proc.kill()
        pytest.fail("the run did not reach epoch 2 in time")
    os.kill(proc.pid, signal.SIGKILL)  # mid-epoch, no goodbye
    proc.wait()
    con = sqlite3.connect(runs / "asc.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    run_id = store.list_runs()[0]["run_id"]
    killed = store.get_run(run_id)
    assert killed["status"] == "running", "the run finished before it could be killed"
    assert store.mark_interrupted() == [run_id]
    assert store.get_run(run_id)["status"] == "interrupted"
    spent = store.get_run(run_id)["active_s"]  # the first attempt, up to its last sign of life
    assert spent == pytest.approx(killed["updated_at"] - killed["started_at"]) and spent > 0
    before = store.metrics(run_id)
    s = resume_run(store, run_id)
    assert s["status"] == "done", s
    # both attempts; the summary's seconds are rounded to 0.1 s, so they can read up to 0.05 s above active_s
    assert s["seconds"] > spent and -0.05 <= store.get_run(run_id)["active_s"] - s["seconds"] < 5
    after = store.metrics(run_id)
    epochs = sorted(after[after["key"] == "train_loss"]["epoch"].unique())
    assert epochs[-1] == 19 and len(before) > 0
    assert set(range(20)) == set(epochs)
    assert before["epoch"].max() >= 1  # the first process got that far; the resumed one went on from its checkpoint
    assert [p.name for p in runs.glob("*/ckpt/*.ckpt")] == ["last.ckpt"]  # no last-v1.ckpt beside it


def test_deterministic_under_a_seed_with_or_without_loader_workers(tiny_root, tmp_path):
    """Twice the same run, then with two loader workers kept up across its epochs and validations (as on a GPU):
    the same network each time (each clip's augmentation comes from its seed, epoch and index)."""
    store = Store(tmp_path / "runs")
    cfg = parse_config(tiny_config(tiny_root, teachers=[], optim={"epochs": 2, "batch_size": 16, "validate_every": 1}))
    a = run_experiment(cfg, store)
    b = run_experiment(cfg, store)
    c = run_experiment(cfg.model_copy(update={"num_workers": 2}), store)
    assert a["status"] == b["status"] == c["status"] == "done"
    pa, pb, pc = (store.predictions(r["run_id"])["probs"].tolist() for r in (a, b, c))
    assert pa == pb == pc


def test_how_often_a_run_validates_does_not_change_how_it_trains(tiny_root, tmp_path):
    """TF-SepNet draws its dropout from the global RNG; validating every epoch or never gives the same network
    (the validation loader has its own generator), so the tables may validate 5 % runs less often. Its learning
    curve holds the epochs that validated, and only those (Lightning keeps the last figures between validations)."""
    store = Store(tmp_path / "runs")
    probs = []
    for every in (2, 100):  # validated after epoch 2 only, or never
        optim = {"epochs": 3, "batch_size": 16, "validate_every": every}
        cfg = parse_config(tiny_config(tiny_root, teachers=[], student={"name": "tf_sepnet", "width": 16}, optim=optim))
        r = run_experiment(cfg, store)
        assert r["status"] == "done", r.get("error")
        probs.append(store.predictions(r["run_id"])["probs"].tolist())
        m = store.metrics(r["run_id"])
        assert sorted(m.loc[m["key"] == "val_acc", "epoch"]) == {2: [1], 100: []}[every]
        assert sorted(m.loc[m["key"] == "train_loss", "epoch"]) == [0, 1, 2]
    assert probs[0] == probs[1]


def test_two_runs_needing_the_same_untrained_teacher_train_it_once(tiny_root, tmp_path):
    import threading

    from asc_core.config import parse_config
    from asc_core.data import open_dataset
    from asc_core.train.loop import Reporter
    from asc_core.train.teachers import ensure_teacher

    cfg = parse_config(tiny_config(tiny_root))
    store, ds = Store(tmp_path / "runs"), open_dataset(tiny_root)
    entries, errors = [], []

    def need_teacher():
        try:
            entries.append(ensure_teacher(ds, cfg.subset, cfg.teachers[0], cfg.kd.views, store, Reporter(), "cpu"))
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=need_teacher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert sorted(e["reused"] for e in entries) == [False, True]  # one trained, the other waited and reused
    assert entries[0]["logits_path"] == entries[1]["logits_path"]
