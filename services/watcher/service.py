"""`newsflow watcher`: the loop that notices settled files, reads them, sends their records,
and moves each file out of the inbox once Kafka acknowledged everything it became.

At-least-once by construction: a file leaves the inbox only after its records are
acknowledged and the ledger says so; a restart finds what is left and carries on.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import stat
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

from kafka import KafkaProducer
from kafka.errors import KafkaError

from newsflow import kafka as newsflow_kafka
from newsflow.runtime import Runtime, service_runtime
from newsflow.settings import load
from newsflow_watcher import metrics
from newsflow_watcher.confined import LinkOnPath
from newsflow_watcher.files import (
    FileRecords,
    LoadedFile,
    Vanished,
    failed_file,
    file_records,
    load_file,
)
from newsflow_watcher.folders import changed_since, move_to_failed, move_to_processed
from newsflow_watcher.inbox import Inbox, SettledFile
from newsflow_watcher.ledger import Ledger
from newsflow_watcher.parser_processes import ParserPool
from newsflow_watcher.parsing import InputRejected, ParsedFile
from newsflow_watcher.sender import FileInFlight, FileSender, encoded_records
from newsflow_watcher.settings import WatcherSettings

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 0.05
READER_THREADS = 4
# Files read together by one reader thread and sent to a parser process in one message (up
# to about PARSE_BATCH_BYTES at a time): per file, the round trip to the process costs as
# much as parsing a small article.
READ_BATCH_FILES = 32
PARSE_BATCH_BYTES = 1 << 20
BROKER_RETRY_SECONDS = (1, 2, 5, 10)


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
        self._reading: list[tuple[list[SettledFile], Future[list[FileRecords | None]]]] = []
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
                self.settings.max_articles_per_file,
            )
            resources.callback(self.parsers.close)
            self.readers = resources.enter_context(
                ThreadPoolExecutor(READER_THREADS, thread_name_prefix="reader")
            )
            producer = self._connect()
            if producer is None:
                return  # asked to stop before the broker ever answered
            resources.callback(producer.close)
            self.sender = FileSender(
                producer, self.settings.raw_topic, self.settings.deadletter_topic
            )
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
        for attempt in itertools.count():
            try:
                # A longer linger than the default: fuller batches mean far fewer requests
                # when thousands of files arrive, and 50 ms is small beside a file's trip
                # through the pipeline.
                return newsflow_kafka.producer(
                    self.settings.kafka, bootstrap_timeout_ms=10_000, linger_ms=50
                )
            except KafkaError as error:
                wait = BROKER_RETRY_SECONDS[min(attempt, len(BROKER_RETRY_SECONDS) - 1)]
                why = f"Kafka unreachable at {self.settings.kafka.bootstrap_servers}: {error}"
                self.runtime.health.set_not_ready(why)
                log.warning("%s; retrying in %ds", why, wait)
                self.runtime.health.beat()
                if self.runtime.stopping.wait(wait):
                    return None
        raise AssertionError("unreachable")

    def _read_settled_files(self) -> bool:
        room = self.settings.max_files_in_flight - self.sender.in_flight - self._files_reading()
        settled = self.inbox.settled(limit=max(room, 0))
        for start in range(0, len(settled), READ_BATCH_FILES):
            # Opening and reading files is mostly waiting on the file system and on the
            # parser processes: a few threads overlap it, while sending stays on this thread.
            batch = settled[start : start + READ_BATCH_FILES]
            self._reading.append((batch, self.readers.submit(self._read_batch, batch)))
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

    def _read_batch(self, batch: list[SettledFile]) -> list[FileRecords | None]:
        """The records of each file of `batch` (None: gone, or to be retried)."""
        results: list[FileRecords | None] = [None] * len(batch)
        loaded: list[tuple[int, LoadedFile, float]] = []
        size = 0
        for number, settled in enumerate(batch):
            started = time.perf_counter()
            outcome = self._guarded(settled, self._load, settled)
            if isinstance(outcome, LoadedFile):
                loaded.append((number, outcome, time.perf_counter() - started))
                size += len(outcome.data)
                if size >= PARSE_BATCH_BYTES:
                    self._parse(batch, loaded, results)
                    loaded, size = [], 0
            else:
                results[number] = self._counted(outcome, time.perf_counter() - started)
        self._parse(batch, loaded, results)
        return results

    def _load(self, settled: SettledFile) -> LoadedFile | FileRecords:
        depth = len(settled.relative_path.parts)
        if (
            settled.is_folder
            and depth < self.settings.max_folder_depth
            and _is_readable_folder(settled.path)
        ):
            raise Vanished(settled.relative)  # unreadable when scanned, readable now: rescan
        return load_file(
            self.inbox.root, settled.relative_path, settled.relative, self.settings.max_file_bytes
        )

    def _parse(
        self,
        batch: list[SettledFile],
        loaded: list[tuple[int, LoadedFile, float]],
        results: list[FileRecords | None],
    ) -> None:
        if not loaded:
            return
        try:
            answers = self.parsers.parse_many([(file.name, file.data) for _, file, _ in loaded])
        except Exception:  # the parser processes themselves failed (cannot start one, say)
            log.exception("parsing %d file(s) failed; a later scan retries them", len(loaded))
            return
        for (number, file, read_seconds), (parsed, parse_seconds) in zip(
            loaded, answers, strict=True
        ):
            settled = batch[number]
            records = self._guarded(settled, self._records, settled, file, parsed)
            results[number] = self._counted(records, read_seconds + parse_seconds)

    def _records(
        self, settled: SettledFile, file: LoadedFile, parsed: ParsedFile | InputRejected
    ) -> FileRecords:
        records = file_records(
            file,
            parsed,
            settled.first_seen_at,
            earlier_sha256=self._sent_before.pop(settled.path, None),
        )
        # Encoded here, off the sending thread, and so that a record that cannot be encoded
        # rejects its file rather than failing the send.
        records.encoded = encoded_records(
            records, settled.relative, self.settings.raw_topic, self.settings.deadletter_topic
        )
        return records

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
            return failed_file(settled.path, settled.relative, error)
        return None

    @staticmethod
    def _counted(records: FileRecords | None, seconds: float) -> FileRecords | None:
        if records is not None:
            metrics.PARSE_SECONDS.observe(seconds)
            metrics.FILES_SEEN.inc()
            metrics.BYTES_READ.inc(records.size_bytes)
        return records

    def _send(self, settled: SettledFile, records: FileRecords) -> None:
        # Only a file found by a scan can be one an earlier run sent and failed to move: a
        # file that arrived by an event since the start is new (and the ledger lookup is I/O).
        if (
            settled.found_by_scan
            and records.sha256
            and self.ledger.was_sent(records.sha256, settled.relative)
        ):
            # Sent before a crash that came between the acknowledgement and the move.
            metrics.RESENDS_AVOIDED.inc()
            self._move_out(FileInFlight(settled, records, waiting_for=0))
            return
        try:
            self.sender.send(settled, records)
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
            for file in sent:
                metrics.FILE_TO_ACK_SECONDS.observe(now - file.settled.first_seen_at.timestamp())
                metrics.ARTICLES_SENT.inc(len(file.records.articles))
                for letter in file.records.dead_letters:
                    metrics.DEAD_LETTERS.labels(letter.reason.value).inc()
                self._move_out(file)
        return bool(sent or refused)

    def _move_out(self, file: FileInFlight) -> None:
        settled, records = file.settled, file.records
        try:
            if records.rejection is not None:
                destination = move_to_failed(
                    self.inbox.root,
                    settled.relative_path,
                    self.settings.failed_dir,
                    records.rejection,
                    records.sha256,
                    settled.relative,
                )
                metrics.FILES_FAILED.labels(records.rejection.reason.value).inc()
                log.warning(
                    "rejected: %s",
                    records.rejection.message,
                    extra={"file": settled.relative, "reason": records.rejection.reason.value},
                )
            elif records.identity is not None and changed_since(
                self.inbox.root, settled.relative_path, records.identity
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
                destination = move_to_processed(
                    self.inbox.root, settled.relative_path, self.settings.processed_dir
                )
                metrics.FILES_SENT.inc()
                log.info(
                    "sent %d article(s)",
                    len(records.articles),
                    extra={
                        "file": settled.relative,
                        "article_id": ",".join(a.article_id for a in records.articles[:5]),
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
