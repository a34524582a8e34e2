"""Listening to a run's mistakes: its per-clip predictions filtered by confusion cell, device, class and
confidence; for one clip, the student's, each teacher's and another run's class probabilities."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from asc_core.data.labels import SCENES


def clip_table(
    pred: pd.DataFrame,
    device: str | None = None,
    true: str | None = None,
    predicted: str | None = None,
    only_wrong: bool = True,
    confidence: tuple[float, float] = (0.0, 1.0),
) -> pd.DataFrame:
    """Predictions as a table for people: filename, device, city, true and predicted scene, confidence
    (probability of the predicted scene) and the probability given to the true scene; most confident first."""
    if pred.empty:
        return pd.DataFrame(columns=["filename", "device", "city", "true", "predicted", "confidence", "p_true"])
    probs = np.stack(pred["probs"].to_numpy())
    y, p = pred["y_true"].to_numpy(int), pred["y_pred"].to_numpy(int)
    df = pd.DataFrame(
        {
            "filename": pred["filename"],
            "device": pred["device"],
            "city": pred["city"],
            "true": [SCENES[i] for i in y],
            "predicted": [SCENES[i] for i in p],
            "confidence": probs[np.arange(len(p)), p],
            "p_true": probs[np.arange(len(y)), y],
        }
    )
    keep = (df["confidence"] >= confidence[0]) & (df["confidence"] <= confidence[1])
    if only_wrong:
        keep &= df["true"] != df["predicted"]
    for col, v in (("device", device), ("true", true), ("predicted", predicted)):
        if v not in (None, "all"):
            keep &= df[col] == v
    return df[keep].sort_values("confidence", ascending=False).reset_index(drop=True)


@lru_cache(maxsize=8)
def _teacher(ckpt_path: str, config_json: str):
    import json

    from asc_core.config import TeacherSpec

    spec = TeacherSpec.model_validate(json.loads(config_json))
    model = spec.model.build()
    model.load_state_dict(torch.load(ckpt_path, map_location="cpu", weights_only=True))
    return model.eval(), spec.model.name


def teacher_probs(entry: dict, samples: np.ndarray) -> np.ndarray:
    """A zoo teacher's class probabilities for one 1-s clip (computed here; the zoo keeps no test logits)."""
    import json

    from asc_core.data.features import FEATURE_PRESETS, frontend
    from asc_core.models import model_features

    cfg = entry["config_json"] if isinstance(entry["config_json"], str) else json.dumps(entry["config_json"])
    model, name = _teacher(entry["ckpt_path"], cfg)
    fcfg = FEATURE_PRESETS[model_features(name)]()
    with torch.inference_mode():
        x = frontend(fcfg)(torch.from_numpy(samples))[None, None]
        return torch.softmax(model(x).float(), 1)[0].numpy()


def run_teachers(store, run: dict, ds=None) -> list[dict]:
    """The zoo entries of a run's teachers (by the keys its summary recorded, or recomputed from its config)."""
    keys = (run.get("summary") or {}).get("teacher_keys")
    if keys is None and ds is not None and run["config"].get("teachers"):
        from asc_core.config import parse_config
        from asc_core.zoo import teacher_key

        cfg = parse_config(run["config"])
        keys = [teacher_key(ds, cfg.subset, spec, cfg.kd.views) for spec in cfg.teachers]
    return [e for e in (store.get_teacher(k) for k in keys or []) if e and e.get("ckpt_path")]


def probability_frame(
    student: np.ndarray, teachers: dict[str, np.ndarray], other: tuple[str, np.ndarray] | None
) -> pd.DataFrame:
    """Long table (who, scene, probability) for grouped bars."""
    rows = [("student", s, float(v)) for s, v in zip(SCENES, student)]
    for name, pr in teachers.items():
        rows += [(f"teacher {name}", s, float(v)) for s, v in zip(SCENES, pr)]
    if other is not None:
        rows += [(other[0], s, float(v)) for s, v in zip(SCENES, other[1])]
    return pd.DataFrame(rows, columns=["who", "scene", "probability"])
