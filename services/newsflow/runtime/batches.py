"""Running a stage over batches of Kafka records in a Faust worker: decode, prepare on a
thread, finish, send, and dead-letter what fails after a bounded number of attempts; the
partition is never blocked. A batch's table writes, then its outputs, are acknowledged by
Kafka before its inputs are (at-least-once; a replayed record finds the state it left)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, cast

import faust
from prometheus_client import Counter, Histogram

from newsflow.core.records import (
    UNREADABLE_RECORD,
    DeadLetterReason,
    Record,
    RecordInput,
    UnreadableRecord,
    dead_letter,
)
from newsflow.core.records import encode as encode_record
from newsflow.core.records import read as read_record
from newsflow.core.stage import In, Output, Prepared, Source, Stage
from newsflow.runtime.faust_app import set_current_event, source_of
from newsflow.runtime.retry import Backoff
from newsflow.runtime.service import start_at_zero
from newsflow.runtime.stall import StallWatch

if TYPE_CHECKING:
    from newsflow.runtime.worker import WorkerSettings

log = logging.getLogger(__name__)


class StageMetrics:
    """The metrics every worker exports, named `newsflow_<stage>_…`."""

    def __init__(self, stage: str) -> None:
        self.records_in = Counter(f"newsflow_{stage}_records_in_total", "Records consumed.")
        self.records_out = Counter(
            f"newsflow_{stage}_records_out_total", "Records produced, by topic.", ["topic"]
        )
        self.dead_letters = Counter(
            f"newsflow_{stage}_dead_letters_total", "Inputs dead-lettered, by reason.", ["reason"]
        )
        start_at_zero(self.dead_letters, [*UNREADABLE_RECORD, DeadLetterReason.PROCESSING_FAILED])
        self.errors = Counter(
            f"newsflow_{stage}_errors_total", "Failed attempts at processing a record."
        )
        self.batch_seconds = Histogram(
            f"newsflow_{stage}_batch_seconds",
            "Time to process one batch, from its records in to their outputs acknowledged.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.record_seconds = Histogram(
            f"newsflow_{stage}_processing_seconds",
            "Processing time per record (its batch's time divided among its records).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )


class _Progress:
    """Whether the process's stage is in a batch now, and its stall watch (one stage per
    process, so one of these, like Prometheus's registry)."""

    def __init__(self) -> None:
        self.busy = False
        self.watch = StallWatch(stall_seconds=120.0)


PROGRESS = _Progress()


class BatchRunner(Generic[In, Prepared]):
    """Runs a stage over batches of events: decode, prepare on a thread, finish, send,
    dead-letter what fails, then let Faust acknowledge the inputs."""

    def __init__(
        self,
        app: faust.App,
        stage: Stage[In, Prepared],
        settings: WorkerSettings,
        metrics: StageMetrics,
    ) -> None:
        self.app = app
        self.stage = stage
        self.settings = settings
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"{stage.name}-prepare")
        self._topics: dict[str, faust.TopicT] = {}

    def topic(self, name: str) -> faust.TopicT:
        if name not in self._topics:
            self._topics[name] = self.app.topic(
                name, key_type=bytes, value_type=bytes, allow_empty=True
            )
        return self._topics[name]

    async def run(self, stream: faust.Stream[Any]) -> None:
        async for events in stream.take_events(
            self.settings.batch_size, within=self.settings.batch_seconds
        ):
            PROGRESS.busy = True
            try:
                await self.process(events, stream)
            finally:
                PROGRESS.busy = False
                PROGRESS.watch.progressed()

    async def process(self, events: Sequence[faust.EventT[Any]], stream: faust.Stream[Any]) -> None:
        started = time.perf_counter()
        self.metrics.records_in.inc(len(events))
        decoded: list[tuple[In, Source, faust.EventT[Any]]] = []
        outputs: list[Output] = []
        for event in events:
            source = source_of(event)
            record = self._decode(event.value, source, outputs)
            if record is not None:
                decoded.append((record, source, event))

        records = [record for record, _, _ in decoded]
        prepared = await self._prepare_all(records, [s for _, s, _ in decoded], outputs)
        # A batch has no "current event", but a table write needs one: it writes its
        # changelog to the partition of the event being processed. The stream's own current
        # event is put back afterwards (nothing awaits in between): take_events' buffering
        # reads it for the next event, which may already be waiting, and crashes on None.
        in_hand = stream.current_event
        for (record, source, event), result in zip(decoded, prepared, strict=True):
            if result is _FAILED:
                continue
            set_current_event(stream, event)
            outputs.extend(self._finish(record, result, source))
        set_current_event(stream, in_hand)

        # What the batch wrote to tables is on the broker before its outputs are: Faust sends
        # changelog records in the background and waits for them only when it commits, so an
        # instance killed in between could leave outputs downstream whose state is lost (its
        # replacement, or another instance, would not know the articles it passed on). Now
        # the records come again and find their own state (dedup: the first verdict again).
        # Only a worker with tables has anything to wait for.
        if self.app.tables:
            await self.app.producer.flush()
        await self._send(outputs)
        elapsed = time.perf_counter() - started
        self.metrics.batch_seconds.observe(elapsed)
        for _ in events:
            self.metrics.record_seconds.observe(elapsed / len(events))

    def _decode(self, value: bytes | None, source: Source, outputs: list[Output]) -> In | None:
        try:
            return cast(In, read_record(self.stage.input_record, value or b""))
        except UnreadableRecord as unreadable:
            outputs.append(
                self._dead_letter(unreadable.reason, unreadable.message, source, value, 1)
            )
        return None

    async def _prepare_all(
        self, records: list[In], sources: list[Source], outputs: list[Output]
    ) -> list[Any]:
        if not records:
            return []
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, self.stage.prepare, records)
        except Exception:
            log.exception("batch of %d failed; retrying its records one by one", len(records))
        # One bad record must not take its batch with it: each one on its own, a few times.
        results: list[Any] = []
        for record, source in zip(records, sources, strict=True):
            for attempt in range(1, self.settings.max_attempts + 1):
                try:
                    [result] = await loop.run_in_executor(
                        self.executor, self.stage.prepare, [record]
                    )
                    results.append(result)
                    break
                except Exception as error:
                    self.metrics.errors.inc()
                    if attempt == self.settings.max_attempts:
                        outputs.append(self._failed(error, source, record, attempt))
                        results.append(_FAILED)
        return results

    def _finish(self, record: In, prepared: Any, source: Source) -> list[Output]:
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                return self.stage.finish(record, prepared, source)
            except Exception as error:
                self.metrics.errors.inc()
                if attempt == self.settings.max_attempts:
                    return [self._failed(error, source, record, attempt)]
        return []

    def _failed(self, error: Exception, source: Source, record: Record, attempts: int) -> Output:
        log.error(
            "giving up on a record after %d attempts: %r",
            attempts,
            error,
            extra={
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
                "article_id": getattr(record, "article_id", None),
            },
        )
        return self._dead_letter(
            DeadLetterReason.PROCESSING_FAILED,
            f"{type(error).__name__}: {error}",
            source,
            encode_record(record),
            attempts,
            article_id=getattr(record, "article_id", None),
        )

    def _dead_letter(
        self,
        reason: DeadLetterReason,
        message: str,
        source: Source,
        payload: bytes | None,
        attempts: int,
        article_id: str | None = None,
    ) -> Output:
        self.metrics.dead_letters.labels(reason.value).inc()
        log.warning(
            "dead letter (%s): %s",
            reason.value,
            message,
            extra={"topic": source.topic, "partition": source.partition, "offset": source.offset},
        )
        where = RecordInput(
            topic=source.topic, partition=source.partition, offset=source.offset, key=source.key
        )
        letter = dead_letter(
            self.stage.name,
            reason,
            message,
            where,
            payload or b"",
            attempts=attempts,
            article_id=article_id,
        )
        return Output(self.settings.deadletter_topic, article_id or str(source), letter)

    async def _send(self, outputs: list[Output]) -> None:
        """Send every output and wait until Kafka acknowledged them all. Faust acknowledges
        the inputs once this returns, so it returns only when the outputs are safe: while
        Kafka refuses them it retries, holding the partition (backpressure, not loss)."""
        waiting = list(outputs)
        for attempt in itertools.count(1):
            futures = [
                await self.topic(output.topic).send(
                    key=output.key.encode("utf-8"), value=encode_record(output.value)
                )
                for output in waiting
            ]
            answers = await asyncio.gather(*futures, return_exceptions=True)
            failed = [o for o, a in zip(waiting, answers, strict=True) if isinstance(a, Exception)]
            for output in waiting:
                if output not in failed:
                    self.metrics.records_out.labels(output.topic).inc()
            if not failed:
                return
            error = next(a for a in answers if isinstance(a, Exception))
            pause = Backoff().seconds(attempt)
            log.error(
                "Kafka refused %d output(s): %r; retrying in %.0fs", len(failed), error, pause
            )
            self.metrics.errors.inc(len(failed))
            waiting = failed
            await asyncio.sleep(pause)


_FAILED = object()
