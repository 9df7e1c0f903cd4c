"""The services' log lines: JSON, one per record, with what an operator must look at at
WARNING or above and nothing else."""

from __future__ import annotations

import io
import json
import logging

import pytest

from newsflow.runtime import logs


@pytest.fixture
def lines():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("dedup")
    written = io.StringIO()
    root.handlers[0].setStream(written)  # the service's stdout
    yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    root.handlers[:], root.level = handlers, level


def test_what_the_kafka_clients_recover_from_is_information_not_a_warning(lines):
    logging.getLogger("aiokafka.consumer.group_coordinator").warning(
        "Marking the coordinator dead (node %s)for group %s.", 1, "newsflow-dedup"
    )
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("Heartbeat failed")
    logging.getLogger("kafka.coordinator").warning(
        "Marking the coordinator dead (node %s) for group %s: %s.", "c-1", "g", "NotCoordinator"
    )
    logging.getLogger("kafka.net.selector").warning(
        "Task <kafka.net.selector.Task object at 0x7f0d> ran for 0.110s (>0.100s threshold). It "
        "is blocking the event loop -- likely a tight sync loop inside a coroutine."
    )
    [moved, failed, moved_too, slow_task] = lines()
    assert moved["level"] == "INFO" and moved["message"].startswith("Marking the coordinator")
    assert moved["service"] == "dedup"
    assert failed["level"] == "WARNING", "other warnings stay warnings"
    assert moved_too["level"] == slow_task["level"] == "INFO"
