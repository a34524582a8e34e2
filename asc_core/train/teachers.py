"""The teacher zoo: a teacher is trained once per (dataset, subset, teacher config, seed) and reused.

Each teacher's logits for the training clips are stored on disk — for K views per clip, view 0 the
clean clip and views 1..K−1 time-rolled by a stored shift (the augmentation parameters beside the
logits, as the Rep-Mobile paper stores them) — so distillation never runs a teacher forward pass.
Shifts are kept in milliseconds and depend only on (clip index, view), so every teacher of an ensemble
saw the same views, whatever its front end's hop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from asc_core.constants import N_CLASSES
from asc_core.data.features import FEATURE_PRESETS
from asc_core.models import model_features
from asc_core.train.data import ASCDataModule
from asc_core.train.device import compute_device
from asc_core.train.evaluate import test_metrics, test_probs
from asc_core.train.loop import Reporter, fit
from asc_core.train.module import ASCModule
from asc_core.zoo import init_weights, teacher_key, teacher_lock


def view_shifts_ms(n: int, views: int, roll_ms: float) -> np.ndarray:
    """[n, views] time shifts in ms; view 0 is unshifted."""
    out = np.zeros((n, views), dtype=np.float32)
    for k in range(1, views):
        out[:, k] = np.random.default_rng(1000 + k).uniform(-roll_ms, roll_ms, n)
    return out


def zoo_dir(store) -> Path:
    d = store.root / "teachers"
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_teacher(spec) -> torch.nn.Module:
    """A teacher's network with its starting weights: from scratch, the AudioSet release (verified against the
    manifest), or a checkpoint file — loaded strictly."""
    model = spec.model.build()
    if spec.init == "scratch":
        return model
    from asc_core.models.passt import load_passt_checkpoint
    from asc_core.weights import AUDIOSET, verified_path

    path = verified_path(AUDIOSET) if spec.init == "audioset" else init_weights(spec)[0]
    load_passt_checkpoint(model, path, name=f"teacher init {spec.init}")
    return model


def check_teacher_weights(teachers) -> None:
    """Fail before any training if a teacher's starting weights are missing or corrupt (one clear line)."""
    from asc_core.weights import AUDIOSET, verified_path

    for spec in teachers:
        if spec.init == "audioset":
            verified_path(AUDIOSET)
        elif spec.init != "scratch" and not init_weights(spec)[0].exists():
            raise FileNotFoundError(f"teacher init: checkpoint {spec.init} does not exist")


def ensure_teacher(
    ds, subset: int, spec, views: int, store, reporter: Reporter, accelerator: str = "auto", num_workers: int = 0
) -> dict:
    """The zoo entry of this teacher, training it (and storing its logits) if it does not exist yet."""
    key = teacher_key(ds, subset, spec, views)
    folder = zoo_dir(store) / key
    folder.mkdir(parents=True, exist_ok=True)
    waiting = f"waiting for teacher {spec.model.name}: another run is training it"
    with reporter.exclusive(store, teacher_lock(key), waiting):  # two runs needing it: one trains, the other reuses
        entry = store.get_teacher(key)
        if entry and entry["status"] == "done" and Path(entry["logits_path"]).exists():
            entry["reused"] = True
            return entry
        return _train_teacher(ds, subset, spec, views, store, reporter, accelerator, num_workers, key, folder)


def _train_teacher(ds, subset, spec, views, store, reporter, accelerator, num_workers, key, folder) -> dict:
    features = model_features(spec.model.name)
    fcfg = FEATURE_PRESETS[features]()
    dm = ASCDataModule(
        ds,
        subset,
        features=features,
        batch_size=spec.optim.batch_size,
        seed=spec.seed,
        roll_ms=spec.augment.roll_ms,
        num_workers=num_workers,
    )
    dm.setup()
    torch.manual_seed(spec.seed)
    model = build_teacher(spec)
    module = ASCModule(model, spec.optim, spec.augment, None, features, seed=spec.seed)
    record = dict(model=spec.model.name, config_json=spec.model_dump(mode="json"), dataset=str(ds.root),
                  subset=subset, seed=spec.seed, run_id=reporter.run_id)  # fmt: skip
    store.put_teacher(key, status="training", **record)
    fit(
        module,
        dm,
        spec.optim.epochs,
        folder / "ckpt",
        reporter,
        accelerator,
        resume=True,
        validate_every=spec.optim.validate_every,
        accumulate=spec.optim.accumulate_grad_batches,
    )
    model.eval()
    device = compute_device(accelerator)
    acc = test_metrics(test_probs(model, dm, accelerator), dm)
    # logits for every training clip and view
    n = len(dm.train_files)
    shifts = view_shifts_ms(n, views, spec.augment.roll_ms)
    frames = np.rint(shifts / 1000 * fcfg.sample_rate_hz / fcfg.hop_length).astype(int)
    logits = np.zeros((n, views, N_CLASSES), dtype=np.float32)
    model = model.to(device)
    # logits in half precision on a GPU (fp32 on a CPU, where fp16 has no fast kernels)
    with torch.inference_mode(), torch.autocast(device, dtype=torch.float16, enabled=device == "cuda"):
        start = 0
        for batch in dm.plain_train_loader():
            x = batch[0].to(device)
            b = len(x)
            for k in range(views):
                xs = torch.stack([torch.roll(x[j], int(frames[start + j, k]), dims=-1) for j in range(b)]) if k else x
                logits[start : start + b, k] = model(xs).float().cpu().numpy()
            start += b
    torch.save(model.state_dict(), folder / "model.pt")
    np.save(folder / "logits.npy", logits)
    np.save(folder / "shifts_ms.npy", shifts)
    (folder / "files.json").write_text(json.dumps(dm.train_files))
    store.put_teacher(
        key,
        **record,
        status="done",
        accuracy=acc["macro_accuracy"],
        ckpt_path=str(folder / "model.pt"),
        logits_path=str(folder / "logits.npy"),
        created_at=time.time(),
    )
    entry = store.get_teacher(key)
    entry["reused"] = False
    return entry


def load_ensemble(entries: list[dict], train_files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Stack the teachers' stored logits for ``train_files``: ([N, K, T, C], shifts_ms [N, K])."""
    stacks, shifts = [], None
    for e in entries:
        folder = Path(e["logits_path"]).parent
        files = json.loads((folder / "files.json").read_text())
        pos = {f: i for i, f in enumerate(files)}
        missing = [f for f in train_files if f not in pos]
        if missing:
            raise RuntimeError(
                f"teacher {e['key']} has no logits for {len(missing)} training clip(s), e.g. {missing[0]}"
            )
        idx = np.array([pos[f] for f in train_files])
        stacks.append(np.load(folder / "logits.npy")[idx])
        s = np.load(folder / "shifts_ms.npy")[idx]
        shifts = s if shifts is None else shifts
    return np.stack(stacks, axis=2), shifts
