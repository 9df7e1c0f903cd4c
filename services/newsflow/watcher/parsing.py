"""The watcher's parsing logic: the bytes of a dropped file become articles, or a rejection
with a dead-letter reason. Pure functions, no Kafka and no file system, so the service, the
`newsflow eval` commands, the benchmarks and the unit tests all share them.
"""

from __future__ import annotations

from pathlib import PurePath

from newsflow.core.records import DeadLetterReason, InputFormat

from .decoding import clean_text, decode_text
from .html_format import declared_encoding, parse_html
from .json_format import parse_json_document, parse_json_lines
from .parsed import InputRejected, ParsedArticle, ParsedFile, RejectedLine
from .text_format import parse_text

__all__ = [
    "MAX_ARTICLES_PER_FILE",
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

# Articles one file (a JSON array, a JSON Lines file) may hold. Past it the file is rejected
# whole (TOO_LARGE) and kept intact, rather than held in memory article by article: a 10 MB
# file of tiny lines is 800,000 articles and gigabytes of them.
MAX_ARTICLES_PER_FILE = 10_000


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


def parse_file_bytes(
    file_name: str, data: bytes, max_articles: int = MAX_ARTICLES_PER_FILE
) -> ParsedFile:
    """Raise InputRejected when no article at all can be made of the file, or when it holds
    more than `max_articles` articles.

    Every string of the result encodes as UTF-8, whatever the bytes held."""
    # The name goes into messages: a name that is not UTF-8 on disk reaches Python with lone
    # surrogates in it (os.fsdecode), which no record could carry.
    file_name = clean_text(file_name)
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
            articles = parse_json_document(file_name, decoded.text, max_articles)
        case InputFormat.JSONL:
            articles, rejected_lines = parse_json_lines(file_name, decoded.text, max_articles)
        case InputFormat.HTML:
            articles = [parse_html(file_name, decoded.text)]
    return ParsedFile(
        format=file_format,
        encoding=decoded.encoding,
        articles=articles,
        rejected_lines=rejected_lines,
    )
