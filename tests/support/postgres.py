"""A real PostgreSQL server for the tests and the benchmark: initdb and pg_ctl from Debian's
`postgresql` package, on a free port and a temporary data folder.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user (through
`runuser`) in a folder that user owns. Without the binaries this fails with what to install,
never skips: CI (.ci/run) installs the package.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support.local import free_port

BIN_PATTERN = "/usr/lib/postgresql/*/bin"


class PostgresMissing(Exception):
    pass


def find_binaries() -> Path:
    candidates = sorted(
        (Path(p) for p in glob.glob(BIN_PATTERN) if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresMissing(
            f"PostgreSQL server binaries not found ({BIN_PATTERN}/initdb): install Debian's "
            "package with `apt-get install postgresql` (.ci/run does this)"
        )
    return candidates[-1]


class LocalPostgres:
    def __init__(self, port: int, user: str = "postgres") -> None:
        self.bin = find_binaries()
        self.port = port
        self.user = user
        self.home = Path(tempfile.mkdtemp(prefix="newsflow-test-postgres-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self._as_root = os.geteuid() == 0

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        return subprocess.run(
            [*prefix, *command], check=check, capture_output=True, text=True, cwd=self.home
        )

    def init(self) -> LocalPostgres:
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",  # only for creating the cluster; the server itself fsyncs as usual
        )
        return self

    def start(self) -> LocalPostgres:
        result = self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1",
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{tail}")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        status = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session. Fails, never skips, when PostgreSQL is not
    installed."""
    try:
        server = LocalPostgres(port=free_port()).init().start()
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex}")
