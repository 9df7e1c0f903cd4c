"""Sends a file's records to Kafka and tells which files are complete: every record of the
file acknowledged (sent) or any of them refused (to be retried by a later scan).

Acknowledgements arrive on the producer's I/O thread; they are only queued there, and the
service's loop does the moving and bookkeeping."""

from __future__ import annotations

import itertools
import logging
import queue
from dataclasses import dataclass, field

from kafka import KafkaProducer

from .files import EncodedFile
from .inbox import SettledFile

log = logging.getLogger(__name__)


@dataclass
class FileInFlight:
    settled: SettledFile
    records: EncodedFile
    waiting_for: int
    errors: list[str] = field(default_factory=list)


class FileSender:
    def __init__(self, producer: KafkaProducer) -> None:
        self._producer = producer
        self._in_flight: dict[int, FileInFlight] = {}
        self._answers: queue.SimpleQueue[tuple[int, str | None]] = queue.SimpleQueue()
        self._tokens = itertools.count()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def send(self, settled: SettledFile, records: EncodedFile) -> None:
        """Hand every record of the file to the producer (raises if the producer refuses)."""
        token = next(self._tokens)
        self._in_flight[token] = FileInFlight(settled, records, waiting_for=len(records.messages))
        try:
            for topic, key, value in records.messages:
                future = self._producer.send(topic, key=key.encode("utf-8"), value=value)
                future.add_callback(self._acknowledged, token)
                future.add_errback(self._refused, token)
        except Exception:
            # Records already handed over may still be acknowledged; the file is retried as a
            # whole later, and dedup drops what arrives twice.
            del self._in_flight[token]
            raise

    def completed(self) -> tuple[list[FileInFlight], list[FileInFlight]]:
        """Files finished since the last call: (all acknowledged, some refused)."""
        sent: list[FileInFlight] = []
        refused: list[FileInFlight] = []
        while True:
            try:
                token, error = self._answers.get_nowait()
            except queue.Empty:
                return sent, refused
            file = self._in_flight.get(token)
            if file is None:
                continue
            file.waiting_for -= 1
            if error:
                file.errors.append(error)
            if file.waiting_for == 0:
                del self._in_flight[token]
                (refused if file.errors else sent).append(file)

    def _acknowledged(self, token: int, _metadata: object) -> None:
        self._answers.put((token, None))

    def _refused(self, token: int, error: BaseException) -> None:
        self._answers.put((token, f"{type(error).__name__}: {error}"))
