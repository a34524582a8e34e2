"""Data prepared for the app's pages: summaries and previews (no Streamlit here)."""

from __future__ import annotations

from asc_core.app.plots import spectrogram_figure
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


def samples_spectrogram(samples, title: str = "", config: FeatureConfig | None = None):
    """The log-mel spectrogram (dB) figure of mono 32 kHz samples."""
    import torch

    cfg = config or FeatureConfig()
    with torch.inference_mode():
        mel = log_mel(cfg)(torch.from_numpy(samples)).numpy()
    return spectrogram_figure(mel, cfg.hop_length / cfg.sample_rate_hz, title)
