"""The Faust side of the service runtime, shared by the dedup, entities and stance workers.

A worker is a `Stage`: `prepare` does the CPU work for a batch of records on a thread (so
the event loop keeps heartbeating and a large article never causes a rebalance), `finish`
turns each record and its prepared result into output records on the event loop (where the
Faust tables may be touched safely). Everything a stage cannot process goes to the
dead-letter topic after a bounded number of attempts; the partition is never blocked.
A batch's table writes, then its outputs, are acknowledged by Kafka before its inputs are
acknowledged (at-least-once; a replayed record finds the state it left).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import faust
from kafka.errors import KafkaError
from prometheus_client import Counter, Histogram
from pydantic import Field, ValidationError

from newsflow import __version__, logs
from newsflow import kafka as newsflow_kafka
from newsflow.lag import LagMonitor
from newsflow.records import (
    UNREADABLE_RECORD,
    DeadLetter,
    DeadLetterReason,
    Record,
    RecordInput,
    TraceEntry,
    excerpt,
    first_problem,
)
from newsflow.records import (
    Stage as StageName,
)
from newsflow.records import decode as decode_record
from newsflow.records import encode as encode_record
from newsflow.runtime import Health, StatusServer, start_at_zero, track_errors
from newsflow.settings import KafkaSettings, ServiceSettings
from newsflow.stall import StallWatch
from newsflow.topics import DEADLETTER, MAX_RECORD_BYTES, Topic

log = logging.getLogger(__name__)

In = TypeVar("In", bound=Record)
Prepared = TypeVar("Prepared")
Out = TypeVar("Out", bound=Record)


class WorkerSettings(ServiceSettings):
    """What every Faust worker has on top of the common service settings."""

    state_dir: Path = Field(description="Where the worker keeps its tables (RocksDB).")
    batch_size: int = Field(default=64, gt=0, description="Records processed together at most.")
    # Short: under load a batch is full at once, so the wait only matters when records are
    # few, and then every second of it is latency (docs/benchmarks.md).
    batch_seconds: float = Field(
        default=0.03, gt=0, description="How long a batch waits to fill before it is processed."
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Attempts at a record before it is dead-lettered."
    )
    deadletter_topic: str = DEADLETTER.name
    stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Restart in place when records wait on the worker's partitions (or on "
        "partitions no instance holds) and none has been processed for this long.",
    )
    group_id: str | None = Field(
        default=None,
        description="Consumer group and prefix of the worker's internal topics "
        "(default newsflow-<service>); two pipelines on one cluster need different ones.",
    )


@dataclass(frozen=True)
class Output:
    topic: str
    key: str
    value: Record


@dataclass(frozen=True)
class Source:
    """Where an input record came from: enough to find it again, and for logs."""

    topic: str
    partition: int
    offset: int
    key: str | None

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Stage(Generic[In, Prepared]):
    """What a worker implements. `prepare` must be pure (it runs on a thread, in batches);
    `finish` runs on the event loop, one record at a time, and returns the outputs."""

    name: ClassVar[StageName]
    input_record: ClassVar[type[Record]]
    model_version: str | None = None

    def prepare(self, records: Sequence[In]) -> list[Prepared]:
        raise NotImplementedError

    def finish(self, record: In, prepared: Prepared, source: Source) -> list[Output]:
        raise NotImplementedError

    def passed_on(self, record: In, next_record: type[Out], **section: Any) -> Out:
        """`record` as the next topic's record: its fields, this stage's entry appended to
        its trace, and the section this stage adds (e.g. `stance=...`)."""
        entry = TraceEntry(
            stage=self.name,
            service_version=__version__,
            model_version=self.model_version,
            processed_at=datetime.now(UTC),
        )
        return next_record(
            **record.model_dump(exclude={"trace"}), trace=[*record.trace, entry], **section
        )


def faust_app(name: str, settings: WorkerSettings, **options: Any) -> faust.App:
    """A Faust app configured the newsflow way: raw bytes on the wire (records are decoded
    by the stage, so a malformed one becomes a dead letter, not a crash), RocksDB tables in
    the state folder, acks from every in-sync replica, our own status server instead of
    Faust's web server."""
    kafka = settings.kafka
    return faust.App(
        settings.group_id or f"newsflow-{name}",
        broker=[f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(kafka),
        broker_client_id=f"{kafka.client_id}-{name}",
        store="rocksdb://",
        datadir=str(settings.state_dir),
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=MAX_RECORD_BYTES,
        # aiokafka's max_partition_fetch_bytes: what a fetch asks for per partition, the largest
        # record a topic accepts. A broker honours it, but unlike kafka-python, aiokafka bounds
        # no frame it reads nor a SCRAM login's iterations: the workers need trusted brokers.
        consumer_max_fetch_size=MAX_RECORD_BYTES,
        producer_compression_type=None,
        # A killed worker's partitions move to the others after this, not Faust's 60 s.
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        **options,
    )


def broker_credentials(kafka: KafkaSettings) -> Any:
    """Faust's `broker_credentials` for these settings: SASL and/or TLS, or None for PLAINTEXT."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        # What kafka-python does with the same settings: verify the broker's certificate and
        # host name against the CA file (the system's CAs without one), and present a client
        # certificate when one is configured.
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None,
        )
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
            )
    if kafka.sasl_mechanism:
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    return faust.SSLCredentials(context)


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

    async def run(self, stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            self.settings.batch_size, within=self.settings.batch_seconds
        ):
            PROGRESS.busy = True
            try:
                await self.process(events, stream)
            finally:
                PROGRESS.busy = False
                PROGRESS.watch.progressed()

    async def process(self, events: Sequence[faust.EventT], stream: faust.StreamT) -> None:
        started = time.perf_counter()
        self.metrics.records_in.inc(len(events))
        decoded: list[tuple[In, Source, faust.EventT]] = []
        outputs: list[Output] = []
        for event in events:
            source = _source_of(event)
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
            stream._set_current_event(event)
            outputs.extend(self._finish(record, result, source))
        stream._set_current_event(in_hand)

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
            return decode_record(self.stage.input_record, value or b"")
        except ValidationError as error:
            malformed = any(e["type"] in ("json_invalid", "json_type") for e in error.errors())
            reason = (
                DeadLetterReason.MALFORMED_RECORD if malformed else DeadLetterReason.INVALID_RECORD
            )
            outputs.append(self._dead_letter(reason, first_problem(error), source, value, 1))
        except UnicodeDecodeError as error:
            outputs.append(
                self._dead_letter(DeadLetterReason.MALFORMED_RECORD, str(error), source, value, 1)
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
        payload = payload or b""
        text, truncated = excerpt(payload)
        self.metrics.dead_letters.labels(reason.value).inc()
        log.warning(
            "dead letter (%s): %s",
            reason.value,
            message,
            extra={"topic": source.topic, "partition": source.partition, "offset": source.offset},
        )
        letter = DeadLetter(
            stage=self.stage.name,
            reason=reason,
            message=message,
            input=RecordInput(
                topic=source.topic,
                partition=source.partition,
                offset=source.offset,
                key=source.key,
            ),
            article_id=article_id,
            payload_excerpt=text,
            payload_size_bytes=len(payload),
            payload_truncated=truncated,
            attempts=attempts,
            service_version=__version__,
            failed_at=datetime.now(UTC),
        )
        return Output(self.settings.deadletter_topic, article_id or str(source), letter)

    async def _send(self, outputs: list[Output]) -> None:
        """Send every output and wait until Kafka acknowledged them all. Faust acknowledges
        the inputs once this returns, so it returns only when the outputs are safe: while
        Kafka refuses them it retries, holding the partition (backpressure, not loss)."""
        waiting = list(outputs)
        for attempt in itertools.count():
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
            pause = min(2**attempt, 30)
            log.error("Kafka refused %d output(s): %r; retrying in %ds", len(failed), error, pause)
            self.metrics.errors.inc(len(failed))
            waiting = failed
            await asyncio.sleep(pause)


_FAILED = object()


def _source_of(event: faust.EventT) -> Source:
    message = event.message
    key = message.key.decode("utf-8", errors="replace") if message.key else None
    return Source(message.topic, message.partition, message.offset, key)


def internal_topics(app: faust.App) -> list[Topic]:
    """The topics Faust needs for an app: a compacted changelog per table, partitioned like
    the input, and the leader-election topic."""
    name = app.conf.id
    declared = [
        Topic(
            table.changelog_topic.get_topic_name(),
            Record,
            f"changelog of the {table.name} table of {name}",
            partitions=app.conf.topic_partitions,
            cleanup_policy="compact",
        )
        for table in app.tables.values()
    ]
    leader = Topic(f"{name}-__assignor-__leader", Record, f"leader election of {name}", 1)
    return [*declared, leader]


def _ensure_internal_topics(app: faust.App, settings: WorkerSettings, health: Health) -> None:
    """Create the app's internal topics before Faust starts: when Faust creates them itself,
    the first rebalance can run before the new topics are in the metadata, and the worker
    then waits forever. A worker (re)started while the broker is away waits for it (live,
    not ready), as the other services do, rather than exiting."""
    pause = 1.0
    while True:
        health.beat()
        try:
            admin = newsflow_kafka.admin(settings.kafka, bootstrap_timeout_ms=10_000)
            try:
                newsflow_kafka.ensure_topics(admin, internal_topics(app))
                return
            finally:
                admin.close()
        except KafkaError as error:
            why = f"Kafka unreachable at {settings.kafka.bootstrap_servers}: {error}"
            health.set_not_ready(why)
            log.warning("%s; retrying in %.0fs", why, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def _waiting_here(app: faust.App, lag: LagMonitor) -> int | None:
    """Records not yet committed on the input partitions assigned to this instance or to no
    instance of the group (a rejoin, which a restart makes, gives those out again); None
    when the lag is not known lately (the broker away: not this worker's stall)."""
    reading = lag.fresh_reading(max_age_seconds=lag.interval * 3 + 5)
    if reading is None:
        return None
    waiting, unheld = reading
    try:
        assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
    except Exception:  # no consumer yet (starting): nothing known
        return None
    return sum(
        n for tp, n in waiting.items() if (tp.topic, tp.partition) in assigned or tp in unheld
    )


def _restart_in_place(why: str) -> None:
    """Replace the process with a fresh start of the same command (same pid, so whatever
    supervises it sees nothing). Files and sockets close on exec (Python and RocksDB open
    them close-on-exec), so the new process can take the state folder and the port; what
    was processed but not committed is delivered again."""
    log.error("%s; restarting in place", why)
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _restart_when_silent(health: Health, seconds: float, service: str) -> None:
    """From a thread of its own: restart in place when the event loop has not run the
    health timer for `seconds`. After the broker went away, Faust can also hang while it
    starts (rejoining its group, recovering tables), before any timer runs, where the stall
    watch (a timer itself) cannot see it; an orchestrator's liveness probe would restart
    it, a plain process supervisor would not."""
    while True:
        time.sleep(min(5.0, seconds / 4))
        silent = health.silent_seconds()
        if silent > seconds:
            _restart_in_place(
                f"{service}: its event loop has not run its timers for {silent:.0f}s "
                "(stuck starting, or blocked)"
            )


def run_worker(app: faust.App, settings: WorkerSettings) -> None:
    """Run a Faust app as a newsflow service until SIGTERM: JSON logs, the status server,
    liveness from a timer on the event loop, readiness while not rebalancing, and the
    consumer group's lag per partition of the agents' input topics."""
    logs.configure(settings.service_name, settings.log_level)
    track_errors()
    health = Health()

    PROGRESS.watch = StallWatch(settings.stall_seconds)
    threading.Thread(
        target=_restart_when_silent,
        args=(health, settings.stall_seconds, settings.service_name),
        name="silence-watch",
        daemon=True,
    ).start()
    inputs = sorted(
        {name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())}
    )
    lag = LagMonitor(settings.kafka, app.conf.id, inputs, watch_unheld=True)

    @app.timer(1.0)
    async def report_health() -> None:
        health.beat()
        if app.rebalancing:
            health.set_not_ready("rebalancing")
        else:
            health.set_ready()
        # Rebalancing or restoring tables from their changelogs: waiting is expected.
        settling = app.rebalancing or getattr(app, "in_recovery", False)
        stalled = PROGRESS.watch.check(
            _waiting_here(app, lag), busy=PROGRESS.busy, rebalancing=settling
        )
        if stalled:
            _restart_in_place(f"{settings.service_name} stalled: {stalled}")

    with StatusServer(settings.metrics_host, settings.metrics_port, health), lag:
        log.info(
            "%s %s serving /metrics, /healthz, /readyz on %s:%d",
            settings.service_name,
            __version__,
            settings.metrics_host,
            settings.metrics_port,
        )
        _ensure_internal_topics(app, settings, health)
        worker = faust.Worker(
            app,
            loglevel=settings.log_level,
            override_logging=False,  # ours: JSON lines, configured above
            redirect_stdouts=False,
            quiet=True,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as done:
            log.info("%s stopped (exit code %s)", settings.service_name, done.code)
            sys.exit(done.code)
