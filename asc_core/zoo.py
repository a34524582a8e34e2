"""The teacher zoo's key: which trained teacher a config asks for. Kept apart from the training stack so that
the pages and the planner can look teachers up without importing Lightning."""

from __future__ import annotations

import hashlib
import json


def teacher_key(ds, subset: int, spec, views: int) -> str:
    """One teacher per (dataset content of the subset, subset, teacher config, stored views)."""
    files = ds.subset(subset)["filename"].tolist()
    payload = json.dumps(
        {"dataset": ds.fingerprint(files), "subset": subset, "spec": spec.model_dump(mode="json"), "views": views},
        sort_keys=True,
    )
    return hashlib.sha1(payload.encode()).hexdigest()[:16]
