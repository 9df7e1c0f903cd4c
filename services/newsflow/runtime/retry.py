"""Waiting for Kafka the same way in every service: while it does not answer, the service is
alive but not ready, says why on /readyz and in its log, and tries again after a wait that
doubles up to a ceiling; its records stay where they are (nothing is skipped)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kafka.errors import KafkaError

from newsflow.runtime.service import Health

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Waits that double from `first` seconds up to `most`."""

    first: float = 1.0
    most: float = 30.0

    def seconds(self, failures: int) -> float:
        """The wait after `failures` failed attempts in a row (1 or more)."""
        return min(self.first * 2.0 ** max(failures - 1, 0), self.most)


class GaveUp(Exception):
    """The wait was cut short: the service is stopping."""


def until_kafka_answers(
    attempt: Callable[[], T],
    *,
    health: Health,
    what: str,
    bootstrap: str,
    wait: Callable[[float], bool],
    backoff: Backoff = Backoff(),
    on_error: Callable[[KafkaError], None] | None = None,
) -> T:
    """`attempt()`'s result once Kafka lets it through. Each failure marks the service not
    ready with the reason (the caller says when it is ready again); `wait(seconds)` returns
    True when the service is stopping, and then GaveUp is raised."""
    for failures in itertools.count(1):
        try:
            return attempt()
        except KafkaError as error:
            if on_error is not None:
                on_error(error)
            pause = backoff.seconds(failures)
            why = f"Kafka unreachable at {bootstrap} ({what}): {error}"
            health.set_not_ready(why)
            log.warning("%s; retrying in %.0fs", why, pause)
            health.beat()
            if wait(pause):
                raise GaveUp(why) from error
    raise AssertionError("unreachable")
