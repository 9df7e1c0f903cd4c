"""`newsflow watcher`: the loop that notices settled files, reads them, sends their records,
and moves each file out of the inbox once Kafka acknowledged everything it became.

At-least-once by construction: a file leaves the inbox only after its records are
acknowledged and the ledger says so; a restart finds what is left and carries on.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import stat
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

from kafka import KafkaProducer
from kafka.errors import KafkaError

from newsflow.core.settings import load
from newsflow.runtime import kafka as newsflow_kafka
from newsflow.runtime.retry import GaveUp, until_kafka_answers
from newsflow.runtime.service import Runtime, service_runtime

from . import metrics
from .confined import LinkOnPath
from .files import (
    EncodedFile,
    FileToRead,
    ReadRules,
    Topics,
    Vanished,
    failed_file,
    read_file,
    read_records,
)
from .folders import Mover
from .inbox import Inbox, SettledFile
from .ledger import Ledger
from .parser_processes import ParserPool, Stopped
from .parsing import InputRejected
from .sender import FileInFlight, FileSender
from .settings import WatcherSettings

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 0.05
READER_THREADS = 4
# Files sent to a parser process in one message: per file, the round trip to the process
# costs as much as reading a small article.
READ_BATCH_FILES = 32
READ_BATCH_BYTES = 1 << 20


class Watcher:
    def __init__(self, settings: WatcherSettings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.inbox = Inbox(
            settings.inbox,
            settings.settle_seconds,
            settings.rescan_seconds,
            settings.force_polling,
            settings.max_folder_depth,
        )
        # Batches of files being read and parsed, in the order they settled; each batch is
        # sent as soon as it is ready, so a slow one holds back no other.
        self._reading: list[tuple[list[SettledFile], Future[list[EncodedFile | None]]]] = []
        self.rules = ReadRules(
            settings.max_file_bytes,
            settings.max_articles_per_file,
            Topics(settings.raw_topic, settings.deadletter_topic),
        )
        # Files that changed while they were sent: the content sent first, by path.
        self._sent_before: dict[os.PathLike, str] = {}

    def run(self) -> None:
        with ExitStack() as resources:
            self.ledger = Ledger(self.settings.state_dir)
            resources.callback(self.ledger.close)
            self.inbox.start()
            resources.callback(self.inbox.stop)
            self.parsers = ParserPool(
                self.settings.parser_processes,
                self.settings.parse_seconds_per_file,
                functools.partial(read_file, self.rules),
            )
            resources.callback(self.parsers.close)
            self.readers = resources.enter_context(
                ThreadPoolExecutor(READER_THREADS, thread_name_prefix="reader")
            )
            producer = self._connect()
            if producer is None:
                return  # asked to stop before the broker ever answered
            resources.callback(producer.close)
            self.sender = FileSender(producer)
            log.info("watching %s", self.inbox.root)
            self.runtime.health.set_ready()
            while not self.runtime.stopping.is_set():
                self.runtime.health.beat()
                self.inbox.keep_listening()
                busy = self._read_settled_files()
                busy |= self._finish_completed_files()
                metrics.INBOX_BACKLOG.set(self.inbox.backlog)
                metrics.IN_FLIGHT.set(self.sender.in_flight)
                if not busy:
                    self.runtime.stopping.wait(IDLE_WAIT_SECONDS)
            self._drain(producer)

    def _connect(self) -> KafkaProducer | None:
        """A producer, once the broker answers; until then not ready, retrying with backoff."""
        self.runtime.health.set_not_ready(
            f"connecting to Kafka at {self.settings.kafka.bootstrap_servers}"
        )
        try:
            return until_kafka_answers(
                lambda: newsflow_kafka.producer(self.settings.kafka, bootstrap_timeout_ms=10_000),
                health=self.runtime.health,
                what="connecting",
                bootstrap=self.settings.kafka.bootstrap_servers,
                wait=self.runtime.stopping.wait,
            )
        except GaveUp:
            return None

    def _read_settled_files(self) -> bool:
        room = self.settings.max_files_in_flight - self.sender.in_flight - self._files_reading()
        for batch in _batches(self.inbox.settled(limit=max(room, 0))):
            # The threads only wait for the parser processes, a batch each, while sending
            # stays on this thread.
            files = [self._to_read(settled) for settled in batch]
            self._reading.append((batch, self.readers.submit(self._read_batch, batch, files)))
        # One look at each future: one that finishes between two looks must not be dropped.
        ready, still_reading = [], []
        for pair in self._reading:
            (ready if pair[1].done() else still_reading).append(pair)
        self._reading = still_reading
        for batch, future in ready:
            for file, records in zip(batch, future.result(), strict=True):
                if records is None:
                    self.inbox.release(file.path)  # gone, or retried by a later scan
                else:
                    self._send(file, records)
        return bool(ready)

    def _files_reading(self) -> int:
        return sum(len(batch) for batch, _ in self._reading)

    def _read_batch(
        self, batch: list[SettledFile], files: list[FileToRead]
    ) -> list[EncodedFile | None]:
        """The encoded records of each file of `batch` (None: gone, or to be retried)."""
        results: list[EncodedFile | None] = [None] * len(batch)
        wanted = [n for n, settled in enumerate(batch) if not self._folder_to_rescan(settled)]
        try:
            answers = self.parsers.run_many([files[n] for n in wanted])
        except Exception:  # the parser processes themselves failed (cannot start one, say)
            log.exception("reading %d file(s) failed; a later scan retries them", len(wanted))
            return results
        for number, (answer, seconds) in zip(wanted, answers, strict=True):
            settled = batch[number]
            records = self._guarded(settled, self._answered, files[number], answer)
            results[number] = self._counted(records, seconds)
        return results

    def _to_read(self, settled: SettledFile) -> FileToRead:
        return FileToRead(
            self.inbox.root,
            settled.relative_path,
            settled.relative,
            settled.first_seen_at,
            earlier_sha256=self._sent_before.get(settled.path),
        )

    def _folder_to_rescan(self, settled: SettledFile) -> bool:
        """A folder handed on because it was unreadable when scanned, and readable now: it
        is walked by a rescan rather than quarantined."""
        depth = len(settled.relative_path.parts)
        if (
            settled.is_folder
            and depth < self.settings.max_folder_depth
            and _is_readable_folder(settled.path)
        ):
            log.info("a folder became readable; rescanning it", extra={"file": settled.relative})
            return True
        return False

    def _answered(self, file: FileToRead, answer: EncodedFile | Exception) -> EncodedFile:
        if isinstance(answer, Stopped):
            rejection = InputRejected(answer.reason, f"{file.shown_path} {answer.message}")
            return read_records(self.rules, file, stopped=rejection).encoded(self.rules.topics)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _guarded(self, settled: SettledFile, step, *args):
        """`step(*args)`, or what a failure of it means for the file: None when it is gone
        or is to be retried, its quarantine when the watcher itself failed on it."""
        try:
            return step(*args)
        except Vanished:
            log.info("file vanished before it was read", extra={"file": settled.relative})
        except LinkOnPath:
            # The link itself is quarantined where the scan meets it.
            log.warning(
                "a folder on the file's path is a symbolic link; not followed",
                extra={"file": settled.relative},
            )
        except OSError as error:
            log.error("cannot read file, will retry: %s", error, extra={"file": settled.relative})
        except Exception as error:  # one file never stops the watcher
            log.exception("reading the file failed", extra={"file": settled.relative})
            return failed_file(settled.path, settled.relative, error).encoded(self.rules.topics)
        return None

    @staticmethod
    def _counted(records: EncodedFile | None, seconds: float) -> EncodedFile | None:
        if records is not None:
            metrics.PARSE_SECONDS.observe(seconds)
            metrics.FILES_SEEN.inc()
            metrics.BYTES_READ.inc(records.size_bytes)
        return records

    def _send(self, settled: SettledFile, records: EncodedFile) -> None:
        # Only a file found by a scan can be one an earlier run sent and failed to move: a
        # file that arrived by an event since the start is new (and the ledger lookup is I/O).
        if (
            settled.found_by_scan
            and records.sha256
            and self.ledger.was_sent(records.sha256, settled.relative)
        ):
            # Sent before a crash that came between the acknowledgement and the move.
            metrics.RESENDS_AVOIDED.inc()
            with self._mover() as mover:
                self._move_out(FileInFlight(settled, records, waiting_for=0), mover)
            return
        try:
            self.sender.send(settled, records)
            self._sent_before.pop(settled.path, None)
        except KafkaError as error:
            metrics.SEND_ERRORS.inc()
            self.runtime.health.set_not_ready(f"Kafka refused records: {error}")
            log.error("could not send, will retry: %s", error, extra={"file": settled.relative})
            self.inbox.release(settled.path)

    def _finish_completed_files(self) -> bool:
        sent, refused = self.sender.completed()
        for file in refused:
            metrics.SEND_ERRORS.inc()
            log.error(
                "Kafka did not acknowledge every record; the file stays and is retried: %s",
                "; ".join(file.errors),
                extra={"file": file.settled.relative},
            )
            self.inbox.release(file.settled.path)
        if sent:
            self.runtime.health.set_ready()
            self.ledger.record_sent(
                [(f.records.sha256, f.settled.relative) for f in sent if f.records.sha256]
            )
            now = time.time()
            with self._mover() as mover:
                for file in sent:
                    age = now - file.settled.first_seen_at.timestamp()
                    metrics.FILE_TO_ACK_SECONDS.observe(age)
                    metrics.ARTICLES_SENT.inc(len(file.records.article_ids))
                    for reason in file.records.dead_letter_reasons:
                        metrics.DEAD_LETTERS.labels(reason.value).inc()
                    self._move_out(file, mover)
        return bool(sent or refused)

    def _mover(self) -> Mover:
        return Mover(self.inbox.root, self.settings.processed_dir, self.settings.failed_dir)

    def _move_out(self, file: FileInFlight, mover: Mover) -> None:
        settled, records = file.settled, file.records
        try:
            if records.rejection is not None:
                destination = mover.to_failed(
                    settled.relative_path, records.rejection, records.sha256, settled.relative
                )
                metrics.FILES_FAILED.labels(records.rejection.reason.value).inc()
                log.warning(
                    "rejected: %s",
                    records.rejection.message,
                    extra={"file": settled.relative, "reason": records.rejection.reason.value},
                )
            elif records.identity is not None and mover.changed_since(
                settled.relative_path, records.identity
            ):
                # Written to again after it had settled (a writer that paused): what was sent
                # is its first part; the whole file goes again, as a newer version.
                metrics.FILES_CHANGED_WHILE_SENT.inc()
                log.warning(
                    "the file changed while it was sent; sending it again in full",
                    extra={"file": settled.relative},
                )
                if records.sha256:
                    self._sent_before[settled.path] = records.sha256
                self.inbox.look_again(settled.path)
                return
            else:
                destination = mover.to_processed(settled.relative_path)
                metrics.FILES_SENT.inc()
                log.info(
                    "sent %d article(s)",
                    len(records.article_ids),
                    extra={
                        "file": settled.relative,
                        "article_id": ",".join(records.article_ids[:5]),
                    },
                )
            log.debug("moved to %s", destination, extra={"file": settled.relative})
        except FileNotFoundError:
            pass  # someone took it away after it was sent: nothing left to move
        except (OSError, LinkOnPath) as error:
            # Left in the inbox. A sent file is taken up again by a later scan, which finds it
            # in the ledger and only moves it; a rejected one (which would be reported again
            # and again) is left alone until it changes, e.g. its permissions.
            metrics.MOVE_ERRORS.inc()
            log.error("could not move file: %s", error, extra={"file": settled.relative})
            if records.rejection is not None:
                self.inbox.leave_alone(settled.path)
                return
        self.inbox.release(settled.path)

    def _drain(self, producer: KafkaProducer) -> None:
        """SIGTERM: no new files; wait for what was sent, then move it out."""
        log.info("stop requested: draining %d file(s) in flight", self.sender.in_flight)
        deadline = time.monotonic() + self.settings.drain_timeout_seconds
        try:
            producer.flush(timeout=self.settings.drain_timeout_seconds)
        except KafkaError as error:
            log.error("flush did not finish: %s", error)
        while self.sender.in_flight and time.monotonic() < deadline:
            self._finish_completed_files()
            time.sleep(0.01)
        self._finish_completed_files()


def _batches(files: list[SettledFile]) -> Iterator[list[SettledFile]]:
    """The files in batches of up to READ_BATCH_FILES files or READ_BATCH_BYTES: large files
    go one by one, so that they spread over the parser processes and each is sent once read."""
    batch: list[SettledFile] = []
    size = 0
    for file in files:
        if batch and (len(batch) == READ_BATCH_FILES or size + file.size_bytes > READ_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += file.size_bytes
    if batch:
        yield batch


def _is_readable_folder(path: os.PathLike) -> bool:
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
        with os.scandir(path):
            return True
    except OSError:
        return False


def main() -> None:
    # The inbox asks the kernel for a read lease to learn whether a file is still open for
    # writing; were a writer to open the file in that instant, the kernel would signal
    # SIGIO, whose default action ends the process.
    signal.signal(signal.SIGIO, signal.SIG_IGN)
    settings = load(WatcherSettings)
    with service_runtime(settings) as runtime:
        Watcher(settings, runtime).run()
