"""The watcher's parser processes: files go in batches, each file keeps its own time budget,
one file stopped for taking too long costs its batch nothing else, and what a file cannot
be read for comes back as the error it was."""

import functools
import json
from datetime import UTC, datetime
from pathlib import Path, PurePath

import pytest

from newsflow.core.records import DeadLetterReason
from newsflow.watcher.files import EncodedFile, FileToRead, ReadRules, Topics, Vanished, read_file
from newsflow.watcher.parser_processes import ParserPool, Stopped

ARTICLE = b"Ministers agree new fishing quotas\n\nThe agreement was reached late on Tuesday.\n"
# Nine megabytes of accented sentences: legitimate, but far past a quarter-second budget
# (ASCII text of that size now parses within it).
SLOW = ("Slow\n\n" + "Le conseil s'est r\u00e9uni: il vote. " * 270_000).encode()
RULES = ReadRules(max_bytes=16 << 20, max_articles=100, topics=Topics("raw", "dead"))


@pytest.fixture
def inbox(tmp_path) -> Path:
    for name, data in [("a.txt", ARTICLE), ("empty.txt", b""), ("b.md", ARTICLE)]:
        (tmp_path / name).write_bytes(data)
    (tmp_path / "slow.txt").write_bytes(SLOW)
    return tmp_path


def pool(seconds_per_file: float) -> ParserPool:
    return ParserPool(1, seconds_per_file, functools.partial(read_file, RULES))


def to_read(inbox: Path, name: str) -> FileToRead:
    return FileToRead(inbox, PurePath(name), name, datetime.now(UTC))


def article_of(answer: EncodedFile) -> dict:
    [(topic, _, value)] = answer.messages
    assert topic == "raw"
    return json.loads(value)


def test_a_batch_comes_back_in_order_with_each_files_records_or_rejection(inbox):
    parsers = pool(seconds_per_file=10)
    try:
        answers = parsers.run_many([to_read(inbox, n) for n in ("a.txt", "empty.txt", "b.md")])
    finally:
        parsers.close()
    first, empty, second = (answer for answer, _ in answers)
    assert article_of(first)["title"].startswith("Ministers")
    assert first.article_ids == [article_of(first)["article_id"]]
    assert empty.rejection.reason is DeadLetterReason.EMPTY_FILE and not empty.article_ids
    [(topic, _, letter)] = empty.messages
    assert topic == "dead" and json.loads(letter)["reason"] == "empty_file"
    assert article_of(second)["origin"]["format"] == "md"
    assert all(seconds >= 0 for _, seconds in answers)


def test_a_file_over_its_budget_is_stopped_and_the_rest_of_its_batch_is_read(inbox):
    parsers = pool(seconds_per_file=0.25)
    try:
        answers = parsers.run_many([to_read(inbox, n) for n in ("a.txt", "slow.txt", "b.md")])
        [(again, _)] = parsers.run_many([to_read(inbox, "a.txt")])  # the fresh process goes on
    finally:
        parsers.close()
    first, slow, last = (answer for answer, _ in answers)
    assert isinstance(first, EncodedFile) and isinstance(last, EncodedFile)
    assert isinstance(slow, Stopped) and slow.reason is DeadLetterReason.TOO_SLOW
    assert article_of(again)["body"] == "The agreement was reached late on Tuesday."


def test_a_file_that_cannot_be_read_comes_back_as_the_error_with_where_it_was_raised(inbox):
    parsers = pool(seconds_per_file=10)
    try:
        [(gone, _), (read, _)] = parsers.run_many(
            [to_read(inbox, "taken-back.txt"), to_read(inbox, "a.txt")]
        )
    finally:
        parsers.close()
    assert isinstance(gone, Vanished) and "taken-back.txt" in str(gone)
    assert "load_file" in str(gone.__cause__)
    assert isinstance(read, EncodedFile)
