"""Test helpers that run real things: a newsflow service as its own process, and a reader
of everything on a topic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from newsflow.core.settings import KafkaSettings
from newsflow.core.topics import ALL as ALL_TOPICS
from newsflow.core.topics import Topic
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.local import free_port

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    """Poll until `condition()` is truthy and return its value; fail saying what never came."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class ServiceProcess:
    """`newsflow <service>` in its own process, as an operator would run it."""

    def __init__(
        self, service: str, env: dict[str, str], log_path: Path, prefix: tuple[str, ...] = ()
    ) -> None:
        self.service = service
        self.prefix = prefix  # e.g. a command that drops privileges
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.port = int(env[f"NEWSFLOW_{service.upper()}_METRICS_PORT"])
        self.process: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "newsflow.cli", self.service],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            try:
                wait_for(self.ready, 60, f"{self.service} to be ready (log: {self.log_path})")
            except AssertionError:
                self.kill()  # never leave a half-started service behind a failed test
                raise
        return self

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(
                f"{self.service} exited with {self.process.returncode}:\n"
                + self.log_path.read_text(errors="replace")[-3000:]
            )
        return self.http("/readyz")[0] == 200

    def metric(self, name: str, labels: str = "") -> float:
        """The value of one sample on /metrics (0 when absent)."""
        _, text = self.http("/metrics")
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None:
            self.stop(signal.SIGKILL)

    def logs(self) -> list[dict]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def pipeline_topics(admin: KafkaAdminClient, prefix: str) -> dict[str, Topic]:
    """Every topic of the pipeline under a name of its own (`<prefix>.articles.raw`, ...),
    created on the broker; keyed by the declared name."""
    topics = {topic.name: replace(topic, name=f"{prefix}.{topic.name}") for topic in ALL_TOPICS}
    newsflow_kafka.ensure_topics(admin, topics.values(), replication_factor=1)
    return topics


def pipeline_env(
    root: Path, bootstrap: str, prefix: str, topics: dict[str, Topic], services
) -> dict[str, str]:
    """The settings of `services` run as one pipeline of their own: the given topics, a
    consumer group, state folder and free status port each, the inbox and SQLite store under
    root, the committed models and the example claims file."""
    env = {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    for service in services:
        upper = f"NEWSFLOW_{service.upper()}"
        env[f"{upper}_METRICS_PORT"] = str(free_port())
        env[f"{upper}_STATE_DIR"] = str(root / "state" / service)
        env[f"{upper}_GROUP_ID"] = f"{prefix}-{service}"
        for name, topic in topics.items():
            # articles.raw -> NEWSFLOW_DEDUP_RAW_TOPIC; settings ignore names they lack.
            env[f"{upper}_{name.split('.')[1].upper()}_TOPIC"] = topic.name
    env |= {
        "NEWSFLOW_WATCHER_INBOX": str(root / "inbox"),
        "NEWSFLOW_WATCHER_PROCESSED_DIR": str(root / "processed"),
        "NEWSFLOW_WATCHER_FAILED_DIR": str(root / "failed"),
        "NEWSFLOW_WATCHER_SETTLE_SECONDS": "0.3",
        "NEWSFLOW_ENTITIES_MODEL_DIR": str(REPO / "models/ner"),
        "NEWSFLOW_STANCE_MODEL_DIR": str(REPO / "models/stance"),
        "NEWSFLOW_STANCE_CLAIMS_FILE": str(REPO / "deploy/stance/claims.yaml"),
        "NEWSFLOW_SINK_STORE_URL": f"sqlite:///{root / 'newsflow.db'}",
    }
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    return env


def read_topic(
    settings: KafkaSettings, topic: str, count: int, timeout: float = 30, settle: float = 0
) -> list[tuple[str | None, dict]]:
    """Every record on `topic` from the start: wait for at least `count`, then keep reading
    for `settle` seconds more so that extra (duplicate) records would show up too."""
    consumer = KafkaConsumer(
        topic,
        **settings.kafka_python(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    found: list[tuple[str | None, dict]] = []
    deadline = time.monotonic() + timeout
    settle_until = None
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                key = message.key.decode() if message.key is not None else None
                found.append((key, json.loads(message.value)))
            if len(found) >= count:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
    finally:
        consumer.close()
    return found


def committed_records(settings: KafkaSettings, group: str, topic: str) -> int:
    """How many records of `topic` the consumer group has committed (sum over partitions)."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)
