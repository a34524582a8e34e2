"""The Streamlit app: every page registered and rendered with AppTest (real dataset, no mocks)."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def _registered_pages() -> set[str]:
    tree = ast.parse((ROOT / "app.py").read_text())
    return {
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "Page" and n.args
    }


def test_every_page_file_is_registered():
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert files and files == _registered_pages()


def test_no_streamlit_in_core():
    """No module of asc_core imports Streamlit, in any form (import, from-import, importlib, __import__)."""
    import ast

    for p in (ROOT / "asc_core").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                if getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
                    names = [str(node.args[0].value)]
            assert not any(n == "streamlit" or n.startswith("streamlit.") for n in names), f"{p}:{node.lineno}"


@pytest.fixture
def app(monkeypatch, tiny_root):
    monkeypatch.setenv("ASC_DATA", str(tiny_root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    return at


def test_home_shows_dataset_and_plays_a_clip(app):
    app.run()
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert "Clips" in labels and app.metric[0].value == "262"
    assert app.get("audio"), "a clip player is shown"
    assert app.get("plotly_chart"), "its spectrogram is shown"
    app.selectbox(key="home_device").select("s6").run()
    assert not app.exception and app.get("audio")


def test_home_on_missing_dataset_explains(app, tmp_path):
    app.run()
    app.text_input(key="home_root").input(str(tmp_path / "none")).run()
    assert not app.exception
    assert "does not exist" in app.error[0].value
    assert "make app" in app.info[0].value


def test_served_to_a_network_the_app_asks_for_the_shared_password(monkeypatch):
    monkeypatch.setenv("ASC_PASSWORD", "classroom-42")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert at.text_input[0].label == "Password" and not at.error
    at.text_input[0].input("guess").run()
    at.button[0].click().run()
    assert "not the password" in at.error[0].value
    at.text_input[0].input("classroom-42").run()
    at.button[0].click().run()
    assert at.session_state["signed_in"] and not at.exception


def test_the_app_listens_on_this_computer_only_by_default():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    make = (ROOT / "Makefile").read_text()
    assert "ASC_HOST ?= 127.0.0.1" in make and "--server.address $(ASC_HOST)" in make


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_apps_worker_runs_in_the_memory_mode_asked_or_the_machines_size_picks():
    """The Makefile's settings are the modes of asc_core.memory (what `bench memory` measures)."""
    from asc_core.memory import MODE_ENV

    def recipe(*args):
        r = subprocess.run(["make", "-n", "app", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        return r.stdout

    for mode, flag in (("low", "1"), ("fast", "0")):
        out = recipe(f"LOW_MEMORY={flag}")
        env = MODE_ENV[mode]
        assert f"GLIBC_TUNABLES={env['GLIBC_TUNABLES']} ASC_LOW_MEMORY={env['ASC_LOW_MEMORY']}" in out
        assert f"memory mode: {mode}" in out
    gb = int(open("/proc/meminfo").read().split()[1]) // 1048576
    assert f"memory mode: {'low' if gb < 16 else 'fast'}" in recipe() and f"{gb} GB of RAM" in recipe()
