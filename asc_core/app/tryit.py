"""Classifying your own audio with a finished run: decode an upload (checked), cut it into 1-s windows,
classify each with the run's deployed model (general, or the device-specific one), average."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from asc_core.constants import UPLOAD_LIMIT_BYTES as MAX_BYTES  # noqa: E402
from asc_core.data.audio import Clip, decode, fit_length
from asc_core.data.errors import AudioError
from asc_core.data.labels import DEVICES, SAMPLE_RATE, SCENES, TRAIN_DEVICES

MAX_SECONDS = 600.0
MIN_RATE_HZ = 8_000
# what decoding may hold in memory, counted before decoding: channels × rate × seconds (float32: 4 bytes each);
# 60 M samples is 10 min of stereo at 48 kHz (240 MB); an 8-channel 96 kHz file of 10 min would be 461 M (1.8 GB)
MAX_DECODED_SAMPLES = 60_000_000


def read_upload(data: bytes, name: str = "<uploaded audio>") -> Clip:
    """Decode uploaded bytes to mono 32 kHz, refusing what cannot be classified with a message that
    names the problem; notes say what was adapted (channels mixed, rate converted, padded)."""
    if data is None or len(data) == 0:
        raise AudioError(name, "is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise AudioError(name, f"is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB (trim it first)")
    import io

    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except Exception:
        info = None
    if info is not None:
        if info.samplerate < MIN_RATE_HZ:
            raise AudioError(
                name,
                f"is sampled at {info.samplerate} Hz; at least {MIN_RATE_HZ} Hz is needed "
                "(the models look at frequencies up to 16 kHz)",
            )
        if info.duration > MAX_SECONDS:
            raise AudioError(name, f"lasts {info.duration / 60:.1f} min; the limit is {MAX_SECONDS / 60:.0f} min")
        samples = info.channels * info.frames
        if samples > MAX_DECODED_SAMPLES:
            raise AudioError(
                name,
                f"decodes to {info.channels} channels × {info.samplerate:,} Hz × {info.duration:.0f} s = "
                f"{samples / 1e6:.0f} M samples; the limit is {MAX_DECODED_SAMPLES / 1e6:.0f} M "
                "(10 min of stereo at 48 kHz): mix it down or trim it first",
            )
    clip = decode(data, name=name, warn=False)
    if info is not None and info.samplerate < SAMPLE_RATE:
        clip.notes.append(
            f"recorded at {info.samplerate} Hz: nothing above {info.samplerate // 2} Hz, "
            "unlike the 44.1 kHz training data — expect lower confidence"
        )
    if clip.seconds < 1.0:
        clip.notes.append(f"{clip.seconds:.2f} s long: zero-padded to 1 s")
        clip = Clip(fit_length(clip.samples, SAMPLE_RATE), SAMPLE_RATE, clip.notes)
    if float(np.abs(clip.samples).max()) < 1e-4:
        clip.notes.append("practically silent (peak below −80 dBFS)")
    return clip


def windows(samples: np.ndarray, seconds: float = 1.0) -> np.ndarray:
    """Non-overlapping 1-s windows; a last partial window longer than half a second is zero-padded."""
    n = int(SAMPLE_RATE * seconds)
    k = max(1, len(samples) // n + (len(samples) % n >= n // 2))
    return np.stack([fit_length(samples[i * n : (i + 1) * n], n) for i in range(k)])


@lru_cache(maxsize=8)
def run_model(runs_root: str, run_id: str, device: str | None = None) -> tuple[torch.nn.Module, str, str]:
    """(model, features preset, what it is) for a finished run: its deployed general model, or, for a
    training device with a device-specific model, that model folded for inference."""
    from asc_core.artifacts import load_run_model
    from asc_core.models import model_features
    from asc_core.store import Store
    from asc_core.train.evaluate import deploy

    store = Store(runs_root)
    run = store.get_run(run_id)
    if run["status"] != "done":
        raise ValueError(f"run {run_id} is {run['status']}; only finished runs classify")
    arts = store.artifacts(run_id)
    features = run["config"].get("features", "dcase24")
    name = run["config"]["student"]["name"]
    features = model_features(name) if features == "dcase24" else features
    if device and f"device_{device}" in arts:
        model = deploy(load_run_model(store, run_id, f"device_{device}"), "fp32")
        return model.eval(), features, f"device-specific model for device {device}"
    why = (
        ""
        if not device
        else (
            f" (device {device} was never seen in training: the general model serves it)"
            if device not in TRAIN_DEVICES
            else f" (this run has no model for device {device})"
        )
    )
    return load_run_model(store, run_id).eval(), features, "general model" + why


def classify(model: torch.nn.Module, samples: np.ndarray, features: str = "dcase24") -> dict:
    """Per-second probabilities [n, 10] and their mean."""
    from asc_core.data.features import FEATURE_PRESETS, frontend

    x = torch.from_numpy(windows(samples))
    with torch.inference_mode():
        mel = frontend(FEATURE_PRESETS[features]())(x)[:, None]
        probs = torch.softmax(model(mel).float(), 1).numpy()
    mean = probs.mean(0)
    order = np.argsort(-mean)
    return {
        "per_second": probs,
        "mean": mean,
        "top": [(SCENES[i], float(mean[i])) for i in order],
        "seconds": len(samples) / SAMPLE_RATE,
    }


def device_choices() -> list[str]:
    return ["unknown", *DEVICES]
