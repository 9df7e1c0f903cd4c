"""The default store: one SQLite file in WAL mode (readers never block the sink), with
`synchronous=FULL` so that a committed batch survives a power cut, not only a crash."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from ..exceptions import RecordRejected, StoreNotReady, StoreUnavailable
from .sql import SqlStore

BUSY_TIMEOUT_MS = 10_000  # another writer (a second sink, a manual UPDATE) holds the lock


class SQLiteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = f"sqlite:///{self.path}"
        super().__init__()

    def _connect(self, for_queries: bool) -> sqlite3.Connection:
        if for_queries:
            if not self.path.is_file():
                raise StoreNotReady(f"no SQLite store at {self.path}: run the sink first")
            # Read-only: a query must never create or change the store.
            connection = sqlite3.connect(
                f"file:{self.path.resolve()}?mode=ro", uri=True, isolation_level=None
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Transactions are explicit (BEGIN IMMEDIATE ... COMMIT), not the module's own.
            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock now, so the batch cannot fail half-way on it.
        self._connection.execute("BEGIN IMMEDIATE")

    def _timestamp(self, moment: datetime | None) -> str | None:
        # Fixed-width ISO 8601 in UTC: text that sorts in time order.
        return moment.isoformat(timespec="microseconds") if moment is not None else None

    def _has_table(self, name: str) -> bool:
        found = self._connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    def _query(self, statement: str, parameters: dict) -> list[tuple]:
        return self._connection.execute(statement, parameters).fetchall()

    def _rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _translate(self, error: Exception) -> Exception:
        # OverflowError: a number past SQLite's 64-bit integers, refused as the driver binds it.
        if isinstance(
            error, sqlite3.IntegrityError | sqlite3.DataError | UnicodeEncodeError | OverflowError
        ):
            return RecordRejected(f"SQLite refused the data: {error}")
        if isinstance(error, sqlite3.Error | OSError):
            # Locked, disk full, read-only, I/O error, corrupt file: retried, never skipped.
            return StoreUnavailable(f"SQLite store {self.path}: {error}")
        return error
