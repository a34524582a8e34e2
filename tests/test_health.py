"""Collapsed models are flagged: one scene predicted for nearly every clip, or accuracy within noise of chance."""

import numpy as np

from asc_core import health
from asc_core.train.evaluate import metrics


def _metrics(y_pred, y_true):
    probs = np.eye(10)[y_pred]
    return metrics(y_true, probs, ["a"] * len(y_true), ["x"] * len(y_true))


def test_one_scene_for_every_clip_is_a_collapse():
    y = np.repeat(np.arange(10), 90)
    h = health.assess(_metrics(np.full(900, 4), y))  # 'park' for all 900, as the 2-epoch students did
    assert h["collapsed"] and "predicts 'park' for 100 % of the 900 test clips" in h["why"]
    assert h["top_share"] == 1.0


def test_chance_level_is_a_collapse_and_a_real_model_is_not():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 90)
    guess = health.assess(_metrics(rng.integers(0, 10, 900), y))
    assert guess["collapsed"] and "within noise of chance" in guess["why"]
    good = y.copy()
    good[rng.random(900) < 0.5] = rng.integers(0, 10, 900)[rng.random(900) < 0.5][:1]  # ~55 % right
    h = health.assess(_metrics(good, y))
    assert not h["collapsed"] and h["why"] == ""


def test_pages_get_one_line_also_for_old_summaries():
    assert health.warning({"health": {"collapsed": True, "why": "predicts 'park' for 100 % of the 900 test clips"}})
    old = {"macro_accuracy": 10.0, "per_class": {s: (100.0 if s == "park" else 0.0) for s in
           ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall", "street_pedestrian",
            "street_traffic", "tram"]}}  # fmt: skip
    assert "predicts 'park' for nearly every clip" in health.warning(old)
    assert health.warning({"macro_accuracy": 48.0, "health": {"collapsed": False, "why": ""}}) is None
