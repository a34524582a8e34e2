"""A real PostgreSQL server for the tests, in a folder of its own (Debian's ``postgresql`` package: initdb, pg_ctl).

As root (CI, containers) the server runs as the ``postgres`` user the package creates, since PostgreSQL refuses to
run as root. ``PostgresUnavailable`` says why when it cannot start (the tests that need it skip with that reason).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise PostgresUnavailable(
            f"PostgreSQL's {name} is not installed (Debian's postgresql package; .ci/run and make test install it)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``start()`` a throwaway cluster on 127.0.0.1 (trust auth, fsync off); ``database()`` a fresh database's URL."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="asc-pg-"))
        self.port = _free_port()
        self.url = f"postgresql://asc@127.0.0.1:{self.port}/postgres"
        self._as = []
        self._n = 0

    def _run(self, *cmd, timeout=120):
        out = subprocess.run([*self._as, *cmd], capture_output=True, text=True, timeout=timeout)
        if out.returncode:
            raise PostgresUnavailable(f"{Path(cmd[0]).name} failed: {(out.stderr or out.stdout).strip()[-300:]}")
        return out

    def start(self) -> PostgresServer:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no postgres user to run the server") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run(initdb, "-D", str(data), "-U", "asc", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        self._run(pg_ctl, "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "-o", opts, "start")
        self._pg_ctl = pg_ctl
        return self

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if getattr(self, "_pg_ctl", None):
            subprocess.run([*self._as, self._pg_ctl, "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)
