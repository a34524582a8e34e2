"""A pruning run's trained parent: trained once, reused by the runs that prune it, with the same result."""

import threading
import time

import pytest

from asc_core.app.model_views import trajectory
from asc_core.config import parse_config
from asc_core.embedded.synth import dataset_tag
from asc_core.grid import plan
from asc_core.store import Store
from asc_core.tables import run_key
from asc_core.train.runner import run_experiment
from asc_core.zoo import find_parent, parent_key, parent_lock
from tests.conftest import student_config

pytestmark = pytest.mark.slow  # trains models, runs workers, the app or a browser (make test-fast skips it)

_SINGLE = {"mode": "single", "chain": [16], "total_times": 1, "interval_steps": 1, "finetune_epochs": 1}


def _pruned(root, pruning=_SINGLE, **over) -> dict:
    return student_config(root, 32, name="pruned", pruning=pruning, **over)


def test_the_key_is_the_training_not_the_pruning(tiny_root):
    unpruned = parse_config(student_config(tiny_root, 32, name="width 32"))
    single = parse_config(_pruned(tiny_root))
    chain = parse_config(_pruned(tiny_root, {"mode": "progressive", "chain": [24, 16]}))
    assert parent_key(unpruned) == parent_key(single) == parent_key(chain)
    assert parent_key(parse_config(_pruned(tiny_root, seed=1))) != parent_key(single)
    assert parent_key(parse_config(student_config(tiny_root, 48))) != parent_key(single)
    # a finished run is keyed on the data it ran on: one from before generator 2 (no tag) is no parent of a run now
    done = {"config": unpruned.model_dump(mode="json"), "summary": {"dataset_tag": dataset_tag(tiny_root)}}
    assert run_key(done, parent_key) == parent_key(single)
    assert run_key({**done, "summary": {"macro_accuracy": 50.0}}, parent_key) != parent_key(single)


def test_pruning_runs_reuse_their_parent_and_get_the_result_they_would_have_trained(tiny_root, tmp_path):
    # a store with the unpruned width-32 run: the pruning run starts from its trained student
    a = Store(tmp_path / "a")
    wide = run_experiment(parse_config(student_config(tiny_root, 32, name="width 32")), a)
    assert wide["status"] == "done" and wide["parent"] is None
    assert 0 < wide["cpu_share"] <= 1.1  # the share of its threads' CPU time it got (under 0.8: a busy machine)
    cfg = parse_config(_pruned(tiny_root))
    assert find_parent(cfg, a)["run_id"] == wide["run_id"]
    hold = threading.Event()

    def other_run_holds_the_parent():  # e.g. another pruning run reading it: held until this one has waited 2 s
        with a.exclusive(parent_lock(parent_key(cfg))):
            hold.set()
            deadline = time.time() + 120
            while time.time() < deadline and not any("waiting" in (r["stage"] or "") for r in a.list_runs("running")):
                time.sleep(0.2)
            time.sleep(2)

    holder = threading.Thread(target=other_run_holds_the_parent)
    holder.start()
    hold.wait()
    t0 = time.time()
    reused = run_experiment(cfg, a)
    wall = time.time() - t0
    holder.join()
    assert reused["status"] == "done", reused
    # the wait is counted apart: not in its training seconds, which the tables and the estimates read
    assert 2 <= reused["waited_s"] == pytest.approx(a.get_run(reused["run_id"])["waited_s"], abs=0.1)
    assert reused["seconds"] < wall - 2
    assert reused["parent"] | {"key": None} == {"key": None, "reused": True, "run_id": wide["run_id"], "source": "run"}
    assert reused["pruning_rounds"][0]["accuracy_before"] == pytest.approx(wide["macro_accuracy"], abs=1e-6)
    assert a.metrics(reused["run_id"]).query("key == 'train_loss' and stage == 'student training'").empty
    assert wide["run_id"] in trajectory(reused)["step"][0]  # the Models page names the run it was pruned from
    # a store without it: the first pruning run trains the parent, the next one reuses it from the zoo
    b = Store(tmp_path / "b")
    trained = run_experiment(cfg, b)
    assert trained["parent"]["reused"] is False and trained["parent"]["run_id"] == trained["run_id"]
    assert trained["pruning_rounds"][0]["accuracy_before"] == pytest.approx(wide["macro_accuracy"], abs=1e-6)
    # the same result, reused or trained: a cache, not another method
    assert trained["macro_accuracy"] == pytest.approx(reused["macro_accuracy"], abs=1e-6)
    assert trained["pruning_rounds"][0]["channels"] == reused["pruning_rounds"][0]["channels"]
    spent = trained["pruning_rounds"][0]["seconds"]  # what each stage of the round took (the estimates' check)
    assert set(spent) == {"prepare", "schedule", "finetune"} and all(v > 0 for v in spent.values())
    chain = parse_config(_pruned(tiny_root, _SINGLE | {"mode": "progressive", "chain": [24, 16]}))
    est = plan([chain], b)[0]["estimate_s"]
    assert est < plan([chain.model_copy(update={"seed": 1})], b)[0]["estimate_s"]  # its parent is ready: no training
    prog = run_experiment(chain, b)
    assert prog["status"] == "done" and prog["parent"]["source"] == "zoo"
    assert prog["parent"]["run_id"] == trained["run_id"]
    assert [r["target_width"] for r in prog["pruning_rounds"]] == [24, 16]


def test_an_unpruned_run_holds_its_parent_lock_while_it_trains_and_leaves_its_student(tiny_root, tmp_path):
    """A pruning run started while the unpruned run of its width trains waits for it (the same store lock) and then
    finds its student, instead of training the same network beside it; where a pruning run holds the lock, the
    unpruned run trains without waiting."""
    import torch

    from asc_core.train.parents import train_unpruned

    store = Store(tmp_path / "runs")
    cfg = parse_config(student_config(tiny_root, 32, name="width 32"))
    key = parent_key(cfg)
    student = torch.nn.Linear(3, 2)
    held = []

    def refuse():
        raise TimeoutError

    def train():  # the lock is held while it trains: another open of it (what a pruning run does) must wait
        try:
            with store.exclusive(parent_lock(key), refuse):
                held.append(False)
        except TimeoutError:
            held.append(True)
        torch.nn.init.constant_(student.weight, 0.5)

    assert train_unpruned(cfg, student, store, "run-a", train) is True and held == [True]
    found = find_parent(parse_config(_pruned(tiny_root)), store)
    assert found["source"] == "run" and found["run_id"] == "run-a"  # an unpruned run's own student
    assert torch.load(found["path"], weights_only=True)["weight"].eq(0.5).all()
    # a pruning run is training this parent (it holds the lock): the unpruned run trains anyway, leaving nothing
    other = Store(tmp_path / "other")
    with other.exclusive(parent_lock(key)):
        assert train_unpruned(cfg, student, other, "run-b", lambda: held.append("trained")) is False
    assert held[-1] == "trained" and find_parent(cfg, other) is None
