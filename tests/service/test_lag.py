"""Consumer lag per partition, read from the broker: what the dashboards and alerts show as
records piling up in front of a stage."""

from __future__ import annotations

import logging
import struct

import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, generate_latest

from newsflow.runtime import kafka as newsflow_kafka
from newsflow.runtime.lag import LagMonitor, group_lag, member_partitions, unheld_partitions
from newsflow.runtime.service import LAST_ERROR, track_errors
from tests.support.helpers import wait_for

pytestmark = pytest.mark.kafka


def produce(settings, topic: str, partition: int, count: int) -> None:
    producer = newsflow_kafka.producer(settings)
    for number in range(count):
        producer.send(topic, key=b"k", value=b"%d" % number, partition=partition)
    producer.flush()
    producer.close()


def commit(settings, group: str, topic: str, partition: int, offset: int) -> None:
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(**settings.kafka_python(), group_id=group, enable_auto_commit=False)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    consumer.close()


def test_lag_is_end_minus_committed_per_partition(kafka_settings, kafka_admin, new_topic):
    topic = new_topic("lagged", partitions=2)
    group = f"group-{topic}"
    produce(kafka_settings, topic, 0, 10)
    produce(kafka_settings, topic, 1, 4)
    commit(kafka_settings, group, topic, 0, 7)

    lag = group_lag(kafka_admin, group, [topic])

    # Partition 1 was never committed on: all of it is waiting.
    assert lag == {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 4}


def test_a_group_without_topics_named_finds_them_from_its_commits(
    kafka_settings, kafka_admin, new_topic
):
    topic = new_topic("found", partitions=1)
    group = f"group-{topic}"
    assert group_lag(kafka_admin, group) == {}
    produce(kafka_settings, topic, 0, 5)
    commit(kafka_settings, group, topic, 0, 5)
    assert group_lag(kafka_admin, group) == {TopicPartition(topic, 0): 0}


def test_the_monitor_exports_the_lag_as_a_gauge(kafka_settings, new_topic):
    topic = new_topic("exported", partitions=1)
    group = f"group-{topic}"
    produce(kafka_settings, topic, 0, 6)
    registry = CollectorRegistry()
    with LagMonitor(kafka_settings, group, [topic], interval_seconds=0.2, registry=registry):
        sample = (
            f'newsflow_consumer_lag_records{{group="{group}",partition="0",topic="{topic}"}} 6.0'
        )
        wait_for(lambda: sample in generate_latest(registry).decode(), 30, "the lag on /metrics")
        exported = generate_latest(registry).decode()
        assert "newsflow_consumer_lag_updated_timestamp_seconds" in exported


def test_the_last_logged_error_is_kept_with_its_time():
    track_errors()
    try:
        logging.getLogger("newsflow.tests").error("the store refused %d rows", 3)
    finally:
        logging.getLogger().removeHandler(LAST_ERROR)
    last = LAST_ERROR.last()
    assert last["message"] == "the store refused 3 rows"
    assert last["logger"] == "newsflow.tests"
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value(
        "newsflow_last_error_timestamp_seconds", {"logger": "newsflow.tests"}
    ) == pytest.approx(last["at"])


def test_partitions_no_member_of_a_stable_group_holds_are_named(
    kafka_settings, kafka_admin, new_topic
):
    held, orphaned = new_topic("held", partitions=2), new_topic("orphaned", partitions=1)
    group = f"group-{held}"
    consumer = KafkaConsumer(held, **kafka_settings.kafka_python(), group_id=group)
    try:
        wait_for(lambda: consumer.poll(200) is not None and consumer.assignment(), 30,
                 "the group's assignment")  # fmt: skip
        partitions = [TopicPartition(held, 0), TopicPartition(held, 1),
                      TopicPartition(orphaned, 0)]  # fmt: skip
        wait_for(lambda: unheld_partitions(kafka_admin, group, partitions), 30, "a stable group")
        assert unheld_partitions(kafka_admin, group, partitions) == {TopicPartition(orphaned, 0)}
    finally:
        consumer.close()
    # With no member left the group is empty, not stable: nobody to blame.
    assert unheld_partitions(kafka_admin, group, partitions) == set()


def test_an_assignment_kafka_python_left_as_bytes_is_read():
    # A Faust member's assignment as the broker describes it: version 4, two topics (one
    # with no partition), Faust's own user data after them.
    assignment = (
        struct.pack(">hi", 4, 2)
        + struct.pack(">h", 16) + b"articles.deduped" + struct.pack(">i3i", 3, 0, 1, 2)
        + struct.pack(">h", 6) + b"leader" + struct.pack(">i", 0)
        + struct.pack(">i", 5) + b"faust"
    )  # fmt: skip
    expected = {TopicPartition("articles.deduped", n) for n in (0, 1, 2)}
    assert member_partitions(assignment) == expected
    assert member_partitions(assignment[:9]) is None  # cut short: not read, not guessed
    decoded = {"assigned_partitions": [{"topic": "t", "partitions": [4]}]}
    assert member_partitions(decoded) == {TopicPartition("t", 4)}
