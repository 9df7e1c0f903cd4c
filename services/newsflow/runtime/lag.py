"""Consumer lag of a service's consumer group, per partition, as a Prometheus gauge.

Lag is what the group has not processed yet: a partition's end offset minus the group's
committed offset. It is read from the broker (the group's committed offsets and the
partitions' end offsets) by a background thread every few seconds, so it is true whatever
client library the service consumes with, and a scrape never waits on Kafka.

Every instance of a scaled-out worker reports the lag of the whole group: aggregate with
`max by (topic, partition)` before summing, never a plain sum over instances.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Iterable, Iterator

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    KafkaError,
    NotCoordinatorError,
)
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from newsflow.core.settings import KafkaSettings
from newsflow.runtime import kafka as newsflow_kafka

log = logging.getLogger(__name__)
# Errors of a group whose coordinator the broker is electing or moving: they pass.
COORDINATOR_MOVING = (
    CoordinatorNotAvailableError,
    NotCoordinatorError,
    CoordinatorLoadInProgressError,
)
# kafka-python warns at every description of a Faust group that it cannot decode the
# members' subscriptions (Faust's own user data); `member_partitions` reads what is needed.
logging.getLogger("kafka.admin._groups").setLevel(logging.ERROR)

LAG_METRIC = "newsflow_consumer_lag_records"
UPDATED_METRIC = "newsflow_consumer_lag_updated_timestamp_seconds"


def group_lag(
    admin: KafkaAdminClient, group: str, topics: Iterable[str] = ()
) -> dict[TopicPartition, int]:
    """Lag per partition of `topics` and of every topic the group has committed offsets on.

    A partition the group has never committed on lags by everything on it (the workers
    start from the earliest offset)."""
    committed = {
        tp: meta.offset
        for tp, meta in admin.list_group_offsets(group).get(group, {}).items()
        if meta is not None and meta.offset is not None and meta.offset >= 0
    }
    wanted = set(topics) | {tp.topic for tp in committed}
    if not wanted:
        return {}
    partitions = [
        TopicPartition(described["name"], partition["partition_index"])
        for described in admin.describe_topics(sorted(wanted))
        if not described.get("error_code")
        for partition in described["partitions"]
    ]
    if not partitions:
        return {}
    ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    starts = {}
    never_committed = [tp for tp in partitions if tp not in committed]
    if never_committed:
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in never_committed})
    lag = {}
    for tp in partitions:
        position = committed[tp] if tp in committed else starts[tp].offset
        lag[tp] = max(ends[tp].offset - position, 0)
    return lag


def unheld_partitions(
    admin: KafkaAdminClient, group: str, partitions: Iterable[TopicPartition]
) -> set[TopicPartition]:
    """Those of `partitions` that no member of the group holds while the group is stable.

    A group can settle with an input partition nobody consumes: a member that rejoined just
    after the broker restarted saw the topic missing from the metadata and was given an
    assignment without it, and nothing makes the group look again. Empty when the group is
    not stable (rebalancing, or no member at all: nobody to blame) or when a member's
    assignment cannot be read: only what is known to be unheld counts."""
    described = admin.describe_groups([group]).get(group) or {}
    if described.get("error") or described.get("group_state") != "Stable":
        return set()
    held: set[TopicPartition] = set()
    for member in described.get("members", ()):
        assigned = member_partitions(member.get("member_assignment"))
        if assigned is None:
            return set()
        held |= assigned
    return set(partitions) - held


def member_partitions(assignment: object) -> set[TopicPartition] | None:
    """The partitions of a member's assignment as the broker describes it: decoded by
    kafka-python, or the consumer protocol's bytes, which kafka-python leaves undecoded
    for Faust's members (version 4, with Faust's own user data). None if unreadable."""
    if isinstance(assignment, dict):
        return {
            TopicPartition(topic["topic"], partition)
            for topic in assignment.get("assigned_partitions", ())
            for partition in topic["partitions"]
        }
    if not isinstance(assignment, bytes):
        return None
    # version (int16), then [topic (int16 length, UTF-8), [partition (int32)]], user data.
    try:
        (topics,) = struct.unpack_from(">i", assignment, 2)
        offset, found = 6, set()
        for _ in range(topics):
            (length,) = struct.unpack_from(">h", assignment, offset)
            topic = assignment[offset + 2 : offset + 2 + length].decode("utf-8")
            offset += 2 + length
            (count,) = struct.unpack_from(">i", assignment, offset)
            numbers = struct.unpack_from(f">{count}i", assignment, offset + 4)
            offset += 4 + 4 * count
            found |= {TopicPartition(topic, number) for number in numbers}
    except (struct.error, UnicodeDecodeError, ValueError):
        return None
    return found


class LagMonitor(Collector):
    """Reads the group's lag every `interval_seconds` on a thread; exports the last reading.

    While the broker does not answer, the last reading stays exported and its age shows in
    `newsflow_consumer_lag_updated_timestamp_seconds`. With `watch_unheld`, each reading
    also notes the partitions of `topics` no member of the group holds (see
    `unheld_partitions`)."""

    def __init__(
        self,
        settings: KafkaSettings,
        group: str,
        topics: Iterable[str] = (),
        interval_seconds: float = 5.0,
        registry: CollectorRegistry | None = REGISTRY,
        watch_unheld: bool = False,
    ) -> None:
        self.settings = settings
        self.group = group
        self.topics = tuple(topics)
        self.interval = interval_seconds
        self._registry = registry
        self._lock = threading.Lock()
        self._lag: dict[TopicPartition, int] = {}
        self.watch_unheld = watch_unheld
        self._unheld: set[TopicPartition] = set()
        self._updated_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consumer-lag", daemon=True)
        self._admin: KafkaAdminClient | None = None
        self._failing = False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            lag, updated_at = dict(self._lag), self._updated_at
        family = GaugeMetricFamily(
            LAG_METRIC,
            "Records on the partition not yet committed by the service's consumer group.",
            labels=["group", "topic", "partition"],
        )
        for tp, records in sorted(lag.items()):
            family.add_metric([self.group, tp.topic, str(tp.partition)], records)
        yield family
        updated = GaugeMetricFamily(
            UPDATED_METRIC,
            "When the consumer lag was last read from the broker (Unix time).",
            labels=["group"],
        )
        if updated_at is not None:
            updated.add_metric([self.group], updated_at)
        yield updated

    def fresh_reading(
        self, max_age_seconds: float
    ) -> tuple[dict[TopicPartition, int], set[TopicPartition]] | None:
        """The last reading (lag by partition, partitions nobody holds) if it is at most
        `max_age_seconds` old, else None."""
        with self._lock:
            if self._updated_at is None or time.time() - self._updated_at > max_age_seconds:
                return None
            return dict(self._lag), set(self._unheld)

    def read_once(self) -> dict[TopicPartition, int]:
        if self._admin is None:
            self._admin = newsflow_kafka.admin(self.settings, request_timeout_ms=10_000)
        lag = group_lag(self._admin, self.group, self.topics)
        inputs = [tp for tp in lag if tp.topic in self.topics]
        unheld = unheld_partitions(self._admin, self.group, inputs) if self.watch_unheld else set()
        with self._lock:
            self._lag, self._unheld, self._updated_at = lag, unheld, time.time()
        return lag

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.read_once()
                if self._failing:
                    log.info("consumer lag of %s readable again", self.group)
                self._failing = False
            except (KafkaError, OSError, KeyError, ValueError) as error:
                # Once per outage, not every few seconds; the service itself says more. While
                # the broker elects the group's coordinator (at every start) this is expected.
                if not self._failing:
                    electing = isinstance(error, COORDINATOR_MOVING)
                    log.log(
                        logging.INFO if electing else logging.WARNING,
                        "cannot read the consumer lag of %s%s: %r",
                        self.group,
                        " yet (its coordinator is being elected)" if electing else "",
                        error,
                    )
                self._failing = True
                self._close_admin()
            self._stop.wait(self.interval)
        self._close_admin()

    def _close_admin(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # closing a broken client must not stop the thread
                log.debug("closing the lag admin client failed", exc_info=True)
            self._admin = None

    def __enter__(self) -> LagMonitor:
        if self._registry is not None:
            self._registry.register(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        if self._registry is not None:
            self._registry.unregister(self)
