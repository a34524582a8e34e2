"""The real DCASE2024 split files and TAU22 meta.csv, with placeholder audio for the rows read."""

import numpy as np
import pytest
import soundfile as sf

from asc_core.data import UNSEEN_DEVICES, open_dataset

EXPECTED = {5: 6_980, 10: 13_960, 25: 34_900, 50: 69_800, 100: 139_620}


@pytest.fixture(scope="module")
def tau(tau22_root):
    return open_dataset(tau22_root)


def test_split_sizes(tau):
    for pct, n in EXPECTED.items():
        assert len(tau.subset(pct)) == n
    assert len(tau.test()) == 29_680
    assert len(tau.clips) == 230_350
    assert tau.problems == []


def test_subsets_nested_and_unseen_devices_absent(tau):
    prev = set()
    for pct in EXPECTED:
        cur = set(tau.subset(pct)["filename"])
        assert prev <= cur
        prev = cur
    train = tau.subset(100)
    assert not train["device"].isin(UNSEEN_DEVICES).any()
    assert set(tau.test()["device"]) == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}
    assert not set(train["location"]) & set(tau.test()["location"])
    assert train["device"].value_counts()["a"] == 102_150


def test_clip_fields(tau):
    row = tau.clips.iloc[0]
    assert row["filename"] == "audio/airport-lisbon-1000-40000-0-a.wav"
    assert (row["scene"], row["city"], row["location"], row["device"], row["segment"]) == (
        "airport",
        "lisbon",
        "lisbon-1000",
        "a",
        0,
    )
    assert row["recording"] == "airport-lisbon-1000-40000"


def test_placeholder_tau_audio_44k_24bit_read_as_32k_mono(tau, tau22_root, rng):
    fn = tau.subset(5)["filename"].iloc[0]
    x = 0.1 * rng.standard_normal(44100)
    sf.write(tau22_root / fn, x, 44100, subtype="PCM_24")
    with pytest.warns(UserWarning, match="resampled from 44100 Hz to 32000 Hz"):
        clip = tau.load(fn)
    assert clip.samples.dtype == np.float32 and clip.samples.shape == (32000,)
    assert clip.sample_rate == 32000
    assert abs(clip.samples.std() - x.std()) < 0.02
    par = tau.parallel(tau.clips.iloc[0]["recording"], 0)
    assert "a" in set(par["device"])
