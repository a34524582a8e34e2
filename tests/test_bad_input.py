"""Every bad input gets a clear message naming the file and the problem."""

import shutil
import struct

import numpy as np
import pytest
import soundfile as sf

from asc_core.data import AudioError, DatasetError, open_dataset
from asc_core.data.audio import decode
from asc_core.data.features import FeatureConfig, extract
from tests.conftest import copy_dataset


@pytest.fixture
def broken(tiny_root, tmp_path):
    return copy_dataset(tiny_root, tmp_path / "broken")


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nope")


def test_missing_meta(broken):
    (broken / "meta.csv").unlink()
    with pytest.raises(DatasetError, match="meta.csv is missing"):
        open_dataset(broken)


def test_missing_split_file(broken):
    (broken / "split_setup" / "split25.csv").unlink()
    with pytest.raises(DatasetError, match=r"split file\(s\) missing: split25.csv"):
        open_dataset(broken)


def test_wrong_header(broken):
    meta = broken / "meta.csv"
    meta.write_text(meta.read_text().replace("\t", ","))
    with pytest.raises(DatasetError, match="meta.csv: wrong header"):
        open_dataset(broken)


def test_split_row_absent_from_meta(broken):
    split = broken / "split_setup" / "split10.csv"
    split.write_text(split.read_text() + "audio/park-paris-9-9-0-a.wav\tpark\n")
    with pytest.raises(
        DatasetError, match=r"split10.csv: 1 row\(s\) absent from meta.csv, e.g. audio/park-paris-9-9-0-a.wav"
    ):
        open_dataset(broken)


def _first(ds):
    return ds.clips["filename"].iloc[0]


def test_missing_audio(broken):
    ds = open_dataset(broken)
    fn = _first(ds)
    (broken / fn).unlink()
    with pytest.raises(AudioError, match=f"{fn}: file is missing"):
        ds.load(fn)


def test_empty_audio(broken):
    ds = open_dataset(broken)
    fn = _first(ds)
    (broken / fn).write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        ds.load(fn)


def test_not_audio(broken):
    ds = open_dataset(broken)
    fn = _first(ds)
    (broken / fn).write_text("this is not a wav file\n" * 20)
    with pytest.raises(AudioError, match="not a readable audio file"):
        ds.load(fn)


def test_truncated_audio(broken):
    ds = open_dataset(broken)
    fn = _first(ds)
    data = (broken / fn).read_bytes()
    (broken / fn).write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        ds.load(fn)


def test_nan_audio(tmp_path):
    p = tmp_path / "nan.wav"
    x = np.zeros(32000, dtype=np.float32)
    x[100] = np.nan
    x[200] = np.inf
    sf.write(p, x, 32000, subtype="FLOAT")
    with pytest.raises(AudioError, match="2 NaN/Inf samples"):
        decode(p)


def test_stereo_mixed_down_with_warning(tmp_path):
    p = tmp_path / "stereo.wav"
    x = np.stack([np.full(32000, 0.2), np.full(32000, 0.4)], axis=1)
    sf.write(p, x, 32000, subtype="PCM_16")
    with pytest.warns(UserWarning, match="2 channels mixed down to mono"):
        clip = decode(p)
    assert clip.samples.shape == (32000,)
    assert abs(float(clip.samples.mean()) - 0.3) < 1e-3


def test_other_rate_resampled(tmp_path):
    p = tmp_path / "sr16k.flac"
    t = np.arange(16000) / 16000
    sf.write(p, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    with pytest.warns(UserWarning, match="resampled from 16000 Hz"):
        clip = decode(p)
    assert clip.sample_rate == 32000 and len(clip.samples) == 32000
    spec = np.abs(np.fft.rfft(clip.samples))
    assert abs(np.argmax(spec) * 32000 / len(clip.samples) - 440) < 2


def test_bad_clip_skipped_and_counted_in_a_long_run(broken, tmp_path):
    ds = open_dataset(broken)
    files = ds.clips["filename"].tolist()[:40]
    (broken / files[3]).write_bytes(b"RIFF" + struct.pack("<I", 100) + b"WAVEjunk")
    (broken / files[7]).unlink()
    fs = extract(ds, files, FeatureConfig(), cache_dir=tmp_path / "cache", workers=0)
    assert len(fs.filenames) == 38
    assert set(fs.skipped) == {files[3], files[7]}
    assert "missing" in fs.skipped[files[7]]
    assert fs.x.shape == (38, 256, 65)


def test_check_reports_problems_without_traceback(broken):
    from asc_core.data.check import check_dataset

    ds = open_dataset(broken)
    (broken / _first(ds)).unlink()
    report = check_dataset(broken)
    assert report["bad_files"][0]["problem"] == "file is missing"
    shutil.rmtree(broken / "split_setup")
    report = check_dataset(broken)
    assert report["clips"] == 0 and "split file(s) missing" in report["problems"][0]


def test_unknown_scene_label_names_file_line_and_label(broken):
    meta = broken / "meta.csv"
    lines = meta.read_text().splitlines()
    cols = lines[2].split("\t")
    cols[1] = "beach"
    lines[2] = "\t".join(cols)
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"meta.csv: line 3 \(audio/.*\.wav\): unknown scene label 'beach'"):
        open_dataset(broken)


def test_unknown_label_in_a_split_file(broken):
    split = broken / "split_setup" / "split5.csv"
    lines = split.read_text().splitlines()
    lines[1] = lines[1].split("\t")[0] + "\tsea_shore"
    split.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"split5.csv: line 2 .*unknown scene label 'sea_shore' \(allowed: airport"):
        open_dataset(broken)


def test_converted_clips_are_reported_once_with_counts(broken, tmp_path):
    ds = open_dataset(broken)
    files = ds.clips["filename"].tolist()[:6]
    for fn in files[:2]:  # stereo at 48 kHz, where the front end expects mono at 32 kHz
        sf.write(broken / fn, np.zeros((48000, 2), np.float32), 48000, subtype="PCM_16")
    with pytest.warns(UserWarning, match="2 clips: 2 channels mixed down to mono; 2 clips: resampled from 48000 Hz"):
        fs = extract(open_dataset(broken), files, FeatureConfig(), cache_dir=tmp_path / "cache", workers=0)
    assert len(fs.filenames) == 6


def test_oversized_config_names_and_long_values_are_bounded(tmp_path):
    from asc_core.config import ConfigError, load_raw, parse_config

    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# padding\n" * 20_000)
    with pytest.raises(ConfigError, match=r"big.yaml: 200,008 bytes; a config is at most 64,000 bytes"):
        load_raw(big)
    with pytest.raises(ConfigError, match="name: String should have at most 200 characters") as e:
        parse_config({"name": "n" * 10_000_000})
    assert len(str(e.value)) < 400  # the 10 MB name is not echoed
    with pytest.raises(ConfigError, match="width must be a multiple of 8 from 8 to 256"):
        parse_config({"student": {"name": "rep_mobile", "width": 1000}})


def test_rule_errors_are_one_sentence_without_the_config_dict():
    from asc_core.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as e:
        parse_config({"student": {"name": "rep_mobile", "width": 64}, "pruning": {"mode": "single", "chain": [48, 32]}})
    assert str(e.value) == (
        "invalid config — pruning: pruning.mode 'single' needs exactly one target (one width in chain, or a budget), "
        "got 2"
    )


def test_an_unreadable_upload_is_named_without_object_reprs():
    from asc_core.app.tryit import read_upload

    with pytest.raises(AudioError) as e:
        read_upload(b"not audio at all" * 20, "x.wav")
    assert "BytesIO" not in str(e.value) and str(e.value).startswith("x.wav: not a readable audio file")
