"""JSON and JSON Lines articles: objects with at least a `body`, and optionally `title`, `url`,
`source`, `published_at` and `language`. A bad line of a JSON Lines file is rejected on its own.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from newsflow.records import DeadLetterReason, TitleMethod

from .decoding import clean_text
from .parsed import InputRejected, ParsedArticle, RejectedLine
from .text_rules import (
    CONFIDENCE_GIVEN,
    collapse_whitespace,
    derive_title,
    parse_timestamp,
    tidy_body,
)

_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}


def parse_json_document(file_name: str, text: str) -> list[ParsedArticle]:
    """The articles of a .json file: one object, or a top-level array of objects.

    The file is one document, so it goes through whole or not at all: a bad item in an array
    rejects the file, naming the item, rather than sending part of it.
    """
    try:
        document = _load(text)
        if not isinstance(document, list):
            return [article_from_object(document)]
    except InputRejected as rejection:
        raise InputRejected(rejection.reason, f"{file_name}: {rejection.message}") from None
    # A top-level array is accepted too: exports of several articles come that way.
    if not document:
        raise InputRejected(
            DeadLetterReason.MISSING_BODY, f"{file_name} is an empty JSON array: no article in it"
        )
    articles = []
    for number, item in enumerate(document, start=1):
        try:
            articles.append(article_from_object(item))
        except InputRejected as rejection:
            raise InputRejected(
                rejection.reason,
                f"{file_name}, item {number} of the JSON array: {rejection.message}",
            ) from None
    return articles


def parse_json_lines(file_name: str, text: str) -> tuple[list[ParsedArticle], list[RejectedLine]]:
    """The articles of a .jsonl file, one object per line; blank lines are skipped.

    A bad line becomes a `RejectedLine` whose message does not repeat its line number.
    """
    articles: list[ParsedArticle] = []
    rejected: list[RejectedLine] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            article = article_from_object(_load(line, in_one_line=True))
        except InputRejected as rejection:
            rejected.append(RejectedLine(number, rejection.reason, rejection.message, line))
        else:
            articles.append(dataclasses.replace(article, line=number))
    if not articles:
        first = rejected[0]
        more = len(rejected) - 1
        others = f" ({more} more bad line{'s' if more > 1 else ''})" if more else ""
        raise InputRejected(
            first.reason,
            f"{file_name} has no line that holds an article; line {first.line}: "
            f"{first.message}{others}",
        )
    return articles, rejected


def article_from_object(value: Any) -> ParsedArticle:
    """One article from a decoded JSON value, or InputRejected(MISSING_BODY) saying why not."""
    if not isinstance(value, dict):
        raise InputRejected(
            DeadLetterReason.MISSING_BODY,
            f"the JSON value is {_kind(value)}, not an object with a 'body'",
        )
    if "body" not in value:
        fields = ", ".join(sorted(value)[:10]) or "none"
        raise InputRejected(
            DeadLetterReason.MISSING_BODY, f"the JSON object has no 'body' field (fields: {fields})"
        )
    body = value["body"]
    if not isinstance(body, str):
        raise InputRejected(DeadLetterReason.MISSING_BODY, f"'body' is {_kind(body)}, not a string")
    body = tidy_body(clean_text(body))
    if not body:
        raise InputRejected(DeadLetterReason.MISSING_BODY, "'body' is empty")

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
        publisher=_publisher(value.get("source")),
        published_at=parse_timestamp(value.get("published_at")),
        language=_optional_text(value.get("language")),
    )


def _load(text: str, in_one_line: bool = False) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # For a line of a JSON Lines file the caller knows the line; the column is what helps.
        where = (
            f"column {error.colno}" if in_one_line else f"line {error.lineno} column {error.colno}"
        )
        raise InputRejected(
            DeadLetterReason.INVALID_JSON, f"invalid JSON at {where}: {error.msg}"
        ) from None
    except RecursionError:
        raise InputRejected(
            DeadLetterReason.INVALID_JSON, "invalid JSON: nested too deeply to read"
        ) from None


def _optional_text(value: Any) -> str | None:
    """A string field as one clean line; absent, empty or not a string all mean None."""
    if not isinstance(value, str):
        return None
    return collapse_whitespace(clean_text(value)) or None


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
