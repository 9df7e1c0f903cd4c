"""Valid example records for tests, built through the models so they can never drift."""

from datetime import UTC, datetime

from newsflow.core import records
from newsflow.core.identity import article_id
from newsflow.core.names import entity_key

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


def enriched_article(
    title: str | None = TITLE,
    body: str = BODY,
    *,
    seen_at: datetime = NOW,
    published_at: datetime | None = None,
    story_id: str | None = None,
    verdict: records.DedupVerdict = records.DedupVerdict.UNIQUE,
    near_duplicate_of: str | None = None,
    entities: list[tuple[str, str]] | None = None,
    claims: list[tuple[str, str, str]] | None = None,
    publisher: str | None = None,
) -> records.EnrichedArticle:
    """An `EnrichedArticle` as the stance worker produces it.

    `entities`: (canonical name, label) pairs; mentions are the name's occurrences in the
    body (or its last word's, or one at offset 0 when neither occurs).
    `claims`: (claim id, claim text, stance label); by default the article's own headline
    with `discuss`. The story defaults to the article's own (it leads its story).
    """
    raw = raw_article(title, body, published_at, seen_at=seen_at)
    if entities is None:
        entities = [("Mike Pompeo", "PER")]
    if claims is None:
        claims = [("own_headline", title or "", "discuss")]
    mentions, tagged = [], []
    for canonical, label in entities:
        word = canonical if canonical in body else canonical.split()[-1]
        starts = [i for i in range(len(body)) if body.startswith(word, i)] or [0]
        mentions.extend(
            records.Mention(
                text=word,
                label=records.EntityLabel(label),
                start=start,
                end=start + len(word),
                canonical=canonical,
            )
            for start in starts
        )
        tagged.append(
            records.Entity(
                canonical=canonical,
                label=records.EntityLabel(label),
                count=len(starts),
                first_offset=starts[0],
                key=entity_key(canonical, label),
            )
        )
    stances = [
        records.ClaimStance(
            claim_id=claim_id,
            claim_text=claim_text,
            claim_source=records.ClaimSource.OWN_HEADLINE
            if claim_id == "own_headline"
            else records.ClaimSource.CLAIMS_FILE,
            label=records.StanceLabel(label),
            probabilities=_probabilities(label),
        )
        for claim_id, claim_text, label in claims
    ]
    return records.EnrichedArticle(
        **{**raw.model_dump(), "publisher": publisher},
        dedup=records.DedupSection(
            verdict=verdict,
            near_duplicate_of=near_duplicate_of,
            similarity=0.9 if near_duplicate_of else None,
            story_id=story_id or raw.article_id,
            story_lead_headline=TITLE,
        ),
        entities=records.EntitiesSection(
            mentions=mentions, entities=tagged, model_version="ner-test"
        ),
        stance=records.StanceSection(claims=stances, model_version="stance-test"),
    )


def _probabilities(label: str) -> records.StanceProbabilities:
    others = {"agree": 0.05, "disagree": 0.05, "discuss": 0.05, "unrelated": 0.05}
    return records.StanceProbabilities(**{**others, label: 0.85})


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
