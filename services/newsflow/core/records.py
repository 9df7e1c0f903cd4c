"""The records that travel on newsflow's topics: the single definition of every field.

An article record accumulates: the watcher produces a `RawArticle`, each worker adds its own
section and a trace entry. `schemas/` is generated from these models (`make schemas`).
Within a schema version changes are additive only, so readers ignore fields they do not know.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from newsflow import __version__

SCHEMA_VERSION: Literal[1] = 1

# Every number and date a record carries must fit the stores that keep it: a record no store
# can hold would stop the sink on it, so it is refused as invalid where it is first read.
MAX_INT32 = 2**31 - 1  # counts and offsets within one article: PostgreSQL's INTEGER
MAX_INT64 = 2**63 - 1  # sizes and Kafka offsets: signed 64-bit, as SQLite and BIGINT hold


def _within_utc_years(moment: datetime) -> datetime:
    # An offset can carry a date past year 9999 (or before year 1) once it is read in UTC,
    # as the stores keep every time: a date no datetime (and no store) can hold.
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} lies outside the years 1 to 9999 once converted to UTC"
        ) from None
    return moment


Timestamp = Annotated[AwareDatetime, AfterValidator(_within_utc_years)]

Stage = Literal["watcher", "dedup", "entities", "stance", "sink"]


class Record(BaseModel):
    """Base of every record: unknown fields from a newer minor producer are ignored, not fatal."""

    # Producers always write every field, so the published schemas mark them all required.
    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_serialization_defaults_required=True
    )


# --- where an article came from -------------------------------------------------------------


class InputFormat(enum.StrEnum):
    TXT = "txt"
    MD = "md"
    JSON = "json"
    JSONL = "jsonl"
    HTML = "html"


class TitleMethod(enum.StrEnum):
    """How the title was chosen, so readers know how far to trust it."""

    FIRST_LINE = "first_line"  # the first meaningful line of a text file
    AFTER_PROMO = "after_promo"  # a promo or banner line came first and was skipped
    GIVEN = "given"  # a `title` field of a JSON record
    HTML_HEADLINE = "html_headline"  # the page's headline element or metadata
    DERIVED = "derived"  # no headline in the file: made from the body's first sentence
    NONE = "none"  # no title at all


class FileOrigin(Record):
    """The file an article was read from; `first_seen_at` starts the end-to-end latency clock."""

    path: str = Field(description="Path of the file when it was read, relative to the inbox.")
    file_name: str
    size_bytes: int = Field(ge=0, le=MAX_INT64)
    modified_at: Timestamp
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hash of the file's bytes.")
    format: InputFormat
    encoding: str = Field(description="Detected text encoding, e.g. utf-8, utf-16, cp1252.")
    line: int | None = Field(
        default=None,
        ge=1,
        le=MAX_INT64,
        description="Line number for an article from a JSON Lines file.",
    )
    first_seen_at: Timestamp = Field(description="When the watcher first noticed the file.")
    earlier_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The file was written to again after this content of it had been sent: "
        "this record comes from its newer, complete version.",
    )


class TraceEntry(Record):
    """One stage's visit: who processed the record, with which code and model, and when."""

    stage: Stage
    service_version: str
    model_version: str | None = None
    processed_at: Timestamp


# --- the stages' sections -------------------------------------------------------------------


class DedupVerdict(enum.StrEnum):
    UNIQUE = "unique"
    NEAR_DUPLICATE = "near_duplicate"
    EXACT_DUPLICATE = "exact_duplicate"


class DedupSection(Record):
    verdict: DedupVerdict
    exact_duplicate_of: str | None = Field(
        default=None, description="For an exact duplicate: the article id it repeats."
    )
    near_duplicate_of: str | None = Field(
        default=None, description="For a near duplicate: the earliest article of its copy group."
    )
    similarity: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Similarity to `near_duplicate_of`."
    )
    story_id: str = Field(description="The article id of the story's first article.")
    story_lead_headline: str | None = Field(
        default=None, description="Headline of the story's first article: a claim for stance."
    )


class EntityLabel(enum.StrEnum):
    PERSON = "PER"
    ORGANISATION = "ORG"
    LOCATION = "LOC"
    MISCELLANEOUS = "MISC"


class Mention(Record):
    text: str
    label: EntityLabel
    start: int = Field(
        ge=0, le=MAX_INT32, description="Character offset in the body where the mention starts."
    )
    end: int = Field(ge=0, le=MAX_INT32, description="Character offset just past the mention.")
    canonical: str = Field(description="The entity's one name across the article.")


class Entity(Record):
    canonical: str = Field(description="The entity's one name in this article.")
    label: EntityLabel
    count: int = Field(ge=1, le=MAX_INT32)
    first_offset: int = Field(ge=0, le=MAX_INT32)
    key: str | None = Field(
        default=None,
        description="The entity's identity across articles: entities with the same key are "
        "one entity however each article spells it ('PER:michael pompeo' for 'Mike Pompeo' "
        "and 'Michael R. Pompeo'). Absent in records written before keys existed.",
    )


class EntitiesSection(Record):
    mentions: list[Mention]
    entities: list[Entity]
    model_version: str


class StanceLabel(enum.StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    DISCUSS = "discuss"
    UNRELATED = "unrelated"


class ClaimSource(enum.StrEnum):
    OWN_HEADLINE = "own_headline"
    STORY_LEAD = "story_lead"
    CLAIMS_FILE = "claims_file"


class StanceProbabilities(Record):
    agree: float = Field(ge=0.0, le=1.0)
    disagree: float = Field(ge=0.0, le=1.0)
    discuss: float = Field(ge=0.0, le=1.0)
    unrelated: float = Field(ge=0.0, le=1.0)


class ClaimStance(Record):
    claim_id: str
    claim_text: str
    claim_source: ClaimSource
    label: StanceLabel
    probabilities: StanceProbabilities


class StanceSection(Record):
    claims: list[ClaimStance]
    model_version: str


# --- article records, one per topic ---------------------------------------------------------


class RawArticle(Record):
    """An article as the watcher read it: on `articles.raw`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    article_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="Hash of the normalised title and body: the same text always has the same id.",
    )
    title: str | None
    title_method: TitleMethod
    title_confidence: float = Field(ge=0.0, le=1.0, description="How sure title extraction is.")
    body: str = Field(min_length=1)
    url: str | None = None
    publisher: str | None = Field(default=None, description="The outlet, when the input names it.")
    published_at: Timestamp | None = None
    language: str | None = None
    origin: FileOrigin
    trace: list[TraceEntry] = Field(default_factory=list)


class DedupedArticle(RawArticle):
    """An article with its dedup verdict and story: on `articles.deduped` and `.duplicates`."""

    dedup: DedupSection


class TaggedArticle(DedupedArticle):
    """An article with its named entities: on `articles.tagged`."""

    entities: EntitiesSection


class EnrichedArticle(TaggedArticle):
    """The finished record: on `articles.enriched`, what the sink stores and users consume."""

    stance: StanceSection


# --- dead letters ---------------------------------------------------------------------------


class DeadLetterReason(enum.StrEnum):
    """The fixed list of reasons a stage gives up on an input."""

    EMPTY_FILE = "empty_file"
    WHITESPACE_ONLY = "whitespace_only"
    BINARY_FILE = "binary_file"
    UNDECODABLE_TEXT = "undecodable_text"
    INVALID_JSON = "invalid_json"
    MISSING_BODY = "missing_body"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    TOO_SLOW = "too_slow"  # parsing took longer than the per-file time budget
    TOO_DEEP = "too_deep"  # a folder nested deeper than the watcher reads
    SYMLINK = "symlink"
    UNREADABLE = "unreadable"
    NO_ARTICLE_TEXT = "no_article_text"
    MALFORMED_RECORD = "malformed_record"  # not JSON, or not UTF-8
    INVALID_RECORD = "invalid_record"  # JSON that does not match the topic's schema
    PROCESSING_FAILED = "processing_failed"  # the stage's logic failed on it repeatedly
    STORE_REJECTED = "store_rejected"


# Why a record read from a topic is refused before any stage's logic sees it.
UNREADABLE_RECORD = (DeadLetterReason.MALFORMED_RECORD, DeadLetterReason.INVALID_RECORD)
# Why the watcher gives up on a file (or on a line or element of one).
FILE_REASONS = tuple(
    reason
    for reason in DeadLetterReason
    if reason not in UNREADABLE_RECORD and reason != DeadLetterReason.STORE_REJECTED
)


class FileInput(Record):
    kind: Literal["file"] = "file"
    path: str
    line: int | None = Field(
        default=None, ge=1, le=MAX_INT64, description="The line of a JSON Lines file."
    )


class RecordInput(Record):
    kind: Literal["record"] = "record"
    topic: str
    partition: int = Field(ge=0, le=MAX_INT32)  # Kafka's partitions are 32-bit
    offset: int = Field(ge=0, le=MAX_INT64)
    key: str | None = None

    def __str__(self) -> str:
        return position(self.topic, self.partition, self.offset)


def position(topic: str, partition: int, offset: int) -> str:
    """`topic[partition]@offset`: where a record is, as logs, keys and dedup's origins say it."""
    return f"{topic}[{partition}]@{offset}"


class DeadLetter(Record):
    """An input a stage could not process, with why and enough of it to investigate or replay."""

    schema_version: Literal[1] = SCHEMA_VERSION
    stage: Stage
    reason: DeadLetterReason
    message: str = Field(description="What went wrong, for a human.")
    input: Annotated[FileInput | RecordInput, Field(discriminator="kind")]
    article_id: str | None = None
    payload_excerpt: str = Field(
        description="The start of the original payload, decoded leniently; bounded in size."
    )
    payload_size_bytes: int = Field(ge=0, le=MAX_INT64)
    payload_truncated: bool
    attempts: int = Field(default=1, ge=1, le=MAX_INT32)
    service_version: str
    failed_at: Timestamp


PAYLOAD_EXCERPT_BYTES = 64 * 1024


def first_problem(error: ValidationError, whole: str = "record") -> str:
    """The first thing pydantic found wrong, where it is, and how many more: one line for a
    dead letter or an error message (`whole` names the input when the problem is at its top)."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def excerpt(payload: bytes, limit: int = PAYLOAD_EXCERPT_BYTES) -> tuple[str, bool]:
    """A bounded, always-decodable excerpt of a payload for a dead letter."""
    return payload[:limit].decode("utf-8", errors="replace"), len(payload) > limit


R = TypeVar("R", bound=Record)


def encode(record: Record) -> bytes:
    """The wire form of every record: UTF-8 JSON, readable from any language."""
    return record.model_dump_json().encode("utf-8")


def decode(record_type: type[R], value: bytes) -> R:
    """Parse a record from the wire; raises pydantic.ValidationError when it does not fit."""
    return record_type.model_validate_json(value)


class UnreadableRecord(Exception):
    """A record read from a topic that no code can use: why, for its dead letter."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def read(record_type: type[R], value: bytes) -> R:
    """A record from a topic, or UnreadableRecord: MALFORMED_RECORD when it is not UTF-8 JSON,
    INVALID_RECORD when it is JSON that does not match the topic's schema."""
    try:
        return decode(record_type, value)
    except ValidationError as error:
        malformed = any(e["type"] in ("json_invalid", "json_type") for e in error.errors())
        reason = DeadLetterReason.MALFORMED_RECORD if malformed else DeadLetterReason.INVALID_RECORD
        raise UnreadableRecord(reason, first_problem(error)) from None
    except UnicodeDecodeError as error:
        raise UnreadableRecord(DeadLetterReason.MALFORMED_RECORD, str(error)) from None


def dead_letter(
    stage: Stage,
    reason: DeadLetterReason,
    message: str,
    source: FileInput | RecordInput,
    payload: bytes,
    *,
    size: int | None = None,
    attempts: int = 1,
    article_id: str | None = None,
) -> DeadLetter:
    """The dead letter of an input; `size` when only the start of the payload was read."""
    text, truncated = excerpt(payload)
    size = len(payload) if size is None else size
    return DeadLetter(
        stage=stage,
        reason=reason,
        # Whatever the input held (a lone surrogate, say), the message must encode as UTF-8.
        message=message.encode("utf-8", "backslashreplace").decode("utf-8"),
        input=source,
        article_id=article_id,
        payload_excerpt=text,
        payload_size_bytes=size,
        payload_truncated=truncated or size > len(payload),
        attempts=attempts,
        service_version=__version__,
        failed_at=datetime.now(UTC),
    )
