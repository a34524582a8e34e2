"""Queue messages that carry only data: a run id, the run store's folder and whether to resume.

huey serialises its messages with pickle, and unpickling runs code: whoever can write to the queue (a Redis list
shared by several machines, the SQLite file) could run a command in every worker. ``JsonMessages`` writes each
message as a small JSON object and reads back nothing else: a message that is not valid JSON, is larger than
``MAX_MESSAGE_BYTES``, names another task or carries arguments of other types is dropped, with one line in the
worker's log naming why. huey's own Serializer handles only the (de)compression we do not use.
"""

from __future__ import annotations

import json
import logging
import re

from huey.registry import Message
from huey.serializer import Serializer

log = logging.getLogger("asc_core.queue")

TASK_NAME = "asc_lab.run"
REGISTERED = f"asc_core.jobs.{TASK_NAME}"  # huey's registry name: the task function's module, then its name
MAX_MESSAGE_BYTES = 8192
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class InvalidMessage(ValueError):
    """A queue message that is not an ASC Lab job (dropped)."""


class JsonMessages(Serializer):
    def serialize(self, data) -> bytes:
        if not isinstance(data, Message) or data.name != REGISTERED:
            raise InvalidMessage(f"only {TASK_NAME} jobs are queued, got {getattr(data, 'name', type(data).__name__)}")
        run_id, runs_root, resume = data.args
        return json.dumps({"id": data.id, "task": TASK_NAME, "run_id": run_id, "runs": runs_root,
                           "resume": bool(resume)}).encode()  # fmt: skip

    def deserialize(self, data: bytes) -> Message:
        try:
            return parse_message(data)
        except InvalidMessage as e:
            log.error("dropped a queue message: %s", e)
            raise


def parse_message(data) -> Message:
    """The job a raw queue message carries; InvalidMessage naming why it is not one."""
    if not isinstance(data, (bytes, str)) or len(data) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"not a job message (type {type(data).__name__}, {len(data or b'')} bytes)")
    try:
        d = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidMessage(f"not JSON (starts with {bytes(data[:16])!r})") from None
    if not isinstance(d, dict) or d.get("task") != TASK_NAME:
        raise InvalidMessage(f"not an {TASK_NAME} job")
    run_id, runs, resume, msg_id = d.get("run_id"), d.get("runs"), d.get("resume"), d.get("id")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidMessage(f"bad run id {str(run_id)[:80]!r}")
    if not isinstance(runs, str) or not runs or len(runs) > 4096 or "\x00" in runs:
        raise InvalidMessage("bad run store folder")
    if not isinstance(resume, bool) or not isinstance(msg_id, str) or len(msg_id) > 64:
        raise InvalidMessage("bad resume flag or message id")
    return Message(msg_id, REGISTERED, None, 0, 0, None, (run_id, runs, resume), {}, None, None, None, None)
