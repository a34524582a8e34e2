"""Pretrained weights: fetched by name on request only, resumable, SHA-256 recorded and verified; offline in one
line. Against a local file server on 127.0.0.1 (nothing leaves this machine)."""

import hashlib
import http.server
import json
import threading

import pytest

from tests.conftest import run_cli

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    cut_once = {"armed": True}

    def log_message(self, *a):
        pass

    def do_GET(self):  # noqa: N802
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        if self.path.endswith("/cut") and self.cut_once["armed"]:  # the first transfer dies a third of the way
            self.cut_once["armed"] = False
            self.wfile.write(body[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _cli(home, *args):
    import os

    old = os.environ.get("ASC_DATA_HOME")
    os.environ["ASC_DATA_HOME"] = str(home)
    try:
        return run_cli("teachers", *args, timeout=120)
    finally:
        os.environ.pop("ASC_DATA_HOME") if old is None else os.environ.__setitem__("ASC_DATA_HOME", old)


def test_download_resumes_after_a_cut_and_records_the_digest(server, tmp_path):
    _Handler.cut_once["armed"] = True
    r = _cli(tmp_path, "download", "passt_s_audioset", "--url", f"{server}/cut", "--json")
    assert r.returncode == 2 and "run the command again to resume" in r.stderr, r.stderr
    part = tmp_path / "weights" / "passt-s-f128-p16-s10-ap.476-swa.pt.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    r = _cli(tmp_path, "download", "passt_s_audioset", "--url", f"{server}/cut", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert info["sha256"] == digest and info["size"] == len(PAYLOAD) and not part.exists()
    manifest = json.loads((tmp_path / "weights" / "manifest.json").read_text())
    assert manifest["passt_s_audioset"]["sha256"] == digest
    # verified on every later use: a changed file is refused
    from asc_core import weights

    (tmp_path / "weights" / info["path"].split("/")[-1]).write_bytes(PAYLOAD[:-1] + b"x")
    import os

    os.environ["ASC_DATA_HOME"] = str(tmp_path)
    try:
        with pytest.raises(weights.WeightsError, match="does not match the SHA-256 recorded"):
            weights.verified_path("passt_s_audioset")
    finally:
        del os.environ["ASC_DATA_HOME"]


def test_a_wrong_sha256_is_refused_and_nothing_recorded(server, tmp_path):
    r = _cli(tmp_path, "download", "passt_s_audioset", "--url", f"{server}/file", "--sha256", "0" * 64)
    assert r.returncode == 2 and "was refused" in r.stderr, r.stderr
    assert not (tmp_path / "weights" / "manifest.json").exists()
    assert not list((tmp_path / "weights").glob("*.pt*"))


def test_offline_fails_in_one_line_saying_what_to_fetch(tmp_path):
    r = _cli(tmp_path, "download", "passt_s_audioset", "--url", "http://127.0.0.1:9/none")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "cannot download passt_s_audioset" in lines[0] and "--from" in lines[0] and str(tmp_path) in lines[0]


def test_init_audioset_without_weights_fails_before_training(tiny_root, tmp_path, monkeypatch):
    from asc_core.config import parse_config
    from asc_core.store import Store
    from asc_core.train.runner import run_experiment

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path / "home"))
    cfg = parse_config({"dataset": str(tiny_root), "teachers": [{"model": {"name": "passt_s"}, "init": "audioset"}],
                        "optim": {"epochs": 1}, "accelerator": "cpu"})  # fmt: skip
    s = run_experiment(cfg, Store(tmp_path / "runs"))
    assert s["status"] == "failed" and "teachers download passt_s_audioset" in s["error"]


def test_zoo_keeps_teachers_with_other_starting_weights_apart(tiny_root, tmp_path, monkeypatch):
    import torch

    from asc_core.config import TeacherSpec
    from asc_core.data import open_dataset
    from asc_core.models import create_model
    from asc_core.zoo import teacher_key

    monkeypatch.setenv("ASC_DATA_HOME", str(tmp_path / "home"))
    ds = open_dataset(tiny_root)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save(create_model("passt_tiny").state_dict(), a)
    torch.save(create_model("passt_tiny").state_dict(), b)
    keys = {teacher_key(ds, 25, TeacherSpec(model={"name": "passt_tiny"}, init=init), 1)
            for init in ("scratch", str(a), str(b))}  # fmt: skip
    assert len(keys) == 3
    with pytest.raises(ValueError, match="needs a PaSST teacher"):
        TeacherSpec(model={"name": "cp_resnet"}, init="audioset")
    with pytest.raises(ValueError, match="scratch, audioset or a checkpoint file"):
        TeacherSpec(model={"name": "passt_s"}, init="imagenet")
