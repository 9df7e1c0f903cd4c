"""JSON-lines logging to stdout, configured once at a service's entry point.

Modules log with their own `logging.getLogger(__name__)` and pass record context as extras
(`extra={"article_id": …, "topic": …, "partition": …, "offset": …}`), which become fields.
"""

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from newsflow.core.redaction import redacted


class _ServiceField(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


class _Redacted(JsonFormatter):
    """Every field without credentials: a store or broker URL with its password can reach a
    message or a traceback, from our code or a library's."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            field: redacted(value) if isinstance(value, str) else value
            for field, value in super().process_log_record(log_data).items()
        }


class _ExpectedByNewsflow(logging.Filter):
    """Library warnings about what newsflow expects and recovers from by itself, lowered to
    INFO so that a WARNING in the log always asks for a look. The Kafka clients mark their
    group's coordinator dead whenever the broker moves it, at every start while the
    coordinator is being elected, and find the new one; newsflow's stall watch covers a group
    that never recovers. kafka-python's network thread times its tasks by the clock: one
    over 0.1 s is that thread waiting for the interpreter or a core while the service is
    busy (starting, parsing), which the service's own metrics show better."""

    EXPECTED = (
        ("aiokafka.consumer.group_coordinator", re.compile(r"Marking the coordinator dead")),
        ("kafka.coordinator", re.compile(r"Marking the coordinator dead")),
        ("kafka.net.selector", re.compile(r"Task .* ran for [\d.]+s \(>[\d.]+s threshold\)")),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and any(
            record.name == logger and pattern.match(str(record.msg))
            for logger, pattern in self.EXPECTED
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        _Redacted(
            "{levelname}{name}{service}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601 in UTC
        )
    )
    handler.addFilter(_ServiceField(service))
    handler.addFilter(_ExpectedByNewsflow())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Kafka clients narrate every connection at INFO; their warnings still come through.
    for chatty in ("kafka", "aiokafka"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
