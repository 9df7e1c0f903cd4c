"""`newsflow sink`: consumes `articles.enriched`, writes batches to the store, and commits
the offsets of a batch only once the store made it durable.

Exactly once in the store by construction: a crash between the write and the offset commit
delivers the batch again, and the store upserts by article id. While the store is away the
sink pauses its partitions, reports not ready and retries the batch in hand with backoff;
it never skips a record. Records that are not enriched articles go to the dead-letter topic.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from newsflow.core.records import (
    DeadLetter,
    DeadLetterReason,
    EnrichedArticle,
    RecordInput,
    UnreadableRecord,
    dead_letter,
    encode,
    read,
)
from newsflow.core.settings import load
from newsflow.runtime import kafka as newsflow_kafka
from newsflow.runtime.retry import Backoff, until_kafka_answers
from newsflow.runtime.service import Runtime, service_runtime
from newsflow.runtime.stall import StallWatch, restart_in_place, waiting_here

from . import metrics
from .exceptions import StoreUnavailable
from .settings import SinkSettings
from .stores import Store, open_store
from .writer import WriteOutcome, write_batch

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.2
PING_EVERY_SECONDS = 5.0  # while idle, how often to check the store is still there


class Stopped(Exception):
    """A stop was requested while waiting for the store or Kafka: the batch is left
    uncommitted, to be delivered again."""


class Sink:
    def __init__(self, settings: SinkSettings, runtime: Runtime, store: Store | None = None):
        self.settings = settings
        self.runtime = runtime
        self.store = store or open_store(settings.store_url)
        self._stop_deadline: float | None = None
        self._store_down = False
        self.stall = StallWatch(settings.stall_seconds)

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        with ExitStack() as resources:
            resources.callback(self.store.close)
            try:
                self._retry_store(lambda: self.store.open(), "opening the store")
                self.producer = self._connect(self._new_producer)
                resources.callback(self.producer.close)
                self.consumer = self._connect(self._new_consumer)
                resources.callback(self.consumer.close, autocommit=False)
            except Stopped:
                return
            log.info(
                "storing %s in %s",
                self.settings.enriched_topic,
                self.store.description,
                extra={"topic": self.settings.enriched_topic},
            )
            self.runtime.health.set_ready()
            metrics.STORE_UP.set(1)
            last_activity = time.monotonic()
            while not self.runtime.stopping.is_set():
                self.runtime.health.beat()
                batch = self._poll_batch()
                if batch:
                    try:
                        self._handle(batch)
                    except Stopped:
                        break
                    last_activity = time.monotonic()
                    self.stall.progressed()
                elif time.monotonic() - last_activity > PING_EVERY_SECONDS:
                    self._ping()
                    last_activity = time.monotonic()
                self._restart_if_stalled()
            log.info("stop requested: the batch in hand was written; closing")

    def _poll_batch(self) -> list[ConsumerRecord]:
        """Up to batch_size records: whatever arrives within the batch timeout of the first."""
        batch: list[ConsumerRecord] = []
        filled_by: float | None = None
        while len(batch) < self.settings.batch_size:
            wait = IDLE_POLL_SECONDS if filled_by is None else filled_by - time.monotonic()
            polled = self.consumer.poll(
                timeout_ms=max(int(wait * 1000), 0),
                max_records=self.settings.batch_size - len(batch),
            )
            for records in polled.values():
                batch.extend(records)
            if not batch:
                return batch
            if filled_by is None:
                filled_by = time.monotonic() + self.settings.batch_timeout_seconds
            if time.monotonic() >= filled_by or self.runtime.stopping.is_set():
                break
            self.runtime.health.beat()
        return batch

    def _handle(self, batch: Sequence[ConsumerRecord]) -> None:
        started = time.perf_counter()
        metrics.RECORDS_IN.inc(len(batch))
        articles: list[EnrichedArticle] = []
        sources: list[ConsumerRecord] = []
        letters: list[DeadLetter] = []
        for message in batch:
            article = self._decode(message, letters)
            if article is not None:
                articles.append(article)
                sources.append(message)

        outcome = WriteOutcome()
        if articles:
            outcome = self._retry_store(
                lambda: self._timed_write(articles), f"writing a batch of {len(articles)}"
            )
        stored_at = time.time()
        for index, why in outcome.rejected.items():
            metrics.STORE_ERRORS.labels("rejected").inc()
            letters.append(
                self._dead_letter(
                    DeadLetterReason.STORE_REJECTED, why, sources[index], articles[index].article_id
                )
            )
        self._send_dead_letters(letters)
        self._commit(batch)

        metrics.BATCH_SIZE.observe(len(batch))
        metrics.ARTICLES_WRITTEN.inc(outcome.written.articles)
        metrics.ROWS_WRITTEN.labels("articles").inc(outcome.written.articles)
        metrics.ROWS_WRITTEN.labels("entities").inc(outcome.written.entities)
        metrics.ROWS_WRITTEN.labels("stances").inc(outcome.written.stances)
        for index, article in enumerate(articles):
            if index not in outcome.rejected:
                # Clocks of two machines may disagree a little; a negative latency is noise.
                seen = article.origin.first_seen_at.timestamp()
                metrics.END_TO_END_SECONDS.observe(max(stored_at - seen, 0.0))
        elapsed = time.perf_counter() - started
        for _ in batch:
            metrics.PROCESSING_SECONDS.observe(elapsed / len(batch))
        log.info(
            "stored %d article(s) from %d record(s) in %.3fs",
            outcome.written.articles,
            len(batch),
            elapsed,
            extra={
                "topic": self.settings.enriched_topic,
                "partition": batch[-1].partition,
                "offset": batch[-1].offset,
                "article_id": articles[-1].article_id if articles else None,
            },
        )

    def _timed_write(self, articles: list[EnrichedArticle]) -> WriteOutcome:
        started = time.perf_counter()
        outcome = write_batch(self.store, articles)
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        return outcome

    # --- records that cannot be stored ----------------------------------------------------------

    def _decode(self, message: ConsumerRecord, letters: list[DeadLetter]) -> EnrichedArticle | None:
        try:
            return read(EnrichedArticle, message.value or b"")
        except UnreadableRecord as unreadable:
            letters.append(self._dead_letter(unreadable.reason, unreadable.message, message))
        return None

    def _dead_letter(
        self,
        reason: DeadLetterReason,
        why: str,
        message: ConsumerRecord,
        article_id: str | None = None,
    ) -> DeadLetter:
        log.warning(
            "dead letter (%s): %s",
            reason.value,
            why,
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "article_id": article_id,
            },
        )
        key = message.key.decode("utf-8", errors="replace") if message.key else None
        where = RecordInput(
            topic=message.topic, partition=message.partition, offset=message.offset, key=key
        )
        return dead_letter("sink", reason, why, where, message.value or b"", article_id=article_id)

    def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Acknowledged by Kafka before the offsets are committed, or retried."""
        if not letters:
            return

        def send() -> None:
            futures = [
                self.producer.send(
                    self.settings.deadletter_topic,
                    key=(letter.article_id or str(letter.input)).encode("utf-8"),
                    value=encode(letter),
                )
                for letter in letters
            ]
            self.producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=0)

        self._retry_kafka(send, "sending dead letters", "dead_letter")
        for letter in letters:
            metrics.DEAD_LETTERS.labels(letter.reason.value).inc()

    # --- offsets --------------------------------------------------------------------------------

    def _commit(self, batch: Sequence[ConsumerRecord]) -> None:
        next_offsets: dict[TopicPartition, int] = {}
        for message in batch:
            tp = TopicPartition(message.topic, message.partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), message.offset + 1)
        try:
            self.consumer.commit(
                {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in next_offsets.items()}
            )
        except KafkaError as error:
            # Stored already: the batch is delivered again and the upsert makes it harmless.
            metrics.KAFKA_ERRORS.labels("commit").inc()
            log.warning("offset commit failed, the batch will be delivered again: %r", error)

    # --- waiting for the store and Kafka ------------------------------------------------------

    def _retry_store(self, attempt, what: str):
        """Run `attempt` until the store takes it. Meanwhile: not ready, partitions paused,
        the group kept (polls return nothing), waits doubling up to retry_max_seconds."""
        for failures in itertools.count():
            try:
                result = attempt()
            except StoreUnavailable as error:
                metrics.STORE_ERRORS.labels("unavailable").inc()
                metrics.STORE_UP.set(0)
                self.runtime.health.set_not_ready(f"store unavailable: {error}")
                self._store_down = True
                backoff = Backoff(
                    self.settings.retry_initial_seconds, self.settings.retry_max_seconds
                )
                wait = backoff.seconds(failures + 1)
                log.error("%s failed: %s; retrying in %.1fs", what, error, wait)
                self._wait_paused(wait)
                continue
            if self._store_down:
                log.info("the store is back after %d failed attempt(s)", failures)
                self._store_down = False
                metrics.STORE_UP.set(1)
                self.runtime.health.set_ready()
                if getattr(self, "consumer", None) is not None:
                    self.consumer.resume(*self.consumer.paused())
            return result
        raise AssertionError("unreachable")

    def _wait_paused(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        consumer = getattr(self, "consumer", None)
        while True:
            self.runtime.health.beat()
            self.stall.progressed()  # waiting on purpose (store or Kafka away), not stalled
            self._check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if consumer is None:
                self.runtime.stopping.wait(min(left, 0.5))
                continue
            # Polling keeps the consumer in its group (max.poll.interval.ms) while paused.
            consumer.pause(*consumer.assignment())
            polled = consumer.poll(timeout_ms=int(min(left, 0.5) * 1000))
            for tp, records in polled.items():
                # A partition assigned by a rebalance since the pause: put it back.
                consumer.seek(tp, records[0].offset)
                consumer.pause(tp)

    def _restart_if_stalled(self) -> None:
        if self.runtime.lag is None:
            return
        stalled = self.stall.check(
            waiting_here(self.runtime.lag, self.consumer.assignment()),
            busy=False,
            rebalancing=False,
        )
        if stalled:
            restart_in_place(f"{self.settings.service_name} stalled: {stalled}")

    def _check_stop(self) -> None:
        if not self.runtime.stopping.is_set():
            return
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.settings.drain_timeout_seconds
            log.warning(
                "stop requested while waiting; giving it %.0fs", self.settings.drain_timeout_seconds
            )
        if time.monotonic() > self._stop_deadline:
            log.error("stopping without writing the batch in hand; it will be delivered again")
            raise Stopped

    def _ping(self) -> None:
        try:
            self.store.ping()
        except StoreUnavailable as error:
            self._retry_store(lambda: self.store.ping(), f"reaching the store ({error})")

    def _retry_kafka(self, attempt, what: str, operation: str):
        """Run `attempt` until Kafka takes it; meanwhile not ready, retrying with backoff."""
        failed = False

        def count(error: KafkaError) -> None:
            nonlocal failed
            failed = True
            metrics.KAFKA_ERRORS.labels(operation).inc()

        result = until_kafka_answers(
            attempt,
            health=self.runtime.health,
            what=what,
            bootstrap=self.settings.kafka.bootstrap_servers,
            wait=lambda seconds: self._wait_paused(seconds) or False,  # raises Stopped
            on_error=count,
        )
        if failed:
            self.runtime.health.set_ready()
        return result

    def _connect(self, make):
        return self._retry_kafka(make, "connecting", "connect")

    def _new_producer(self) -> KafkaProducer:
        return newsflow_kafka.producer(self.settings.kafka, bootstrap_timeout_ms=10_000)

    def _new_consumer(self) -> KafkaConsumer:
        consumer = newsflow_kafka.consumer(
            self.settings.kafka,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.batch_size,
            # A killed sink's partitions move to its successor after this, not after 45 s.
            session_timeout_ms=15_000,
            heartbeat_interval_ms=3_000,
            bootstrap_timeout_ms=10_000,
        )
        # The group's leader assigns partitions from its own metadata: a consumer that joins
        # before it has fetched the topic's partitions is assigned nothing, and only finds
        # out at its next metadata refresh (metadata_max_age_ms, 5 minutes). Fetch it first.
        consumer.partitions_for_topic(self.settings.enriched_topic)
        consumer.subscribe([self.settings.enriched_topic])
        return consumer


def main() -> None:
    settings = load(SinkSettings)
    with service_runtime(settings, input_topics=[settings.enriched_topic]) as runtime:
        Sink(settings, runtime).run()
