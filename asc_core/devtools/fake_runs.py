"""Realistic fake runs, for the page-render benchmark only (``bench app``): configs drawn from the
presets' space, plausible accuracies (rising with subset, width and teachers; unseen devices lower),
complexity measured from the real networks, 900 per-clip predictions and per-epoch curves per run.
Never used by the product or the tests' assertions about results."""

from __future__ import annotations

import time

import numpy as np

from asc_core.config import parse_config
from asc_core.constants import SUBSETS
from asc_core.data.labels import DEVICES, SCENES, TRAIN_DEVICES
from asc_core.grid import final_complexity
from asc_core.store import Store

_TEACHERS = {
    "none": [],
    "cp_resnet": [{"model": {"name": "cp_resnet", "width": 32}}],
    "passt": [{"model": {"name": "passt_tiny"}}],
    "both": [{"model": {"name": "cp_resnet", "width": 32}}, {"model": {"name": "passt_tiny"}}],
}


def fill(store: Store, n: int = 200, seed: int = 0, clips: int = 900) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(n):
        subset = int(rng.choice(SUBSETS))
        width = int(rng.choice([24, 32, 48, 64, 96]))
        teachers = str(rng.choice(list(_TEACHERS)))
        mode = str(rng.choice(["none", "none", "single", "progressive"])) if width >= 64 else "none"
        pruning = (
            {"mode": mode}
            if mode == "none"
            else {"mode": mode, "chain": [32] if mode == "single" else [width - 16 if width == 64 else 64, 32]}
        )
        cfg = parse_config(
            {
                "preset": "quick",
                "subset": subset,
                "seed": int(rng.integers(0, 3)),
                "student": {"name": "rep_mobile", "width": width},
                "teachers": _TEACHERS[teachers],
                "pruning": pruning,
                "name": f"fake {i}",
            }
        )
        status = "done" if i % 20 not in (3, 7) else ("failed" if i % 40 == 3 else "cancelled")
        run_id = store.create_run(
            cfg.model_dump(mode="json"),
            name=cfg.name,
            group=f"fake group {i % 7}",
            status=status,
            config_hash=cfg.digest(),
        )
        ids.append(run_id)
        _metrics(store, run_id, rng, cfg.optim.epochs)
        if status != "done":
            store.update_run(
                run_id,
                error="RuntimeError: fake failure" if status == "failed" else "cancelled by the user",
                traceback="Traceback (most recent call last):\n  ...\nRuntimeError: fake failure",
            )
            continue
        acc = (
            35
            + 25 * np.log10(subset) / 2
            + 4 * np.log2(width / 24)
            + (3 if teachers != "none" else 0)
            + (2 if mode == "progressive" else 0)
            + rng.normal(0, 1.5)
        )
        store.update_run(
            run_id,
            summary=_summary(cfg, run_id, float(acc), rng),
            started_at=time.time(),
            finished_at=time.time(),
            stage="done",
            progress=1.0,
        )
        _predictions(store, run_id, float(acc), rng, clips)
    return ids


def _summary(cfg, run_id, acc, rng) -> dict:
    per_device = {d: float(np.clip(acc + (4 if d in TRAIN_DEVICES else -9) + rng.normal(0, 3), 5, 99)) for d in DEVICES}
    cx = final_complexity(cfg)
    cx.pop("bound"), cx.pop("what")
    return {
        **cfg.summary_head(run_id),
        "teachers": [t.model.name for t in cfg.teachers],
        "complexity": cx,
        "accuracy": acc,
        "macro_accuracy": acc,
        "log_loss": 1.2,
        "per_device": per_device,
        "seen": float(np.mean([per_device[d] for d in TRAIN_DEVICES])),
        "unseen": float(np.mean([per_device[d] for d in DEVICES if d not in TRAIN_DEVICES])),
        "per_class": {s: float(np.clip(acc + rng.normal(0, 8), 0, 100)) for s in SCENES},
        "pruning_rounds": [],
        "seconds": float(rng.uniform(120, 900)),
        "train_clips": 1750,
    }


def _metrics(store, run_id, rng, epochs):
    for e in range(epochs):
        store.log_metrics(
            run_id,
            "student training",
            e,
            (e + 1) * 28,
            {"train_loss": float(2.2 * np.exp(-e / 5) + 0.6), "val_acc": float(0.3 + 0.3 * (1 - np.exp(-e / 4)))},
        )


def _predictions(store, run_id, acc, rng, clips):
    devices = np.resize(np.array(DEVICES), clips)
    y = np.repeat(np.arange(len(SCENES)), clips // len(SCENES) + 1)[:clips]
    right = rng.random(clips) < acc / 100
    pred = np.where(right, y, (y + rng.integers(1, len(SCENES), clips)) % len(SCENES))
    logits = rng.normal(0, 1, (clips, len(SCENES)))
    logits[np.arange(clips), pred] += 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    store.save_predictions(
        run_id,
        "general",
        [
            (f"audio/fake-{run_id}-{k}.wav", devices[k], "city", int(y[k]), int(pred[k]), probs[k].round(4).tolist())
            for k in range(clips)
        ],
    )
