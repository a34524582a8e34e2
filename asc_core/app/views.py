"""Data prepared for the app's pages: summaries and previews (no Streamlit here)."""

from __future__ import annotations

from asc_core.app.plots import shared_db_range, spectrogram_figure
from asc_core.data import open_dataset_cached
from asc_core.data.audio import to_wav_bytes
from asc_core.data.features import FeatureConfig, log_mel


def clip_preview(
    root: str, scene: str, device: str, index: int = 0, config: FeatureConfig | None = None
) -> dict | None:
    """The ``index``-th clip of ``scene`` from ``device``: its WAV bytes (true level) and spectrogram."""
    ds = open_dataset_cached(str(root))
    c = ds.clips
    rows = c[(c["scene"] == scene) & (c["device"] == device)]
    if rows.empty:
        return None
    return clip_view(root, rows["filename"].iloc[index % len(rows)], config)


def clip_view(root: str, filename: str, config: FeatureConfig | None = None, title: str = "") -> dict:
    """One clip as WAV bytes at its true level and its log-mel spectrogram in dB."""
    clip = open_dataset_cached(str(root)).load(filename, warn=False)
    return {
        "filename": filename,
        "wav": to_wav_bytes(clip.samples),
        "samples": clip.samples,
        "figure": samples_spectrogram(clip.samples, title, config),
    }


def _logmel(samples, cfg: FeatureConfig):
    import torch

    with torch.inference_mode():
        return log_mel(cfg)(torch.from_numpy(samples)).numpy()


def samples_spectrogram(samples, title: str = "", config: FeatureConfig | None = None, zrange=None):
    """The log-mel spectrogram (dB) figure of mono 32 kHz samples."""
    cfg = config or FeatureConfig()
    return spectrogram_figure(_logmel(samples, cfg), cfg.hop_length / cfg.sample_rate_hz, title, zrange=zrange)


def clip_views_shared(root: str, filenames: list[str], titles: list[str]) -> list[dict]:
    """Several clips (the same second from each device) with spectrograms on one shared dB scale."""
    cfg = FeatureConfig()
    views = [clip_view(root, fn, title=t) for fn, t in zip(filenames, titles)]
    zrange = shared_db_range([_logmel(v["samples"], cfg) for v in views])
    for v, t in zip(views, titles):
        v["figure"] = samples_spectrogram(v["samples"], t, cfg, zrange)
    return views
