"""Where the project keeps things. Resolved from this file, never from the working directory."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"
TAU22_ASSETS = ASSETS / "tau22"


def data_home() -> Path:
    """Folder holding the embedded datasets (``$ASC_DATA_HOME`` or ``<project>/data``)."""
    return Path(os.environ.get("ASC_DATA_HOME", PROJECT_ROOT / "data"))


def default_dataset_root() -> Path:
    """The app's default dataset: ``$ASC_DATA`` or the embedded ``mini`` set."""
    env = os.environ.get("ASC_DATA")
    return Path(env) if env else data_home() / "mini"


def cache_home() -> Path:
    """Feature cache folder (``$ASC_CACHE`` or ``<project>/.cache``)."""
    return Path(os.environ.get("ASC_CACHE", PROJECT_ROOT / ".cache"))
