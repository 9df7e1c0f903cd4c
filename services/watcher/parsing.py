"""The watcher's parsing logic: the bytes of a dropped file become articles, or a rejection
with a dead-letter reason. Pure functions, no Kafka and no file system, so the service, the
`newsflow eval` commands, the benchmarks and the unit tests all share them.
"""

from __future__ import annotations

from pathlib import PurePath

from newsflow.records import DeadLetterReason, InputFormat

from .decoding import decode_text
from .html_format import declared_encoding, parse_html
from .json_format import parse_json_document, parse_json_lines
from .parsed import InputRejected, ParsedArticle, ParsedFile, RejectedLine
from .text_format import parse_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "InputRejected",
    "ParsedArticle",
    "ParsedFile",
    "RejectedLine",
    "input_format",
    "parse_file_bytes",
]

_FORMAT_BY_SUFFIX = {
    ".txt": InputFormat.TXT,
    ".md": InputFormat.MD,
    ".json": InputFormat.JSON,
    ".jsonl": InputFormat.JSONL,
    ".html": InputFormat.HTML,
    ".htm": InputFormat.HTML,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMAT_BY_SUFFIX)


def input_format(file_name: str) -> InputFormat:
    """The format a file name's suffix (any case) announces, or InputRejected(UNSUPPORTED_TYPE)."""
    suffix = PurePath(file_name).suffix.lower()
    try:
        return _FORMAT_BY_SUFFIX[suffix]
    except KeyError:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        found = f"suffix {suffix!r}" if suffix else "no suffix"
        raise InputRejected(
            DeadLetterReason.UNSUPPORTED_TYPE,
            f"{file_name} has {found}; supported: {supported}",
        ) from None


def parse_file_bytes(file_name: str, data: bytes) -> ParsedFile:
    """Raise InputRejected when no article at all can be made of the file."""
    file_format = input_format(file_name)
    declared = declared_encoding(data) if file_format is InputFormat.HTML else None
    decoded = decode_text(file_name, data, declared)
    rejected_lines: list[RejectedLine] = []
    articles: list[ParsedArticle]
    match file_format:
        case InputFormat.TXT | InputFormat.MD:
            markdown = file_format is InputFormat.MD
            articles = [parse_text(file_name, decoded.text, markdown=markdown)]
        case InputFormat.JSON:
            articles = parse_json_document(file_name, decoded.text)
        case InputFormat.JSONL:
            articles, rejected_lines = parse_json_lines(file_name, decoded.text)
        case InputFormat.HTML:
            articles = [parse_html(file_name, decoded.text)]
    return ParsedFile(
        format=file_format,
        encoding=decoded.encoding,
        articles=articles,
        rejected_lines=rejected_lines,
    )
