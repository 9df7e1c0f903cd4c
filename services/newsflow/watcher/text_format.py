"""Plain text and Markdown articles: the first meaningful line that reads like a headline is the
title, the rest is the body, with promo lines before it and a byline under it left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsflow.core.identity import collapse_spaces
from newsflow.core.records import DeadLetterReason, TitleMethod

from .parsed import InputRejected, ParsedArticle
from .text_rules import (
    CONFIDENCE_FIRST_LINE,
    CONFIDENCE_MARKDOWN_HEADING,
    CONFIDENCE_PENALTY,
    LONG_HEADLINE_CHARS,
    TitleChoice,
    derive_title,
    drop_related_links,
    drop_reprint_notices,
    is_byline,
    is_headline,
    is_meaningful,
    is_promo,
    reprint_publisher_in,
    tidy_body,
)

# Promo, banner and byline lines skipped before giving up on finding a headline; real files
# carry one or two, a file with more is not shaped like an article with a headline.
MAX_LINES_SKIPPED_BEFORE_TITLE = 3
MAX_SIGNATURE_WORDS = 6

# The opening of an ATX heading; its optional closing run of "#" is taken off in code, since a
# pattern that finds both ends tries every split of a long run of spaces between them.
_ATX_OPENING = re.compile(r" {0,3}#{1,6}[ \t]+")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
# Link text holds no bracket and the target no parenthesis, so each "[" is read only up to the
# next one: a line of "[a[a[a..." is read once, not once per bracket.
_MARKDOWN_LINK = re.compile(r"\[([^\[\]]*)\]\([^()]*\)")
# *emphasis*, **strong**, _emphasis_ and `code` spans; "snake_case" inside a word is left alone.
# A span never runs past the next marker like its own, so each marker is read up to the next
# one only: "*a *a *a ..." is read once, not once per "*".
_EMPHASIS = re.compile(r"(?<!\w)(\*{1,3}|_{1,3}|`)(\S(?:(?:(?!\1).)*?\S)?)\1(?!\w)")
# YAML front matter of static-site Markdown: metadata, not text.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_BY = re.compile(r"^by\s+", re.IGNORECASE)


def parse_text(file_name: str, text: str, *, markdown: bool) -> ParsedArticle:
    """One article from the cleaned text of a .txt or .md file."""
    if markdown:
        text = _FRONT_MATTER.sub("", text, count=1)
    publisher = reprint_publisher_in(text)
    lines = text.split("\n")
    candidate = _title_candidate(lines, markdown)
    if candidate is None:
        raise InputRejected(
            DeadLetterReason.NO_ARTICLE_TEXT,
            f"{file_name} holds no article text, only promo, banner, byline or non-text lines",
        )

    method = TitleMethod.AFTER_PROMO if candidate.skipped else TitleMethod.FIRST_LINE
    title: TitleChoice | None
    if candidate.heading is not None:
        body_start = candidate.index + candidate.heading_lines
        confidence = CONFIDENCE_MARKDOWN_HEADING
        confidence -= CONFIDENCE_PENALTY if candidate.skipped else 0.0
        title = TitleChoice(_plain_heading(candidate.heading), method, confidence)
    elif is_headline(lines[candidate.index]):
        body_start = candidate.index + 1
        title = _first_line_title(lines, candidate.index, method)
    else:
        # No headline: the body starts with the candidate line, and the title is made from it.
        body_start = candidate.index
        title = None

    body = _body(lines[body_start:])
    if not body:
        raise InputRejected(
            DeadLetterReason.NO_ARTICLE_TEXT,
            f"{file_name} has a headline ({lines[candidate.index].strip()[:80]!r}) but no "
            "article text under it",
        )
    if title is None:
        title = derive_title(body)
    return ParsedArticle(
        title=title.title,
        title_method=title.method,
        title_confidence=round(title.confidence, 2),
        body=body,
        publisher=publisher,
    )


@dataclass(frozen=True)
class _Candidate:
    """The first meaningful line that is not a promo, banner or byline line."""

    index: int
    skipped: int  # promo, banner and byline lines before it
    heading: str | None  # its text when it is a Markdown heading
    heading_lines: int  # 2 for a heading underlined with === or ---, else 1


def _title_candidate(lines: list[str], markdown: bool) -> _Candidate | None:
    skipped = 0
    for index, line in enumerate(lines):
        if not is_meaningful(line):
            continue
        heading, heading_lines = _markdown_heading(lines, index) if markdown else (None, 1)
        shown = heading if heading is not None else line
        if skipped < MAX_LINES_SKIPPED_BEFORE_TITLE and (is_promo(shown) or is_byline(shown)):
            skipped += 1
            continue
        return _Candidate(index, skipped, heading, heading_lines)
    return None


def _first_line_title(lines: list[str], index: int, method: TitleMethod) -> TitleChoice:
    line = collapse_spaces(lines[index])
    confidence = CONFIDENCE_FIRST_LINE
    if method is TitleMethod.AFTER_PROMO:
        confidence -= CONFIDENCE_PENALTY
    # A blank line under a headline is how writers set it apart; without one it might just
    # be a short first paragraph.
    followed_by_blank = index + 1 >= len(lines) or not lines[index + 1].strip()
    if not followed_by_blank:
        confidence -= CONFIDENCE_PENALTY
    if len(line) > LONG_HEADLINE_CHARS:
        confidence -= CONFIDENCE_PENALTY
    return TitleChoice(line, method, confidence)


def _body(lines: list[str]) -> str:
    """The body lines without the byline or promo lines right under the title, without
    "READ MORE: ..." links or reprint notices anywhere, and without share, footer or signature
    lines at the end."""
    start = 0
    bylines = []
    while start < len(lines) and (
        not is_meaningful(lines[start]) or is_byline(lines[start]) or is_promo(lines[start])
    ):
        if is_byline(lines[start]):
            bylines.append(_BY.sub("", collapse_spaces(lines[start])).casefold())
        start += 1
    end = len(lines)
    while end > start and (
        not is_meaningful(lines[end - 1])
        or is_promo(lines[end - 1])
        or _signs_off(lines[end - 1], bylines)
    ):
        end -= 1
    kept = drop_related_links("\n".join(lines[start:end]))
    return drop_reprint_notices(tidy_body(kept))[0]


def _signs_off(line: str, bylines: list[str]) -> bool:
    """A closing line that repeats the start of the byline: the site or author signing off
    ("Wisdom and Courage" under a byline "Wisdom and Courage DNUM_X 17:14")."""
    line = collapse_spaces(line).casefold()
    short = len(line.split()) <= MAX_SIGNATURE_WORDS
    return short and any(byline.startswith(line) for byline in bylines)


def _markdown_heading(lines: list[str], index: int) -> tuple[str | None, int]:
    """The heading text at `lines[index]` and how many lines it spans, or (None, 1)."""
    line = lines[index]
    atx = _ATX_OPENING.match(line)
    if atx:
        return _without_closing_sequence(line[atx.end() :]), 1
    if index + 1 < len(lines) and _SETEXT_UNDERLINE.match(lines[index + 1]):
        return lines[index].strip(), 2
    return None, 1


def _without_closing_sequence(heading: str) -> str:
    """An ATX heading's text without its optional closing "#" run ("Storm ##" is "Storm")."""
    heading = heading.rstrip(" \t")
    unclosed = heading.rstrip("#")
    if unclosed != heading and unclosed.endswith((" ", "\t")):
        return unclosed.rstrip(" \t")
    return heading


def _plain_heading(heading: str) -> str:
    """A Markdown heading as plain text: links reduced to their text, emphasis markers gone."""
    heading = _EMPHASIS.sub(r"\2", _MARKDOWN_LINK.sub(r"\1", heading))
    return collapse_spaces(heading)
