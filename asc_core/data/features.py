"""Log-mel features with torchaudio (CPU or GPU) and a disk cache keyed by dataset and feature config.

Defaults are the DCASE2024 baseline's: 32 kHz, n_fft 4096, window 3072, hop 500, 256 mel bins,
``log(x + 1e-5)`` → 256 × 65 for one second. ``hop_length=512`` gives the Rep-Mobile paper's front end,
``FeatureConfig.passt()`` the PaSST one (128 mels, n_fft 1024, window 800, hop 320).

The cache stores one float16 array per (dataset fingerprint, feature config, clip list): log-mels lie in
about [-12, 8], where float16 keeps ~3 significant digits and halves the disk and page-cache footprint.
A cache is written into a temporary folder and renamed into place after its index, so an interrupted
write is never read as valid. Clips that cannot be decoded are skipped, named and counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from asc_core.data.audio import fit_length
from asc_core.data.errors import AudioError
from asc_core.frontend import FEATURE_PRESETS, FeatureConfig  # noqa: F401  (re-exported)
from asc_core.paths import cache_home

log = logging.getLogger(__name__)


def log_mel(config: FeatureConfig):
    """A torch module: waveform [..., samples] → log-mel [..., n_mels, frames]."""
    import torch
    import torchaudio

    class LogMel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=config.sample_rate_hz,
                n_fft=config.n_fft,
                win_length=config.win_length,
                hop_length=config.hop_length,
                n_mels=config.n_mels,
                f_min=config.f_min_hz,
                f_max=config.f_max_hz,
            )
            self.offset = config.log_offset

        def forward(self, x):
            return torch.log(self.mel(x) + self.offset)

    return LogMel()


def frontend(config: FeatureConfig):
    """Waveform [..., samples] → the model input of one clip: the log-mel [..., n_mels, frames], or for a model with
    its own front end (``kind: waveform``) the waveform itself as [..., 1, samples]."""
    if config.kind == "logmel":
        return log_mel(config)
    return lambda w: w.unsqueeze(-2)


@dataclass
class FeatureSet:
    """Features of a list of clips: ``x[i]`` is the log-mel of ``filenames[i]``."""

    x: np.ndarray  # [N, n_mels, frames] float16 (memory-mapped when from the cache)
    filenames: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False
    seconds: float = 0.0
    path: Path | None = None


class _ClipReader:
    """Torch-Dataset-like reader: decodes clip i, or returns the error (never raises)."""

    def __init__(self, dataset, filenames, config: FeatureConfig):
        self.dataset, self.filenames, self.config = dataset, filenames, config

    def __len__(self):
        return len(self.filenames)

    def __getitem__(self, i):
        fn = self.filenames[i]
        try:
            clip = self.dataset.load(fn, self.config.sample_rate_hz, warn=False)
            return i, fit_length(clip.samples, self.config.clip_samples), None, clip.notes
        except AudioError as e:
            return i, None, e.problem, []


def _collate(batch):
    return batch


def extract(
    dataset,
    filenames: list[str],
    config: FeatureConfig | None = None,
    cache_dir: Path | None = None,
    device: str = "auto",
    batch_size: int = 64,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
) -> FeatureSet:
    """Log-mels of ``filenames`` of ``dataset``; a second call with the same inputs reads the cache."""
    import torch

    config = config or FeatureConfig()
    filenames = list(filenames)
    t0 = time.perf_counter()
    key = hashlib.sha1(
        (config.identity() + dataset.fingerprint(filenames) + "\n".join(filenames)).encode()
    ).hexdigest()[:16]
    root = Path(cache_dir or cache_home() / "features") / f"{dataset.name}-{key}"
    if use_cache:
        cached = _read_cache(root, config)
        if cached is not None:
            cached.seconds = time.perf_counter() - t0
            return cached
    dev = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    mel = frontend(config)
    mel = mel.to(dev) if hasattr(mel, "to") else mel
    out = np.zeros((len(filenames), *config.shape), dtype=np.float16)
    ok = np.zeros(len(filenames), dtype=bool)
    skipped: dict[str, str] = {}
    reader = _ClipReader(dataset, filenames, config)
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    # own generator: extraction must not consume the global RNG (a cache hit would change later draws)
    loader = torch.utils.data.DataLoader(
        reader,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        generator=torch.Generator().manual_seed(0),
    )
    done = 0
    converted: Counter = Counter()  # "2 channels mixed down to mono" → how many clips
    with torch.inference_mode():
        for batch in loader:
            good = [(i, x) for i, x, err, _ in batch if err is None]
            for i, x, err, notes in batch:
                converted.update(notes)
                if err is not None:
                    skipped[filenames[i]] = err
                    log.warning("skipping %s: %s", filenames[i], err)
            if good:
                idx = np.array([i for i, _ in good])
                wav = torch.from_numpy(np.stack([x for _, x in good])).to(dev)
                out[idx] = mel(wav).cpu().numpy().astype(np.float16)
                ok[idx] = True
            done += len(batch)
            if progress:
                progress(done, len(filenames))
    if converted:  # the data is not what the front end expects: say so once, with counts
        what = "; ".join(f"{n} clip{'s' * (n > 1)}: {note}" for note, n in converted.most_common())
        warnings.warn(f"{dataset.name}: converted while reading — {what}", stacklevel=2)
    kept = [fn for fn, k in zip(filenames, ok) if k]
    fs = FeatureSet(out[ok], kept, skipped, False, 0.0)
    if use_cache:
        fs.path = _write_cache(root, fs, config)
    fs.seconds = time.perf_counter() - t0
    return fs


def _read_cache(root: Path, config: FeatureConfig) -> FeatureSet | None:
    index = root / "index.json"
    if not index.exists():
        return None
    try:
        meta = json.loads(index.read_text())
        x = np.load(root / "features.npy", mmap_mode="r")
    except (OSError, ValueError, json.JSONDecodeError) as e:
        log.warning("feature cache %s unreadable (%s); recomputing", root, e)
        return None
    if x.shape != (len(meta["filenames"]), *config.shape):
        log.warning("feature cache %s has shape %s, expected %s; recomputing", root, x.shape, config.shape)
        return None
    return FeatureSet(x, meta["filenames"], meta.get("skipped", {}), True, 0.0, root)


def _write_cache(root: Path, fs: FeatureSet, config: FeatureConfig) -> Path:
    tmp = root.with_name(root.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "features.npy", fs.x)
    (tmp / "index.json").write_text(
        json.dumps({"config": config.model_dump(), "filenames": fs.filenames, "skipped": fs.skipped})
    )
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    try:
        tmp.rename(root)
    except OSError:  # another process won the race; its cache is equally valid
        shutil.rmtree(tmp, ignore_errors=True)
    return root
