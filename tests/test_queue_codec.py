"""Queue messages are data: a planted pickle runs nothing, a malformed message is dropped and named."""

import json
import pickle

import pytest

from asc_core import job_queue, jobs
from asc_core.queue_codec import InvalidMessage
from asc_core.store_backends import redact
from tests.conftest import PlantedPickle


def test_a_planted_pickle_in_the_queue_runs_nothing(tmp_path, caplog):
    q = job_queue.get_queue(f"sqlite:///{tmp_path / 'queue.db'}")
    marker = tmp_path / "pwned"
    q.storage.enqueue(pickle.dumps(PlantedPickle(marker)))
    with pytest.raises(InvalidMessage, match="not JSON"):
        q.dequeue()
    assert not marker.exists()
    assert "dropped a queue message" in caplog.text
    assert q.pending_count() == 0  # taken off the queue, not retried for ever


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"task": "other.task", "run_id": "a", "runs": "/r", "resume": False, "id": "1"}, "not an asc_lab.run job"),
        ({"task": "asc_lab.run", "run_id": "../../etc", "runs": "/r", "resume": False, "id": "1"}, "bad run id"),
        ({"task": "asc_lab.run", "run_id": "a", "runs": 3, "resume": False, "id": "1"}, "bad run store folder"),
        ({"task": "asc_lab.run", "run_id": "a", "runs": "/r", "resume": "yes", "id": "1"}, "bad resume flag"),
        ({"task": "asc_lab.run", "run_id": "a", "runs": "/r" * 5000, "resume": False, "id": "1"}, "not a job message"),
    ],
)
def test_malformed_messages_are_dropped_naming_why(tmp_path, message, why):
    q = job_queue.get_queue(f"sqlite:///{tmp_path / 'queue.db'}")
    q.storage.enqueue(json.dumps(message).encode())
    with pytest.raises(InvalidMessage, match=why):
        q.dequeue()


def test_a_job_round_trips_as_json(tmp_path):
    q = job_queue.get_queue(f"sqlite:///{tmp_path / 'queue.db'}")
    q.task_fn("20260101-000000-abcd", str(tmp_path), True)
    raw = q.storage.dequeue()
    assert json.loads(raw)["run_id"] == "20260101-000000-abcd"  # readable data, not a pickle
    q.storage.enqueue(raw)
    task = q.dequeue()
    assert task.args == ("20260101-000000-abcd", str(tmp_path), True)


def test_queue_passwords_are_redacted():
    assert redact("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert redact("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert redact("sqlite:////tmp/q.db") == "sqlite:////tmp/q.db"


def test_a_whole_group_is_cancelled_and_resumed(tmp_path, monkeypatch):
    from asc_core.config import parse_config
    from asc_core.store import Store

    monkeypatch.setenv("ASC_QUEUE", f"sqlite:///{tmp_path / 'queue.db'}")
    store = Store(tmp_path / "runs")
    cfgs = [parse_config({"preset": "quick", "seed": s}) for s in range(3)]
    ids = jobs.launch(cfgs, store, group="seeds")
    other = jobs.submit(parse_config({"preset": "quick", "seed": 9}), store, group="other")
    assert jobs.for_group(store, "seeds", "cancel") == dict.fromkeys(ids, "cancelled")
    assert store.get_run(other)["status"] == "queued"
    assert jobs.for_group(store, "seeds", "resume") == dict.fromkeys(ids, "queued")
    with pytest.raises(ValueError, match="no group 'nope'"):
        jobs.for_group(store, "nope", "cancel")
