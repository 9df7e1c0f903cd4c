"""A small durable record of files whose records Kafka acknowledged, keyed by content hash
and path, so a restart never sends a file again even when it crashed before moving it."""

import sqlite3
import time
from pathlib import Path


class Ledger:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state_dir / "ledger.sqlite3", isolation_level=None)
        # WAL + NORMAL: a committed row survives a process crash, which is what we guard
        # against; an OS crash may lose the last moments, re-sending those files (dedup drops them).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent ("
            " sha256 TEXT NOT NULL, path TEXT NOT NULL, sent_at REAL NOT NULL,"
            " PRIMARY KEY (sha256, path))"
        )

    def was_sent(self, sha256: str, path: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sent WHERE sha256 = ? AND path = ?", (sha256, path)
        ).fetchone()
        return row is not None

    def record_sent(self, files: list[tuple[str, str]]) -> None:
        """Record acknowledged files (sha256, path) in one transaction."""
        if not files:
            return
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO sent (sha256, path, sent_at) VALUES (?, ?, ?)",
                [(sha256, path, now) for sha256, path in files],
            )

    def forget_older_than(self, seconds: float) -> int:
        """Drop entries older than the window; a file that old has long been moved."""
        with self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute(
                "DELETE FROM sent WHERE sent_at < ?", (time.time() - seconds,)
            )
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()
