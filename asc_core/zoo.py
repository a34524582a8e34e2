"""The teacher zoo's key and a teacher's starting weights: which trained teacher a config asks for. Kept apart
from the training stack so that the pages and the planner can look teachers up without importing Lightning."""

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
