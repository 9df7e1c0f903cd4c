"""`newsflow dedup`: the Faust worker around the dedup logic.

Reads `articles.raw`; exact duplicates go to `articles.duplicates`, everything else, with
its dedup section and story, to `articles.deduped`. The logic's state lives in Faust tables
backed by changelog topics, so a restart recovers it without re-reading the input.

Partitions: exact copies share an article id and so a partition, but near copies and
stories cross partitions; the index tables are therefore global tables (every instance
holds all of it), while the exact-id tables are partitioned like the input.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import faust

from newsflow import __version__
from newsflow.records import (
    DedupedArticle,
    DedupVerdict,
    RawArticle,
    TraceEntry,
)
from newsflow.settings import load
from newsflow.topics import RAW
from newsflow.worker import BatchRunner, Output, Source, Stage, StageMetrics, faust_app, run_worker
from newsflow_dedup import metrics
from newsflow_dedup.logic import Deduplicator
from newsflow_dedup.settings import DedupWorkerSettings
from newsflow_dedup.state import DedupState

log = logging.getLogger(__name__)

# Partitioned like the input (exact copies meet on one partition) or global (near copies
# and stories do not).
PARTITIONED_TABLES = ("articles",)
GLOBAL_TABLES = ("summaries", "lsh_buckets", "story_terms", "clock")


class DedupStage(Stage[RawArticle, None]):
    name = "dedup"
    input_record = RawArticle

    def __init__(self, deduplicator: Deduplicator, settings: DedupWorkerSettings):
        self.deduplicator = deduplicator
        self.settings = settings

    def prepare(self, records: Sequence[RawArticle]) -> list[None]:
        return [None] * len(records)

    def finish(self, record: RawArticle, _prepared: None, source: Source) -> list[Output]:
        deduplicator = self.deduplicator
        expired, redelivered = deduplicator.expired_total, deduplicator.redelivered_total
        section = deduplicator.see(record, origin=str(source))
        metrics.EXPIRED.inc(deduplicator.expired_total - expired)
        metrics.REDELIVERED.inc(deduplicator.redelivered_total - redelivered)
        metrics.VERDICTS.labels(section.verdict.value).inc()
        if section.similarity is not None:
            metrics.SIMILARITY.observe(section.similarity)
        trace = TraceEntry(
            stage="dedup", service_version=__version__, processed_at=datetime.now(UTC)
        )
        deduped = DedupedArticle(
            **record.model_dump(exclude={"trace"}),
            trace=[*record.trace, trace],
            dedup=section,
        )
        topic = (
            self.settings.duplicates_topic
            if section.verdict == DedupVerdict.EXACT_DUPLICATE
            else self.settings.deduped_topic
        )
        return [Output(topic, record.article_id, deduped)]


def build(settings: DedupWorkerSettings):
    """The Faust app with its tables and agent; separate from `main` for the tests."""
    # Tables are partitioned like the input topic, as Faust requires for co-partitioning.
    app = faust_app("dedup", settings, topic_partitions=RAW.partitions)

    def table(name: str, global_: bool):
        make = app.GlobalTable if global_ else app.Table
        return make(
            f"dedup-{name}",
            default=None,
            # A global key is written from events of any partition: its changelog records
            # must all go to one partition (by key), or a restore could end on a stale value.
            use_partitioner=global_,
            schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"),
            help=f"dedup state: {name}",
        )

    tables = {name: table(name, False) for name in PARTITIONED_TABLES}
    tables |= {name: table(name, True) for name in GLOBAL_TABLES}
    deduplicator = Deduplicator(DedupState(**tables), settings.logic())
    stage = DedupStage(deduplicator, settings)
    runner = BatchRunner(app, stage, settings, StageMetrics("dedup"))
    source = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes)

    @app.agent(source, name="dedup")
    async def dedup(stream):
        await runner.run(stream)

    @app.timer(15.0)
    async def report_index_size() -> None:
        metrics.INDEXED.set(len(tables["summaries"]))

    return app


def main() -> None:
    settings = load(DedupWorkerSettings)
    run_worker(build(settings), settings)
