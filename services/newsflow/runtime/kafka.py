"""Kafka helpers shared by the kafka-python services: clients configured the one right way,
and applying the declared topics to a cluster idempotently."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaConnectionError, KafkaError, SaslAuthenticationFailedError

from newsflow.core.settings import KafkaSettings
from newsflow.core.topics import ALL, MAX_RECORD_BYTES, Topic

log = logging.getLogger(__name__)

Client = TypeVar("Client")


class KafkaAuthenticationError(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """The brokers refused the client's login (wrong SASL user, password or mechanism)."""

    retriable = False


class _RefusedLogins(logging.Handler):
    """Notes a refused login that kafka-python reports only in its log.

    kafka-python retries a refused SASL login like a lost connection until its bootstrap
    times out, then raises "Unable to bootstrap": true, but it sends the operator looking
    for a network problem. The refusal is logged (at ERROR) with the error as an argument;
    this keeps it so the timeout can be reported as what it is.

    Kafka sends its refusal and closes the connection at the same moment, and kafka-python
    drops data that arrives together with the end of the stream: then the refusal is lost
    and only "Connection lost" is logged, for a connection that had already spoken Kafka
    with the broker (its API versions are known). With SASL on, the only step left then
    is the login; that is noted too, as the Java client does ("terminated during
    authentication").
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.refusal: SaslAuthenticationFailedError | None = None
        self.closed_during_login = False

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, SaslAuthenticationFailedError):
                self.refusal = arg
        if (
            len(args) == 2
            and isinstance(args[1], KafkaConnectionError)
            and getattr(args[0], "broker_version_data", None) is not None
            and not getattr(args[0], "connected", True)
        ):
            self.closed_during_login = True


@contextlib.contextmanager
def _refused_logins() -> Iterator[_RefusedLogins]:
    handler = _RefusedLogins()
    kafka_log = logging.getLogger("kafka")
    kafka_log.addHandler(handler)
    try:
        yield handler
    finally:
        kafka_log.removeHandler(handler)


def connect(make: Callable[..., Client], settings: KafkaSettings, config: dict[str, Any]) -> Client:
    """`make(**config)` (a kafka-python client, which bootstraps as it is made), raising
    KafkaAuthenticationError rather than a timeout when the brokers refused the login."""
    with _refused_logins() as watch:
        try:
            return make(**config)
        except KafkaError as error:
            login = f"the login of {settings.sasl_username!r} with {settings.sasl_mechanism}"
            check = (
                "check NEWSFLOW_KAFKA_SASL_USERNAME, NEWSFLOW_KAFKA_SASL_PASSWORD and "
                "NEWSFLOW_KAFKA_SASL_MECHANISM"
            )
            if watch.refusal is not None:
                raise KafkaAuthenticationError(
                    f"the brokers at {settings.bootstrap_servers} refused {login} "
                    f"({_first_line(watch.refusal)}); {check}"
                ) from error
            if watch.closed_during_login and settings.sasl_mechanism:
                raise KafkaAuthenticationError(
                    f"the brokers at {settings.bootstrap_servers} closed the connection during "
                    f"{login}, as Kafka does when it refuses a login; {check}"
                ) from error
            raise


def _first_line(error: Exception) -> str:
    # kafka-python repeats the class name in its messages; the broker's words are enough.
    text = str(error).rsplit("SaslAuthenticationFailedError: ", 1)[-1]
    return text.splitlines()[0] if text else type(error).__name__


def producer(settings: KafkaSettings, **overrides: Any) -> KafkaProducer:
    """A producer that loses nothing: every record acknowledged by all in-sync replicas,
    idempotent so that its own retries never write a record twice."""
    config: dict[str, Any] = {
        **settings.kafka_python(),
        "acks": "all",
        "enable_idempotence": True,
        # Large batches with a short linger: fewer requests (and wake-ups of the sender
        # thread) per record, for a few milliseconds of latency.
        "linger_ms": 10,
        "batch_size": 512 * 1024,
        "max_request_size": MAX_RECORD_BYTES,
        # Retry for as long as a broker restart plausibly takes rather than fail the send.
        "delivery_timeout_ms": 120_000,
    }
    config.update(overrides)
    return connect(KafkaProducer, settings, config)


def consumer(settings: KafkaSettings, **overrides: Any) -> KafkaConsumer:
    return connect(KafkaConsumer, settings, {**settings.kafka_python(), **overrides})


def admin(settings: KafkaSettings, **overrides: Any) -> KafkaAdminClient:
    return connect(KafkaAdminClient, settings, {**settings.kafka_python(), **overrides})


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    repartitioned: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def ensure_topics(
    client: KafkaAdminClient,
    topics: Iterable[Topic] = ALL,
    replication_factor: int | None = None,
) -> TopicsReport:
    """Make the cluster hold every declared topic as declared; safe to run any number of times.

    Missing topics are created, differing configuration is altered, and a topic with fewer
    partitions than declared is grown (never shrunk: Kafka cannot, and keys would move).
    The replication factor defaults to min(3, brokers) so one command fits dev and production.
    """
    topics = list(topics)
    report = TopicsReport()
    if replication_factor is None:
        replication_factor = min(3, len(client.describe_cluster()["brokers"]))
    existing = {t["name"]: t for t in client.describe_topics() if not t.get("error_code")}

    missing = [t for t in topics if t.name not in existing]
    if missing:
        answer = client.create_topics(
            {
                t.name: {
                    "num_partitions": t.partitions,
                    "replication_factor": replication_factor,
                    "configs": t.config(),
                }
                for t in missing
            },
            wait_for_metadata=True,
            raise_errors=False,
        )
        for created in answer["topics"]:
            error = kafka_errors.for_code(created["error_code"])
            # Instances of one service start together and create the same topics: one
            # of them wins, and for the others the topic is there, as they wanted.
            if error is kafka_errors.TopicAlreadyExistsError:
                continue
            if error is not kafka_errors.NoError:
                raise error(f"creating topic {created['name']}: {created['error_message']}")
            report.created.append(created["name"])

    for topic in topics:
        if topic.name not in existing:
            continue
        changed = False
        partitions = len(existing[topic.name]["partitions"])
        if partitions < topic.partitions:
            client.create_partitions({topic.name: topic.partitions})
            report.repartitioned.append(topic.name)
            changed = True
        elif partitions > topic.partitions:
            log.warning(
                "topic %s has %d partitions, more than the %d declared; leaving it",
                topic.name,
                partitions,
                topic.partitions,
            )
        current = _topic_config(client, topic.name)
        wanted = topic.config()
        if any(current.get(key) != value for key, value in wanted.items()):
            client.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=wanted)]
            )
            report.reconfigured.append(topic.name)
            changed = True
        if not changed:
            report.unchanged.append(topic.name)
    return report


def _topic_config(client: KafkaAdminClient, name: str) -> dict[str, str]:
    described = client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all"
    )
    entries = described["topic"][name]
    return {key: entry["value"] for key, entry in entries.items()}
