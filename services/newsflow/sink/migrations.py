"""The stores' schema, as numbered migrations applied in order at start.

`schema_version` holds one row per migration applied. A migration is never edited once
released: a schema change is a new entry at the end. Each has the same meaning in both
dialects; only the types differ (PostgreSQL keeps the record as JSONB, SQLite as text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from newsflow.core.names import entity_key

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]
    # Run after the statements, in the same transaction: (cursor, the store's `_sql`).
    fill: Callable[[Any, Callable[[str], str]], None] | None = None

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


def _articles(timestamp: str, real: str, json: str) -> str:
    return f"""
    CREATE TABLE articles (
        article_id TEXT PRIMARY KEY,
        title TEXT,
        title_method TEXT NOT NULL,
        body TEXT NOT NULL,
        url TEXT,
        publisher TEXT,
        language TEXT,
        published_at {timestamp},
        first_seen_at {timestamp} NOT NULL,
        source_path TEXT NOT NULL,
        source_format TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        dedup_verdict TEXT,
        near_duplicate_of TEXT,
        similarity {real},
        story_id TEXT,
        entities_model_version TEXT,
        stance_model_version TEXT,
        enriched_at {timestamp},
        stored_at {timestamp} NOT NULL,
        record {json} NOT NULL
    )"""


_ENTITIES = """
    CREATE TABLE entities (
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        canonical TEXT NOT NULL,
        label TEXT NOT NULL,
        mention_count INTEGER NOT NULL,
        first_offset INTEGER,
        PRIMARY KEY (article_id, canonical, label)
    )"""


def _stances(real: str) -> str:
    return f"""
    CREATE TABLE stances (
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        claim_id TEXT NOT NULL,
        claim_text TEXT NOT NULL,
        claim_source TEXT NOT NULL,
        label TEXT NOT NULL,
        p_agree {real} NOT NULL,
        p_disagree {real} NOT NULL,
        p_discuss {real} NOT NULL,
        p_unrelated {real} NOT NULL,
        PRIMARY KEY (article_id, claim_id)
    )"""


_INDEXES = (
    "CREATE INDEX articles_story ON articles (story_id)",
    "CREATE INDEX articles_published ON articles (published_at)",
    "CREATE INDEX articles_first_seen ON articles (first_seen_at)",
    # Entity names are matched without regard to case.
    "CREATE INDEX entities_name ON entities (lower(canonical))",
    "CREATE INDEX entities_label ON entities (label)",
    "CREATE INDEX stances_claim ON stances (claim_id, label)",
    "CREATE INDEX stances_label ON stances (label)",
)


def _fill_entity_keys(cursor: Any, sql: Callable[[str], str]) -> None:
    """Give rows stored before keys existed the key their name and label make."""
    cursor.execute("SELECT DISTINCT canonical, label FROM entities WHERE entity_key IS NULL")
    names = cursor.fetchall()
    if names:
        cursor.executemany(
            sql(
                "UPDATE entities SET entity_key = :key "
                "WHERE canonical = :canonical AND label = :label AND entity_key IS NULL"
            ),
            [
                {"key": entity_key(canonical, label), "canonical": canonical, "label": label}
                for canonical, label in names
            ],
        )


_ENTITY_KEYS = (
    "ALTER TABLE entities ADD COLUMN entity_key TEXT",
    "CREATE INDEX entities_key ON entities (entity_key)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "articles, entities and stances",
        sqlite=(
            _articles("TEXT", "REAL", "TEXT"),
            _ENTITIES,
            _stances("REAL"),
            *_INDEXES,
        ),
        postgres=(
            _articles("TIMESTAMPTZ", "DOUBLE PRECISION", "JSONB"),
            _ENTITIES,
            _stances("DOUBLE PRECISION"),
            *_INDEXES,
        ),
    ),
    # One entity across articles: rows with one key are one entity, named by the spelling
    # most articles use (newsflow.core.names), so nothing stored is rewritten when that changes.
    Migration(
        2,
        "entity keys",
        sqlite=_ENTITY_KEYS,
        postgres=_ENTITY_KEYS,
        fill=_fill_entity_keys,
    ),
)

LATEST = MIGRATIONS[-1].version

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""
