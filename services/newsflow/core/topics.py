"""The declarative list of newsflow's topics: name, record type, partitions, retention.

`newsflow topics` applies it idempotently; `schemas/` is generated from the record types.
Every article topic is keyed by `article_id`, so all copies of one text meet on one partition.
"""

from dataclasses import dataclass

from newsflow.core import records

DAY_MS = 24 * 60 * 60 * 1000
# Articles may be large (the watcher accepts files up to 10 MB by default), so every topic
# accepts records well above Kafka's 1 MB default.
MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Topic:
    name: str
    record: type[records.Record]
    description: str
    partitions: int = 6
    cleanup_policy: str = "delete"
    retention_ms: int = 7 * DAY_MS

    def config(self) -> dict[str, str]:
        """The topic-level Kafka configuration this declaration stands for."""
        return {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(MAX_RECORD_BYTES),
        }


RAW = Topic(
    "articles.raw",
    records.RawArticle,
    "Every article the watcher read, as parsed from its file.",
)
DEDUPED = Topic(
    "articles.deduped",
    records.DedupedArticle,
    "Articles that are not exact duplicates, with their dedup verdict and story.",
)
DUPLICATES = Topic(
    "articles.duplicates",
    records.DedupedArticle,
    "Exact duplicates, with the id of the article they repeat; not passed on.",
)
TAGGED = Topic(
    "articles.tagged",
    records.TaggedArticle,
    "De-duplicated articles with their people, organisations and places.",
)
ENRICHED = Topic(
    "articles.enriched",
    records.EnrichedArticle,
    "Finished records with dedup, entities and stance: what users consume.",
    # Compacted as well as time-limited: a consumer replaying the topic sees the latest
    # record of each article rather than every redelivery.
    cleanup_policy="compact,delete",
    retention_ms=30 * DAY_MS,
)
DEADLETTER = Topic(
    "articles.deadletter",
    records.DeadLetter,
    "Inputs any stage could not process, with the stage, a reason code and the payload.",
    partitions=3,
    retention_ms=30 * DAY_MS,
)

ALL: tuple[Topic, ...] = (RAW, DEDUPED, DUPLICATES, TAGGED, ENRICHED, DEADLETTER)


def by_name(name: str) -> Topic:
    for topic in ALL:
        if topic.name == name:
            return topic
    raise KeyError(f"no newsflow topic named {name!r}; known: {', '.join(t.name for t in ALL)}")
