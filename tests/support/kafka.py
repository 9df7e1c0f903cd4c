"""Kafka fixtures: one real broker for the session, and factories that give every test its
own topics and consumer group so tests never see each other's records.

Set KAFKA_BOOTSTRAP_SERVERS to run against a broker you started yourself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from newsflow.core.settings import KafkaSettings
from newsflow.core.topics import MAX_RECORD_BYTES
from tests.support.local import free_port, load_script


@pytest.fixture(scope="session")
def local_kafka_module():
    return load_script("deploy/kafka/localkafka.py")


@pytest.fixture(scope="session")
def kafka_bootstrap(local_kafka_module) -> Iterator[str]:
    """The bootstrap servers of a real broker: the one named by KAFKA_BOOTSTRAP_SERVERS, or
    a single-node KRaft broker started for this session on free ports."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    # Not under pytest's temporary folder: another pytest session on the machine prunes
    # old numbered folders, and Kafka shuts down when its log directory disappears.
    home = Path(tempfile.mkdtemp(prefix="newsflow-test-kafka-"))
    broker = local_kafka_module.LocalKafka(home=home, port=free_port(), controller_port=free_port())
    bootstrap = broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="newsflow-tests")


@pytest.fixture(scope="session")
def kafka_admin(kafka_settings: KafkaSettings) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(**kafka_settings.kafka_python())
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def unique_name(request) -> Callable[[str], str]:
    """Names no other test uses: `<what>-<test name>-<random>`."""
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]

    def make(what: str) -> str:
        return f"{what}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def new_topic(kafka_admin: KafkaAdminClient, unique_name) -> Iterator[Callable[..., str]]:
    """Create a fresh topic for this test (deleted afterwards) and return its name."""
    created: list[str] = []

    def make(what: str = "topic", partitions: int = 3) -> str:
        name = unique_name(what)
        kafka_admin.create_topics(
            {
                name: {
                    "num_partitions": partitions,
                    "replication_factor": 1,
                    "configs": {"max.message.bytes": str(MAX_RECORD_BYTES)},
                }
            },
            wait_for_metadata=True,
        )
        created.append(name)
        return name

    yield make
    if created:
        kafka_admin.delete_topics(created)


@pytest.fixture
def consumer_group(unique_name) -> str:
    return unique_name("group")
