"""JSON and JSON Lines articles: objects with at least a `body`, and optionally `title`, `url`,
`source`, `published_at` and `language`. A bad line of a JSON Lines file is rejected on its own.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

from newsflow.core.identity import collapse_spaces
from newsflow.core.records import DeadLetterReason, TitleMethod

from .decoding import clean_text
from .parsed import InputRejected, ParsedArticle, RejectedLine
from .text_rules import (
    CONFIDENCE_GIVEN,
    derive_title,
    drop_reprint_notices,
    parse_timestamp,
    tidy_body,
)

_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}

# Bad lines of a JSON Lines file listed one by one (each becomes a dead letter); the rest are
# summed up in one more, so that a file of a million broken lines costs a hundred dead
# letters, not a million, and the memory of a hundred.
MAX_REJECTED_LINES_LISTED = 100
# Field names quoted in a message, and how much of each: enough to see what the object is.
_FIELDS_SHOWN = 10
_FIELD_NAME_CHARS = 40
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def parse_json_document(file_name: str, text: str, max_articles: int) -> list[ParsedArticle]:
    """The articles of a .json file: one object, or a top-level array of objects.

    The file is one document, so it goes through whole or not at all: a bad item in an array
    rejects the file, naming the item, rather than sending part of it, and so does an array of
    more than `max_articles` items (TOO_LARGE).
    """
    start = _skip_whitespace(text, 0)
    if not text.startswith("[", start):
        try:
            return [article_from_object(_load(text))]
        except InputRejected as rejection:
            raise InputRejected(rejection.reason, f"{file_name}: {rejection.message}") from None
    # A top-level array is accepted too: exports of several articles come that way. Its items
    # are decoded one at a time, so that an array too long to take is known as soon as its
    # items outnumber the limit, before the rest of it is decoded.
    articles = []
    try:
        for number, item in enumerate(_array_items(text, start), start=1):
            if number > max_articles:
                raise _too_many_articles(file_name, number, max_articles)
            try:
                articles.append(article_from_object(item))
            except InputRejected as rejection:
                raise InputRejected(
                    rejection.reason,
                    f"{file_name}, item {number} of the JSON array: {rejection.message}",
                ) from None
    except _JsonUnreadable as unreadable:
        raise InputRejected(
            DeadLetterReason.INVALID_JSON, f"{file_name}: {unreadable.rejection.message}"
        ) from None
    if not articles:
        raise InputRejected(
            DeadLetterReason.MISSING_BODY, f"{file_name} is an empty JSON array: no article in it"
        )
    return articles


def parse_json_lines(
    file_name: str, text: str, max_articles: int
) -> tuple[list[ParsedArticle], list[RejectedLine]]:
    """The articles of a .jsonl file, one object per line; blank lines are skipped.

    A bad line becomes a `RejectedLine` whose message does not repeat its line number; past
    MAX_REJECTED_LINES_LISTED of them, one more `RejectedLine` sums up the rest. A file of
    more than `max_articles` articles is rejected whole (TOO_LARGE).
    """
    articles: list[ParsedArticle] = []
    rejected: list[RejectedLine] = []
    bad_lines = 0
    first_unlisted: RejectedLine | None = None
    for number, line in _numbered_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if first_unlisted is not None and _surely_bad(stripped):
            # Past the listed bad lines only their number matters: no rejection is built for
            # them (a file of a million broken lines takes a second, not ten).
            bad_lines += 1
            continue
        try:
            article = article_from_object(_load(line, in_one_line=True))
        except InputRejected as rejection:
            bad_lines += 1
            if bad_lines <= MAX_REJECTED_LINES_LISTED:
                rejected.append(RejectedLine(number, rejection.reason, rejection.message, line))
            elif first_unlisted is None:
                first_unlisted = RejectedLine(number, rejection.reason, rejection.message, line)
            continue
        if len(articles) == max_articles:
            raise _too_many_articles(file_name, max_articles + 1, max_articles)
        articles.append(dataclasses.replace(article, line=number))
    if not articles:
        first = rejected[0]
        more = bad_lines - 1
        others = f" ({more:,} more bad line{'s' if more > 1 else ''})" if more else ""
        raise InputRejected(
            first.reason,
            f"{file_name} has no line that holds an article; line {first.line}: "
            f"{first.message}{others}",
        )
    if first_unlisted is not None:
        rejected.append(_unlisted_summary(first_unlisted, bad_lines - len(rejected), rejected))
    return articles, rejected


def article_from_object(value: Any) -> ParsedArticle:
    """One article from a decoded JSON value, or InputRejected(MISSING_BODY) saying why not."""
    if not isinstance(value, dict):
        raise InputRejected(
            DeadLetterReason.MISSING_BODY,
            f"the JSON value is {_kind(value)}, not an object with a 'body'",
        )
    if "body" not in value:
        raise InputRejected(
            DeadLetterReason.MISSING_BODY,
            f"the JSON object has no 'body' field (fields: {_field_names(value)})",
        )
    body = value["body"]
    if not isinstance(body, str):
        raise InputRejected(DeadLetterReason.MISSING_BODY, f"'body' is {_kind(body)}, not a string")
    body = tidy_body(clean_text(body))
    if not body:
        raise InputRejected(DeadLetterReason.MISSING_BODY, "'body' is empty")
    body, reprinted_from = drop_reprint_notices(body)
    if not body:
        raise InputRejected(DeadLetterReason.MISSING_BODY, "'body' holds only a reprint notice")

    given_title = _optional_text(value.get("title"))
    if given_title is not None:
        title, method, confidence = given_title, TitleMethod.GIVEN, CONFIDENCE_GIVEN
    else:
        derived = derive_title(body)
        title, method, confidence = derived.title, derived.method, derived.confidence
    return ParsedArticle(
        title=title,
        title_method=method,
        title_confidence=confidence,
        body=body,
        url=_optional_text(value.get("url")),
        publisher=_publisher(value.get("source")) or reprinted_from,
        published_at=parse_timestamp(value.get("published_at")),
        language=_optional_text(value.get("language")),
    )


def _load(text: str, in_one_line: bool = False) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _invalid_json(error, in_one_line) from None


class _JsonUnreadable(Exception):
    """An item of a JSON array cannot be decoded (as opposed to decoded but not an article)."""

    def __init__(self, rejection: InputRejected):
        super().__init__(rejection.message)
        self.rejection = rejection


def _array_items(text: str, start: int) -> Iterator[Any]:
    """The items of the JSON array that opens at `text[start]`, decoded one by one, as
    `json.loads` would decode the whole array (the same errors, at the same places)."""
    position = _skip_whitespace(text, start + 1)
    if text.startswith("]", position):
        position += 1
    else:
        while True:
            try:
                item, position = _DECODER.raw_decode(text, position)
            except (ValueError, RecursionError) as error:
                raise _JsonUnreadable(_invalid_json(error)) from None
            yield item
            position = _skip_whitespace(text, position)
            if text.startswith(",", position):
                position = _skip_whitespace(text, position + 1)
            elif text.startswith("]", position):
                position += 1
                break
            else:
                expected = json.JSONDecodeError("Expecting ',' delimiter", text, position)
                raise _JsonUnreadable(_invalid_json(expected))
    position = _skip_whitespace(text, position)
    if position < len(text):
        raise _JsonUnreadable(_invalid_json(json.JSONDecodeError("Extra data", text, position)))


def _skip_whitespace(text: str, position: int) -> int:
    return _JSON_WHITESPACE.match(text, position).end()


def _invalid_json(error: ValueError | RecursionError, in_one_line: bool = False) -> InputRejected:
    if isinstance(error, json.JSONDecodeError):
        # For a line of a JSON Lines file the caller knows the line; the column is what helps.
        where = (
            f"column {error.colno}" if in_one_line else f"line {error.lineno} column {error.colno}"
        )
        return InputRejected(DeadLetterReason.INVALID_JSON, f"invalid JSON at {where}: {error.msg}")
    if isinstance(error, RecursionError):
        return InputRejected(
            DeadLetterReason.INVALID_JSON, "invalid JSON: nested too deeply to read"
        )
    # Python refuses to read an integer of more than 4,300 digits (sys.int_info): no field of
    # an article is such a number, and reading one would take time quadratic in its length.
    return InputRejected(
        DeadLetterReason.INVALID_JSON, "invalid JSON: holds a number too long to read"
    )


def _surely_bad(line: str) -> bool:
    """True for a line that cannot hold an article, told without building a rejection; False
    may still turn out bad."""
    if not (line.startswith("{") and line.endswith("}")):
        return True  # not an object
    try:
        value, end = _DECODER.raw_decode(line)  # json.loads without its checks: 7 times faster
    except (ValueError, RecursionError):
        return True
    if end != len(line):
        return True  # more after the object
    body = value.get("body") if isinstance(value, dict) else None
    return not (isinstance(body, str) and body.strip())


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line of `text` with its 1-based number, without a list of all of them at once."""
    number, start = 1, 0
    while (end := text.find("\n", start)) >= 0:
        yield number, text[start:end]
        number, start = number + 1, end + 1
    yield number, text[start:]


def _too_many_articles(file_name: str, at_least: int, max_articles: int) -> InputRejected:
    return InputRejected(
        DeadLetterReason.TOO_LARGE,
        f"{file_name} holds at least {at_least:,} articles, over the limit of "
        f"{max_articles:,} per file",
    )


def _unlisted_summary(first: RejectedLine, count: int, listed: list[RejectedLine]) -> RejectedLine:
    """One `RejectedLine` for the bad lines past the listed ones, with the first one's text."""
    if count == 1:
        return first
    return RejectedLine(
        first.line,
        first.reason,
        f"{count:,} more bad lines after line {listed[-1].line}, the first of them at line "
        f"{first.line}: {first.message}",
        first.text,
    )


def _field_names(value: dict[str, Any]) -> str:
    """The first field names of an object for a message, each cut short and made clean text."""
    names = []
    for name in sorted(value)[:_FIELDS_SHOWN]:
        shown = collapse_spaces(clean_text(name))
        names.append(shown if len(shown) <= _FIELD_NAME_CHARS else shown[:_FIELD_NAME_CHARS] + "…")
    return ", ".join(names) or "none"


def _optional_text(value: Any) -> str | None:
    """A string field as one clean line; absent, empty or not a string all mean None."""
    if not isinstance(value, str):
        return None
    return collapse_spaces(clean_text(value)) or None


def _publisher(source: Any) -> str | None:
    # News API style exports nest the outlet as {"id": ..., "name": ...}.
    if isinstance(source, dict):
        return _optional_text(source.get("name"))
    return _optional_text(source)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _JSON_KINDS.get(type(value), type(value).__name__)
