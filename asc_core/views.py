"""Data prepared for the app's pages: summaries and previews (no Streamlit here)."""

from __future__ import annotations

from functools import lru_cache

from asc_core.data.audio import to_wav_bytes
from asc_core.data.features import FeatureConfig, log_mel
from asc_core.data.tau22 import TAU22Dataset
from asc_core.plots import spectrogram_figure


@lru_cache(maxsize=4)
def _dataset(root: str) -> TAU22Dataset:
    return TAU22Dataset(root)


def clip_preview(root: str, scene: str, device: str, index: int = 0, config: FeatureConfig | None = None) -> dict | None:
    """The ``index``-th clip of ``scene`` from ``device``: its WAV bytes (true level) and spectrogram."""
    import torch

    ds = _dataset(root)
    c = ds.clips
    rows = c[(c["scene"] == scene) & (c["device"] == device)]
    if rows.empty:
        return None
    fn = rows["filename"].iloc[index % len(rows)]
    clip = ds.load(fn, warn=False)
    cfg = config or FeatureConfig()
    with torch.inference_mode():
        mel = log_mel(cfg)(torch.from_numpy(clip.samples)).numpy()
    return {"filename": fn, "wav": to_wav_bytes(clip.samples), "figure": spectrogram_figure(mel, cfg.hop_length / cfg.sample_rate_hz)}
