"""The watcher's parsers fuzzed (no broker): whatever a dropped file holds, it is rejected with
a reason, or it becomes articles and dead letters that encode as records and read back the
same. No other exception may come out, since one would stop the watcher on that file.

A test run tries a few dozen generated files per test (fixed, so runs repeat);
`make fuzz` (NEWSFLOW_FUZZ_EXAMPLES) tries many more, different ones each time.
"""

import hashlib
import json
import os
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow.core import records
from newsflow.core.records import DeadLetter, FileInput, RawArticle
from newsflow.watcher.files import dead_letter, records_of
from newsflow.watcher.parsing import SUPPORTED_SUFFIXES, InputRejected, ParsedFile, parse_file_bytes

_LONG_RUN = "NEWSFLOW_FUZZ_EXAMPLES" in os.environ
fuzzed = settings(
    max_examples=int(os.environ.get("NEWSFLOW_FUZZ_EXAMPLES", "40")),
    deadline=None,  # HTML extraction varies with the machine; slowness has its own tests
    derandomize=not _LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "utf-7"]


def encoded(text: str, encoding: str) -> bytes:
    """The text as a file in `encoding`: surrogates kept as bytes (invalid in UTF-8), characters
    the codec lacks as "?"."""
    if encoding.startswith("utf-"):
        return text.encode(encoding, "surrogatepass")
    return text.encode(encoding, "replace")


# Characters that trouble text handling: lone surrogates (JSON's "\ud800" escape), controls,
# BOMs, line and paragraph separators, combining marks, wide characters, NUL.
_AWKWARD = [
    "\ud800",
    "\udfff",
    "\udc80",
    "\x00",
    "\x1b",
    "\x85",
    "\r",
    "\r\n",
    "\t",
    "\ufeff",
    "\u2028",
    "\u00a0",
    "e\u0301",
    "\U0001f600",
    "\ufffd",
    "\u202e",
]
_WORDS = ["Storm", "closes", "harbour", "the", "Mr.", "U.S.", "Dr.", "said", "on", "Monday", "a"]
_FURNITURE = [
    "By Ana Ruiz",
    "Copyright 2024 Coast Gazette. All rights reserved.",
    "©",
    "Subscribe now",
    "Join our Telegram channel",
    "READ MORE: Ferry services cancelled",
    "Advertisement",
    "Share this article",
    "We use cookies to improve your experience.",
    "This article was originally published by Harbour Daily and is reprinted with permission.",
    "The post Storm appeared first on Coast Gazette.",
    "WASHINGTON -",
    "17:14",
    "Monday, 5 March 2019",
]
_MARKDOWN = ["# ", "## ", "###### ", "#", "*", "**", "***", "_", "__", "`", "[", "](", ")"]
_MARKDOWN += ["---", "===", "> ", "- ", "1. ", "\n---\n", "...", ". ", "! ", "? ", "  "]
_MARKDOWN += ["\n", "\n\n"]

awkward_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(exclude_categories=()), max_size=30),
        st.sampled_from(_AWKWARD + _WORDS + _FURNITURE),
    ),
    max_size=12,
).map("".join)


@st.composite
def text_files(draw: st.DrawFn) -> str:
    """Plain text or Markdown-ish lines: headings, emphasis, links, furniture, odd characters."""
    tokens = st.sampled_from(_MARKDOWN + _WORDS + _FURNITURE + _AWKWARD) | awkward_text
    lines = draw(st.lists(st.lists(tokens, max_size=12).map(" ".join), min_size=1, max_size=15))
    front_matter = draw(st.sampled_from(["", "---\ntitle: x\n---\n", "---\n"]))
    return front_matter + draw(st.sampled_from(["\n", "\n\n", "\r\n"])).join(lines)


def _utc_offsets() -> st.SearchStrategy[timezone]:
    return st.builds(
        timezone,
        st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
    )


timestamps = st.one_of(
    st.datetimes(timezones=st.none() | _utc_offsets()).map(datetime.isoformat),
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "2024-03-05Z"]),
    awkward_text,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | awkward_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(awkward_text, children, max_size=4)
    ),
    max_leaves=12,
)
article_objects = st.fixed_dictionaries(
    {},
    optional={
        "title": awkward_text | json_values,
        "body": awkward_text | text_files() | json_values,
        "url": awkward_text | json_values,
        "source": awkward_text | st.fixed_dictionaries({"name": awkward_text}) | json_values,
        "published_at": timestamps | json_values,
        "language": awkward_text | json_values,
    },
).flatmap(
    lambda article: st.dictionaries(awkward_text, json_values, max_size=3).map(
        lambda extra: {**extra, **article}
    )
)


@st.composite
def json_texts(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> str:
    """A JSON text of `value`: escaped (surrogates as "\\ud800") or not, or spoilt."""
    text = json.dumps(draw(value), ensure_ascii=draw(st.booleans()))
    spoil = draw(st.sampled_from(["none", "none", "cut", "long number", "deep"]))
    if spoil == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if spoil == "long number":
        return text.replace("null", "9" * 5000, 1) if "null" in text else "9" * 5000
    if spoil == "deep":
        return "[" * 50_000 + text
    return text


html_text = st.one_of(
    awkward_text,
    st.sampled_from(["&amp;", "&#xD800;", "&#0;", "&#x110000;", "&nbsp;", "&bogus;", "<", ">"]),
    st.sampled_from(_FURNITURE + _WORDS),
)
_TAGS = ["h1", "h2", "p", "article", "main", "div", "span", "a", "nav", "footer", "aside", "b"]
_TAGS += ["title", "meta", "script", "style", "br", "ul", "li", "table", "td", "html", "head"]
_TAGS += ["body", "time", "header", "section", "svg", "template", "noscript", "iframe"]
_ATTRIBUTES = ["class", "id", "lang", "href", "content", "property", "name", "charset", "role"]


def _element(tag: str, attributes: list[tuple[str, str]], children: list[str]) -> str:
    shown = "".join(f' {name}="{value}"' for name, value in attributes)
    return f"<{tag}{shown}>{''.join(children)}</{tag}>"


html_fragments = st.recursive(
    html_text,
    lambda children: st.builds(
        _element,
        st.sampled_from(_TAGS),
        st.lists(st.tuples(st.sampled_from(_ATTRIBUTES), awkward_text), max_size=3),
        st.lists(children, max_size=5),
    ),
    max_leaves=25,
)


@st.composite
def html_pages(draw: st.DrawFn) -> str:
    prologue = draw(
        st.sampled_from(
            [
                "",
                "<!DOCTYPE html>",
                '<?xml version="1.0" encoding="utf-8"?>',
                '<meta charset="windows-1252">',
                '<meta charset="utf-16">',
                '<meta charset="bogus">',
            ]
        )
    )
    body = "".join(draw(st.lists(html_fragments, min_size=1, max_size=6)))
    if draw(st.booleans()):
        body = f'<html lang="{draw(awkward_text)}"><body>{body}</body></html>'
    return prologue + body


# --- what the watcher does with the outcome ---------------------------------------------------


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [string for item in value for string in strings_of(item)]
    if is_dataclass(value):
        return [string for f in fields(value) for string in strings_of(getattr(value, f.name))]
    return []


def assert_becomes_records(file_name: str, data: bytes, path: str | None = None) -> None:
    """Parse a file and make its records as the watcher does; only InputRejected may escape
    parsing, and every record must encode and read back unchanged. `path` is the file's path
    as records name it, the watcher's business (the name by default)."""
    path = file_name if path is None else path
    try:
        parsed = parse_file_bytes(file_name, data)
    except InputRejected as rejection:
        letter = dead_letter(rejection, FileInput(path=path), data)
        assert records.decode(DeadLetter, records.encode(letter)) == letter
        return
    assert isinstance(parsed, ParsedFile)
    for string in strings_of(parsed):
        string.encode("utf-8")
    now = datetime.now(UTC)
    sha256 = hashlib.sha256(data).hexdigest()
    articles, letters = records_of(parsed, path, data, sha256, modified_at=now, first_seen_at=now)
    assert articles
    for raw in articles:
        assert records.decode(RawArticle, records.encode(raw)) == raw
    for letter in letters:
        assert records.decode(DeadLetter, records.encode(letter)) == letter


# --- the fuzz tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
@fuzzed
@given(data=st.binary(max_size=2048))
def test_any_bytes_are_rejected_or_become_records(suffix, data):
    assert_becomes_records(f"fuzzed{suffix}", data)


@pytest.mark.parametrize("suffix", [".txt", ".md"])
@fuzzed
@given(text=text_files(), encoding=st.sampled_from(ENCODINGS))
def test_text_and_markdown_are_rejected_or_become_records(suffix, text, encoding):
    assert_becomes_records(f"fuzzed{suffix}", encoded(text, encoding))


@fuzzed
@given(
    text=json_texts(article_objects | st.lists(article_objects, max_size=4) | json_values),
    encoding=st.sampled_from(ENCODINGS),
)
def test_json_documents_are_rejected_or_become_records(text, encoding):
    assert_becomes_records("fuzzed.json", encoded(text, encoding))


@fuzzed
@given(
    lines=st.lists(json_texts(article_objects) | awkward_text, min_size=1, max_size=12),
    separator=st.sampled_from(["\n", "\r\n", "\n\n"]),
)
def test_json_lines_are_rejected_or_become_records(lines, separator):
    assert_becomes_records("fuzzed.jsonl", encoded(separator.join(lines), "utf-8"))


@fuzzed
@given(page=html_pages(), encoding=st.sampled_from(ENCODINGS))
def test_html_pages_are_rejected_or_become_records(page, encoding):
    assert_becomes_records("fuzzed.html", encoded(page, encoding))


@fuzzed
@given(name=awkward_text, suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)))
def test_any_file_name_is_rejected_or_becomes_records(name, suffix):
    # A name that is not UTF-8 on disk reaches Python with lone surrogates in it; parsing
    # names the file in its messages.
    file_name = name.replace("/", "") + suffix
    assert_becomes_records(file_name, b'{"body": "Text."}', path=f"fuzzed{suffix}")
