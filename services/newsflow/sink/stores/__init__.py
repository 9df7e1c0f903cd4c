"""Where the sink keeps articles: a `Store` chosen by URL.

    sqlite:///data/newsflow.db         a file (relative path; four slashes for an absolute one)
    postgresql://user:pass@host/db     a PostgreSQL server
    jsonl:///data/articles             a folder of JSON Lines files, one per day

Every store writes a batch as one durable unit and upserts by article id, so delivering
the same article again never adds a second copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit

from newsflow.core.records import EnrichedArticle
from newsflow.core.redaction import redacted

from ..answers import ArticleMention, ClaimCounts, EntityName, StoryArticle
from ..exceptions import StoreURLError
from ..rows import Written

SCHEMES = ("sqlite", "postgresql", "postgres", "jsonl")


class Store(Protocol):
    """What the sink writes to and `newsflow query` reads from."""

    description: str  # for logs: the URL without its password

    def open(self, *, for_queries: bool = False) -> None:
        """Connect, and (unless only for queries) create or migrate the schema.

        Raises StoreUnavailable while the store cannot be reached; for queries, StoreNotReady
        when there is no store (or no current schema) at the URL."""

    def upsert(self, articles: Sequence[EnrichedArticle]) -> Written:
        """Write the articles in one durable unit; return what was written.

        Raises StoreUnavailable (nothing is written) or RecordRejected (the data is refused)."""

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    def article_count(self) -> int: ...

    def close(self) -> None: ...

    def articles_mentioning(
        self, entity: str, stance: str | None, claim: str | None, limit: int
    ) -> list[ArticleMention]: ...

    def articles_of_story(self, story_id: str, limit: int) -> list[StoryArticle]: ...

    def stance_counts(
        self, entity: str | None, claim: str | None, limit: int
    ) -> list[ClaimCounts]: ...

    def entity_names_like(self, text: str, limit: int) -> list[EntityName]: ...


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise StoreURLError(
            f"unsupported store URL {redacted(repr(url))}: use sqlite:///path, "
            "postgresql://user:password@host:port/database or jsonl:///folder"
        )
    if scheme in ("sqlite", "jsonl") and not _local_path(url):
        raise StoreURLError(
            f"store URL {redacted(repr(url))} names no path, e.g. {scheme}:///data/newsflow"
        )


def open_store(url: str) -> Store:
    """The store a URL names, not yet opened."""
    check_url(url)
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(_local_path(url))
    if scheme == "jsonl":
        from .jsonl import JSONLinesStore

        return JSONLinesStore(_local_path(url))
    from .postgres import PostgresStore

    return PostgresStore(url)


def _local_path(url: str) -> str:
    # sqlite:///data/x.db -> data/x.db and sqlite:////abs/x.db -> /abs/x.db, as SQLAlchemy
    # reads them; sqlite:///./data/x.db -> ./data/x.db.
    return url.split(":///", 1)[1] if ":///" in url else ""
