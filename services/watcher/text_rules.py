"""Line rules shared by the format parsers: what a headline, a promo or banner line and a
byline look like, how a title is derived from a body without headline, how a body is tidied.

Plain regular expressions and thresholds, so every choice can be explained and reproduced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow.records import TitleMethod

# How far each kind of title is trusted (0..1), in one place so they stay comparable.
CONFIDENCE_GIVEN = 1.0  # a `title` field: the producer said so
CONFIDENCE_MARKDOWN_HEADING = 0.95  # the author marked it as a heading
CONFIDENCE_HTML_HEADLINE = 0.95  # the page's single <h1>
CONFIDENCE_HTML_METADATA = 0.85  # og:title or <title>: sometimes a shortened social headline
CONFIDENCE_FIRST_LINE = 0.9  # a short first line that reads like a headline
CONFIDENCE_PENALTY = 0.1  # for each doubt: promo skipped, no blank line after, long line
CONFIDENCE_DERIVED = 0.3  # the body's first sentence, whole
CONFIDENCE_DERIVED_TRUNCATED = 0.2  # the body's first sentence, cut short
CONFIDENCE_NONE = 0.0

MAX_HEADLINE_CHARS = 150
MAX_HEADLINE_WORDS = 25
LONG_HEADLINE_CHARS = 100
MAX_DERIVED_TITLE_CHARS = 120
MAX_BYLINE_WORDS = 12

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    rf"""\b\d{{4}}-\d{{2}}-\d{{2}}\b
      | \b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b
      | \b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b
      | \b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}\b""",
    re.IGNORECASE | re.VERBOSE,
)
# A time of day ("17:14", "9:05:30", "5 pm", "11 a.m.") that opens or closes the line, maybe
# with a zone: timestamps are affixed to a byline; a headline says "close at 16:30 after ...".
_TIME = (
    r"(?:\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\b"
    r"|\b(?:1[0-2]|0?[1-9])(?::[0-5]\d)?\s?[ap]\.?m\b\.?)"
)
_TIME_AT_EDGE = re.compile(
    rf"^\W*{_TIME}|{_TIME}(?:\s*\(?(?-i:[A-Z]{{2,5}}|UTC[+-]\d{{1,2}})\)?)?\W*$", re.IGNORECASE
)
# "By Ana Ruiz" but not "By the numbers: ..."; "Published 3 May", "Updated: ...".
_BYLINE_START = re.compile(
    r"^By\s+[A-Z][\w'\u2019.-]*|^BY\s+[A-Z]|"
    r"^(?i:published|updated|posted|last updated|last modified|first published)\b"
)
# A dateline alone on its line: "WASHINGTON -", "LONDON (Reuters) —".
_DATELINE_ONLY = re.compile(r"^[A-Z][A-Z .,'/]*[A-Z](?:\s*\([^)]*\))?\s*[-\u2013\u2014]\s*$")
# A dateline opening a paragraph; dropped from derived titles only.
_DATELINE_PREFIX = re.compile(r"^[A-Z][A-Z .,'/]*[A-Z](?:\s*\([^)]*\))?\s+[-\u2013\u2014]\s+")

# Promo and banner lines. Calls to action address the reader ("our", "us" in lower case, so
# that "US" the country does not count); banners are whole lines of site furniture.
_CALL_TO_ACTION = re.compile(
    r"^(?i:join|subscribe|follow|sign\s?up|register|download|install|donate|support)\b"
    r".*\b(?:our|us|(?i:channel|newsletter|app|podcast|mailing list))\b"
)
_BARE_CALL_TO_ACTION = re.compile(
    r"^(?:subscribe|sign\s?up|donate|register)(?:\s+(?:now|today|here))?\W*$", re.IGNORECASE
)
_COOKIE_NOTICE = re.compile(
    r"\b(?:we use|this (?:web)?site uses|uses) cookies\b|\baccept (?:all )?cookies\b"
    r"|^cookie (?:settings|preferences|policy|notice)\b",
    re.IGNORECASE,
)
_BANNER = re.compile(
    r"^(?:advertisement|advert|sponsored(?: content)?|share(?: this(?: article| story| post)?)?"
    r"(?: on \w+)?|tweet|print|e-?mail|comments?|related(?: articles| stories| news| content)?"
    r"|recommended(?: for you)?|also read|read more|see also|more from [\w .]+|continue reading"
    r"|skip to (?:main )?content|listen to (?:this )?article|loading)\W*$",
    re.IGNORECASE,
)
_FOOTER = re.compile(r"\ball rights reserved\b|^©|^copyright\b", re.IGNORECASE)
# "READ MORE: <another article's headline>": a link to elsewhere, not text of this article.
_RELATED_LINK = re.compile(
    r"^(?:read more|also read|read also|see also|related|more on this)\s*:\s*\S", re.IGNORECASE
)

# Sentence ends: ., ! or ? (maybe closed by quotes or brackets), then space and a capital,
# a digit or an opening quote. The word before the stop must not be an abbreviation.
_SENTENCE_END = re.compile(r"""([.!?])["'\u201d\u2019)\]]*\s+(?=[A-Z0-9"\u201c\u2018'(])""")
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "st", "sen", "rep", "gov", "gen", "col", "lt", "sgt"),
        *("capt", "adm", "jr", "sr", "inc", "ltd", "co", "corp", "vs", "etc", "no", "approx"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("dept", "est", "fig"),
    }
)
_LAST_WORD = re.compile(r"([\w.]+)[.!?]$")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")  # "R" of "R.", "U.S" of "U.S."
_WHITESPACE = re.compile(r"\s+")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class TitleChoice:
    title: str | None
    method: TitleMethod
    confidence: float


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def tidy_body(text: str) -> str:
    """No trailing spaces on lines, at most one blank line in a row, no blank edges."""
    return _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("", text)).strip()


def is_meaningful(line: str) -> bool:
    """A line with at least one letter or digit (not a rule like "----" or "* * *")."""
    return any(char.isalnum() for char in line)


def is_promo(line: str) -> bool:
    """A promo, call-to-action, cookie, share or footer line: site furniture, not article."""
    line = line.strip()
    return bool(
        _CALL_TO_ACTION.search(line)
        or _BARE_CALL_TO_ACTION.match(line)
        or _COOKIE_NOTICE.search(line)
        or _BANNER.match(line)
        or _FOOTER.search(line)
        or _RELATED_LINK.match(line)
    )


def is_related_link(line: str) -> bool:
    return bool(_RELATED_LINK.match(line.strip()))


def is_byline(line: str) -> bool:
    """A short author, dateline or timestamp line ("Wisdom and Courage DNUM_X 17:14")."""
    line = line.strip()
    if len(line.split()) > MAX_BYLINE_WORDS:
        return False
    if _BYLINE_START.match(line) or _TIME_AT_EDGE.search(line) or _DATELINE_ONLY.match(line):
        return True
    # Mostly a date: "Monday, 5 March 2019" but not "Elections set for March 5, 2024".
    return bool(_DATE.search(line)) and len(_DATE.sub(" ", line).split()) < 3


def is_headline(line: str) -> bool:
    """Short-ish, starts like a title, one phrase without the full stop of a sentence."""
    line = line.strip()
    if not 3 <= len(line) <= MAX_HEADLINE_CHARS or len(line.split()) > MAX_HEADLINE_WORDS:
        return False
    if line[0].islower() or not is_meaningful(line):
        return False
    if line.endswith((",", ";", ":")):
        return False  # a lead-in to what follows
    if line.endswith(".") and not line.endswith("...") and not _is_abbreviation(line):
        return False
    return next(_sentence_ends(line), None) is None


def derive_title(body: str) -> TitleChoice:
    """A title made of the body's first sentence, cut at a word boundary when too long."""
    first_paragraph = next((line for line in body.split("\n") if is_meaningful(line)), "")
    text = _DATELINE_PREFIX.sub("", collapse_whitespace(first_paragraph))
    end = next(_sentence_ends(text), None)
    sentence = text[: end + 1] if end is not None else text
    sentence = sentence.rstrip()
    if sentence.endswith(".") and not sentence.endswith("..."):
        sentence = sentence[:-1]  # a title carries no full stop
    if not any(char.isalpha() for char in sentence):
        return TitleChoice(None, TitleMethod.NONE, CONFIDENCE_NONE)
    if len(sentence) <= MAX_DERIVED_TITLE_CHARS:
        return TitleChoice(sentence, TitleMethod.DERIVED, CONFIDENCE_DERIVED)
    cut = sentence[: MAX_DERIVED_TITLE_CHARS - 1]  # one character left for the ellipsis
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    cut = cut.rstrip(" ,;:-\u2013\u2014(\"\u201c\u2018'")
    return TitleChoice(cut + "…", TitleMethod.DERIVED, CONFIDENCE_DERIVED_TRUNCATED)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time; anything else is ignored (None), never a rejection:
    a missing date costs little, a lost article a lot."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A date without an offset is taken as UTC: producers that omit it almost always mean it,
    # and a record needs an aware time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sentence_ends(text: str) -> Iterator[int]:
    """Indexes of the stops that end a sentence inside `text` (not at its very end)."""
    for match in _SENTENCE_END.finditer(text):
        stop = match.start(1)
        if match.group(1) == "." and _is_abbreviation(text[: stop + 1]):
            continue
        yield stop


def _is_abbreviation(text_up_to_stop: str) -> bool:
    match = _LAST_WORD.search(text_up_to_stop)
    if match is None:
        return False
    word = match.group(1)
    return word.lower() in _ABBREVIATIONS or bool(_INITIALS.match(word))
