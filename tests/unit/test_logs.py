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


def test_a_coordinator_moving_is_information_not_a_warning(lines):
    logging.getLogger("aiokafka.consumer.group_coordinator").warning(
        "Marking the coordinator dead (node %s)for group %s.", 1, "newsflow-dedup"
    )
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("Heartbeat failed")
    [moved, failed] = lines()
    assert moved["level"] == "INFO" and moved["message"].startswith("Marking the coordinator")
    assert moved["service"] == "dedup"
    assert failed["level"] == "WARNING", "other warnings stay warnings"
