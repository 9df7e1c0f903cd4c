"""What SQLite and PostgreSQL share: the upsert of a batch and the queries, in SQL both
understand. Parameters are written `:name`; each store adapts them to its driver and maps
its driver's errors to StoreUnavailable or RecordRejected."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any, NoReturn

from newsflow.core.names import Attested, best_spelling, keys_of_search
from newsflow.core.records import EnrichedArticle, StanceLabel

from ..answers import (
    ArticleMention,
    ClaimCounts,
    ClaimVerdict,
    EntityName,
    StoryArticle,
)
from ..migrations import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE, Dialect
from ..rows import (
    ArticleRow,
    EntityRow,
    StanceRow,
    Written,
    latest_per_article,
    rows_of,
)

log = logging.getLogger(__name__)

ARTICLE_COLUMNS = [f.name for f in fields(ArticleRow)]
ENTITY_COLUMNS = [f.name for f in fields(EntityRow)]
STANCE_COLUMNS = [f.name for f in fields(StanceRow)]
TIMESTAMP_COLUMNS = {"published_at", "first_seen_at", "enriched_at", "stored_at"}


def _insert(table: str, columns: list[str], value_of: dict[str, str] | None = None) -> str:
    value_of = value_of or {}
    values = ", ".join(value_of.get(c, f":{c}") for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


class SqlStore:
    dialect: Dialect
    record_value = ":record"  # how the record's JSON text becomes the column's type

    def __init__(self) -> None:
        self._connection: Any = None
        columns = [*ARTICLE_COLUMNS, "stored_at"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "article_id")
        self._upsert_article = self._sql(
            _insert("articles", columns, {"record": self.record_value})
            + f" ON CONFLICT (article_id) DO UPDATE SET {updates}"
        )
        self._delete_entities = self._sql("DELETE FROM entities WHERE article_id = :article_id")
        self._delete_stances = self._sql("DELETE FROM stances WHERE article_id = :article_id")
        self._insert_entity = self._sql(_insert("entities", ENTITY_COLUMNS))
        self._insert_stance = self._sql(_insert("stances", STANCE_COLUMNS))

    def _closed_after(self, error: Exception) -> NoReturn:
        """Close the connection and raise `error` as the store's error for it."""
        self.close()
        translated = self._translate(error)
        if translated is error:
            raise error
        raise translated from error

    # --- what each dialect provides ---------------------------------------------------

    def _connect(self, for_queries: bool) -> Any:
        raise NotImplementedError

    def _translate(self, error: Exception) -> Exception:
        """The StoreUnavailable or RecordRejected a driver error stands for (or itself)."""
        raise NotImplementedError

    def _sql(self, statement: str) -> str:
        """`:name` parameters in the driver's style."""
        return statement

    def _timestamp(self, moment: datetime | None) -> Any:
        return moment

    def _begin(self) -> None:
        raise NotImplementedError

    def _lock_for_migration(self) -> None:
        """Keep a second sink starting at the same time from migrating too."""

    # --- connection ------------------------------------------------------------------------

    def open(self, *, for_queries: bool = False) -> None:
        self.close()
        try:
            self._connection = self._connect(for_queries)
            if for_queries:
                self._check_schema()
            else:
                self._migrate()
        except Exception as error:
            self._closed_after(error)

    def close(self) -> None:
        if self._connection is not None:
            # A dead connection may fail to close; it is gone either way.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def _ensure_open(self) -> None:
        if self._connection is None:
            self.open()

    def _check_schema(self) -> None:
        from ..exceptions import StoreNotReady

        version = self._schema_version(create=False)
        if version is None:
            raise StoreNotReady(f"{self.description} has no newsflow tables: run the sink first")
        if version != LATEST:
            raise StoreNotReady(
                f"{self.description} has schema version {version}, this newsflow knows "
                f"{LATEST}: run this version's sink once to migrate it"
            )

    def _schema_version(self, create: bool) -> int | None:
        cursor = self._connection.cursor()
        if create:
            cursor.execute(SCHEMA_VERSION_TABLE)
        elif not self._has_table("schema_version"):
            return None
        cursor.execute("SELECT max(version) FROM schema_version")
        return cursor.fetchone()[0] or 0

    def _has_table(self, name: str) -> bool:
        raise NotImplementedError

    def _migrate(self) -> None:
        self._begin()
        try:
            self._lock_for_migration()
            current = self._schema_version(create=True)
            if current > LATEST:
                raise RuntimeError(
                    f"{self.description} has schema version {current}, newer than the {LATEST} "
                    "this sink knows: run a newer newsflow"
                )
            cursor = self._connection.cursor()
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements(self.dialect):
                    cursor.execute(statement)
                if migration.fill is not None:
                    migration.fill(cursor, self._sql)
                cursor.execute(
                    self._sql(
                        "INSERT INTO schema_version (version, name, applied_at) "
                        "VALUES (:version, :name, :applied_at)"
                    ),
                    {
                        "version": migration.version,
                        "name": migration.name,
                        "applied_at": datetime.now(UTC).isoformat(),
                    },
                )
                log.info(
                    "store migrated to schema version %d (%s)", migration.version, migration.name
                )
            self._connection.commit()
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.rollback()

    # --- writing ------------------------------------------------------------------------

    def upsert(self, articles: Sequence[EnrichedArticle]) -> Written:
        latest = latest_per_article(articles)
        if not latest:
            return Written()
        stored_at = self._timestamp(datetime.now(UTC))
        article_rows, ids, entity_rows, stance_rows = [], [], [], []
        for record in latest:
            rows = rows_of(record)
            article_rows.append({**self._row(rows.article), "stored_at": stored_at})
            ids.append({"article_id": record.article_id})
            entity_rows.extend(self._row(row) for row in rows.entities)
            stance_rows.extend(self._row(row) for row in rows.stances)
        try:
            self._ensure_open()
            self._begin()
            cursor = self._connection.cursor()
            cursor.executemany(self._upsert_article, article_rows)
            # A redelivered article's entities and stances replace the ones stored before.
            cursor.executemany(self._delete_entities, ids)
            cursor.executemany(self._delete_stances, ids)
            if entity_rows:
                cursor.executemany(self._insert_entity, entity_rows)
            if stance_rows:
                cursor.executemany(self._insert_stance, stance_rows)
            self._connection.commit()
        except Exception as error:
            translated = self._translate(error)
            if self._connection is not None:
                self._rollback()
            if translated is error:
                raise
            raise translated from error
        return Written(len(latest), len(entity_rows), len(stance_rows))

    def _row(self, row: Any) -> dict[str, Any]:
        values = asdict(row)
        for column in TIMESTAMP_COLUMNS & values.keys():
            values[column] = self._timestamp(values[column])
        return values

    def ping(self) -> None:
        try:
            self._ensure_open()
            self._connection.cursor().execute("SELECT 1")
            self._connection.rollback()
        except Exception as error:
            self._closed_after(error)

    # --- reading ------------------------------------------------------------------------

    def _query(self, statement: str, parameters: dict[str, Any]) -> list[tuple]:
        cursor = self._connection.cursor()
        cursor.execute(self._sql(statement), parameters)
        result = cursor.fetchall()
        self._connection.rollback()  # end the read transaction (PostgreSQL opens one)
        return result

    def article_count(self) -> int:
        return self._query("SELECT count(*) FROM articles", {})[0][0]

    def articles_mentioning(
        self, entity: str, stance: str | None, claim: str | None, limit: int
    ) -> list[ArticleMention]:
        stance_filter = ""
        if stance or claim:
            stance_filter = (
                " AND EXISTS (SELECT 1 FROM stances s WHERE s.article_id = a.article_id"
                + (" AND s.label = :stance" if stance else "")
                + (" AND (s.claim_id = :claim OR s.claim_text = :claim)" if claim else "")
                + ")"
            )
        matching, parameters = _named_entity("e.", entity)
        rows = self._query(
            "SELECT a.article_id, a.title, a.published_at, a.first_seen_at, a.publisher, "
            "a.story_id, e.entity_key, e.label, e.mention_count "
            "FROM entities e JOIN articles a ON a.article_id = e.article_id "
            f"WHERE {matching}{stance_filter} "
            "ORDER BY COALESCE(a.published_at, a.first_seen_at) DESC, a.article_id LIMIT :limit",
            {**parameters, "stance": stance, "claim": claim, "limit": limit},
        )
        verdicts = self._verdicts([row[0] for row in rows])
        names = self._names({row[6] for row in rows})
        return [
            ArticleMention(
                article_id=row[0],
                title=row[1],
                published_at=_iso(row[2]),
                first_seen_at=_iso(row[3]),
                publisher=row[4],
                story_id=row[5],
                entity=names[row[6]],
                label=row[7],
                mentions=row[8],
                stances=verdicts.get(row[0], []),
            )
            for row in rows
        ]

    def _names(self, keys: set[str]) -> dict[str, str]:
        """Each entity key's name: the spelling most articles give it (`names.best_spelling`)."""
        if not keys:
            return {}
        parameters = {f"key{n}": key for n, key in enumerate(sorted(keys))}
        rows = self._query(
            "SELECT entity_key, canonical, count(DISTINCT article_id), sum(mention_count) "
            "FROM entities WHERE entity_key IN ("
            + ", ".join(f":{name}" for name in parameters)
            + ") GROUP BY entity_key, canonical",
            parameters,
        )
        spellings: dict[str, list[Attested]] = {}
        for key, spelling, articles, mentions in rows:
            spellings.setdefault(key, []).append(Attested(spelling, articles, int(mentions)))
        return {key: best_spelling(found) for key, found in spellings.items()}

    def _verdicts(self, article_ids: list[str]) -> dict[str, list[ClaimVerdict]]:
        found: dict[str, list[ClaimVerdict]] = {}
        if not article_ids:
            return found
        names = {f"id{n}": article_id for n, article_id in enumerate(article_ids)}
        rows = self._query(
            "SELECT article_id, claim_id, claim_text, label FROM stances WHERE article_id IN ("
            + ", ".join(f":{name}" for name in names)
            + ") ORDER BY article_id, claim_id",
            names,
        )
        for article_id, claim_id, claim_text, label in rows:
            found.setdefault(article_id, []).append(ClaimVerdict(claim_id, claim_text, label))
        return found

    def articles_of_story(self, story_id: str, limit: int) -> list[StoryArticle]:
        rows = self._query(
            "SELECT article_id, title, published_at, first_seen_at, publisher, dedup_verdict, "
            "near_duplicate_of FROM articles WHERE story_id = :story_id "
            "ORDER BY first_seen_at, article_id LIMIT :limit",
            {"story_id": story_id, "limit": limit},
        )
        return [
            StoryArticle(row[0], row[1], _iso(row[2]), _iso(row[3]), row[4], row[5], row[6])
            for row in rows
        ]

    def stance_counts(self, entity: str | None, claim: str | None, limit: int) -> list[ClaimCounts]:
        conditions = []
        parameters: dict[str, Any] = {}
        if entity:
            matching, parameters = _named_entity("", entity)
            conditions.append(f"article_id IN (SELECT article_id FROM entities WHERE {matching})")
        if claim:
            conditions.append("(claim_id = :claim OR claim_text = :claim)")
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        counts = ", ".join(
            f"SUM(CASE WHEN label = '{label}' THEN 1 ELSE 0 END)" for label in StanceLabel
        )
        rows = self._query(
            f"SELECT claim_id, claim_text, claim_source, {counts} FROM stances {where}"
            "GROUP BY claim_id, claim_text, claim_source "
            "ORDER BY count(*) DESC, claim_id, claim_text LIMIT :limit",
            {**parameters, "claim": claim, "limit": limit},
        )
        return [ClaimCounts(*row[:3], *(int(n or 0) for n in row[3:])) for row in rows]

    def entity_names_like(self, text: str, limit: int) -> list[EntityName]:
        rows = self._query(
            "SELECT entity_key, label, count(DISTINCT article_id) FROM entities "
            "WHERE entity_key IN (SELECT entity_key FROM entities "
            "WHERE lower(canonical) LIKE :pattern ESCAPE '\\') "
            "GROUP BY entity_key, label ORDER BY count(DISTINCT article_id) DESC, entity_key "
            "LIMIT :limit",
            {"pattern": f"%{_like_literal(text.lower())}%", "limit": limit},
        )
        names = self._names({row[0] for row in rows})
        return [EntityName(names[key], label, articles) for key, label, articles in rows]


def _like_literal(text: str) -> str:
    """`text` for a LIKE pattern (with ESCAPE '\\'), where it matches only itself: a name
    searched for `%` or `_` means those characters, not any name at all."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _named_entity(table: str, entity: str) -> tuple[str, dict[str, Any]]:
    """A condition on entity rows for a searched name: any key it could have, or its spelling."""
    parameters: dict[str, Any] = {f"key{n}": key for n, key in enumerate(keys_of_search(entity))}
    keys = ", ".join(f":{name}" for name in parameters)
    parameters["entity"] = entity
    return (
        f"({table}entity_key IN ({keys}) OR lower({table}canonical) = lower(:entity))",
        parameters,
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.fromisoformat(str(value)).astimezone(UTC).isoformat()  # SQLite: text


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def pyformat(statement: str) -> str:
    """`:name` -> `%(name)s` (psycopg's style); `::` casts are left alone."""
    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))
