"""How an enriched article becomes rows: one article row (with the full record as JSON),
one row per entity and one per claim the article was classified against.

The full record is always kept, so a field that has no column yet is never lost. The
sections are read defensively: an article without an entities or stance section (or with
an empty one) still gets its article row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newsflow.core.names import entity_key
from newsflow.core.records import EnrichedArticle, encode

from .exceptions import RecordRejected


@dataclass(frozen=True)
class ArticleRow:
    article_id: str
    title: str | None
    title_method: str
    body: str
    url: str | None
    publisher: str | None
    language: str | None
    published_at: datetime | None
    first_seen_at: datetime
    source_path: str
    source_format: str
    source_sha256: str
    dedup_verdict: str | None
    near_duplicate_of: str | None
    similarity: float | None
    story_id: str | None
    entities_model_version: str | None
    stance_model_version: str | None
    enriched_at: datetime | None
    record: str  # the whole record, as JSON


@dataclass(frozen=True)
class EntityRow:
    article_id: str
    canonical: str
    label: str
    mention_count: int
    first_offset: int | None
    entity_key: str  # one entity across articles (newsflow.core.names); derived for older records


@dataclass(frozen=True)
class StanceRow:
    article_id: str
    claim_id: str
    claim_text: str
    claim_source: str
    label: str
    p_agree: float
    p_disagree: float
    p_discuss: float
    p_unrelated: float


@dataclass(frozen=True)
class ArticleRows:
    article: ArticleRow
    entities: list[EntityRow]
    stances: list[StanceRow]


def rows_of(record: EnrichedArticle) -> ArticleRows:
    """The rows of one record; RecordRejected when a value in it has no row form (a date
    that leaves the years 1 to 9999 in UTC), so that only this record is set aside."""
    try:
        return _rows_of(record)
    except (OverflowError, ValueError) as error:
        raise RecordRejected(f"article {record.article_id} cannot be stored: {error}") from error


def _rows_of(record: EnrichedArticle) -> ArticleRows:
    article_id = record.article_id
    dedup = getattr(record, "dedup", None)
    entities_section = getattr(record, "entities", None)
    stance_section = getattr(record, "stance", None)
    article = ArticleRow(
        article_id=article_id,
        title=record.title,
        title_method=record.title_method.value,
        body=record.body,
        url=record.url,
        publisher=record.publisher,
        language=record.language,
        published_at=_utc(record.published_at, "published_at"),
        first_seen_at=_utc(record.origin.first_seen_at, "origin.first_seen_at"),
        source_path=record.origin.path,
        source_format=record.origin.format.value,
        source_sha256=record.origin.sha256,
        dedup_verdict=dedup.verdict.value if dedup else None,
        near_duplicate_of=dedup.near_duplicate_of if dedup else None,
        similarity=dedup.similarity if dedup else None,
        story_id=dedup.story_id if dedup else None,
        entities_model_version=getattr(entities_section, "model_version", None),
        stance_model_version=getattr(stance_section, "model_version", None),
        enriched_at=_utc(
            max((t.processed_at for t in record.trace), default=None), "trace.processed_at"
        ),
        record=encode(record).decode("utf-8"),
    )
    return ArticleRows(
        article=article,
        entities=_entity_rows(article_id, getattr(entities_section, "entities", None) or []),
        stances=_stance_rows(article_id, getattr(stance_section, "claims", None) or []),
    )


def _entity_rows(article_id: str, entities: Iterable) -> list[EntityRow]:
    # One row per (name, label): a tagger that listed one entity twice is summed, not
    # refused by the table's primary key.
    merged: dict[tuple[str, str], EntityRow] = {}
    for entity in entities:
        key = (entity.canonical, entity.label.value)
        earlier = merged.get(key)
        merged[key] = EntityRow(
            article_id=article_id,
            canonical=entity.canonical,
            label=entity.label.value,
            mention_count=entity.count + (earlier.mention_count if earlier else 0),
            first_offset=min(entity.first_offset, earlier.first_offset)
            if earlier and earlier.first_offset is not None
            else entity.first_offset,
            entity_key=getattr(entity, "key", None) or entity_key(entity.canonical, key[1]),
        )
    return list(merged.values())


def _stance_rows(article_id: str, claims: Iterable) -> list[StanceRow]:
    by_claim: dict[str, StanceRow] = {}
    for claim in claims:  # the last verdict on one claim wins
        by_claim[claim.claim_id] = StanceRow(
            article_id=article_id,
            claim_id=claim.claim_id,
            claim_text=claim.claim_text,
            claim_source=claim.claim_source.value,
            label=claim.label.value,
            p_agree=claim.probabilities.agree,
            p_disagree=claim.probabilities.disagree,
            p_discuss=claim.probabilities.discuss,
            p_unrelated=claim.probabilities.unrelated,
        )
    return list(by_claim.values())


@dataclass
class Written:
    """What one upsert wrote: articles, and the entity and stance rows that came with them."""

    articles: int = 0
    entities: int = 0
    stances: int = 0

    def add(self, other: Written) -> None:
        self.articles += other.articles
        self.entities += other.entities
        self.stances += other.stances


def latest_per_article(records: Sequence[EnrichedArticle]) -> list[EnrichedArticle]:
    """One record per article id, the last one delivered (a batch may hold redeliveries)."""
    return list({record.article_id: record for record in records}.values())


def _utc(moment: datetime | None, field: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{field} {moment.isoformat()} lies outside the years 1 to 9999 in UTC"
        ) from None
