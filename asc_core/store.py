"""The run store: a database (SQLite by default; PostgreSQL with ``ASC_STORE=postgresql://…`` for workers on several
machines — ``store_backends``) with a versioned schema, plus a folder per run under the artifact root (``ASC_RUNS``),
which every worker must reach. Artifact and teacher paths under that root are recorded relative to it, so machines
may mount it at different places.

Tables: runs (config, status, timestamps, code version, host, pid, stage/progress, error and
traceback, summary), metrics (long format per stage/epoch/step), predictions (per clip), artifacts
(paths of checkpoints, logits, exports), teachers (the zoo), problems (clips skipped by a run).
Every write is one short transaction, so a process killed at any moment (SIGKILL) leaves the database
consistent; ``mark_interrupted`` turns runs whose process is gone into ``interrupted``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

from asc_core.constants import RUN_STATUSES as STATUSES  # noqa: E402
from asc_core.paths import PROJECT_ROOT
from asc_core.store_backends import open_database, upsert

MIGRATIONS = [
    # v1
    """
    CREATE TABLE runs(
        run_id TEXT PRIMARY KEY, name TEXT, group_name TEXT, status TEXT NOT NULL,
        config_json TEXT NOT NULL, config_hash TEXT, created_at REAL, started_at REAL, finished_at REAL,
        updated_at REAL, code_version TEXT, host TEXT, pid INTEGER, stage TEXT, progress REAL DEFAULT 0,
        epoch INTEGER, step INTEGER, eta_s REAL, error TEXT, traceback TEXT, summary_json TEXT,
        cancel_requested INTEGER DEFAULT 0);
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE metrics(run_id TEXT, stage TEXT, epoch INTEGER, step INTEGER, key TEXT, value REAL, ts REAL,
        PRIMARY KEY(run_id, stage, step, key));
    CREATE TABLE predictions(run_id TEXT, model TEXT, filename TEXT, device TEXT, city TEXT, y_true INTEGER,
        y_pred INTEGER, probs_json TEXT, PRIMARY KEY(run_id, model, filename));
    CREATE INDEX pred_cell ON predictions(run_id, model, y_true, y_pred);
    CREATE TABLE artifacts(run_id TEXT, kind TEXT, path TEXT, meta_json TEXT, PRIMARY KEY(run_id, kind));
    CREATE TABLE teachers(key TEXT PRIMARY KEY, model TEXT, config_json TEXT, dataset TEXT, subset INTEGER,
        seed INTEGER, status TEXT, accuracy REAL, ckpt_path TEXT, logits_path TEXT, run_id TEXT, created_at REAL);
    CREATE TABLE problems(run_id TEXT, filename TEXT, problem TEXT, PRIMARY KEY(run_id, filename));
    """,
    # v2: workers (heartbeats, so the app can say whether anything will pick up a queued job)
    """
    CREATE TABLE workers(worker_id TEXT PRIMARY KEY, host TEXT, pid INTEGER, queue TEXT, started_at REAL,
        heartbeat REAL, run_id TEXT);
    CREATE INDEX runs_group ON runs(group_name);
    """,
    # v3: which worker claimed a run (so a run whose worker stopped heartbeating, on any host, is interrupted)
    """
    ALTER TABLE runs ADD COLUMN worker_id TEXT;
    """,
    # v4: the whole run's progress and ETA (stages weighted by their estimated cost), beside the stage's
    """
    ALTER TABLE runs ADD COLUMN run_progress REAL;
    ALTER TABLE runs ADD COLUMN run_eta_s REAL;
    """,
    # v5: seconds a run spent running over all its attempts (a resumed run's summary counts the earlier ones)
    """
    ALTER TABLE runs ADD COLUMN active_s REAL;
    """,
    # v6: of those, seconds it waited for another run's teacher or pruning parent (its training time leaves them out)
    """
    ALTER TABLE runs ADD COLUMN waited_s REAL;
    """,
]

# each table's primary key (upserts, and copying rows between stores)
KEYS = {
    "runs": ("run_id",),
    "metrics": ("run_id", "stage", "step", "key"),
    "predictions": ("run_id", "model", "filename"),
    "artifacts": ("run_id", "kind"),
    "teachers": ("key",),
    "problems": ("run_id", "filename"),
    "workers": ("worker_id",),
}
_WORKER_COLS = ("worker_id", "host", "pid", "queue", "started_at", "heartbeat", "run_id")

# a worker whose heartbeat is older than this is gone (it writes one every 5 s)
WORKER_GONE_S = 30.0


def runs_home() -> Path:
    return Path(os.environ.get("ASC_RUNS", PROJECT_ROOT / "runs"))


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class RunNotFound(KeyError):
    def __str__(self):
        return f"no run {self.args[0]!r} in the store"


class Store:
    """The run store: artifacts under ``root`` (default ``$ASC_RUNS`` or ``<project>/runs``); the database at ``url``
    (default ``$ASC_STORE``; unset or ``""``: the SQLite file ``root/asc.db``)."""

    def __init__(self, root: str | Path | None = None, url: str | None = None):
        self.root = Path(root or runs_home())
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = open_database(self.root, url)
        self.db_path = getattr(self.db, "path", None)  # the SQLite file (None on PostgreSQL)
        self._migrate()

    # ------------------------------------------------------------ plumbing
    def describe(self) -> str:
        """Where the records are (a URL without its password, or the SQLite file) and where the files are."""
        return f"{self.db.describe()}, files in {self.root}"

    def tx(self):
        """One write transaction (SQLite: the write lock from its start; PostgreSQL: read committed)."""
        return self.db.tx()

    def _read(self):
        return self.db.read()

    def _migrate(self):
        """Bring the schema up to date. A store that is current is only read (no write lock: a page rerun does
        not wait for a worker's write); the check is repeated under the lock when it is behind."""
        if self.schema_version >= len(MIGRATIONS):
            return
        with self.tx() as con:
            self.db.lock_schema(con)
            version = self.db.version(con)
            for i, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for stmt in filter(str.strip, sql.split(";")):
                    con.execute(self.db.ddl(stmt))
                self.db.set_version(con, i)

    @property
    def schema_version(self) -> int:
        with self._read() as con:
            return self.db.version(con)

    def exclusive(self, name: str, on_wait=lambda: None):
        """Held by one process at a time for ``name`` among all that use this store (a context manager).
        PostgreSQL: an advisory lock, on any machine; SQLite: a file lock under ``root/locks`` (this machine, or a
        shared file system whose locks work). Both are released when their holder dies. ``on_wait`` is called
        about every second while another holds it; it may raise (a cancel) to stop waiting."""
        return self.db.exclusive(name, self.root / "locks", on_wait)

    def held(self, name: str) -> bool:
        """Whether another holder has ``exclusive(name)`` now (a probe: taken and let go at once when free)."""
        return self.db.held(name, self.root / "locks")

    def _relative(self, path) -> str:
        """A path under the artifact root as recorded (relative to it); any other path as given."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.root.resolve())) if p.is_absolute() else str(p)
        except ValueError:
            return str(p)

    def _absolute(self, path: str | None) -> str | None:
        return str(self.root / path) if path else path

    def run_dir(self, run_id: str) -> Path:
        d = self.root / run_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ------------------------------------------------------------ runs
    def create_run(
        self, config: dict, name: str = "", group: str = "", status: str = "queued", config_hash: str = ""
    ) -> str:
        run_id = new_run_id()
        now = time.time()
        with self.tx() as con:
            con.execute(
                "INSERT INTO runs(run_id, name, group_name, status, config_json, config_hash, created_at, updated_at,"
                " code_version, host) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    name,
                    group,
                    status,
                    json.dumps(config),
                    config_hash,
                    now,
                    now,
                    code_version(),
                    socket.gethostname(),
                ),
            )
        return run_id

    def update_run(self, run_id: str, *, ended_at_last_update: bool = False, **fields):
        """Set a run's fields. A run that stops running (done, failed, cancelled, interrupted) adds the attempt's
        seconds to ``active_s``: up to now, or up to its last update when its process died unseen
        (``ended_at_last_update``: the time it was found dead says nothing of when it stopped)."""
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {fields['status']!r}")
        for k in ("summary", "config"):
            if k in fields:
                fields[f"{k}_json"] = json.dumps(fields.pop(k), default=str)
        now = fields["updated_at"] = time.time()
        cols, params = ", ".join(f"{k}=?" for k in fields), [*fields.values()]
        if fields.get("status", "running") != "running":  # SET reads the row as it was: status still 'running'
            end = "updated_at" if ended_at_last_update else "?"
            cols += (f", active_s = CASE WHEN status='running' AND started_at IS NOT NULL AND {end} > started_at"
                     f" THEN COALESCE(active_s, 0) + {end} - started_at ELSE active_s END")  # fmt: skip
            params += [] if ended_at_last_update else [now, now]
        with self.tx() as con:
            cur = con.execute(f"UPDATE runs SET {cols} WHERE run_id=?", (*params, run_id))
            if cur.rowcount == 0:
                raise RunNotFound(run_id)

    def add_wait(self, run_id: str, seconds: float) -> None:
        """Count ``seconds`` a run waited for a lock another run held (a teacher, a pruning parent) in ``waited_s``:
        part of its ``active_s``, not of its training."""
        with self.tx() as con:
            con.execute("UPDATE runs SET waited_s = COALESCE(waited_s, 0) + ? WHERE run_id=?", (seconds, run_id))

    def get_run(self, run_id: str) -> dict:
        with self._read() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return _run_dict(row)

    def list_runs(self, status: str | None = None) -> list[dict]:
        q = "SELECT * FROM runs" + (" WHERE status=?" if status else "") + " ORDER BY created_at"
        with self._read() as con:
            rows = con.execute(q, (status,) if status else ()).fetchall()
        return [_run_dict(r) for r in rows]

    def claim_run(self, run_id: str, worker_id: str) -> bool:
        """Atomically take a queued run for ``worker_id`` (status running, its host and pid); False when the run
        is not queued any more (cancelled, or claimed by another worker): exactly one worker runs it."""
        now = time.time()
        with self.tx() as con:
            cur = con.execute(
                "UPDATE runs SET status='running', worker_id=?, host=?, pid=?, started_at=?, updated_at=?,"
                " error=NULL, traceback=NULL, cancel_requested=0 WHERE run_id=? AND status='queued'",
                (worker_id, socket.gethostname(), os.getpid(), now, now, run_id),
            )
            return cur.rowcount == 1

    def mark_interrupted(self) -> list[str]:
        """Running runs whose process is gone become ``interrupted``: on this host by pid; on any host when the
        worker that claimed the run stopped heartbeating (or unregistered) while the run was still running."""
        host = socket.gethostname()
        with self._read() as con:
            beats = {r["worker_id"]: r["heartbeat"] for r in con.execute("SELECT worker_id, heartbeat FROM workers")}
        gone = []
        for r in self.list_runs("running"):
            w = r.get("worker_id")
            if r["host"] == host:
                dead = not pid_alive(r["pid"])
            else:  # another machine's worker: its heartbeat is all this store knows of it
                dead = bool(w) and time.time() - beats.get(w, 0.0) > WORKER_GONE_S
            if dead:
                gone.append(r["run_id"])
        for run_id in gone:
            self.update_run(run_id, status="interrupted", error="the process running this job ended unexpectedly",
                            ended_at_last_update=True)  # fmt: skip
        return gone

    def request_cancel(self, run_id: str):
        self.update_run(run_id, cancel_requested=1)

    def cancel_requested(self, run_id: str) -> bool:
        return bool(self.get_run(run_id)["cancel_requested"])

    # ------------------------------------------------------------ workers
    def register_worker(self, queue: str) -> str:
        worker_id = f"{socket.gethostname()}-{os.getpid()}"
        now = time.time()
        with self.tx() as con:
            con.execute(
                upsert("workers", _WORKER_COLS, KEYS["workers"]),
                (worker_id, socket.gethostname(), os.getpid(), queue, now, now, None),
            )
        return worker_id

    def worker_heartbeat(self, worker_id: str, run_id: str | None):
        with self.tx() as con:
            con.execute("UPDATE workers SET heartbeat=?, run_id=? WHERE worker_id=?", (time.time(), run_id, worker_id))

    def unregister_worker(self, worker_id: str):
        with self.tx() as con:
            con.execute("DELETE FROM workers WHERE worker_id=?", (worker_id,))

    def live_workers(self, max_age_s: float = 20.0) -> list[dict]:
        """Workers whose heartbeat is recent (and, on this host, whose process is alive)."""
        with self._read() as con:
            rows = con.execute("SELECT * FROM workers WHERE heartbeat > ?", (time.time() - max_age_s,)).fetchall()
        host = socket.gethostname()
        return [dict(r) for r in rows if r["host"] != host or pid_alive(r["pid"])]

    # ------------------------------------------------------------ metrics, predictions, artifacts
    def log_metrics(self, run_id: str, stage: str, epoch: int, step: int, values: dict[str, float]):
        now = time.time()
        cols = ("run_id", "stage", "epoch", "step", "key", "value", "ts")
        with self.tx() as con:
            con.executemany(
                upsert("metrics", cols, KEYS["metrics"]),
                [(run_id, stage, epoch, step, k, float(v), now) for k, v in values.items()],
            )

    def _frame(self, sql: str, params: tuple, columns: list[str]):
        import pandas as pd

        with self._read() as con:
            rows = con.execute(sql, params).fetchall()
        return pd.DataFrame([[r[c] for c in columns] for r in rows], columns=columns)

    def metrics(self, run_id: str):
        cols = ["stage", "epoch", "step", "key", "value", "ts"]
        return self._frame(f"SELECT {', '.join(cols)} FROM metrics WHERE run_id=? ORDER BY ts", (run_id,), cols)

    def save_predictions(self, run_id: str, model: str, rows: list[tuple]):
        """rows: (filename, device, city, y_true, y_pred, probs list)."""
        with self.tx() as con:
            con.execute("DELETE FROM predictions WHERE run_id=? AND model=?", (run_id, model))
            con.executemany(
                "INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?)",
                [
                    (run_id, model, f, d, c, int(t), int(p), json.dumps([round(float(x), 5) for x in pr]))
                    for f, d, c, t, p, pr in rows
                ],
            )

    def predictions(self, run_id: str, model: str = "general"):
        cols = ["filename", "device", "city", "y_true", "y_pred", "probs_json"]
        df = self._frame(f"SELECT {', '.join(cols)} FROM predictions WHERE run_id=? AND model=?", (run_id, model), cols)
        df["probs"] = df.pop("probs_json").map(json.loads)
        return df

    def add_artifact(self, run_id: str, kind: str, path: str | Path, meta: dict | None = None):
        with self.tx() as con:
            con.execute(
                upsert("artifacts", ("run_id", "kind", "path", "meta_json"), KEYS["artifacts"]),
                (run_id, kind, self._relative(path), json.dumps(meta or {})),
            )

    def artifacts(self, run_id: str) -> dict[str, dict]:
        with self._read() as con:
            rows = con.execute("SELECT kind, path, meta_json FROM artifacts WHERE run_id=?", (run_id,)).fetchall()
        return {r["kind"]: {"path": self._absolute(r["path"]), **json.loads(r["meta_json"])} for r in rows}

    def add_problems(self, run_id: str, problems: dict[str, str]):
        with self.tx() as con:
            con.executemany(
                upsert("problems", ("run_id", "filename", "problem"), KEYS["problems"]),
                [(run_id, f, p) for f, p in problems.items()],
            )

    def problems(self, run_id: str) -> dict[str, str]:
        with self._read() as con:
            rows = con.execute("SELECT filename, problem FROM problems WHERE run_id=?", (run_id,)).fetchall()
        return {r["filename"]: r["problem"] for r in rows}

    # ------------------------------------------------------------ teacher zoo
    _TEACHER_PATHS = ("ckpt_path", "logits_path")

    def _teacher_dict(self, row: dict) -> dict:
        return {k: self._absolute(v) if k in self._TEACHER_PATHS else v for k, v in row.items()}

    def get_teacher(self, key: str) -> dict | None:
        with self._read() as con:
            row = con.execute("SELECT * FROM teachers WHERE key=?", (key,)).fetchone()
        return self._teacher_dict(row) if row else None

    def put_teacher(self, key: str, **fields):
        """Record a zoo entry (fields given replace those stored; the others stay)."""
        fields = {"key": key, "created_at": time.time(), **fields}
        if "config_json" in fields and not isinstance(fields["config_json"], str):
            fields["config_json"] = json.dumps(fields["config_json"])
        for k in self._TEACHER_PATHS:
            if fields.get(k):
                fields[k] = self._relative(fields[k])
        with self.tx() as con:
            con.execute(upsert("teachers", tuple(fields), KEYS["teachers"]), tuple(fields.values()))

    def list_teachers(self) -> list[dict]:
        with self._read() as con:
            return [self._teacher_dict(r) for r in con.execute("SELECT * FROM teachers ORDER BY created_at")]


def _run_dict(row: dict) -> dict:
    d = dict(row)
    d["config"] = json.loads(d.pop("config_json") or "{}")
    d["summary"] = json.loads(d.pop("summary_json") or "null")
    return d
