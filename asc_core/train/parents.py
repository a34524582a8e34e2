"""A pruning run's parent: the trained, unpruned student it prunes, trained once and reused.

The seeds prune a trained network: Rep-Mobile's Table V prunes its width-64/96 models, and progressive pruning
starts each chain from one trained model. In this product the table's ``width 96, unpruned`` row, single 96→32 and
both progressive rows train the same width-96 student (same recipe, seed and data) before they differ; each used to
train it again. Now the first of them trains it and the others start from it:

- a finished unpruned run in the store with the same ``parent_key`` gives its ``student`` artifact;
- else a parent an earlier pruning run left under ``<store>/parents/<key>/student.pt``;
- else this run trains it (in its own folder, so an interrupted run resumes its checkpoint as before) and leaves it
  there for the next. Two runs needing the same parent at once: one trains, the other waits (a store lock, as the
  teacher zoo does). An unpruned run holds the same lock while it trains and leaves its student there too
  (``train_unpruned``), so a pruning run started beside it waits for it rather than training a copy.

Weights are read with ``weights_only=True``. The run's result key is unchanged: reusing a parent is a cache, not
another method (the run's summary names where its parent came from).
"""

from __future__ import annotations

import json
import os
import time

import torch

from asc_core.train.loop import Reporter
from asc_core.zoo import find_parent, parent_key, parent_lock, parents_dir


def ensure_parent(cfg, student: torch.nn.Module, store, reporter: Reporter, train) -> dict:
    """Load this pruning run's parent into ``student`` (its freshly built network), or ``train()`` it in place and
    leave it for the next run. Returns what the summary records: {'key', 'reused', 'run_id', 'source'}."""
    key = parent_key(cfg)
    what = f"width-{cfg.student.width} parent" if cfg.student.width else "parent"
    with reporter.exclusive(store, parent_lock(key), f"student training: waiting for the {what} (another run is "
                            "training it)"):  # fmt: skip
        found = find_parent(cfg, store, key)
        if found:
            reporter.set_stage(f"student training: reusing the {what} of run {found['run_id']}")
            student.load_state_dict(torch.load(found["path"], map_location="cpu", weights_only=True))
            return {"key": key, "reused": True, **{k: found[k] for k in ("run_id", "source")}}
        train()
        _leave(store, key, student, reporter.run_id, "zoo")
        return {"key": key, "reused": False, "run_id": reporter.run_id, "source": "trained"}


class _Busy(Exception):
    """The parent's lock is held: a pruning run is training that network now."""


def train_unpruned(cfg, student: torch.nn.Module, store, run_id: str | None, train) -> bool:
    """An unpruned run trains its student as it always has (its learning curves are its own record), but holds the
    lock a pruning run of the same ``parent_key`` takes, and leaves the trained student where that run looks: a
    single 96→32 started while the width-96 run trains waits for it instead of training the same network beside
    it (which the tables' runs once did, for 15 min of a 2-core CPU). Where a pruning run holds the lock, this run
    does not wait: it trains on its own, as before. Returns whether it left its student as a parent."""
    key = parent_key(cfg)

    def busy():
        raise _Busy

    try:
        with store.exclusive(parent_lock(key), busy):
            train()
            _leave(store, key, student, run_id, "run")
            return True
    except _Busy:
        train()
        return False


def _leave(store, key: str, student: torch.nn.Module, run_id: str | None, source: str) -> None:
    """The trained student under ``<store>/parents/<key>/``, for the next run that prunes it; ``source``: what a
    run reusing it records (``run``: an unpruned run's own student; ``zoo``: one a pruning run trained)."""
    folder = parents_dir(store, key)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".student.{os.getpid()}.pt"
    torch.save(student.state_dict(), tmp)
    os.replace(tmp, folder / "student.pt")  # whole or absent: a killed run leaves no half parent
    (folder / "meta.json").write_text(json.dumps({"run_id": run_id, "created_at": time.time(), "source": source}))
