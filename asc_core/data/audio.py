"""Reading clips: mono float32 at 32 kHz whatever the file holds, or a clear AudioError.

soundfile (libsndfile) reads the file; torchaudio resamples (the DCASE baseline's own resampler).
Soft problems (stereo mixed down, another rate resampled) are returned as notes and warned about.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from asc_core.data.errors import AudioError
from asc_core.data.labels import SAMPLE_RATE


@dataclass
class Clip:
    """A decoded clip: samples (mono float32), its rate, and notes about what was fixed on the way."""

    samples: np.ndarray
    sample_rate: int
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def resample(x: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    if orig_sr == new_sr:
        return x
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x)), orig_sr, new_sr).numpy()


def _wav_truncation(head: bytes, size: int) -> str | None:
    """For RIFF/WAVE data: a message if the 'data' chunk declares more bytes than the file holds.

    libsndfile silently shortens such files to what is present, so this is checked by hand.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        cid, n = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if cid == b"data":
            have = size - (pos + 8)
            if n != 0xFFFFFFFF and n > have:
                return f"is truncated: its header declares {n} bytes of audio, {have} are present"
            return None
        pos += 8 + n + (n & 1)
    return None


def decode(
    source: str | Path | bytes, name: str | None = None, target_sr: int = SAMPLE_RATE, warn: bool = True
) -> Clip:
    """Decode a file path or in-memory bytes into a mono float32 clip at ``target_sr``.

    Raises AudioError naming the file for: missing, empty, not audio, truncated, NaN/Inf samples.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<uploaded audio>")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioError(label, "file is missing")
        if path.stat().st_size == 0:
            raise AudioError(label, "file is empty (0 bytes)")
        handle = path
        with open(path, "rb") as f:
            trunc = _wav_truncation(f.read(4096), path.stat().st_size)
    else:
        if len(source) == 0:
            raise AudioError(label, "file is empty (0 bytes)")
        handle = io.BytesIO(source)
        trunc = _wav_truncation(source[:4096], len(source))
    if trunc:
        raise AudioError(label, trunc)
    try:
        with sf.SoundFile(handle) as f:
            declared = f.frames
            sr = f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:  # older soundfile raises RuntimeError
        reason = re.sub(r"Error opening <_io\.BytesIO object at 0x[0-9a-f]+>: ", "", str(e))  # not the object's repr
        raise AudioError(label, f"not a readable audio file ({reason})") from None
    notes: list[str] = []
    if data.shape[0] == 0:
        raise AudioError(label, "holds no samples")
    if declared > 0 and data.shape[0] < declared:
        raise AudioError(label, f"is truncated: header declares {declared} frames, {data.shape[0]} present")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise AudioError(label, f"contains {bad} NaN/Inf samples")
    if data.shape[1] > 1:
        notes.append(f"{data.shape[1]} channels mixed down to mono")
        data = data.mean(axis=1, keepdims=True)
    x = data[:, 0]
    if sr != target_sr:
        notes.append(f"resampled from {sr} Hz to {target_sr} Hz")
        x = resample(x, sr, target_sr)
    if warn:
        for n in notes:
            warnings.warn(f"{label}: {n}", stacklevel=2)
    return Clip(np.ascontiguousarray(x, dtype=np.float32), target_sr, notes)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad or crop to exactly ``n`` samples."""
    if len(x) >= n:
        return x[:n]
    return np.pad(x, (0, n - len(x)))


def to_wav_bytes(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes at the clip's true level (no normalisation), for players and downloads."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()
