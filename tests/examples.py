"""Valid example records for tests, built through the models so they can never drift."""

from datetime import UTC, datetime

from newsflow import records
from newsflow.identity import article_id

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TITLE = "US plans to prevent Russian and Chinese influence in Venezuela"
BODY = (
    "The Pentagon is developing new military options to deter Russian, Chinese and Cuban "
    "influence in Venezuela, a US defense official said. Secretary of State Mike Pompeo said "
    "all options remain on the table."
)


def raw_article(
    title: str | None = TITLE,
    body: str = BODY,
    published_at: datetime | None = None,
    *,
    seen_at: datetime = NOW,
) -> records.RawArticle:
    """A `RawArticle` as the watcher produces it."""
    return records.RawArticle(
        article_id=article_id(title, body),
        title=title,
        title_method=records.TitleMethod.FIRST_LINE,
        title_confidence=0.9,
        body=body,
        published_at=published_at,
        origin=records.FileOrigin(
            path="venezuela.txt",
            file_name="venezuela.txt",
            size_bytes=len(((title or "") + "\n\n" + body).encode()),
            modified_at=seen_at,
            sha256="0" * 64,
            format=records.InputFormat.TXT,
            encoding="utf-8",
            first_seen_at=seen_at,
        ),
        trace=[records.TraceEntry(stage="watcher", service_version="test", processed_at=NOW)],
    )


def enriched_article() -> records.EnrichedArticle:
    raw = raw_article()
    pompeo_at = BODY.index("Mike Pompeo")
    return records.EnrichedArticle(
        **raw.model_dump(),
        dedup=records.DedupSection(
            verdict=records.DedupVerdict.UNIQUE, story_id=raw.article_id, story_lead_headline=TITLE
        ),
        entities=records.EntitiesSection(
            mentions=[
                records.Mention(
                    text="Mike Pompeo",
                    label=records.EntityLabel.PERSON,
                    start=pompeo_at,
                    end=pompeo_at + len("Mike Pompeo"),
                    canonical="Mike Pompeo",
                )
            ],
            entities=[
                records.Entity(
                    canonical="Mike Pompeo",
                    label=records.EntityLabel.PERSON,
                    count=1,
                    first_offset=pompeo_at,
                )
            ],
            model_version="ner-test",
        ),
        stance=records.StanceSection(
            claims=[
                records.ClaimStance(
                    claim_id="own-headline",
                    claim_text=TITLE,
                    claim_source=records.ClaimSource.OWN_HEADLINE,
                    label=records.StanceLabel.DISCUSS,
                    probabilities=records.StanceProbabilities(
                        agree=0.2, disagree=0.05, discuss=0.7, unrelated=0.05
                    ),
                )
            ],
            model_version="stance-test",
        ),
    )


def dead_letter() -> records.DeadLetter:
    payload = b"\x00\x01\x02 not an article"
    text, truncated = records.excerpt(payload)
    return records.DeadLetter(
        stage="watcher",
        reason=records.DeadLetterReason.BINARY_FILE,
        message="binary data: 3 NUL bytes in the first 4 KiB",
        input=records.FileInput(path="inbox/photo.txt"),
        payload_excerpt=text,
        payload_size_bytes=len(payload),
        payload_truncated=truncated,
        service_version="test",
        failed_at=NOW,
    )
