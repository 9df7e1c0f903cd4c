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
from pathlib import Path

from newsflow import __version__
from newsflow.identity import article_id
from newsflow.records import (
    DeadLetter,
    DeadLetterReason,
    FileInput,
    FileOrigin,
    RawArticle,
    TraceEntry,
    excerpt,
)
from newsflow_watcher.parsing import InputRejected, ParsedArticle, parse_file_bytes


class Vanished(Exception):
    """The file disappeared before it could be read."""


@dataclass
class FileRecords:
    """Everything one file turned into. `rejection` is set when the file as a whole failed."""

    path: Path
    shown_path: str
    sha256: str | None
    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    rejection: InputRejected | None = None
    size_bytes: int = 0


def read_file(path: Path, shown_path: str, first_seen_at: datetime, max_bytes: int) -> FileRecords:
    """Read and parse one file. `shown_path` is how records name it (relative to the inbox)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Vanished(shown_path) from None
    if stat.S_ISLNK(info.st_mode):
        # The target is never opened: its content must not leak out of the inbox.
        return _rejected(
            path,
            shown_path,
            InputRejected(
                DeadLetterReason.SYMLINK,
                f"{shown_path} is a symbolic link; links are never followed",
            ),
            payload=b"",
            size=0,
        )
    if not stat.S_ISREG(info.st_mode):
        return _rejected(
            path,
            shown_path,
            InputRejected(DeadLetterReason.UNSUPPORTED_TYPE, f"{shown_path} is not a regular file"),
            payload=b"",
            size=0,
        )
    if info.st_size > max_bytes:
        return _too_large(path, shown_path, info.st_size, max_bytes)

    try:
        data = _read_at_most(path, max_bytes + 1)
    except FileNotFoundError:
        raise Vanished(shown_path) from None
    except PermissionError as error:
        return _rejected(
            path,
            shown_path,
            InputRejected(
                DeadLetterReason.UNREADABLE, f"{shown_path} cannot be read: {error.strerror}"
            ),
            payload=b"",
            size=info.st_size,
        )
    except OSError as error:
        if error.errno == errno.ELOOP:  # swapped for a link between lstat and open
            return _rejected(
                path,
                shown_path,
                InputRejected(DeadLetterReason.SYMLINK, f"{shown_path} became a symbolic link"),
                payload=b"",
                size=0,
            )
        raise
    if len(data) > max_bytes:  # it grew after it had settled
        return _too_large(path, shown_path, len(data), max_bytes)

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        parsed = parse_file_bytes(path.name, data)
    except InputRejected as rejection:
        return _rejected(path, shown_path, rejection, payload=data, size=len(data), sha256=sha256)

    origin_fields = {
        "path": shown_path,
        "file_name": path.name,
        "size_bytes": len(data),
        "modified_at": datetime.fromtimestamp(info.st_mtime, UTC),
        "sha256": sha256,
        "format": parsed.format,
        "encoding": parsed.encoding,
        "first_seen_at": first_seen_at,
    }
    now = datetime.now(UTC)
    result = FileRecords(path=path, shown_path=shown_path, sha256=sha256, size_bytes=len(data))
    result.articles = [
        _article(parsed_article, FileOrigin(**origin_fields, line=parsed_article.line), now)
        for parsed_article in parsed.articles
    ]
    result.dead_letters = [
        dead_letter(
            InputRejected(bad.reason, f"{shown_path} line {bad.line}: {bad.message}"),
            FileInput(path=shown_path, line=bad.line),
            bad.text.encode("utf-8"),
        )
        for bad in parsed.rejected_lines
    ]
    return result


def dead_letter(
    rejection: InputRejected, source: FileInput, payload: bytes, size: int | None = None
) -> DeadLetter:
    """A dead letter for a file or line; `size` when only part of the payload was read."""
    text, truncated = excerpt(payload)
    size = len(payload) if size is None else size
    return DeadLetter(
        stage="watcher",
        reason=rejection.reason,
        message=rejection.message,
        input=source,
        payload_excerpt=text,
        payload_size_bytes=size,
        payload_truncated=truncated or size > len(payload),
        service_version=__version__,
        failed_at=datetime.now(UTC),
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


def _read_at_most(path: Path, limit: int) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after lstat is refused, not followed.
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read(limit)


def _too_large(path: Path, shown_path: str, size: int, max_bytes: int) -> FileRecords:
    try:
        head = _read_at_most(path, 4096)  # a glimpse for the dead letter, never the whole file
    except OSError:
        head = b""
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
