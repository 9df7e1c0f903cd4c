"""`newsflow topics` applies the declared topics to a real broker, and running it again
changes nothing."""

import os
import subprocess
import sys

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from newsflow.core import topics
from newsflow.runtime import kafka as newsflow_kafka

pytestmark = pytest.mark.kafka


def newsflow(*args: str, bootstrap: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    command = [sys.executable, "-m", "newsflow.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_topics_command_creates_every_declared_topic_then_changes_nothing(
    kafka_bootstrap, kafka_admin
):
    first = newsflow("topics", bootstrap=kafka_bootstrap)
    assert first.returncode == 0, first.stderr
    described = {t["name"]: t for t in kafka_admin.describe_topics([t.name for t in topics.ALL])}
    for topic in topics.ALL:
        assert len(described[topic.name]["partitions"]) == topic.partitions
    retention = kafka_admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topics.ENRICHED.name)], config_filter="all"
    )["topic"][topics.ENRICHED.name]
    assert retention["cleanup.policy"]["value"] == "compact,delete"

    again = newsflow("topics", bootstrap=kafka_bootstrap)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "unchanged: " + ", ".join(t.name for t in topics.ALL)


def test_drifted_topics_are_repaired(kafka_admin, unique_name):
    declared = topics.Topic(
        unique_name("drift"), topics.RAW.record, "test topic", partitions=4, retention_ms=3_600_000
    )
    kafka_admin.create_topics(
        {declared.name: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True
    )
    try:
        report = newsflow_kafka.ensure_topics(kafka_admin, [declared])
        assert report.repartitioned == [declared.name]
        assert report.reconfigured == [declared.name]
        assert newsflow_kafka.ensure_topics(kafka_admin, [declared]).unchanged == [declared.name]
    finally:
        kafka_admin.delete_topics([declared.name])


def test_a_topic_another_instance_creates_at_the_same_moment_is_not_an_error(
    kafka_admin, unique_name
):
    raced = topics.Topic(unique_name("raced"), topics.RAW.record, "test topic", partitions=2)
    fresh = topics.Topic(unique_name("fresh"), topics.RAW.record, "test topic", partitions=2)
    kafka_admin.create_topics(
        {raced.name: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True
    )

    class SeenBeforeTheOtherCreatedIt:
        """The cluster as this instance saw it, just before another created `raced`."""

        def __getattr__(self, name):
            return getattr(kafka_admin, name)

        def describe_topics(self, *args, **kwargs):
            seen = kafka_admin.describe_topics(*args, **kwargs)
            return [t for t in seen if t["name"] != raced.name]

    try:
        report = newsflow_kafka.ensure_topics(SeenBeforeTheOtherCreatedIt(), [raced, fresh])
        assert report.created == [fresh.name]
        described = kafka_admin.describe_topics([fresh.name])
        assert len(described[0]["partitions"]) == fresh.partitions
    finally:
        kafka_admin.delete_topics([raced.name, fresh.name])


def test_topics_command_without_a_broker_says_so():
    result = newsflow("topics", "--wait", "2", bootstrap="127.0.0.1:1")
    assert result.returncode == 1
    assert "no Kafka broker answered at 127.0.0.1:1" in result.stderr
