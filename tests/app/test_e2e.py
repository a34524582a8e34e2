"""End to end in a real browser: Playwright drives Debian's chromium against `streamlit run app.py` and a
worker started here, on the `tiny` dataset: every page opens without an error, a quick job launched
from the Experiment page runs to `done`, Listen plays a misclassified clip, Try it classifies an upload.
A screenshot of every page goes to artifacts/screenshots/. Skips, saying why, where chromium or
Playwright cannot be had."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asc_core.store import Store

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = [
    ("", "ASC Lab"),
    ("data", "Data"),
    ("experiment", "Experiment"),
    ("jobs", "Jobs"),
    ("compare", "Compare"),
    ("listen", "Listen to the mistakes"),
    ("models", "Models"),
    ("tryit", "Try it"),
    ("learn", "Learn"),
]


def _chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (Playwright's own download does not work here)."""
    for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(p):
            return p
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and apt-get (as root) is not available to install it")
    for cmd in (
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=900, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        )
        if r.returncode == 0 and cmd[1] == "install":
            break
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip(f"could not install chromium with apt-get: {r.stderr.strip()[-300:]}")
    return "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    exe = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--autoplay-policy=no-user-gesture-required",
                "--mute-audio",
            ],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tiny_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("e2e") / "runs"
    port = _free_port()
    env = dict(os.environ, ASC_RUNS=str(runs), ASC_DATA=str(tiny_root), PYTHONUNBUFFERED="1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "asc_core", "worker", "--runs", str(runs)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            if time.time() - t0 > 120:
                pytest.fail("streamlit did not come up within 120 s")
            time.sleep(0.5)
    yield url, Store(runs)
    for proc in (app, worker):
        proc.send_signal(signal.SIGINT)
    for proc in (app, worker):
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _open(page, url: str, path: str, title: str):
    page.goto(f"{url}/{path}")
    page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
    _settled(page)
    _no_error(page, path)


def _settled(page):
    """The page's script has finished (Streamlit shows its running icon while a script runs; it appears a few
    hundred ms after a run starts, hence the first pause) and the charts have had a moment to draw."""
    page.wait_for_timeout(700)
    page.locator("[data-testid='stStatusWidgetRunningIcon']").wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(500)


def _no_error(page, path):
    errors = page.locator("[data-testid='stException']")
    assert errors.count() == 0, f"{path or 'home'}: {errors.first.inner_text()[:500]}"


def _wait_until(pred, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout} s: {what}")


def test_the_app_in_a_browser(browser, served, tiny_root, tmp_path):
    url, store = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    for path, title in PAGES:  # every page opens on an empty store
        _open(page, url, path, title)

    # ---- launch a quick job from the Experiment page and watch it finish on Jobs
    _open(page, url, "experiment", "Experiment")
    for label, value in (("Teacher epochs", "1"), ("Student epochs", "2")):
        box = page.get_by_label(label)
        box.fill(value)
        box.press("Enter")
        page.wait_for_timeout(800)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Launch 1 run(s)").click()
    page.get_by_text("Queued 1 run(s)").wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "experiment.png"), full_page=True)
    run_id = store.list_runs()[0]["run_id"]
    _open(page, url, "jobs", "Jobs")
    page.get_by_text("worker(s) alive").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "jobs.png"), full_page=True)
    _wait_until(lambda: store.get_run(run_id)["status"] in ("done", "failed"), 600, "the quick job to finish")
    assert store.get_run(run_id)["status"] == "done", store.get_run(run_id)["error"]
    page.get_by_text("Nothing is running").wait_for(timeout=30_000)  # the page noticed, by polling

    # ---- every page with a finished run; Listen plays a mistake
    for path, title in PAGES:
        if path in ("experiment", "jobs"):
            continue
        _open(page, url, path, title)
        if path == "listen":
            audio = page.locator("audio").first
            audio.wait_for(state="attached", timeout=30_000)
            playing = audio.evaluate(
                "a => a.play().then(() => new Promise(r => setTimeout(() => r(a.currentTime), 700)))"
            )
            assert playing > 0, "the misclassified clip plays"
        if path == "tryit":
            wav = tmp_path / "upload.wav"
            sf.write(wav, (np.random.default_rng(0).standard_normal(32000 * 3) * 0.05).astype(np.float32), 32000)
            page.locator("input[type='file']").set_input_files(str(wav))
            page.get_by_text("3.0 s of audio in 3 window(s)").wait_for(timeout=60_000)
            _no_error(page, path)
        page.screenshot(path=str(SHOTS / f"{path or 'dataset'}.png"), full_page=True)
    assert len(list(SHOTS.glob("*.png"))) >= len(PAGES)
