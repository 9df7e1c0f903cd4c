"""A service of its own for a test: fresh topics on the test broker, its folders under the
test's temporary folder, its settings as the environment of `newsflow <service>`, started
as a real process. Each service's rig adds only what is particular to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from newsflow.core.records import Record, encode
from newsflow.core.settings import KafkaSettings
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.helpers import ServiceProcess, read_topic
from tests.support.local import free_port


@dataclass
class ServiceRig:
    name: str
    root: Path
    env: dict[str, str]
    settings: KafkaSettings
    topic: dict[str, str]  # the service's topic setting (raw, deadletter, …) -> this test's topic

    def service(self, command_prefix: tuple[str, ...] = (), **overrides: str) -> ServiceProcess:
        """The service as a process (not started), with settings overridden by name, its
        command after `command_prefix` (e.g. a wrapper that limits it)."""
        prefix = f"NEWSFLOW_{self.name.upper()}_"
        env = {**self.env, **{prefix + name.upper(): v for name, v in overrides.items()}}
        return ServiceProcess(self.name, env, self.root / f"{self.name}.log", command_prefix)

    def send(self, topic: str, *values: Record | bytes, key: bytes | None = None) -> None:
        """Records, keyed by their article id, or raw bytes (keyed `bad`) onto a topic; all
        with `key` when given (one partition, in this order)."""
        producer = newsflow_kafka.producer(self.settings)
        try:
            for value in values:
                if isinstance(value, bytes):
                    producer.send(self.topic[topic], key=key or b"bad", value=value)
                else:
                    own = getattr(value, "article_id", "record").encode()
                    producer.send(self.topic[topic], key=key or own, value=encode(value))
            producer.flush()
        finally:
            producer.close()

    def out(self, topic: str, count: int, settle: float = 0, timeout: float = 60) -> list[dict]:
        """The records on a topic: at least `count`, and what comes in `settle` seconds more."""
        return [v for _, v in read_topic(self.settings, self.topic[topic], count, timeout, settle)]


R = TypeVar("R", bound=ServiceRig)


def service_rig(
    name: str,
    root: Path,
    new_topic,
    kafka_settings: KafkaSettings,
    topics: dict[str, int | None],
    rig: type[R] = ServiceRig,  # type: ignore[assignment]
    **settings: str,
) -> R:
    """A service under test: one fresh topic per topic setting (with its partitions, or the
    default), a free metrics port, and `settings` by name (state_dir="...")."""
    prefix = f"NEWSFLOW_{name.upper()}_"
    topic = {
        setting: new_topic(setting, **({"partitions": n} if n else {}))
        for setting, n in topics.items()
    }
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "PYTHONUNBUFFERED": "1",  # tests read the log while the service runs
        prefix + "METRICS_PORT": str(free_port()),
        **{f"{prefix}{setting.upper()}_TOPIC": t for setting, t in topic.items()},
        **{prefix + setting.upper(): value for setting, value in settings.items()},
    }
    return rig(name, root, env, kafka_settings, topic)
