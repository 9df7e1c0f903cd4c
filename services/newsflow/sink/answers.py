"""The answers `newsflow query` gives, whatever store they come from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClaimVerdict:
    claim_id: str
    claim_text: str
    label: str


@dataclass(frozen=True)
class ArticleMention:
    """An article that mentions an entity."""

    article_id: str
    title: str | None
    published_at: str | None
    first_seen_at: str
    publisher: str | None
    story_id: str | None
    entity: str
    label: str
    mentions: int
    stances: list[ClaimVerdict] = field(default_factory=list)


@dataclass(frozen=True)
class StoryArticle:
    """An article of a story, in the order the pipeline saw them."""

    article_id: str
    title: str | None
    published_at: str | None
    first_seen_at: str
    publisher: str | None
    dedup_verdict: str | None
    near_duplicate_of: str | None


@dataclass(frozen=True)
class ClaimCounts:
    """How the articles stand toward one claim."""

    claim_id: str
    claim_text: str
    claim_source: str
    agree: int
    disagree: int
    discuss: int
    unrelated: int

    @property
    def articles(self) -> int:
        return self.agree + self.disagree + self.discuss + self.unrelated


@dataclass(frozen=True)
class EntityName:
    canonical: str
    label: str
    articles: int
