"""Preset files are parsed once per version of the file: a change is seen, a caller's edit is not shared."""

import os

from asc_core import config


def test_a_parsed_preset_is_a_fresh_copy_and_follows_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PRESETS_DIR", tmp_path)
    p = tmp_path / "mine.yaml"
    p.write_text("optim: {epochs: 3}\n")
    first = config.load_preset("mine")
    first["optim"]["epochs"] = 99  # a caller changing what it got
    assert config.load_preset("mine")["optim"]["epochs"] == 3
    p.write_text("optim: {epochs: 5}\n")
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 1_000_000))  # even within one clock tick
    assert config.load_preset("mine")["optim"]["epochs"] == 5
