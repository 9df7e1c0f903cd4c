"""Reading and parsing in processes of their own, each file with a time budget.

A parser stuck in C code (lxml on a crafted page, a regular expression) cannot be stopped from
a thread, and one such file would hold back every file behind it. Its process can be killed:
the file is quarantined as `too_slow`, a fresh process takes its place, and the other
processes keep parsing the files behind it meanwhile. A parser process that dies (out of
memory, a crash in C code) costs only the file it was parsing.

The processes also do the rest of a file's work (opening it, hashing it, making and encoding
its records), so that it runs beside the watcher's own loop instead of contending with it
for one interpreter; what comes back is the encoded records.

Files go to a process in batches, one message for many small files, and come back one
answer per file as each is done: the budget is each file's own, and after a file that was
stopped the rest of its batch goes on in the fresh process.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from newsflow.core.records import DeadLetterReason

from . import metrics

log = logging.getLogger(__name__)

# Spawned, not forked: the watcher has threads (Kafka's, inotify's) whose locks a fork
# would copy mid-use.
_CONTEXT = multiprocessing.get_context("spawn")
# How long a fresh process may take to start (a new interpreter importing the parsers, on a
# busy machine) before the watcher gives up on it; a file's budget starts after that.
STARTUP_SECONDS = 120.0


class Stopped(Exception):
    """The process working on an item was stopped (over its time budget) or died."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message  # follows the file's name: "slow.txt took longer than…"


class RemoteTraceback(Exception):
    """Where an item's work failed inside its process (the cause of the error raised)."""

    def __str__(self) -> str:
        return str(self.args[0])


# What came of one item: the work's result, or the exception it raised (Stopped when its
# process had to go), with the seconds it took.
Answer = tuple[Any, float]


class ParserPool:
    """`work(item)` for batches of items, run in one of `processes` processes, each item
    within `seconds_per_file`. `work` must be a picklable function (a module's function, or
    a functools.partial of one)."""

    def __init__(self, processes: int, seconds_per_file: float, work: Callable[[Any], Any]):
        self._seconds = seconds_per_file
        self._idle: queue.Queue[_ParserProcess] = queue.Queue()
        for _ in range(processes):
            self._idle.put(_ParserProcess(work))

    def run_many(self, items: Sequence[Any]) -> list[Answer]:
        """What `work` made of each item (or the exception it raised), with the seconds it
        took, in the same order."""
        process = self._idle.get()
        try:
            return process.run_many(items, self._seconds)
        finally:
            self._idle.put(process)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class _ParserProcess:
    def __init__(self, work: Callable[[Any], Any]) -> None:
        self._work = work
        self._start()

    def _start(self) -> None:
        self._connection, child_end = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve, args=(child_end, self._work), name="newsflow-parser", daemon=True
        )
        self._process.start()
        child_end.close()
        self._started = False

    def _wait_started(self) -> None:
        """Until the process has started: its start-up is not the next file's time."""
        if self._started:
            return
        try:
            ready = self._connection.poll(STARTUP_SECONDS) and self._connection.recv()
        except (EOFError, OSError):
            ready = False
        if ready != ("ready",):
            raise RuntimeError(
                f"a parser process did not start within {STARTUP_SECONDS:g} s "
                f"(exit code {self._exit_code()})"
            )
        self._started = True

    def run_many(self, items: Sequence[Any], seconds: float) -> list[Answer]:
        answers: list[Answer] = []
        while len(answers) < len(items):
            batch = items[len(answers) :]
            try:
                self._wait_started()
                self._connection.send(batch)
            except (OSError, RuntimeError):
                self._restart()  # died while idle: the batch goes to a fresh process
                self._wait_started()
                self._connection.send(batch)
            since = time.perf_counter()
            for _ in batch:
                answer = self._answer(seconds)
                # The process works on one item after the other: the time between two
                # answers is the second item's.
                now = time.perf_counter()
                answers.append((answer, now - since))
                since = now
                if isinstance(answer, Stopped):
                    break  # the rest of the batch goes to the fresh process
        return answers

    def _answer(self, seconds: float) -> Any:
        """The next answer of the process; Stopped when the process had to be replaced."""
        try:
            finished = self._connection.poll(seconds)
            answer = self._connection.recv() if finished else None
        except (EOFError, OSError):
            answer = ("died", self._exit_code())
        match answer:
            case ("done", result):
                return result
            case ("raised", error, where):
                error.__cause__ = RemoteTraceback(where)
                return error
            case None:
                self._restart()
                return Stopped(
                    DeadLetterReason.TOO_SLOW,
                    f"took longer than {seconds:g} s to parse and was stopped "
                    "(NEWSFLOW_WATCHER_PARSE_SECONDS_PER_FILE); its shape, not its size, "
                    "makes it slow to read",
                )
        self._restart()
        return Stopped(
            DeadLetterReason.PROCESSING_FAILED,
            f"made the parser process die (exit code {answer[1]}); a fresh one took its place",
        )

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


def _serve(connection: Connection, work: Callable[[Any], Any]) -> None:
    """The parser process: batches of items in, for each item what `work` made of it (or the
    exception it raised) out as soon as it is done, until the pipe closes."""
    connection.send(("ready",))
    while True:
        try:
            batch = connection.recv()
        except EOFError:
            return
        for item in batch:
            try:
                answer: tuple[Any, ...] = ("done", work(item))
            except Exception as error:  # one item's failure is reported, not fatal
                answer = ("raised", _picklable(error), traceback.format_exc())
            try:
                connection.send(answer)
            except (pickle.PicklingError, TypeError, AttributeError) as error:
                connection.send(("raised", _picklable(error), traceback.format_exc()))


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
