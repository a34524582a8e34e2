"""The data commands of the CLI, run as a user runs them."""

import json
import urllib.error
import zipfile

import pytest

from asc_core.data import DatasetError, open_dataset
from asc_core.data.labels import CITIES
from tests.conftest import run_cli

run = run_cli


def test_check_json(tiny_root):
    r = run("data", "check", "--root", str(tiny_root), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["rows"]["test"] == 180
    assert report["counts"]["test"]["park"]["s6"] == 2
    assert report["problems"] == []
    assert set(report["cities"]["split100"]) <= set(CITIES)  # TAU22's ten cities


def test_check_text_and_bad_root(tmp_path, tiny_root):
    r = run("data", "check", "--root", str(tiny_root))
    assert r.returncode == 0 and "no problems found" in r.stdout
    r = run("data", "check", "--root", str(tmp_path / "missing"))
    assert r.returncode == 1 and "does not exist" in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_synth_if_missing_is_idempotent(tiny_root, tmp_path):
    out = tmp_path / "t"
    r = run("data", "synth", "--preset", "tiny", "--seed", "3", "--out", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "clips" in r.stdout and (out / "synth.json").exists()
    mtime = (out / "meta.csv").stat().st_mtime_ns
    r = run("data", "synth", "--preset", "tiny", "--seed", "3", "--out", str(out), "--if-missing")
    assert r.returncode == 0 and "already present" in r.stderr
    assert (out / "meta.csv").stat().st_mtime_ns == mtime


def test_unknown_preset_is_a_clear_error(tmp_path):
    r = run("data", "synth", "--preset", "huge", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "invalid choice: 'huge'" in r.stderr


# ------------------------------------------------------------------ download, up to the network boundary
def test_download_reports_network_failure(tmp_path, monkeypatch):
    from asc_core.data import download

    def offline(*a, **k):
        raise urllib.error.URLError("no route to zenodo.org")

    monkeypatch.setattr("urllib.request.urlretrieve", offline)
    with pytest.raises(DatasetError, match="download failed: .*no route to zenodo.org.*run the same command again"):
        download.download_tau22(tmp_path / "tau", partial=["meta"])


def test_download_unknown_part(tmp_path):
    from asc_core.data import download

    with pytest.raises(ValueError, match="unknown TAU22 part"):
        download.download_tau22(tmp_path / "tau", partial=["audio.99"])


def _fake_meta_zip(path, meta_text):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("TAU-urban-acoustic-scenes-2022-mobile-development/meta.csv", meta_text)


def test_download_checksum_mismatch_is_retried_then_reported(tmp_path, monkeypatch):
    from asc_core.data import download

    calls = []

    def fake_retrieve(url, filename, reporthook=None, data=None):
        calls.append(url)
        _fake_meta_zip(filename, "filename\tscene_label\tidentifier\tsource_label\n")

    monkeypatch.setattr("urllib.request.urlretrieve", fake_retrieve)
    with pytest.raises(DatasetError, match="MD5 checksum differs"):
        download.download_tau22(tmp_path / "tau", partial=["meta"])
    assert len(calls) == 2 and "zenodo.org/record/6337421" in calls[0]


@pytest.mark.slow  # a subprocess or training: `make test` only
def test_download_lays_out_splits(tmp_path, monkeypatch, tau22_root):
    """With the transfer replaced by a local zip (and its checksum accepted), the command extracts
    the archive and installs the DCASE2024 split files so the folder opens as a dataset."""
    import soundata.download_utils as du

    from asc_core.data import download

    meta_text = (tau22_root / "meta.csv").read_text()
    monkeypatch.setattr("urllib.request.urlretrieve", lambda url, filename, **k: _fake_meta_zip(filename, meta_text))
    monkeypatch.setattr(du, "md5", lambda p: next(r.checksum for r in _remotes() if r.filename in str(p)))
    root = download.download_tau22(tmp_path / "tau", partial=["meta"])
    assert root.name == download.DEV_FOLDER
    ds = open_dataset(root)
    assert len(ds.subset(5)) == 6_980 and len(ds.test()) == 29_680


def _remotes():
    import soundata

    return soundata.initialize("tau2022uas_mobile", data_home="/tmp").remotes.values()
