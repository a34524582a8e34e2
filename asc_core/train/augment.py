"""Augmentations of the seeds: time roll, frequency masking, Freq-MixStyle, device impulse responses.

Waveform-level (roll, DIR) act per clip in the dataset; spectrogram masking per clip in training;
Freq-MixStyle on the batch in ``training_step``. Each takes an explicit generator so that runs are
deterministic under a seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from asc_core.constants import SAMPLE_RATE


def roll_frames(x: torch.Tensor, max_frames: int, gen: torch.Generator) -> tuple[torch.Tensor, int]:
    """Roll a log-mel [..., F, T] along time by a uniform shift in [−max, max] frames."""
    if max_frames <= 0:
        return x, 0
    s = int(torch.randint(-max_frames, max_frames + 1, (1,), generator=gen))
    return torch.roll(x, s, dims=-1), s


def roll_samples(x: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    if max_samples <= 0:
        return x
    return np.roll(x, int(rng.integers(-max_samples, max_samples + 1)))


LOG_FLOOR = math.log(1e-5)  # log(0 + 1e-5): what a masked mel bin becomes after the front end's log


def freq_mask(x: torch.Tensor, max_bins: int, gen: torch.Generator, fill: float = LOG_FLOOR) -> torch.Tensor:
    """Mask one band of up to ``max_bins`` mel bins per clip of a batch [B, 1, F, T] (iid masks).

    The DCASE24 baseline masks the mel *power* (torchaudio FrequencyMasking before ``log(x + 1e-5)``), so a
    masked bin reads log(1e-5) ≈ −11.5 in the log-mel, the floor; we mask after the log and fill with that
    floor (``fill``: log of the front end's offset), not with 0, which would be a loud band."""
    if max_bins <= 0:
        return x
    b, _, f, _ = x.shape
    width = torch.randint(0, max_bins + 1, (b,), generator=gen)
    start = (torch.rand(b, generator=gen) * (f - width).clamp(min=1)).long()
    bins = torch.arange(f).view(1, f)
    mask = (bins >= start.view(b, 1)) & (bins < (start + width).view(b, 1))
    return x.masked_fill(mask.view(b, 1, f, 1).to(x.device), fill)


def freq_mixstyle(x: torch.Tensor, alpha: float, p: float, gen: torch.Generator, eps: float = 1e-6) -> torch.Tensor:
    """Freq-MixStyle: with probability p for the batch, mix per-frequency statistics (over channel and
    time) of each clip with a random partner's, λ ~ Beta(α, α) per clip."""
    if p <= 0 or float(torch.rand(1, generator=gen)) > p:
        return x
    b = x.size(0)
    mu = x.mean(dim=(1, 3), keepdim=True).detach()
    sig = (x.var(dim=(1, 3), keepdim=True) + eps).sqrt().detach()
    x_norm = (x - mu) / sig
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=(b, 1, 1, 1))).to(x)
    perm = torch.randperm(b, generator=gen).to(x.device)
    mu_mix = mu * lam + mu[perm] * (1 - lam)
    sig_mix = sig * lam + sig[perm] * (1 - lam)
    return x_norm * sig_mix + mu_mix


def apply_ir(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Convolve a waveform with a device impulse response, truncated to the clip length (CP-JKU's DIR)."""
    from scipy.signal import fftconvolve

    return fftconvolve(x, ir)[: len(x)].astype(np.float32)


def load_irs(folder: str | Path | None = None, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Device impulse responses: wavs in ``folder`` (a user's real IRs), or ASC Lab's own set made from
    the embedded dataset's seen-device models (b, c, s1–s3)."""
    from asc_core.data.audio import decode

    folder = Path(folder) if folder else default_ir_folder()
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no impulse-response wavs in {folder}")
    return [decode(f, target_sr=sample_rate, warn=False).samples for f in files]


def default_ir_folder() -> Path:
    from asc_core.paths import ASSETS

    return ASSETS / "device_irs"


def make_device_irs(out: str | Path | None = None, length: int = 2048) -> list[Path]:
    """Measure an impulse response of each seen non-reference device model (linear part only:
    filters and resampling; the AGC, noise and clipping are left out) and write them as wavs."""
    from dataclasses import replace

    import soundfile as sf

    from asc_core.embedded.devices import DEVICES, record
    from asc_core.embedded.dsp import SR

    out = Path(out) if out else default_ir_folder()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("b", "c", "s1", "s2", "s3"):
        d = DEVICES[name]
        linear = replace(d, gain_db=0.0, agc=None, clip=None, noise_dbfs=-200.0, hum_hz=0.0)

        imp = np.zeros(SR // 4)
        imp[64] = 1.0
        ir = record(imp, linear, np.random.default_rng(0))[64 : 64 + length]
        ir = ir / (np.abs(ir).max() + 1e-9)
        p = out / f"ir_{name}.wav"
        sf.write(p, ir.astype(np.float32), SR, subtype="FLOAT")
        paths.append(p)
    return paths
