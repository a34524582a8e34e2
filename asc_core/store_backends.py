"""The run store's databases: SQLite (embedded, the default) and PostgreSQL (``ASC_STORE=postgresql://…``, for
workers on several machines). ``Store`` writes one dialect of SQL — ``?`` placeholders, ``INSERT … ON CONFLICT``
upserts, the migrations' DDL — and each backend gives it a connection whose rows are dicts.

Why by hand rather than an ORM: the store is a dozen short statements whose exact transactions matter (the
atomic claim of a run, one transaction per write so a SIGKILL leaves nothing half-done); SQLAlchemy would add a
layer to learn and a dependency for the three differences handled here (placeholders, ``REAL`` → ``DOUBLE
PRECISION``, where the schema version lives).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StoreUnreachable(RuntimeError):
    """The store's database cannot be opened (a PostgreSQL server down, a wrong URL, no driver)."""


def redact(url: str) -> str:
    """A URL without its password (``postgresql://asc:secret@host/db`` → ``postgresql://asc:***@host/db``)."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def upsert(table: str, cols: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE``: the one upsert both SQLite (≥ 3.24) and PostgreSQL speak."""
    marks = ", ".join("?" * len(cols))
    rest = [c for c in cols if c not in key]
    action = "DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in rest) if rest else "DO NOTHING"
    return f"INSERT INTO {table}({', '.join(cols)}) VALUES ({marks}) ON CONFLICT({', '.join(key)}) {action}"


def _dict_row(cursor, row):
    return {d[0]: v for d, v in zip(cursor.description, row)}


class SQLiteDB:
    """One SQLite file (WAL, 30 s busy timeout); a connection per operation, as SQLite wants across processes."""

    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def connect(self):
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = _dict_row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    @contextmanager
    def read(self):
        con = self.connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def tx(self):
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock now: claim-then-update never interleaves
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def version(self, con) -> int:
        return con.execute("PRAGMA user_version").fetchone()["user_version"]

    def set_version(self, con, v: int) -> None:
        con.execute(f"PRAGMA user_version={int(v)}")

    def lock_schema(self, con) -> None:
        pass  # BEGIN IMMEDIATE already holds the database's one write lock

    def ddl(self, sql: str) -> str:
        return sql

    def columns(self, con, table: str) -> set[str]:
        return {r["name"] for r in con.execute(f"PRAGMA table_info({table})")}

    @contextmanager
    def exclusive(self, name: str, folder: Path, on_wait):
        """A file lock (flock: the kernel releases it when its holder dies) on ``folder/name.lock``."""
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.lock", "a") as f:
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    on_wait()
                    time.sleep(1.0)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def held(self, name: str, folder: Path) -> bool:
        path = folder / f"{name}.lock"
        if not path.exists():
            return False
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
            return False


class _PGConnection:
    """A psycopg connection that takes the store's ``?`` placeholders."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql: str, params=()):
        return self._con.execute(sql.replace("?", "%s"), tuple(params))

    def executemany(self, sql: str, rows) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self._con.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)


class PostgresDB:
    """A PostgreSQL database at ``url``: a small pool of connections per process (psycopg_pool), each checked
    before use so a restarted server costs one reconnect, not an error."""

    kind = "postgresql"
    _SCHEMA_LOCK = 0x45C1AB  # pg_advisory_xact_lock key: one migrator at a time
    _NAMED_LOCKS = 0x45C1  # first key of the (int, int) advisory locks ``exclusive`` takes
    # one pool per (process, URL), shared by every Store object (pages open a Store on each rerun)
    _pools: dict[tuple[int, str], object] = {}
    _lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url

    def describe(self) -> str:
        return redact(self.url)

    def _pool(self):
        key = (os.getpid(), self.url)  # a forked child never shares its parent's sockets
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                try:
                    import psycopg
                    from psycopg.rows import dict_row
                    from psycopg_pool import ConnectionPool
                except ImportError as e:
                    raise StoreUnreachable(f"ASC_STORE is PostgreSQL but psycopg is not installed ({e})") from None
                try:  # one plain connection first: a wrong URL or a server that is down fails now, with its reason
                    psycopg.connect(self.url, connect_timeout=10).close()
                except psycopg.Error as e:
                    raise self._unreachable(e) from None
                pool = ConnectionPool(
                    self.url, min_size=1, max_size=8, open=False, name="asc-store", timeout=30,
                    kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 10},
                    check=ConnectionPool.check_connection,
                )  # fmt: skip
                pool.open()
                self._pools[key] = pool
            return pool

    def _unreachable(self, e: Exception) -> StoreUnreachable:
        return StoreUnreachable(f"the run store {redact(self.url)} cannot be reached ({_reason(e)})")

    @contextmanager
    def _connection(self):
        try:
            with self._pool().connection() as con:
                yield con
        except StoreUnreachable:
            raise
        except Exception as e:
            import psycopg

            if isinstance(e, psycopg.OperationalError) or type(e).__name__ == "PoolTimeout":
                raise self._unreachable(e) from e
            raise

    @contextmanager
    def read(self):
        with self._connection() as con:
            yield _PGConnection(con)

    @contextmanager
    def tx(self):
        with self._connection() as con, con.transaction():
            yield _PGConnection(con)

    def version(self, con) -> int:
        if con.execute("SELECT to_regclass('asc_schema') AS t").fetchone()["t"] is None:
            return 0  # a new database
        return int(con.execute("SELECT max(version) AS v FROM asc_schema").fetchone()["v"] or 0)

    def set_version(self, con, v: int) -> None:
        con.execute("DELETE FROM asc_schema")
        con.execute("INSERT INTO asc_schema(version) VALUES (?)", (int(v),))

    def lock_schema(self, con) -> None:
        con.execute(f"SELECT pg_advisory_xact_lock({self._SCHEMA_LOCK})")  # held until this transaction ends
        con.execute("CREATE TABLE IF NOT EXISTS asc_schema(version INTEGER NOT NULL)")

    def ddl(self, sql: str) -> str:
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)  # PostgreSQL's REAL is 4 bytes: timestamps need 8

    def columns(self, con, table: str) -> set[str]:
        rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name=?", (table,))
        return {r["column_name"] for r in rows}

    @contextmanager
    def exclusive(self, name: str, folder: Path, on_wait):
        """A session advisory lock, held by one pooled connection: exclusive across machines, and released by
        the server when its holder's connection drops (a killed worker)."""
        args = (self._NAMED_LOCKS, name)
        with self._connection() as raw:
            con = _PGConnection(raw)
            while not con.execute("SELECT pg_try_advisory_lock(?, hashtext(?)) AS ok", args).fetchone()["ok"]:
                on_wait()
                time.sleep(1.0)
            try:
                yield
            finally:
                con.execute("SELECT pg_advisory_unlock(?, hashtext(?))", args)

    def held(self, name: str, folder: Path) -> bool:
        args = (self._NAMED_LOCKS, name)
        with self._connection() as raw:
            con = _PGConnection(raw)
            if not con.execute("SELECT pg_try_advisory_lock(?, hashtext(?)) AS ok", args).fetchone()["ok"]:
                return True
            con.execute("SELECT pg_advisory_unlock(?, hashtext(?))", args)
            return False

    def close(self) -> None:
        with self._lock:
            pool = self._pools.pop((os.getpid(), self.url), None)
        if pool is not None:
            pool.close()


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def open_database(root: Path, url: str | None = None):
    """``url`` (else ``$ASC_STORE``): a PostgreSQL URL, or nothing for the SQLite file in ``root``."""
    url = url if url is not None else os.environ.get("ASC_STORE", "")
    if not url or url.startswith("sqlite"):
        path = Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else Path(root) / "asc.db"
        return SQLiteDB(path)
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDB(url)
    raise ValueError(f"ASC_STORE must be a postgresql:// URL (or unset for SQLite), got {redact(url)[:120]!r}")
