"""Try it: uploads are decoded or refused with a clear message; long clips are classified per second
and averaged; device-specific models serve their devices, the general model the others."""

import io

import numpy as np
import pytest
import soundfile as sf

from asc_core.app.tryit import classify, read_upload, run_model, windows
from asc_core.config import parse_config
from asc_core.data.errors import AudioError
from asc_core.store import Store
from asc_core.train.runner import run_experiment
from tests.conftest import student_config


def _encode(x, sr, fmt, subtype=None):
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_bad_uploads_are_named():
    with pytest.raises(AudioError, match="empty"):
        read_upload(b"", "a.wav")
    with pytest.raises(AudioError, match="not a readable audio file"):
        read_upload(b"this is a text file, not audio" * 10, "notes.wav")
    with pytest.raises(AudioError, match="limit is 50 MB"):
        read_upload(b"\0" * 50_000_001, "huge.wav")
    with pytest.raises(AudioError, match="4000 Hz; at least 8000 Hz"):
        read_upload(_encode(np.zeros(4000, np.float32), 4000, "WAV"), "phone.wav")


def test_formats_rates_channels_and_length(rng):
    t = np.arange(int(22050 * 2.0)) / 22050
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], 1).astype(np.float32) * 0.3
    clip = read_upload(_encode(stereo, 22050, "FLAC"), "x.flac")
    assert clip.sample_rate == 32000 and abs(clip.seconds - 2.0) < 0.01
    notes = " ".join(clip.notes)
    assert "mixed down" in notes and "resampled from 22050 Hz" in notes and "nothing above 11025 Hz" in notes
    mono = (rng.standard_normal(48000) * 0.1).astype(np.float32)
    for fmt, sub in (("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")):
        c = read_upload(_encode(mono, 48000, fmt, sub), f"x.{fmt.lower()}")
        assert 0.9 < c.seconds < 1.2 and np.isfinite(c.samples).all()
    short = read_upload(_encode(mono[:9600], 32000, "WAV"), "short.wav")
    assert short.seconds == 1.0 and any("zero-padded" in n for n in short.notes)
    assert len(windows(np.zeros(int(32000 * 3.5), np.float32))) == 4  # 3 full seconds + a half
    assert len(windows(np.zeros(int(32000 * 3.2), np.float32))) == 3


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_classify_with_general_and_device_specific_models(tiny_root, tmp_path):
    store = Store(tmp_path / "runs")
    cfg = student_config(tiny_root, 16, device_finetune={"enabled": True, "epochs": 1})
    s = run_experiment(parse_config(cfg), store)
    assert s["status"] == "done", s
    from asc_core.data import open_dataset

    ds = open_dataset(tiny_root)
    x = np.concatenate([ds.load(f).samples for f in ds.test()["filename"][:3]])  # 3 s
    general, feats, what = run_model(str(store.root), s["run_id"])
    res = classify(general, x, feats)
    assert res["per_second"].shape == (3, 10) and np.allclose(res["per_second"].sum(1), 1, atol=1e-5)
    assert np.allclose(res["mean"], res["per_second"].mean(0)) and what == "general model"
    m_b, _, what_b = run_model(str(store.root), s["run_id"], "b")
    assert what_b == "device-specific model for device b" and m_b is not general
    _, _, what_s5 = run_model(str(store.root), s["run_id"], "s5")
    assert "never seen in training" in what_s5


def test_uploads_are_bounded_by_decoded_samples_not_bytes(tmp_path):
    path = tmp_path / "8ch.flac"  # 8 channels at 96 kHz for 80 s: 61 M samples, a few kB of FLAC silence
    with sf.SoundFile(path, "w", 96000, 8, subtype="PCM_16", format="FLAC") as f:
        block = np.zeros((96000, 8), np.int16)
        for _ in range(80):
            f.write(block)
    data = path.read_bytes()
    assert len(data) < 5_000_000
    with pytest.raises(AudioError, match=r"decodes to 8 channels × 96,000 Hz × 80 s = 61 M samples; the limit is 60 M"):
        read_upload(data, "8ch.flac")
    with pytest.raises(AudioError, match=r"is 50.0 MB; the limit is 50 MB"):
        read_upload(b"\0" * 50_000_001, "huge.wav")
