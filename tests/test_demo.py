"""The demo bundle: real runs, stripped to what the pages read, loaded into a store once."""

import sqlite3

import pytest

from asc_core import demo
from asc_core.store import Store


@pytest.mark.slow  # trains a small model
def test_a_bundle_made_by_real_runs_loads_into_a_store_once(tiny_root, tmp_path):
    ids = demo.make_bundle(tmp_path / "bundle", ("demo",), echo=lambda *_: None, dataset=str(tiny_root),
                           optim={"epochs": 1})  # fmt: skip
    assert len(ids) == 1 and [p.name for p in (tmp_path / "bundle").iterdir() if p.is_dir()] == ids
    assert not [p for p in (tmp_path / "bundle" / ids[0]).iterdir() if p.is_dir()]  # no checkpoints
    store = Store(tmp_path / "mine")
    assert demo.load_bundle(store, tmp_path / "bundle") == ids
    run = store.get_run(ids[0])
    assert run["name"] == "demo · demo" and run["group_name"] == "demo bundle" and run["status"] == "done"
    assert len(store.predictions(ids[0])) == 180
    from pathlib import Path

    arts = store.artifacts(ids[0])
    assert arts["deployed"]["path"].startswith(str(store.root)) and Path(arts["deployed"]["path"]).exists()
    assert demo.load_bundle(store, tmp_path / "bundle") == []  # loading twice adds nothing


def test_a_crafted_bundle_cannot_point_outside_its_run(tmp_path):
    bundle = tmp_path / "bundle"
    src = Store(bundle)
    run_id = src.create_run({"seed": 0}, name="x", status="done")
    src.add_artifact(run_id, "deployed", "../../../etc/passwd")
    (bundle / run_id).mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="artifact outside its run"):
        demo.load_bundle(Store(tmp_path / "mine"), bundle)
    assert sqlite3.connect(tmp_path / "mine" / "asc.db").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_the_shipped_bundle_loads():
    if not (demo.BUNDLE / "asc.db").exists():
        pytest.skip("no demo bundle in assets/demo_runs yet (scripts/make_demo_bundle.py makes it)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        added = demo.load_bundle(store)
        assert len(added) == len(demo.PRESETS)
        for run_id in added:
            s = store.get_run(run_id)["summary"]
            assert s["macro_accuracy"] > 20 and len(store.predictions(run_id)) == 900
