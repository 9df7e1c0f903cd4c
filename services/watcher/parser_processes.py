"""Parsing in processes of its own, each file with a time budget.

A parser stuck in C code (lxml on a crafted page, a regular expression) cannot be stopped from
a thread, and one such file would hold back every file behind it. Its process can be killed:
the file is quarantined as `too_slow`, a fresh process takes its place, and the other
processes keep parsing the files behind it meanwhile. A parser process that dies (out of
memory, a crash in C code) costs only the file it was parsing.

Files go to a process in batches, one message for many small files, and come back one
answer per file as each is parsed: the budget is each file's own, and after a file that was
stopped the rest of its batch goes on in the fresh process.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
from multiprocessing.connection import Connection
from typing import Any

from newsflow.records import DeadLetterReason
from newsflow_watcher import metrics
from newsflow_watcher.parsing import InputRejected, ParsedFile, parse_file_bytes

log = logging.getLogger(__name__)

# What a file's parsing made of it (or why it was rejected), and the seconds it took.
Answer = tuple[ParsedFile | InputRejected, float]

# Spawned, not forked: the watcher has threads (Kafka's, inotify's) whose locks a fork
# would copy mid-use.
_CONTEXT = multiprocessing.get_context("spawn")


class ParserPool:
    """`parse_file_bytes` for batches of files, run in one of `processes` processes."""

    def __init__(self, processes: int, seconds_per_file: float, max_articles: int) -> None:
        self._seconds = seconds_per_file
        self._max_articles = max_articles
        self._idle: queue.Queue[_ParserProcess] = queue.Queue()
        for _ in range(processes):
            self._idle.put(_ParserProcess())

    def parse_many(self, files: list[tuple[str, bytes]]) -> list[Answer]:
        """(file name, bytes) of each file to what `parse_file_bytes` makes of it, or why it
        was rejected, with the seconds it took, in the same order."""
        parser = self._idle.get()
        try:
            return parser.parse_many(files, self._max_articles, self._seconds)
        finally:
            self._idle.put(parser)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class _ParserProcess:
    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self._connection, child_end = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve, args=(child_end,), name="newsflow-parser", daemon=True
        )
        self._process.start()
        child_end.close()

    def parse_many(
        self, files: list[tuple[str, bytes]], max_articles: int, seconds: float
    ) -> list[Answer]:
        answers: list[Answer] = []
        while len(answers) < len(files):
            batch = files[len(answers) :]
            try:
                self._connection.send((batch, max_articles))
            except OSError:
                self._restart()  # died while idle: the batch goes to a fresh process
                self._connection.send((batch, max_articles))
            since = time.perf_counter()
            for file_name, _ in batch:
                answer, replaced = self._answer(file_name, seconds)
                # The process parses one file after the other: the time between two answers
                # is the second file's.
                now = time.perf_counter()
                answers.append((answer, now - since))
                since = now
                if replaced:
                    break  # the rest of the batch goes to the fresh process
        return answers

    def _answer(self, file_name: str, seconds: float) -> tuple[ParsedFile | InputRejected, bool]:
        """The next answer of the process, and whether the process had to be replaced."""
        try:
            finished = self._connection.poll(seconds)
            answer = self._connection.recv() if finished else None
        except (EOFError, OSError):
            answer = ("died", self._exit_code())
        if answer is None:
            self._restart()
            return InputRejected(
                DeadLetterReason.TOO_SLOW,
                f"{file_name} took longer than {seconds:g} s to parse and was stopped "
                "(NEWSFLOW_WATCHER_PARSE_SECONDS_PER_FILE); its shape, not its size, makes "
                "it slow to read",
            ), True
        match answer:
            case ("parsed", parsed):
                return parsed, False
            case ("rejected", reason, message):
                return InputRejected(DeadLetterReason(reason), message), False
            case ("failed", description):
                return InputRejected(
                    DeadLetterReason.PROCESSING_FAILED,
                    f"{file_name} could not be parsed: {description}",
                ), False
        self._restart()
        return InputRejected(
            DeadLetterReason.PROCESSING_FAILED,
            f"the parser process died on {file_name} (exit code {answer[1]}); "
            "a fresh one took its place",
        ), True

    def _exit_code(self) -> int | None:
        self._process.join(timeout=1)
        return self._process.exitcode

    def _restart(self) -> None:
        log.warning("restarting a parser process")
        metrics.PARSER_RESTARTS.inc()
        self.close()
        self._start()

    def close(self) -> None:
        self._connection.close()
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=5)


def _serve(connection: Connection) -> None:
    """The parser process: batches of files in, for each file a ParsedFile or a rejection
    out as soon as it is parsed, until the pipe closes."""
    while True:
        try:
            batch, max_articles = connection.recv()
        except EOFError:
            return
        for file_name, data in batch:
            answer: tuple[Any, ...]
            try:
                parsed = parse_file_bytes(file_name, data, max_articles=max_articles)
                answer = ("parsed", parsed)
            except InputRejected as rejection:
                answer = ("rejected", rejection.reason.value, rejection.message)
            except Exception as error:  # one file's failure is reported, not fatal
                answer = ("failed", f"{type(error).__name__}: {error}")
            connection.send(answer)
