"""A PostgreSQL store (psycopg 3): the record as JSONB, timestamps with time zone.

A lost connection is not an error of the data: the store closes it and reconnects on the
next attempt, so a server restart only delays the batch in hand."""

from __future__ import annotations

from typing import Any

import psycopg

from ..exceptions import RecordRejected, StoreNotReady, StoreUnavailable
from . import redacted
from .sql import SqlStore, pyformat

CONNECT_TIMEOUT_SECONDS = 5
MIGRATION_LOCK = 7_245_301  # pg_advisory_xact_lock key: one sink migrates at a time


class PostgresStore(SqlStore):
    dialect = "postgres"
    record_value = "CAST(:record AS jsonb)"

    def __init__(self, url: str) -> None:
        # psycopg reads postgresql:// and postgres:// URLs as libpq does.
        self.url = url
        self.description = redacted(url)
        super().__init__()

    def _connect(self, for_queries: bool) -> psycopg.Connection:
        return psycopg.connect(
            self.url,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="newsflow-query" if for_queries else "newsflow-sink",
        )

    def _sql(self, statement: str) -> str:
        return pyformat(statement)

    def _begin(self) -> None:
        pass  # psycopg opens a transaction with the first statement

    def _lock_for_migration(self) -> None:
        self._connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def _has_table(self, name: str) -> bool:
        found = self._connection.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        self._connection.rollback()
        return found[0] is not None

    def _query(self, statement: str, parameters: dict[str, Any]) -> list[tuple]:
        if self._connection is None:
            raise StoreNotReady(f"{self.description} is not open")
        return super()._query(statement, parameters)

    def _translate(self, error: Exception) -> Exception:
        # OverflowError: a value the driver cannot send at all, whatever the server.
        if isinstance(error, psycopg.DataError | psycopg.IntegrityError | OverflowError):
            return RecordRejected(f"PostgreSQL refused the data: {error}".strip())
        if isinstance(error, psycopg.Error):
            # Connection refused or lost, server shutting down, out of disk, a lock timeout:
            # reconnect and retry; the batch is never skipped.
            self.close()
            # libpq may quote the connection string it was given back in its message.
            return StoreUnavailable(redacted(f"PostgreSQL at {self.description}: {error}".strip()))
        return error
