"""Fixtures shared by the suite: one real Kafka broker for the session, and factories that
give every test its own topics and consumer group so tests never see each other's records.

Set KAFKA_BOOTSTRAP_SERVERS to run against a broker you started yourself.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from newsflow.settings import KafkaSettings
from newsflow.topics import MAX_RECORD_BYTES

REPO = Path(__file__).resolve().parents[1]


def _load_local_kafka():
    # deploy/kafka/localkafka.py is a stdlib-only script (it must run before any venv
    # exists), so it is loaded by path rather than installed as a package.
    spec = importlib.util.spec_from_file_location("localkafka", REPO / "deploy/kafka/localkafka.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def local_kafka_module():
    return _load_local_kafka()


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


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (see tests/postgres.py). Fails, never skips,
    when PostgreSQL is not installed."""
    from postgres import LocalPostgres, PostgresMissing

    try:
        server = LocalPostgres(port=free_port()).init().start()
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex}")
