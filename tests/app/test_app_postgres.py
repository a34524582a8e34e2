"""The pages on a PostgreSQL run store (the demo bundle's real runs loaded into it), and the one line every page
shows when that store cannot be reached."""

from __future__ import annotations

import pytest

from asc_core import demo
from asc_core.store import Store
from tests.app.test_app_runs import _app

pytestmark = pytest.mark.slow  # the app (AppTest) and a database server


def test_pages_read_a_postgresql_store(monkeypatch, postgres_url, tiny_root, tmp_path):
    if not demo.bundle_available():
        pytest.skip("no demo bundle in assets/demo_runs")
    ids = demo.load_bundle(Store(tmp_path / "runs", url=postgres_url))
    monkeypatch.setenv("ASC_STORE", postgres_url)
    at = _app(monkeypatch, tmp_path / "runs", tiny_root, "pages/compare.py")
    names = set(at.dataframe[0].value["name"]) if at.dataframe else set()
    assert len(ids) == 3 and {"demo · demo", "demo · quick", "demo · quick-single"} <= names, names
    for page in ("pages/jobs.py", "pages/listen.py", "pages/models.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        errors = [e.value for e in at.error if "file is missing" not in e.value]  # the bundle's clips are mini's
        assert not errors, (page, errors)
    at.switch_page("pages/jobs.py").run()
    assert any("run store postgresql://" in c.value for c in at.caption)


def test_every_page_says_when_the_store_cannot_be_reached(monkeypatch, tiny_root, tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    monkeypatch.setenv("ASC_STORE", "postgresql://asc:s3cret@127.0.0.1:1/asc")  # nothing listens on port 1
    from streamlit.testing.v1 import AppTest

    from tests.app.test_app_runs import ROOT

    monkeypatch.setenv("ASC_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ASC_DATA", str(tiny_root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/jobs.py").run()
    assert not at.exception
    (err,) = at.error
    assert "the run store postgresql://asc:***@127.0.0.1:1/asc cannot be reached" in err.value
    assert "s3cret" not in err.value
