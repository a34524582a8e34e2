"""The teacher zoo's key and a teacher's starting weights: which trained teacher a config asks for; and where a
pruning run's trained parent is. Kept apart from the training stack so that the pages and the planner can look
teachers and parents up without importing Lightning."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def init_weights(spec) -> tuple[Path | None, str | None]:
    """(checkpoint path, its SHA-256) a teacher starts from; (None, None) from scratch. For ``audioset`` the
    SHA-256 is the one recorded when the weights were fetched (None if they are not here yet)."""
    from asc_core.weights import AUDIOSET, file_sha256, path_of, recorded_sha256

    if spec.init == "scratch":
        return None, None
    if spec.init == "audioset":
        return path_of(AUDIOSET), recorded_sha256(AUDIOSET)
    p = Path(spec.init).expanduser()
    if not p.exists():
        return p, None
    return p, file_sha256(p)


def teacher_key(ds, subset: int, spec, views: int) -> str:
    """One teacher per (dataset content of the subset, subset, teacher config — its ``init`` included —, the
    starting weights' SHA-256, stored views): a teacher fine-tuned from other weights is another teacher."""
    files = ds.subset(subset)["filename"].tolist()
    _, weights_sha = init_weights(spec)
    payload = {"dataset": ds.fingerprint(files), "subset": subset, "spec": spec.model_dump(mode="json"), "views": views}
    if spec.init != "scratch":
        payload["weights_sha256"] = weights_sha
    else:  # keys of from-scratch teachers are those they had before `init` existed (the zoo keeps them)
        payload["spec"].pop("init", None)
    if payload["spec"]["optim"].get("accumulate_grad_batches") == 1:  # likewise (one batch per step: as before)
        payload["spec"]["optim"].pop("accumulate_grad_batches")
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def parent_key(cfg, tag: str | None = None) -> str:
    """What a pruning run's parent is trained from: its config without the name, the pruning and the device
    fine-tuning (they act after the student's training), on its data (``tag``: the data's, where a finished run's
    summary knows it). A width-96 unpruned run and every run pruning width 96 with the same recipe, seed and data
    have the same key: one trained student between them."""
    from asc_core.config import DeviceFinetune, Pruning
    from asc_core.tables import result_key

    bare = cfg.model_copy(update={"name": "", "pruning": Pruning(), "device_finetune": DeviceFinetune()})
    return result_key(bare, tag)


def teacher_lock(key: str) -> str:
    """The store lock a run holds while it trains (or looks up) the teacher of zoo key ``key``."""
    return f"zoo-{key}"


def parent_lock(key: str) -> str:
    """The store lock a run holds while it trains (or looks up) the pruning parent of key ``key``."""
    return f"parent-{key}"


def pending_locks(cfg, ds, store, memo: dict | None = None) -> list[str]:
    """The locks a run of ``cfg`` on ``ds`` would take before its student trains and that guard something not yet
    made: each teacher not in the zoo (held while a run trains it) and, for a pruning run whose parent is not
    trained, its parent's (held while a run trains that network). While another process holds one, the run waits.
    ``memo``: teacher keys already computed by the caller (a key stats every clip of the subset: on TAU22's 100 %,
    139,620 files; a worker looking down its queue asks for the same few teachers again and again)."""
    memo = {} if memo is None else memo
    out = []
    for spec in cfg.teachers:
        at = (str(ds.root), cfg.subset, spec.model_dump_json(), cfg.kd.views)
        if at not in memo:
            memo[at] = teacher_key(ds, cfg.subset, spec, cfg.kd.views)
        key = memo[at]
        entry = store.get_teacher(key)
        if not (entry and entry.get("status") == "done"):
            out.append(teacher_lock(key))
    if cfg.pruning.mode != "none" and cfg.optim.epochs:  # epochs 0: it prunes `init_from`'s student, no parent
        key = parent_key(cfg)
        if find_parent(cfg, store, key) is None:
            out.append(parent_lock(key))
    return out


def parents_dir(store, key: str) -> Path:
    return store.root / "parents" / key


def find_parent(cfg, store, key: str | None = None) -> dict | None:
    """Where this config's trained parent is: {'path', 'run_id', 'source'} or None."""
    from asc_core.tables import run_key

    key = key or parent_key(cfg)
    folder = parents_dir(store, key)
    if (folder / "student.pt").exists() and (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        return {"path": str(folder / "student.pt"), "run_id": meta.get("run_id"), "source": meta.get("source", "zoo")}
    for run in store.list_runs("done"):
        c = run.get("config") or {}
        if (c.get("pruning") or {}).get("mode", "none") != "none":
            continue  # its `student` artifact is the pruned network
        if run_key(run, parent_key) != key:  # on the data it ran on: a run older than generator 2 is no parent now
            continue
        art = store.artifacts(run["run_id"]).get("student")
        if art and Path(art["path"]).exists():
            return {"path": art["path"], "run_id": run["run_id"], "source": "run"}
    return None
