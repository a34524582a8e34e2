"""One experiment, end to end: teachers (zoo) → teacher logits → student (KD) → deploy → evaluation →
device-specific fine-tuning → summary, every stage recorded in the run store."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import traceback
from pathlib import Path

import lightning as L
import numpy as np
import torch

from asc_core.complexity import measure
from asc_core.compress.rounds import check_reachable, run_rounds
from asc_core.config import ExperimentConfig
from asc_core.data import open_dataset
from asc_core.data.labels import SCENES, TRAIN_DEVICES
from asc_core.embedded.synth import dataset_tag
from asc_core.health import assess
from asc_core.jobs import record
from asc_core.machine import cpu_share
from asc_core.memory import memory_mode, older_objects_frozen
from asc_core.paths import default_dataset_root
from asc_core.store import Store
from asc_core.train.data import ASCDataModule
from asc_core.train.device import compute_device
from asc_core.train.evaluate import deploy, test_metrics, test_probs
from asc_core.train.loop import Cancelled, Deferred, Reporter, fit
from asc_core.train.module import ASCModule
from asc_core.train.parents import ensure_parent, train_unpruned
from asc_core.train.teachers import check_teacher_weights, ensure_teacher, load_ensemble

log = logging.getLogger(__name__)


def run_experiment(
    cfg: ExperimentConfig, store: Store, run_id: str | None = None, resume: bool = False, echo=None, yield_if=None
) -> dict:
    """Run (or resume) one experiment; returns the summary (status done, failed or cancelled; ``queued`` when it
    gave its worker back while waiting for another run's teacher or parent: ``yield_if``, ``Reporter.exclusive``)."""
    if run_id is None:
        run_id = record(cfg, store)
    store.update_run(
        run_id,
        status="running",
        pid=os.getpid(),
        started_at=time.time(),
        error=None,
        traceback=None,
        cancel_requested=0,
    )
    reporter = Reporter(store, run_id, echo=echo, yield_if=yield_if)
    run_dir = store.run_dir(run_id)
    try:
        with older_objects_frozen():  # the collections between its stages scan what it made, not the process
            summary = _run(cfg, store, run_id, run_dir, reporter, resume)
        store.update_run(run_id, status="done", summary=summary, finished_at=time.time(), stage="done", progress=1.0,
                         run_progress=1.0, run_eta_s=0.0)  # fmt: skip
        return summary
    except Deferred as d:
        store.update_run(run_id, status="queued", pid=None, stage=str(d))
        return {"run_id": run_id, "status": "queued"}
    except Cancelled:
        store.update_run(run_id, status="cancelled", finished_at=time.time(), error="cancelled by the user")
        return {"run_id": run_id, "status": "cancelled"}
    except Exception as e:  # recorded for the app; the CLI prints it
        store.update_run(
            run_id,
            status="failed",
            finished_at=time.time(),
            error=f"{type(e).__name__}: {e}",
            traceback=traceback.format_exc(),
        )
        log.exception("run %s failed", run_id)
        return {"run_id": run_id, "status": "failed", "error": f"{type(e).__name__}: {e}"}


def _stage_plan(cfg: ExperimentConfig, ds, store: Store) -> dict[str, float]:
    from asc_core.grid import data_sizes, local_workers, parent_ready, stage_plan
    from asc_core.zoo import teacher_key

    ready = 0
    for spec in cfg.teachers:
        entry = store.get_teacher(teacher_key(ds, cfg.subset, spec, cfg.kd.views))
        ready += bool(entry and entry.get("status") == "done")
    runs, parent, rows = store.list_runs("done"), parent_ready(cfg, store), ds.subset(cfg.subset)
    device = compute_device(cfg.accelerator)
    return stage_plan(cfg, len(rows), runs, ready, device, parent, **data_sizes(ds, rows), workers=local_workers(store))


def _run(cfg: ExperimentConfig, store: Store, run_id: str, run_dir: Path, reporter: Reporter, resume: bool) -> dict:
    t_start, cpu_start = time.time(), time.process_time()
    before = store.get_run(run_id)  # a resumed run: its attempts before this one, less their waits for a lock
    earlier_waits = before.get("waited_s") or 0.0
    earlier_s = (before.get("active_s") or 0.0) - earlier_waits
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    ds = open_dataset(cfg.dataset or default_dataset_root())
    reporter.set_plan(_stage_plan(cfg, ds, store))  # the whole run's progress weighs its stages by their cost
    if cfg.student.init_from:
        _initial_student(cfg, store)  # a wrong run id fails before any training
    check_teacher_weights(cfg.teachers)  # missing pretrained weights fail before any training
    if cfg.pruning.mode != "none":
        reporter.set_stage("checking the pruning budget")
        check_reachable(cfg)  # an unreachable budget fails before any training (the slowest check: last)
    # ---- teachers
    entries = []
    for i, spec in enumerate(cfg.teachers):
        reporter.set_stage(f"teacher {i + 1}/{len(cfg.teachers)}: {spec.model.name}")
        entries.append(
            ensure_teacher(ds, cfg.subset, spec, cfg.kd.views, store, reporter, cfg.accelerator, cfg.num_workers)
        )
    # ---- student data (+ stored teacher logits)
    reporter.set_stage("features")
    features = cfg.student_features
    dm = ASCDataModule(
        ds,
        cfg.subset,
        features,
        cfg.feature_mode,
        cfg.optim.batch_size,
        cfg.num_workers,
        cfg.seed,
        cfg.augment.roll_ms,
        cfg.augment.dir_p,
        cfg.augment.dir_folder,
    )
    dm.setup()
    if entries:
        reporter.set_stage("teacher logits")
        dm.with_teacher_logits(*load_ensemble(entries, dm.train_files))
    store.add_problems(run_id, dm.skipped)
    # ---- student
    reporter.set_stage("student training")
    L.seed_everything(cfg.seed, workers=True, verbose=False)  # same initial weights whatever ran before
    student = _initial_student(cfg, store) if cfg.student.init_from else cfg.student.build()
    student.feature_preset = features  # the input it is trained and measured on (pruning targets use it)

    def train_student():
        module = ASCModule(
            student,
            cfg.optim,
            cfg.augment,
            cfg.kd if entries else None,
            features,
            cfg.feature_mode == "on_the_fly",
            cfg.seed,
        )
        fit(
            module,
            dm,
            cfg.optim.epochs,
            run_dir / "ckpt",
            reporter,
            cfg.accelerator,
            cfg.devices,
            resume,
            cfg.optim.validate_every,
            accumulate=cfg.optim.accumulate_grad_batches,
        )

    rounds, parent = [], None
    if cfg.pruning.mode != "none" and cfg.optim.epochs:
        parent = ensure_parent(cfg, student, store, reporter, train_student)  # trained once, pruned by many
    elif cfg.optim.epochs:  # while it trains, a pruning run of the same network waits for it
        train_unpruned(cfg, student, store, run_id, train_student)
    if cfg.pruning.mode != "none":
        # the rounds draw from the same random state whether the parent was trained here or reused
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        dm.train_set.epoch = 0
        student.train()
        student, rounds = _prune(student, cfg, dm, features, entries, run_dir, reporter, store, run_id)
    torch.save(student.state_dict(), run_dir / "student.pt")
    store.add_artifact(run_id, "student", run_dir / "student.pt", _model_meta(cfg, folded=False))
    # ---- deploy + evaluate
    reporter.set_stage("evaluation")
    deployed = deploy(student, cfg.eval_precision)
    torch.save(deployed.state_dict(), run_dir / "deployed.pt")
    store.add_artifact(run_id, "deployed", run_dir / "deployed.pt", _model_meta(cfg, folded=True))
    result = _evaluate(deployed, dm, cfg, store, run_id, "general")
    cx = measure(deployed, cfg.student_input_shape)
    summary = {
        **cfg.summary_head(run_id),
        "teachers": [e["model"] for e in entries],
        "teachers_reused": [bool(e.get("reused")) for e in entries],
        "teacher_keys": [e["key"] for e in entries],
        "teacher_accuracy": [e.get("accuracy") for e in entries],
        "complexity": cx.to_dict(),
        "train_clips": len(dm.train_files),
        "skipped_clips": len(dm.skipped),
        **{
            k: result[k]
            for k in ("accuracy", "macro_accuracy", "log_loss", "per_device", "seen", "unseen", "per_class")
        },
        "pruning_rounds": rounds,
        "parent": parent,  # a pruning run's trained parent: reused from which run, or trained by this one
        "dataset_tag": dataset_tag(
            cfg.dataset or default_dataset_root()
        ),  # which data (the embedded generator's version)
        "health": assess(result),  # a model that predicts one scene for every clip is flagged, not tabled
    }
    # ---- device-specific fine-tuning
    if cfg.device_finetune.enabled:
        summary["device_specific"] = _device_finetune(student, dm, cfg, store, run_id, run_dir, reporter, result)
    # its training time over all its attempts, not only the last, less its waits for another run's teacher or parent
    summary["seconds"] = round(earlier_s + time.time() - t_start - reporter.waited_s, 1)
    summary["waited_s"] = round(earlier_waits + reporter.waited_s, 1)
    summary["threads"] = torch.get_num_threads()  # its share of the CPU: the estimates compare like with like
    # how much of its threads' time this attempt got: under ~0.8 it shared its CPU with more than its threads. Not on
    # a GPU (its CPU thread mostly waits for the device), nor with loader workers (their time is in other processes)
    if compute_device(cfg.accelerator) == "cpu" and not cfg.num_workers:
        active = time.time() - t_start - reporter.waited_s
        summary["cpu_share"] = cpu_share(time.process_time() - cpu_start, active, summary["threads"])
    reporter.close_stage()
    summary["peak_memory_mb"] = dict(reporter.peaks)  # per stage: where a memory problem comes from
    summary["memory_mode"] = memory_mode()
    return summary


def _initial_student(cfg, store) -> torch.nn.Module:
    """The trained (training-time, unfolded) student of run ``cfg.student.init_from``; it must be the same
    model and width as this config's student."""
    src = cfg.student.init_from
    try:
        run = store.get_run(src)
    except KeyError:
        raise ValueError(f"student.init_from: no run {src!r} in the store at {store.root}") from None
    art = store.artifacts(src).get("student")
    if run["status"] != "done" or art is None:
        raise ValueError(f"student.init_from: run {src} is {run['status']} and has no trained student to start from")
    if (art["model"], art.get("width"), art.get("kwargs") or {}) != (
        cfg.student.name,
        cfg.student.width,
        cfg.student.kwargs,
    ):
        raise ValueError(
            f"student.init_from: run {src} trained {art['model']} width {art.get('width')}, "
            f"but this config's student is {cfg.student.name} width {cfg.student.width}"
        )
    from asc_core.artifacts import load_model

    return load_model(art["path"], art).train()


def _model_meta(cfg, folded: bool) -> dict:
    return {
        "model": cfg.student.name,
        "width": cfg.student.width,
        "kwargs": cfg.student.kwargs,
        "folded": folded,
        "precision": cfg.eval_precision if folded else "fp32",
    }


def _test_probs(model, dm, cfg) -> np.ndarray:
    """Test-split probabilities of a deployed model, at the run's precision (the general model, the pruning
    rounds and the device models alike)."""
    return test_probs(model, dm, cfg.accelerator, cfg.eval_precision)


def _prune(student, cfg, dm, features, entries, run_dir, reporter, store, run_id):
    kd = cfg.kd if entries else None
    on_the_fly = cfg.feature_mode == "on_the_fly"

    def evaluate(m):
        return test_metrics(_test_probs(deploy(m, cfg.eval_precision), dm, cfg), dm)["macro_accuracy"]

    # the schedule's training steps: the student's own loss (augmentations, KD) through the one definition of it
    step_module = ASCModule(student, cfg.optim, cfg.augment, kd, features, on_the_fly, cfg.seed)
    device = compute_device(cfg.accelerator)  # where the schedule's training steps run (prune_scheduled)
    if step_module.mel is not None:
        step_module.mel.to(device)

    def train_step(batch, m):
        return step_module.training_loss(batch, m)[0]

    def finetune(m, k):
        optim = cfg.optim.model_copy(
            update={"epochs": cfg.pruning.finetune_epochs, "lr": cfg.pruning.finetune_lr, "warmup_epochs": 0}
        )
        module = ASCModule(m, optim, cfg.augment, kd, features, on_the_fly, cfg.seed)
        fit(
            module,
            dm,
            cfg.pruning.finetune_epochs,
            run_dir / f"ckpt_round{k + 1}",
            reporter,
            cfg.accelerator,
            cfg.devices,
            validate_every=cfg.optim.validate_every,
        )
        torch.save(m.state_dict(), run_dir / f"round{k + 1}.pt")
        store.add_artifact(run_id, f"round{k + 1}", run_dir / f"round{k + 1}.pt", _model_meta(cfg, folded=False))

    return run_rounds(student, cfg, dm, evaluate, finetune, train_step, reporter, device)


def _evaluate(model, dm, cfg, store, run_id, name) -> dict:
    probs = _test_probs(model, dm, cfg)
    rows = dm.test_rows
    y = rows["scene"].map(SCENES.index).to_numpy()
    res = test_metrics(probs, dm)
    res["_probs"] = probs  # reused by device fine-tuning; dropped before anything is written
    store.save_predictions(
        run_id, name, list(zip(dm.test_files, rows["device"], rows["city"], y, probs.argmax(1), probs))
    )
    store.add_artifact(run_id, f"metrics_{name}", store.run_dir(run_id) / f"metrics_{name}.json")
    (store.run_dir(run_id) / f"metrics_{name}.json").write_text(
        json.dumps({k: v for k, v in res.items() if k != "_probs"})
    )
    return res


def _device_finetune(general, dm, cfg, store, run_id, run_dir, reporter, base: dict) -> dict:
    """Per training device: fine-tune a copy of the general model — every parameter — on that device's clips
    (the DCASE2025 baseline's recipe, ``cfg.device_finetune``); unknown devices (s4–s6) keep the general model.
    Returns per-device accuracy of both and the gain. The DCASE budget applies to each device model
    separately; every device model has the general model's architecture, so each meets it if that one does."""
    ft = cfg.device_finetune
    rows = dm.test_rows
    y = rows["scene"].map(SCENES.index).to_numpy()
    combined = base["_probs"].copy()  # the general model's test predictions, already computed
    test_dev = rows["device"].to_numpy()
    for i, device in enumerate(TRAIN_DEVICES):
        reporter.set_stage(f"device fine-tuning {i + 1}/{len(TRAIN_DEVICES)}: {device}")
        sub = dm.for_device(device, ft.batch_size, teachers=ft.labels != "hard")
        if len(sub.train_set) == 0:
            continue
        model = copy.deepcopy(general)
        optim = cfg.optim.model_copy(
            update={
                "epochs": ft.epochs,
                "lr": ft.lr,
                "optimizer": ft.optimizer,
                "batch_size": ft.batch_size,
                "weight_decay": ft.weight_decay,
                "schedule": "cosine",
            }
        )
        aug = cfg.augment.model_copy(update={"mixstyle_p": 0.0})  # the baseline fine-tunes without Freq-MixStyle
        kd = cfg.kd if sub.has_teachers else None
        if kd and ft.labels == "soft":
            kd = kd.model_copy(update={"lam": 0.0})
        module = ASCModule(
            model,
            optim,
            aug,
            kd,
            sub.features,
            cfg.feature_mode == "on_the_fly",
            cfg.seed,
            warmup_steps=ft.warmup_steps,
        )
        fit(
            module,
            sub,
            ft.epochs,
            run_dir / f"ckpt_{device}",
            reporter,
            cfg.accelerator,
            cfg.devices,
            validate_every=10**6,
        )
        torch.save(model.state_dict(), run_dir / f"device_{device}.pt")
        store.add_artifact(
            run_id,
            f"device_{device}",
            run_dir / f"device_{device}.pt",
            _model_meta(cfg, folded=False) | {"device": device},
        )
        probs = _test_probs(deploy(model, cfg.eval_precision), dm, cfg)
        combined[test_dev == device] = probs[test_dev == device]
    res = test_metrics(combined, dm)
    store.save_predictions(
        run_id,
        "device_specific",
        list(zip(dm.test_files, rows["device"], rows["city"], y, combined.argmax(1), combined)),
    )
    gains = {d: res["per_device"][d] - base["per_device"][d] for d in res["per_device"]}
    return {
        "macro_accuracy": res["macro_accuracy"],
        "per_device": res["per_device"],
        "gain": gains,
        "recipe": ft.model_dump(),
        "budget": "per device model: each of the device models has the general model's architecture and "
        "complexity, and the DCASE limits apply to each separately (unknown devices use the general model)",
    }


def resume_run(store: Store, run_id: str, echo=None) -> dict:
    from asc_core.config import parse_config

    run = store.get_run(run_id)
    if run["status"] not in ("interrupted", "cancelled", "failed"):
        raise ValueError(f"run {run_id} is {run['status']}; only interrupted, cancelled or failed runs resume")
    return run_experiment(parse_config(run["config"]), store, run_id, resume=True, echo=echo)
