"""newsflow on a locked-down broker: a SASL_SSL listener (SCRAM-SHA-512, a certificate from a
throwaway CA) is the only way in. The whole pipeline runs over it, from a file in the inbox
to the store; a wrong password is refused with an error that says so; the password shows up
in no log line and on no /metrics page."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from newsflow.core.settings import KafkaSettings
from newsflow.runtime.faust_app import broker_credentials
from tests.support import securekafka
from tests.support.helpers import ServiceProcess, wait_for
from tests.support.local import free_port

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
USER = "newsflow"
# Unique, so that finding it anywhere cannot be a coincidence.
PASSWORD = f"pw-{uuid.uuid4().hex}"
WRONG_PASSWORD = f"wrong-{uuid.uuid4().hex}"

# Two reports of one event and a byte-for-byte copy of the first: two articles stored.
ARTICLES = {
    "ferry.txt": "Ferry operator suspends night crossings after engine fire\n\n"
    "The ferry operator suspended all night crossings on Thursday after an engine fire on "
    "one of its vessels. Nobody was hurt; the coastguard escorted the ship back to port.",
    "budget.txt": "City council approves budget with new cycle lanes\n\n"
    "The city council approved next year's budget on Wednesday evening. It includes money "
    "for twelve kilometres of new cycle lanes and the repair of the old market hall.",
}


@pytest.fixture(scope="module")
def secure_broker(local_kafka_module) -> Iterator[securekafka.SecureBroker]:
    # Outside pytest's temporary folders, like the session broker (see conftest.py).
    home = Path(tempfile.mkdtemp(prefix="newsflow-test-sasl-"))
    broker, secure = securekafka.start(
        local_kafka_module, home, free_port(), free_port(), free_port(), USER, PASSWORD
    )
    try:
        yield secure
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def kafka_env(broker: securekafka.SecureBroker, password: str = PASSWORD) -> dict[str, str]:
    return {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "NEWSFLOW_KAFKA_SASL_MECHANISM": securekafka.MECHANISM,
        "NEWSFLOW_KAFKA_SASL_USERNAME": broker.username,
        "NEWSFLOW_KAFKA_SASL_PASSWORD": password,
        "NEWSFLOW_KAFKA_SSL_CAFILE": str(broker.certificates.ca),
    }


def newsflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli", *args],
        env={**_clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _clean_environ() -> dict[str, str]:
    # A developer's own NEWSFLOW_* settings must not leak into the locked-down run.
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}


@dataclass
class PipelineRun:
    root: Path
    store_url: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    metrics_pages: dict[str, str] = field(default_factory=dict)
    topics_output: str = ""


@pytest.fixture(scope="module")
def pipeline(secure_broker, tmp_path_factory) -> Iterator[PipelineRun]:
    """`newsflow topics`, then all five services over SASL_SSL, with two articles (and a copy)
    dropped into the inbox; stopped with SIGTERM once both articles are in the store."""
    root = tmp_path_factory.mktemp("sasl-pipeline")
    store = root / "newsflow.db"
    run = PipelineRun(root, f"sqlite:///{store}")
    common = {**_clean_environ(), **kafka_env(secure_broker), "PYTHONUNBUFFERED": "1"}

    created = newsflow("topics", "--wait", "30", env=common)
    assert created.returncode == 0, created.stderr
    run.topics_output = created.stdout + created.stderr

    settings = {
        "watcher": {
            "INBOX": root / "inbox",
            "PROCESSED_DIR": root / "processed",
            "FAILED_DIR": root / "failed",
            "STATE_DIR": root / "state/watcher",
            "SETTLE_SECONDS": "0.2",
        },
        "dedup": {"STATE_DIR": root / "state/dedup"},
        "entities": {"STATE_DIR": root / "state/entities", "MODEL_DIR": REPO / "models/ner"},
        "stance": {"STATE_DIR": root / "state/stance", "MODEL_DIR": REPO / "models/stance"},
        "sink": {"STORE_URL": run.store_url},
    }
    (root / "inbox").mkdir()
    try:
        for service, own in settings.items():
            prefix = f"NEWSFLOW_{service.upper()}_"
            env = {
                **common,
                **{prefix + name: str(value) for name, value in own.items()},
                prefix + "METRICS_PORT": str(free_port()),
                # The chattiest level: whatever the services or their Kafka clients would
                # ever log about their connection is in these logs.
                prefix + "LOG_LEVEL": "DEBUG",
            }
            process = ServiceProcess(service, env, root / f"{service}.log")
            run.services[service] = process.start(wait_ready=False)
        for process in run.services.values():
            wait_for(process.ready, 90, f"{process.service} ready (log: {process.log_path})")

        for name, text in ARTICLES.items():
            (root / "inbox" / name).write_text(text, encoding="utf-8")
        (root / "inbox" / "ferry-copy.txt").write_text(ARTICLES["ferry.txt"], encoding="utf-8")
        wait_for(lambda: len(stored(run.store_url)) >= 2, 90, "two articles in the store")

        for service, process in run.services.items():
            run.metrics_pages[service] = process.http("/metrics")[1]
    finally:
        for process in run.services.values():
            if process.process is not None and process.process.poll() is None:
                process.stop(signal.SIGTERM)
    yield run


def stored(store_url: str) -> list[dict]:
    path = store_url.removeprefix("sqlite:///")
    if not Path(path).exists():
        return []
    try:
        with sqlite3.connect(path) as connection:
            rows = connection.execute("SELECT record FROM articles").fetchall()
    except sqlite3.OperationalError:  # the sink has not created its tables yet
        return []
    return [json.loads(row[0]) for row in rows]


def test_the_pipeline_runs_over_sasl_ssl_from_inbox_to_store(pipeline):
    assert "created: articles.raw" in pipeline.topics_output
    articles = stored(pipeline.store_url)
    titles = sorted(article["title"] for article in articles)
    assert titles == sorted(text.split("\n", 1)[0] for text in ARTICLES.values())
    for article in articles:
        # Every stage handled it: the broker let each of them read and write.
        assert [entry["stage"] for entry in article["trace"]] == [
            "watcher",
            "dedup",
            "entities",
            "stance",
        ]
        assert article["stance"]["claims"], article["stance"]
    # The copy was read, sent, and recognised by dedup as the same article.
    assert len(list((pipeline.root / "processed").rglob("*.txt"))) == 3


def test_the_password_appears_in_no_log_and_on_no_metrics_page(pipeline):
    for service, process in pipeline.services.items():
        log = process.log_path.read_text(errors="replace")
        assert f'"service": "{service}"' in log, f"{service} wrote no log lines"
        assert PASSWORD not in log, f"{service}'s log holds the SASL password"
        page = pipeline.metrics_pages[service]
        assert f"newsflow_{service}_" in page, f"{service}'s /metrics page was not read"
        assert PASSWORD not in page, f"{service}'s /metrics page holds the SASL password"
    assert PASSWORD not in pipeline.topics_output


def test_a_wrong_password_is_refused_with_an_error_that_says_so(secure_broker):
    refused = newsflow("topics", "--wait", "4", env=kafka_env(secure_broker, WRONG_PASSWORD))
    assert refused.returncode == 1
    message = refused.stderr
    # Either the broker's refusal, or (when kafka-python lost it, see newsflow.runtime.kafka) the
    # broker closing the connection during the login: both name the login and what to check.
    assert f"the login of '{USER}' with SCRAM-SHA-512" in message, message
    assert "refuse" in message
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD" in message
    assert WRONG_PASSWORD not in message


def test_the_faust_workers_client_is_refused_a_wrong_password_too(secure_broker, caplog):
    """The workers' aiokafka clients log in with the same settings, and are refused the same.

    (A worker meets the refusal first in its kafka-python admin client, which creates its
    internal topics before Faust starts, and stops with the error above; aiokafka itself
    reports a refused login only in its log, as checked here.)"""

    def start_producer(password: str) -> None:
        settings = KafkaSettings(
            **{
                name.removeprefix("NEWSFLOW_KAFKA_").lower(): value
                for name, value in kafka_env(secure_broker, password).items()
            }
        )

        async def start() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.bootstrap_servers,
                request_timeout_ms=10_000,
                **credentials_to_aiokafka_auth(broker_credentials(settings)),
            )
            try:
                await producer.start()
            finally:
                await producer.stop()

        asyncio.run(start())

    start_producer(PASSWORD)  # the same client logs in with the right one
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        start_producer(WRONG_PASSWORD)
    refusals = [r.getMessage() for r in caplog.records if r.name.startswith("aiokafka")]
    assert any("Authentication failed" in message for message in refusals), refusals
    assert not any(WRONG_PASSWORD in message for message in refusals)
