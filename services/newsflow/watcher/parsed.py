"""What parsing a dropped file yields: articles, rejected lines, or a rejection of the whole file.

Plain frozen dataclasses that know nothing of Kafka; the watcher turns them into `RawArticle`
records or dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsflow.core.records import DeadLetterReason, InputFormat, TitleMethod


class InputRejected(Exception):
    """The input cannot become an article; carries the dead-letter reason and a human message."""

    def __init__(self, reason: DeadLetterReason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"

    def __reduce__(self):  # it travels back from the parser processes
        return InputRejected, (self.reason, self.message)


@dataclass(frozen=True)
class ParsedArticle:
    title: str | None
    title_method: TitleMethod
    title_confidence: float  # 0..1, how sure title extraction is
    body: str  # non-empty, NFC, \n line endings, trimmed
    url: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None  # timezone-aware
    language: str | None = None
    line: int | None = None  # 1-based line number in a .jsonl file


@dataclass(frozen=True)
class RejectedLine:
    """One bad line of a JSON Lines file; the good lines of the file still go through."""

    line: int
    reason: DeadLetterReason
    message: str  # what is wrong with the line; does not repeat `line`
    text: str  # the raw line, decoded


@dataclass(frozen=True)
class ParsedFile:
    format: InputFormat
    encoding: str  # e.g. "utf-8", "utf-8-sig", "utf-16", "cp1252"
    articles: list[ParsedArticle]
    rejected_lines: list[RejectedLine]
