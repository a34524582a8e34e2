"""The embedded TAU-like dataset: a deterministic procedural generator in the TAU22 layout.

Ten scenes in ten cities, recordings at distinct locations cut into 1-s segments named like TAU's
(``audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav``), 32 kHz 16-bit. Device ``a`` records
every recording; training recordings are also captured in parallel by one of b, c, s1–s3 at the rate
that makes device a about 73 % of training; every test recording is captured by all nine devices, so
the test set is balanced and s4–s6 appear only there. Train and test locations are disjoint.
The DCASE2024 subsets 5 ⊂ 10 ⊂ 25 ⊂ 50 ⊂ 100 are prefixes of one stratified order of
(recording, device) units; each subset holds every scene and every training device.

Same preset and seed → byte-identical files (each recording and device has its own seeded generator,
so the number of worker processes does not matter).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from asc_core.data.labels import CITIES, DEVICES, SAMPLE_RATE, SCENES, TRAIN_DEVICES
from asc_core.data.tau22 import SUBSETS
from asc_core.embedded import scenes
from asc_core.embedded.devices import record

log = logging.getLogger(__name__)
# 2: the parallel captures by b, c and s1–s3 rotate over the scenes; in 1 each of them recorded two scenes only
# (the captures went round the ten scenes and the five devices in step), so a device named its scene and the
# device-specific fine-tuning of the DCASE2025 recipe saw two classes per device. Results are kept per version.
GENERATOR_VERSION = 2
EXTRA_DEVICES = tuple(d for d in TRAIN_DEVICES if d != "a")


@dataclass(frozen=True)
class Preset:
    name: str
    train_recordings_per_scene: int
    test_recordings_per_scene: int
    train_locations_per_scene: int
    test_locations_per_scene: int
    segments: int = 10  # 1-s segments per recording
    extra_device_ratio: float = 0.37  # parallel b/c/s1–s3 captures per training recording (→ a ≈ 73 %)


PRESETS = {
    # unit tests: seconds to make; recordings of 2 segments
    "tiny": Preset("tiny", 3, 1, 3, 1, segments=2),
    # the app's default
    "mini": Preset("mini", 22, 1, 8, 1),
    # about 1/20 of TAU22: ~7,000 training and ~1,800 test segments
    "standard": Preset("standard", 51, 2, 12, 2),
}


@dataclass
class Recording:
    index: int
    scene: str
    city: str
    location: int
    segment_id: int
    split: str  # train | test
    devices: tuple[str, ...]

    def filename(self, k: int, device: str) -> str:
        return f"audio/{self.scene}-{self.city}-{self.location}-{self.segment_id}-{k}-{device}.wav"

    @property
    def name(self) -> str:
        return f"{self.scene}-{self.city}-{self.location}-{self.segment_id}"


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def plan(preset: Preset, seed: int) -> list[Recording]:
    """Decide every recording: scene, city, location, split and devices (no audio yet)."""
    rng = _rng(seed, 0)
    recs: list[Recording] = []
    next_loc = 1000
    for si, scene in enumerate(SCENES):
        n_loc = preset.train_locations_per_scene + preset.test_locations_per_scene
        cities = [CITIES[(si + j) % len(CITIES)] for j in rng.permutation(n_loc)]
        locs = [(next_loc + j, cities[j]) for j in range(n_loc)]
        next_loc += n_loc + 10
        train_locs, test_locs = locs[: preset.train_locations_per_scene], locs[preset.train_locations_per_scene :]
        for split, locset, count in (
            ("train", train_locs, preset.train_recordings_per_scene),
            ("test", test_locs, preset.test_recordings_per_scene),
        ):
            for j in range(count):
                loc, city = locset[j % len(locset)]
                recs.append(Recording(len(recs), scene, city, loc, 0, split, DEVICES if split == "test" else ("a",)))
    # segment ids are unique numbers as in TAU
    for r in recs:
        r.segment_id = 20000 + 10 * r.index
    # parallel captures of training recordings by b, c, s1–s3: interleaved across scenes, and the devices shifted by
    # one at every round of the ten scenes, so each device records every scene (as in TAU22, where each of them has
    # every scene at every subset): with ten scenes and five devices in step, device k would get scenes k and k + 5
    train = [r for r in recs if r.split == "train"]
    order = rng.permutation(len(train))
    by_scene = {s: [train[i] for i in order if train[i].scene == s] for s in SCENES}
    inter = [r for group in zip_longest(*by_scene.values()) for r in group if r is not None]
    n_extra = max(len(EXTRA_DEVICES), round(preset.extra_device_ratio * len(train)))
    for j, r in enumerate(inter[:n_extra]):
        r.devices = ("a", EXTRA_DEVICES[(j + j // len(SCENES)) % len(EXTRA_DEVICES)])
    return recs


def subset_order(recs: list[Recording], seed: int) -> list[tuple[Recording, str]]:
    """One order of training (recording, device) units whose prefixes are stratified by scene × device.

    First a covering set (one device-a unit per scene, one unit of every other training device), then
    Sainte-Laguë apportionment over the devices and, within the chosen device, over its scenes, so any prefix
    follows the devices' shares and each device's scenes.
    """
    rng = _rng(seed, 1)
    units = [(r, d) for r in recs if r.split == "train" for d in r.devices]
    groups: dict[tuple[str, str], list] = {}
    for u in units:
        groups.setdefault((u[0].scene, u[1]), []).append(u)
    for key in groups:
        groups[key] = [groups[key][i] for i in rng.permutation(len(groups[key]))]
    taken = {k: 0 for k in groups}
    order = []

    def take(key):
        order.append(groups[key][taken[key]])
        taken[key] += 1

    for scene in SCENES:
        if (scene, "a") in groups:
            take((scene, "a"))
    for j, dev in enumerate(EXTRA_DEVICES):
        keys = [k for k in groups if k[1] == dev and taken[k] < len(groups[k])]
        if keys:
            take(sorted(keys, key=lambda k: (SCENES.index(k[0]) - j) % len(SCENES))[0])

    # two levels (generator 2): the device first, by its share of the units, then, among its scenes, the one whose
    # share of all units is furthest behind — one level over (scene, device) pairs of ~4 units each let device a's
    # pairs of ~50 take the small subsets (5 %: one recording per other device)
    def share(level: int, name) -> float:  # Sainte-Laguë priority of a device (level 1) or a scene (level 0)
        keys = [k for k in groups if k[level] == name]
        return sum(len(groups[k]) for k in keys) / (sum(taken[k] for k in keys) + 0.5)

    while len(order) < len(units):
        dev = max({k[1] for k in groups if taken[k] < len(groups[k])},
                  key=lambda d: (share(1, d), -TRAIN_DEVICES.index(d)))  # fmt: skip
        key = max((k for k in groups if k[1] == dev and taken[k] < len(groups[k])),
                  key=lambda k: (share(0, k[0]), len(groups[k]) / (taken[k] + 0.5), -SCENES.index(k[0])))  # fmt: skip
        take(key)
    return order


def subset_sizes(n_units: int, cover: int) -> dict[int, int]:
    sizes = {}
    for pct in SUBSETS:
        sizes[pct] = n_units if pct == 100 else min(n_units, max(cover, round(n_units * pct / 100)))
    return sizes


def _render_recording(args) -> list[str]:
    rec, preset, seed, out = args
    ci, si = CITIES.index(rec.city), SCENES.index(rec.scene)
    city = scenes.city_traits(_rng(seed, 2, ci, si))
    loc = scenes.location_traits(rec.scene, city, _rng(seed, 3, rec.location))
    n = preset.segments * SAMPLE_RATE
    ref = scenes.render(loc, _rng(seed, 4, rec.index), n)
    written = []
    for dev in rec.devices:
        y = record(ref, dev, _rng(seed, 5, rec.index, DEVICES.index(dev)))
        for k in range(preset.segments):
            fn = rec.filename(k, dev)
            sf.write(
                out / fn,
                y[k * SAMPLE_RATE : (k + 1) * SAMPLE_RATE].astype(np.float32),
                SAMPLE_RATE,
                subtype="PCM_16",
                format="WAV",
            )
            written.append(fn)
    return written


def _tables(recs, order, preset, sizes):
    rows = [
        (r.filename(k, d), r.scene, f"{r.city}-{r.location}", d)
        for r in recs
        for d in r.devices
        for k in range(preset.segments)
    ]
    meta = pd.DataFrame(rows, columns=["filename", "scene_label", "identifier", "source_label"]).sort_values("filename")
    split_rows = [(r.filename(k, d), r.scene) for r, d in order for k in range(preset.segments)]
    splits = {
        pct: pd.DataFrame(split_rows[: sizes[pct] * preset.segments], columns=["filename", "scene_label"])
        for pct in SUBSETS
    }
    test = meta[
        meta["filename"].isin(
            {r.filename(k, d) for r in recs if r.split == "test" for d in r.devices for k in range(preset.segments)}
        )
    ]
    splits["test"] = test[["filename", "scene_label"]]
    return meta, splits


def dataset_tag(folder: str | Path | None) -> str:
    """What a dataset folder holds, for keeping results apart: its name ("standard", "tau22"), with " v<N>" for an
    embedded set of generator N ≥ 2 (its ``synth.json``; an embedded preset not generated yet: this code's version).
    Generator 1's sets keep the bare name, so every result recorded before generator 2 keeps its digest."""
    path = Path(folder or "mini")
    try:
        version = json.loads((path / "synth.json").read_text()).get("version", 1)
    except (OSError, ValueError):
        version = GENERATOR_VERSION if path.name in PRESETS else 1
    return path.name if version <= 1 else f"{path.name} v{version}"


def is_complete(out: Path, preset: str, seed: int) -> bool:
    info = Path(out) / "synth.json"
    if not info.exists():
        return False
    try:
        d = json.loads(info.read_text())
    except json.JSONDecodeError:
        return False
    return d.get("preset") == preset and d.get("seed") == seed and d.get("version") == GENERATOR_VERSION


def generate(preset: str, seed: int, out: str | Path, workers: int | None = None, progress=None) -> Path:
    """Write the dataset to ``out`` (via ``out.partial`` then a rename, so a killed run leaves no
    half-dataset that looks complete). ``progress(done, total)`` is called per recording."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "audio").mkdir(parents=True)
    recs = plan(p, seed)
    order = subset_order(recs, seed)
    cover = len(SCENES) + len(EXTRA_DEVICES)
    sizes = subset_sizes(len(order), cover)
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    jobs = [(r, p, seed, tmp) for r in recs]
    done = 0
    if workers == 1:
        results = map(_render_recording, jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_render_recording, jobs, chunksize=2)
    for _ in results:
        done += 1
        if progress:
            progress(done, len(jobs))
    if workers != 1:
        pool.shutdown()
    meta, splits = _tables(recs, order, p, sizes)
    meta.to_csv(tmp / "meta.csv", sep="\t", index=False)
    (tmp / "split_setup").mkdir()
    for key, df in splits.items():
        name = f"split{key}.csv" if key != "test" else "test.csv"
        df.to_csv(tmp / "split_setup" / name, sep="\t", index=False)
    info = {
        "preset": preset,
        "seed": seed,
        "version": GENERATOR_VERSION,
        "config": asdict(p),
        "recordings": len(recs),
        "files": len(meta),
        "subset_units": sizes,
        "train_segments": int(len(splits[100])),
        "test_segments": int(len(splits["test"])),
    }
    (tmp / "synth.json").write_text(json.dumps(info, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
