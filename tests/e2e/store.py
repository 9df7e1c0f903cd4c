"""The run's store, read-only, whichever the sink writes: SQLite (the default) or PostgreSQL
(several sink instances)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def _query(store_url: str, statement: str) -> list[tuple]:
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url, connect_timeout=5) as db:
            return db.execute(statement).fetchall()
    path = Path(store_url.split(":///", 1)[1])
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(statement).fetchall()


def rows(store_url: str) -> list[tuple[str, str]]:
    """(article id, record JSON) of every row of the `articles` table."""
    return _query(
        store_url, "SELECT article_id, CAST(record AS TEXT) FROM articles ORDER BY article_id"
    )


def count(store_url: str) -> int:
    """Articles stored; 0 while the sink has not made its tables (or the store is away)."""
    try:
        return _query(store_url, "SELECT count(*) FROM articles")[0][0]
    except Exception:  # no table yet, the store locked or restarting: nothing counted yet
        return 0
