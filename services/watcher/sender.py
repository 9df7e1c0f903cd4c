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

from newsflow.records import encode
from newsflow_watcher.files import FileRecords, failed_file
from newsflow_watcher.inbox import SettledFile

log = logging.getLogger(__name__)


@dataclass
class FileInFlight:
    settled: SettledFile
    records: FileRecords
    waiting_for: int
    errors: list[str] = field(default_factory=list)


class FileSender:
    def __init__(self, producer: KafkaProducer, raw_topic: str, deadletter_topic: str) -> None:
        self._producer = producer
        self._raw_topic = raw_topic
        self._deadletter_topic = deadletter_topic
        self._in_flight: dict[int, FileInFlight] = {}
        self._answers: queue.SimpleQueue[tuple[int, str | None]] = queue.SimpleQueue()
        self._tokens = itertools.count()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def send(self, settled: SettledFile, records: FileRecords) -> None:
        """Hand every record of the file to the producer (raises if the producer refuses)."""
        outgoing = records.encoded or encoded_records(
            records, settled.relative, self._raw_topic, self._deadletter_topic
        )
        token = next(self._tokens)
        self._in_flight[token] = FileInFlight(settled, records, waiting_for=len(outgoing))
        try:
            for topic, key, value in outgoing:
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


def encoded_records(
    records: FileRecords, shown_path: str, raw_topic: str, deadletter_topic: str
) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) of every record of the file. A record that cannot be encoded
    turns the file into a rejection with the reason (and its records into that one dead
    letter), since sending part of a file would lose the rest."""
    try:
        return [
            (raw_topic, article.article_id, encode(article)) for article in records.articles
        ] + [
            (deadletter_topic, letter.article_id or shown_path, encode(letter))
            for letter in records.dead_letters
        ]
    except Exception as error:  # the file is quarantined with the error
        failed = failed_file(records.path, shown_path, error)
        records.articles, records.dead_letters = [], failed.dead_letters
        records.rejection = failed.rejection
        return [(deadletter_topic, shown_path, encode(letter)) for letter in failed.dead_letters]
