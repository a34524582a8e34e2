"""Log-mel features against librosa, shapes of every front end, and the disk cache."""

import json

import librosa
import numpy as np
import pytest
import torch

from asc_core.data import open_dataset
from asc_core.data.features import FeatureConfig, extract, log_mel
from tests.conftest import copy_dataset


def test_shapes():
    assert FeatureConfig().shape == (256, 65)
    assert FeatureConfig.rep_mobile().shape == (256, 63)
    assert FeatureConfig.passt().shape == (128, 101)


def test_matches_librosa_on_a_chirp():
    cfg = FeatureConfig()
    t = np.arange(32000) / 32000
    x = (0.3 * np.sin(2 * np.pi * (200 * t + 3000 * t**2)) + 0.05 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    ours = log_mel(cfg)(torch.from_numpy(x)).numpy()
    ref = librosa.feature.melspectrogram(
        y=x,
        sr=32000,
        n_fft=4096,
        hop_length=500,
        win_length=3072,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=256,
        htk=True,
        norm=None,
    )
    ref = np.log(ref + 1e-5)
    assert ours.shape == ref.shape == (256, 65)
    strong = ref > np.log(1e-2)  # compare where there is energy; both floor at log(1e-5)
    np.testing.assert_allclose(ours[strong], ref[strong], atol=2e-3, rtol=1e-3)
    assert np.abs(ours - ref).max() < 0.05


def test_config_rejects_bad_values():
    with pytest.raises(Exception, match="n_mels"):
        FeatureConfig(n_mels=0)
    with pytest.raises(Exception, match="extra"):
        FeatureConfig(hop=500)


def test_cache_hit_and_invalidation(tiny_root, tmp_path):
    root = copy_dataset(tiny_root, tmp_path / "tiny")  # one of its clips is touched below: not the shared set
    ds = open_dataset(root)
    files = ds.clips["filename"].tolist()[:24]
    cache = tmp_path / "cache"
    first = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    assert not first.from_cache
    again = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    assert again.from_cache
    np.testing.assert_array_equal(np.asarray(again.x), first.x)
    other = extract(ds, files, FeatureConfig(hop_length=512), cache_dir=cache, workers=0)
    assert not other.from_cache and other.x.shape == (24, 256, 63)
    # a changed clip changes the dataset fingerprint, so the cache is not reused
    import os

    os.utime(root / files[0], ns=(1, 1))
    changed = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    assert not changed.from_cache


def test_interrupted_write_is_not_read_as_valid(tiny_root, tmp_path):
    ds = open_dataset(tiny_root)
    files = ds.clips["filename"].tolist()[:8]
    cache = tmp_path / "cache"
    fs = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    # simulate a write killed before its index: features present, index missing
    (fs.path / "index.json").unlink()
    again = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    assert not again.from_cache
    # a half-written array under a complete-looking index is detected by its shape
    np.save(again.path / "features.npy", np.zeros((3, 256, 65), dtype=np.float16))
    third = extract(ds, files, FeatureConfig(), cache_dir=cache, workers=0)
    assert not third.from_cache
    assert json.loads((third.path / "index.json").read_text())["filenames"] == files
