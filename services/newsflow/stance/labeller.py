"""Which claims an article is labelled against, and its stance toward each: the stage's
logic, knowing nothing of Kafka.

Claims: the article's own headline (does the body support it), its story's lead headline
when the article is not the story's first (from the dedup section), and every claim of the
operators' claims file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsflow.core.records import (
    ClaimSource,
    ClaimStance,
    StanceLabel,
    StanceProbabilities,
    StanceSection,
    TaggedArticle,
)

from .claims import Claim
from .model import LABELS, StanceModel

OWN_HEADLINE_ID = "own_headline"
STORY_LEAD_PREFIX = "story:"


@dataclass(frozen=True)
class ClaimRef:
    id: str
    text: str
    source: ClaimSource


def claims_for(article: TaggedArticle, file_claims: Sequence[Claim]) -> list[ClaimRef]:
    claims = []
    if article.title and article.title.strip():
        claims.append(ClaimRef(OWN_HEADLINE_ID, article.title, ClaimSource.OWN_HEADLINE))
    dedup = article.dedup
    lead = dedup.story_lead_headline
    if dedup.story_id != article.article_id and lead and lead.strip():
        claims.append(ClaimRef(STORY_LEAD_PREFIX + dedup.story_id, lead, ClaimSource.STORY_LEAD))
    claims.extend(ClaimRef(c.id, c.text, ClaimSource.CLAIMS_FILE) for c in file_claims)
    return claims


class StanceLabeller:
    """Labels a batch of articles against their claims with one model call."""

    def __init__(self, model: StanceModel) -> None:
        self.model = model

    @property
    def model_version(self) -> str:
        return self.model.version

    def label(
        self, articles: Sequence[TaggedArticle], file_claims: Sequence[Claim]
    ) -> list[StanceSection]:
        per_article = [claims_for(article, file_claims) for article in articles]
        texts: dict[str, int] = {}
        pairs = []
        for body_index, claims in enumerate(per_article):
            for claim in claims:
                pairs.append((texts.setdefault(claim.text, len(texts)), body_index))
        probabilities = self.model.probabilities(
            list(texts), [article.body for article in articles], pairs
        )
        labels = self.model.labels(probabilities) if len(pairs) else []
        sections, row = [], 0
        for claims in per_article:
            stances = []
            for claim in claims:
                p = dict(zip(LABELS, (float(v) for v in probabilities[row]), strict=True))
                stances.append(
                    ClaimStance(
                        claim_id=claim.id,
                        claim_text=claim.text,
                        claim_source=claim.source,
                        label=StanceLabel(labels[row]),
                        probabilities=StanceProbabilities(
                            **{k: min(max(v, 0.0), 1.0) for k, v in p.items()}
                        ),
                    )
                )
                row += 1
            sections.append(StanceSection(claims=stances, model_version=self.model_version))
        return sections
