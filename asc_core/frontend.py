"""The front ends' settings (a log-mel per preset) and their input shapes — plain data, no torch, so that the
model registry, the configs and the complexity counts can reach them without the data package. The feature
extraction itself (torchaudio, the disk cache) is ``asc_core.data.features``."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from asc_core.constants import CLIP_SECONDS, SAMPLE_RATE


class FeatureConfig(BaseModel):
    """Log-mel front end (units in the names: Hz, samples, seconds), or ``kind: waveform`` for models that compute
    their own features (PaSST teachers): the clip itself, [1, samples], rolled in samples (``hop_length`` 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["logmel", "waveform"] = "logmel"
    sample_rate_hz: int = Field(SAMPLE_RATE, gt=0)
    n_fft: int = Field(4096, gt=0)
    win_length: int = Field(3072, gt=0)
    hop_length: int = Field(500, gt=0)
    n_mels: int = Field(256, gt=0)
    f_min_hz: float = Field(0.0, ge=0)
    f_max_hz: float | None = None
    log_offset: float = Field(1e-5, gt=0)
    clip_seconds: float = Field(CLIP_SECONDS, gt=0)

    @classmethod
    def dcase24(cls) -> "FeatureConfig":
        return cls()

    @classmethod
    def rep_mobile(cls) -> "FeatureConfig":
        return cls(hop_length=512)

    @classmethod
    def passt(cls) -> "FeatureConfig":
        return cls(n_fft=1024, win_length=800, hop_length=320, n_mels=128)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate_hz))

    @property
    def n_frames(self) -> int:
        return self.clip_samples // self.hop_length + 1

    @classmethod
    def waveform(cls) -> "FeatureConfig":
        return cls(kind="waveform", hop_length=1, n_mels=1)

    @property
    def shape(self) -> tuple[int, int]:
        """(mel bins, frames) of one clip; (1, samples) for a waveform."""
        return (1, self.clip_samples) if self.kind == "waveform" else (self.n_mels, self.n_frames)

    def identity(self) -> str:
        """What the feature cache is keyed on (a log-mel's keys are those it had before ``kind`` existed)."""
        return self.model_dump_json(exclude={"kind"} if self.kind == "logmel" else None)

    def key(self) -> str:
        return hashlib.sha1(self.identity().encode()).hexdigest()[:12]


FEATURE_PRESETS = {
    "dcase24": FeatureConfig.dcase24,
    "rep_mobile": FeatureConfig.rep_mobile,
    "passt": FeatureConfig.passt,  # PaSST's mel sizes through torchaudio (not its front end: see models/passt.py)
    "waveform": FeatureConfig.waveform,  # models with their own front end (PaSST teachers)
}
