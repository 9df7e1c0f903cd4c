"""From one settled file to the records it becomes: articles for `articles.raw` and dead
letters for what cannot be read. Shared by the watcher service and `newsflow ingest`.

A file is never followed through a symlink, never read past the size limit, and a file that
vanishes before it is read is not an error (someone took it back).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath

from newsflow import __version__
from newsflow.core import records
from newsflow.core.identity import article_id
from newsflow.core.records import (
    DeadLetter,
    DeadLetterReason,
    FileInput,
    FileOrigin,
    RawArticle,
    TraceEntry,
    encode,
)

from . import confined
from .folders import file_identity
from .parsing import InputRejected, ParsedArticle, ParsedFile, parse_file_bytes


class Vanished(Exception):
    """The file disappeared before it could be read."""


@dataclass
class FileFacts:
    """What is known of one file whatever became of it. `rejection` is set when the file as
    a whole failed."""

    path: Path
    shown_path: str
    sha256: str | None
    rejection: InputRejected | None = None
    size_bytes: int = 0
    # Device, inode, size and modification time when read: a file that differs from this
    # when it is about to be moved was changed while it was being sent.
    identity: tuple[int, ...] | None = None


@dataclass
class FileRecords(FileFacts):
    """Everything one file turned into: article records and dead letters."""

    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def encoded(self, topics: Topics) -> EncodedFile:
        """The file's records as Kafka messages. A record that cannot be encoded turns the
        file into a rejection with the reason (and its records into that one dead letter),
        since sending part of a file would lose the rest."""
        try:
            messages = [
                (topics.raw, article.article_id, encode(article)) for article in self.articles
            ] + [
                (topics.deadletter, letter.article_id or self.shown_path, encode(letter))
                for letter in self.dead_letters
            ]
        except Exception as error:  # the file is quarantined with the error
            return failed_file(self.path, self.shown_path, error).encoded(topics)
        return EncodedFile(
            **{name: getattr(self, name) for name in FileFacts.__dataclass_fields__},
            messages=messages,
            article_ids=[article.article_id for article in self.articles],
            dead_letter_reasons=[letter.reason for letter in self.dead_letters],
        )


@dataclass
class EncodedFile(FileFacts):
    """A file's records ready to send, and what the watcher counts and logs of them: small,
    for it comes back from a parser process."""

    messages: list[tuple[str, str, bytes]] = field(default_factory=list)  # topic, key, value
    article_ids: list[str] = field(default_factory=list)
    dead_letter_reasons: list[DeadLetterReason] = field(default_factory=list)


@dataclass(frozen=True)
class Topics:
    raw: str
    deadletter: str


@dataclass
class LoadedFile:
    """A file's bytes, read and hashed, waiting to be parsed."""

    path: Path
    shown_path: str
    data: bytes
    sha256: str
    info: os.stat_result

    @property
    def name(self) -> str:
        return self.shown_path.rpartition("/")[2]


@dataclass(frozen=True)
class ReadRules:
    """How every file is read: its size limit, the most articles it may hold, where its
    records go."""

    max_bytes: int
    max_articles: int
    topics: Topics


@dataclass(frozen=True)
class FileToRead:
    folder: Path
    relative: PurePath  # inside `folder`, as the file system has it
    shown_path: str  # how records name the file: see `shown_name`
    first_seen_at: datetime
    earlier_sha256: str | None = None  # the content sent before, when the file changed since


def read_file(rules: ReadRules, file: FileToRead) -> EncodedFile:
    """Read, parse and encode one file (see `read_records`)."""
    return read_records(rules, file).encoded(rules.topics)


def read_records(
    rules: ReadRules, file: FileToRead, stopped: InputRejected | None = None
) -> FileRecords:
    """Read and parse one file (see `load_file`). Raises Vanished, LinkOnPath or OSError when
    the file cannot be read now and a later look should try again. A file whose reading was
    `stopped` (it took too long, or its parser process died) is read again only for its
    dead letter's excerpt, and never parsed."""
    loaded = load_file(file.folder, file.relative, file.shown_path, rules.max_bytes)
    if isinstance(loaded, FileRecords):
        return loaded
    outcome = stopped or parsed(loaded, rules.max_articles)
    return file_records(loaded, outcome, file.first_seen_at, file.earlier_sha256)


def parsed(loaded: LoadedFile, max_articles: int) -> ParsedFile | InputRejected:
    """What parsing makes of a loaded file, or why it cannot become any article."""
    try:
        return parse_file_bytes(loaded.name, loaded.data, max_articles=max_articles)
    except InputRejected as rejection:
        return rejection
    except Exception as error:  # a parser's own failure rejects this file only
        return InputRejected(
            DeadLetterReason.PROCESSING_FAILED,
            f"{loaded.name} could not be parsed: {type(error).__name__}: {error}",
        )


def load_file(
    folder: Path, relative: PurePath, shown_path: str, max_bytes: int
) -> LoadedFile | FileRecords:
    """The bytes of `folder/relative`, walking down from `folder` without following any
    link (LinkOnPath when a folder on the way is one), or the records of its rejection (a
    link, not a regular file, unreadable, too large). `shown_path` is how records name the
    file."""
    path = folder / relative
    try:
        with confined.folder(folder, relative.parts[:-1]) as parent:
            descriptor, info = confined.open_file(parent, relative.name)
    except FileNotFoundError:
        raise Vanished(shown_path) from None
    except confined.NotRegularFile:
        return _rejected(path, shown_path, _not_regular(folder, relative, shown_path), b"", 0)
    except PermissionError as error:
        rejection = InputRejected(
            DeadLetterReason.UNREADABLE, f"{shown_path} cannot be read: {error.strerror}"
        )
        return _rejected(path, shown_path, rejection, payload=b"", size=0)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        # The target is never opened: its content must not leak out of the inbox.
        rejection = InputRejected(
            DeadLetterReason.SYMLINK, f"{shown_path} is a symbolic link; links are never followed"
        )
        return _rejected(path, shown_path, rejection, payload=b"", size=0)

    with os.fdopen(descriptor, "rb") as handle:
        if info.st_size > max_bytes:
            # A glimpse for the dead letter, never the whole file.
            return _too_large(path, shown_path, info.st_size, max_bytes, handle.read(4096))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after it had settled
        return _too_large(path, shown_path, len(data), max_bytes, data[:4096])
    return LoadedFile(path, shown_path, data, hashlib.sha256(data).hexdigest(), info)


def file_records(
    loaded: LoadedFile,
    parsed: ParsedFile | InputRejected,
    first_seen_at: datetime,
    earlier_sha256: str | None = None,
) -> FileRecords:
    """The records of a loaded file from what its parsing made of it."""
    path, shown_path, data, sha256 = loaded.path, loaded.shown_path, loaded.data, loaded.sha256
    if isinstance(parsed, InputRejected):
        return _rejected(path, shown_path, parsed, payload=data, size=len(data), sha256=sha256)
    result = FileRecords(
        path=path,
        shown_path=shown_path,
        sha256=sha256,
        size_bytes=len(data),
        identity=file_identity(loaded.info),
    )
    result.articles, result.dead_letters = records_of(
        parsed,
        shown_path,
        data,
        sha256,
        modified_at=datetime.fromtimestamp(loaded.info.st_mtime, UTC),
        first_seen_at=first_seen_at,
        earlier_sha256=earlier_sha256,
    )
    return result


def records_of(
    parsed: ParsedFile,
    shown_path: str,
    data: bytes,
    sha256: str,
    modified_at: datetime,
    first_seen_at: datetime,
    earlier_sha256: str | None = None,
) -> tuple[list[RawArticle], list[DeadLetter]]:
    """The article records and the bad lines' dead letters of a parsed file (`sha256`: of
    `data`, hashed once by the caller)."""
    origin_fields = {
        "path": shown_path,
        "file_name": shown_path.rpartition("/")[2],
        "size_bytes": len(data),
        "modified_at": modified_at,
        "sha256": sha256,
        "format": parsed.format,
        "encoding": parsed.encoding,
        "first_seen_at": first_seen_at,
        "earlier_sha256": earlier_sha256,
    }
    now = datetime.now(UTC)
    articles = [
        _article(parsed_article, FileOrigin(**origin_fields, line=parsed_article.line), now)
        for parsed_article in parsed.articles
    ]
    dead_letters = [
        dead_letter(
            InputRejected(bad.reason, f"{shown_path} line {bad.line}: {bad.message}"),
            FileInput(path=shown_path, line=bad.line),
            bad.text.encode("utf-8", "replace"),
        )
        for bad in parsed.rejected_lines
    ]
    return articles, dead_letters


def failed_file(path: Path, shown_path: str, error: Exception) -> FileRecords:
    """The records of a file the watcher itself failed on: quarantined with the error."""
    rejection = InputRejected(
        DeadLetterReason.PROCESSING_FAILED,
        f"{shown_path} could not be processed: {type(error).__name__}: {error}",
    )
    return _rejected(path, shown_path, rejection, payload=b"", size=0)


def shown_name(relative: PurePath) -> str:
    """How records, logs and reports name a file: its path in the inbox, with any bytes that
    are not UTF-8 (a Latin-1 `café.txt`) written as escapes, since records are UTF-8 JSON."""
    return os.fsencode(relative.as_posix()).decode("utf-8", "backslashreplace")


def _not_regular(folder: Path, relative: PurePath, shown_path: str) -> InputRejected:
    try:
        with confined.folder(folder, relative.parts[:-1]) as parent:
            is_folder = stat.S_ISDIR(confined.status(parent, relative.name).st_mode)
    except OSError:
        is_folder = False
    if is_folder:
        # The inbox hands on a folder only when it lies deeper than the watcher goes.
        return InputRejected(
            DeadLetterReason.TOO_DEEP,
            f"{shown_path} is a folder nested deeper than the watcher reads "
            "(NEWSFLOW_WATCHER_MAX_FOLDER_DEPTH); quarantined as a whole",
        )
    return InputRejected(DeadLetterReason.UNSUPPORTED_TYPE, f"{shown_path} is not a regular file")


def dead_letter(
    rejection: InputRejected, source: FileInput, payload: bytes, size: int | None = None
) -> DeadLetter:
    """A dead letter for a file or line; `size` when only part of the payload was read."""
    return records.dead_letter(
        "watcher", rejection.reason, rejection.message, source, payload, size=size
    )


def _article(parsed: ParsedArticle, origin: FileOrigin, now: datetime) -> RawArticle:
    return RawArticle(
        article_id=article_id(parsed.title, parsed.body),
        title=parsed.title,
        title_method=parsed.title_method,
        title_confidence=parsed.title_confidence,
        body=parsed.body,
        url=parsed.url,
        publisher=parsed.publisher,
        published_at=parsed.published_at,
        language=parsed.language,
        origin=origin,
        trace=[TraceEntry(stage="watcher", service_version=__version__, processed_at=now)],
    )


def _too_large(path: Path, shown_path: str, size: int, max_bytes: int, head: bytes) -> FileRecords:
    rejection = InputRejected(
        DeadLetterReason.TOO_LARGE,
        f"{shown_path} is {size:,} bytes, over the limit of {max_bytes:,} "
        "(NEWSFLOW_WATCHER_MAX_FILE_BYTES)",
    )
    return _rejected(path, shown_path, rejection, payload=head, size=size)


def _rejected(
    path: Path,
    shown_path: str,
    rejection: InputRejected,
    payload: bytes,
    size: int,
    sha256: str | None = None,
) -> FileRecords:
    return FileRecords(
        path=path,
        shown_path=shown_path,
        sha256=sha256,
        dead_letters=[dead_letter(rejection, FileInput(path=shown_path), payload, size)],
        rejection=rejection,
        size_bytes=size,
    )
