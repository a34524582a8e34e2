"""This machine's measured training speeds: what `python -m asc_core bench train` last wrote
(``<data home>/bench/train.json``), read by the duration estimates (``asc_core.grid``)."""

from __future__ import annotations

import json
from pathlib import Path


def results_path() -> Path:
    from asc_core.paths import data_home

    return data_home() / "bench" / "train.json"


def measured_rates() -> dict:
    """{"device": "cpu"|"cuda", "rates": {"model@width[:on_the_fly]": loop clips/s}, "presets": {...}} or {}."""
    try:
        return json.loads(results_path().read_text())
    except (OSError, ValueError):
        return {}
