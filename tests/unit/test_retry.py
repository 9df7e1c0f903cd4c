"""Waiting for Kafka: the same backoff and the same readiness in every service."""

from __future__ import annotations

import pytest
from kafka.errors import KafkaConnectionError

from newsflow.runtime.retry import Backoff, GaveUp, until_kafka_answers
from newsflow.runtime.service import Health


def test_waits_double_from_the_first_up_to_the_most():
    backoff = Backoff(first=0.5, most=3)
    assert [backoff.seconds(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_a_service_waits_not_ready_until_kafka_answers():
    health, waits, tries = Health(), [], iter([KafkaConnectionError("refused")] * 2 + [None])

    def attempt() -> str:
        error = next(tries)
        if error:
            raise error
        return "producer"

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        ready, why = health.readiness()
        assert not ready and "Kafka unreachable at 127.0.0.1:9092 (connecting)" in why
        return False

    found = until_kafka_answers(
        attempt, health=health, what="connecting", bootstrap="127.0.0.1:9092", wait=wait
    )
    assert found == "producer" and waits == [1, 2]


def test_a_stop_while_waiting_gives_up():
    def refused() -> None:
        raise KafkaConnectionError("refused")

    with pytest.raises(GaveUp):
        until_kafka_answers(
            refused, health=Health(), what="connecting", bootstrap="b:9092", wait=lambda s: True
        )
