"""`newsflow dedup`: the Faust worker around the dedup logic.

Reads `articles.raw`; exact duplicates go to `articles.duplicates`, everything else, with
its dedup section and story, to `articles.deduped`. The logic's state lives in Faust tables
backed by changelog topics, so a restart recovers it without re-reading the input.

Partitions: exact copies share an article id and so a partition, but near copies and
stories cross partitions; `summaries` and `clock` are therefore global tables (every
instance holds all of it), while the exact-id table is partitioned like the input.

The candidate index (`lsh_buckets`, `story_terms`) is not a table: it is derived from
`summaries`, held in memory, rebuilt from it before the first batch and kept in step with
other instances through its changelog. As tables the two cost 56 changelog records per
article, each serialised, stored in RocksDB and sent to the broker: most of the worker's
CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import faust

from newsflow.core.records import (
    DedupedArticle,
    DedupVerdict,
    RawArticle,
)
from newsflow.core.sentences import SentenceEncoder, SentenceEncoderError
from newsflow.core.settings import SettingsError, load
from newsflow.core.stage import Output, Source, Stage
from newsflow.core.topics import RAW
from newsflow.runtime.batches import BatchRunner, StageMetrics
from newsflow.runtime.faust_app import faust_app, on_changelog_batch
from newsflow.runtime.worker import run_worker

from . import metrics
from .logic import Deduplicator
from .settings import DedupWorkerSettings
from .state import DedupState

log = logging.getLogger(__name__)

# Partitioned like the input (exact copies meet on one partition) or global (near copies
# and stories do not); the index is derived from `summaries` (CandidateIndex).
PARTITIONED_TABLES = ("articles",)
GLOBAL_TABLES = ("summaries", "clock")
REBUILD_CHUNK = 500  # summaries read between two turns of the event loop


class CandidateIndex:
    """`lsh_buckets` and `story_terms` as plain dicts, derived from the `summaries` table.

    The worker's own articles are listed by `see` as it decides them; a summary that reaches
    the table's store through its changelog (another instance's, or a recovery) is listed
    here, and a tombstone unlists its article, so the index follows the table. `rebuild`
    lists what the store held when the worker started; listing is idempotent, so the two may
    overlap in any order. `listed` remembers each article's keys, for its tombstone."""

    def __init__(self) -> None:
        self.deduplicator: Deduplicator | None = None
        # article id -> its place in the lists (Deduplicator.index_order) and its keys
        self.listed: dict[str, tuple[tuple[int, float], list[str], list[str]]] = {}
        self.ready = False

    def seen(self, article_id: str, summary: dict, buckets: list[str], terms: list[str]) -> None:
        """`see` listed one of the worker's own articles (its `on_index`)."""
        self.listed[article_id] = (Deduplicator.index_order(summary), buckets, terms)

    def follow(self, events: Iterable[faust.EventT[Any]]) -> None:
        """Changelog events of `summaries`, just applied to its store."""
        for event in events:
            message = event.message
            article_id = json.loads(message.key)
            if message.value is None:
                listed = self.listed.pop(article_id, None)
                if listed is not None:
                    self.deduplicator.unindex(article_id, listed[1], listed[2])
            else:
                summary = json.loads(message.value)
                buckets, terms = self.deduplicator.index_keys(summary)
                self.listed[article_id] = (Deduplicator.index_order(summary), buckets, terms)
                self.deduplicator.index(article_id, buckets, terms)

    async def rebuild(self, summaries: faust.GlobalTable) -> None:
        """List every summary in the table in the order `see` remembered them, giving the
        loop a turn between chunks (a large index takes seconds to read)."""
        found: dict[str, tuple[tuple[int, float], list[str], list[str]]] = {}
        for count, (article_id, summary) in enumerate(summaries.items(), start=1):
            order = Deduplicator.index_order(summary)
            found[article_id] = (order, *self.deduplicator.index_keys(summary))
            if count % REBUILD_CHUNK == 0:
                await asyncio.sleep(0)
        found.update(self.listed)  # followed while reading: newer
        self.listed = found
        in_order = sorted(found.items(), key=lambda item: (item[1][0], item[0]))
        self.deduplicator.rebuild_index((i, keys, terms) for i, (_, keys, terms) in in_order)
        self.ready = True
        log.info("candidate index rebuilt from %d summaries", len(found))


class DedupRunner(BatchRunner):
    """The batch runner, once the candidate index is rebuilt (before the first batch: by
    then Faust has recovered the tables)."""

    def __init__(self, *args, index: CandidateIndex, summaries: faust.GlobalTable, **kwargs):
        super().__init__(*args, **kwargs)
        self.index = index
        self.summaries = summaries

    async def process(self, events: Sequence[faust.EventT[Any]], stream: faust.Stream[Any]) -> None:
        if not self.index.ready:
            await self.index.rebuild(self.summaries)
        await super().process(events, stream)


class DedupStage(Stage[RawArticle, None]):
    name = "dedup"
    input_record = RawArticle

    def __init__(self, deduplicator: Deduplicator, settings: DedupWorkerSettings):
        self.deduplicator = deduplicator
        self.settings = settings

    def prepare(self, records: Sequence[RawArticle]) -> list[None]:
        # What dedup computes depends on what its tables hold (a copy needs no meaning
        # vector), and only the event loop may touch the tables: all of it is in `finish`.
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
        deduped = self.passed_on(record, DedupedArticle, dedup=section)
        topic = (
            self.settings.duplicates_topic
            if section.verdict == DedupVerdict.EXACT_DUPLICATE
            else self.settings.deduped_topic
        )
        return [Output(topic, record.article_id, deduped)]


def build(settings: DedupWorkerSettings):
    """The Faust app with its tables and agent; separate from `main` for the tests."""
    try:
        encoder = SentenceEncoder(settings.sentence_encoder_dir)
    except SentenceEncoderError as error:
        raise SettingsError(f"NEWSFLOW_DEDUP_SENTENCE_ENCODER_DIR: {error}") from None
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
    index = CandidateIndex()
    deduplicator = Deduplicator(
        DedupState(**tables, lsh_buckets={}, story_terms={}),
        settings.logic(),
        index.seen,
        meaning=encoder.vector,
    )
    index.deduplicator = deduplicator
    on_changelog_batch(tables["summaries"], index.follow)
    stage = DedupStage(deduplicator, settings)
    runner = DedupRunner(
        app, stage, settings, StageMetrics("dedup"), index=index, summaries=tables["summaries"]
    )
    source = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes)

    @app.agent(source, name="dedup")
    async def dedup(stream):
        await runner.run(stream)

    @app.timer(15.0)
    async def report_index_size() -> None:
        if index.ready:  # counted in memory: len() of a table reads all of its store
            metrics.INDEXED.set(len(index.listed))

    return app


def main() -> None:
    settings = load(DedupWorkerSettings)
    run_worker(build(settings), settings)
