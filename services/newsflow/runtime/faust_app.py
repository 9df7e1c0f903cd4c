"""Faust, configured the newsflow way, and every place newsflow reaches into Faust beyond its
documented API, each with why. Checked with faust-streaming 0.15 (the pinned range)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import faust
from faust.tables.recovery import Recovery

from newsflow.core.records import Record
from newsflow.core.settings import KafkaSettings
from newsflow.core.stage import Source
from newsflow.core.topics import MAX_RECORD_BYTES, Topic
from newsflow.runtime import kafka as newsflow_kafka
from newsflow.runtime.retry import until_kafka_answers
from newsflow.runtime.service import Health

if TYPE_CHECKING:
    from newsflow.runtime.worker import WorkerSettings


def faust_app(name: str, settings: WorkerSettings, **options: Any) -> faust.App:
    """A Faust app configured the newsflow way: raw bytes on the wire (records are decoded
    by the stage, so a malformed one becomes a dead letter, not a crash), RocksDB tables in
    the state folder, acks from every in-sync replica, our own status server instead of
    Faust's web server."""
    seek_before_resuming()
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


def source_of(event: faust.EventT[Any]) -> Source:
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


def ensure_internal_topics(app: faust.App, settings: WorkerSettings, health: Health) -> None:
    """Create the app's internal topics before Faust starts: when Faust creates them itself,
    the first rebalance can run before the new topics are in the metadata, and the worker
    then waits forever. A worker (re)started while the broker is away waits for it (live,
    not ready), as the other services do, rather than exiting."""

    def create() -> None:
        admin = newsflow_kafka.admin(settings.kafka, bootstrap_timeout_ms=10_000)
        try:
            newsflow_kafka.ensure_topics(admin, internal_topics(app))
        finally:
            admin.close()

    def sleep(seconds: float) -> bool:
        time.sleep(seconds)
        return False  # Faust is not started yet: SIGTERM ends the process as it is

    until_kafka_answers(
        create,
        health=health,
        what="creating the internal topics",
        bootstrap=settings.kafka.bootstrap_servers,
        wait=sleep,
    )


def set_current_event(stream: faust.Stream[Any], event: faust.EventT[Any] | None) -> None:
    """Make `event` the stream's current event. A table write sends its changelog record to
    the partition of the current event; a batch has none of its own, so the runner sets
    each event while it finishes it. Faust has no public setter (`Stream._set_current_event`)."""
    stream._set_current_event(event)


def on_changelog_batch(
    table: faust.Table[Any, Any], follow: Callable[[list[faust.EventT[Any]]], None]
) -> None:
    """Have `follow` see every changelog batch the table applies to its store, after it is
    applied (recovery and standby updates alike; one by one for a global table). Faust has
    no hook for this, so the table's `apply_changelog_batch` is wrapped."""
    apply = table.apply_changelog_batch

    def apply_and_follow(batch: Iterable[faust.EventT[Any]]) -> None:
        events = list(batch)
        apply(events)
        follow(events)

    table.apply_changelog_batch = apply_and_follow  # type: ignore[method-assign]


def seek_before_resuming() -> None:
    """Make table recovery seek the input partitions to their committed offsets before it
    resumes fetching them, not after.

    Faust's `Recovery.on_recovery_completed` resumes the input partitions, then seeks them.
    With standby tables the flow of records is already on by then, so the fetcher reads the
    partitions while the seek is under way; the consumer's bookkeeping of read offsets then
    loses records: one was committed and never processed when a dedup instance took over
    the partitions of one that died. Holding the resume until the seek is done closes that
    window. Installed once per process, on the class."""
    completed = Recovery.on_recovery_completed
    if getattr(completed, "seeks_first", False):
        return

    async def on_recovery_completed(self: Recovery, generation_id: int = 0) -> None:
        consumer = self.app.consumer
        held: set[Any] = set()
        resume, seek = consumer.resume_partitions, consumer.perform_seek

        async def seek_then_resume() -> None:
            await seek()
            resume(held)
            held.clear()

        consumer.resume_partitions = held.update  # type: ignore[method-assign,assignment]
        consumer.perform_seek = seek_then_resume  # type: ignore[method-assign]
        try:
            await completed(self, generation_id)
        finally:
            del consumer.resume_partitions, consumer.perform_seek
            if held:  # nothing to seek (no assignment): resume as Faust would have
                resume(held)

    on_recovery_completed.seeks_first = True  # type: ignore[attr-defined]
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
