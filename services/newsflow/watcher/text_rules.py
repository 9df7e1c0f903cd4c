"""Line rules shared by the format parsers: what a headline, a promo or banner line and a
byline look like, how a title is derived from a body without headline, how a body is tidied.

Plain regular expressions and thresholds, so every choice can be explained and reproduced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from newsflow.core.identity import collapse_spaces
from newsflow.core.records import TitleMethod

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
# Site furniture (a button, a banner, a one-sentence notice) is short: the longest such lines in
# FNC-1's 1,683 article bodies ("SEE ALSO: <a headline>", a copyright notice with its terms of
# use) run to 25 words. An article paragraph may open with the same words ("Copyright holders
# argued ...", "Follow the money ...") and runs longer; dropping it loses text the reader
# needs, while keeping a long furniture line costs little. So only lines within these bounds
# are ever dropped as furniture; the character bound also keeps the rules' regular
# expressions working on short strings, whatever the file holds.
MAX_FURNITURE_WORDS = 30
MAX_FURNITURE_CHARS = 400

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
# Cookie notices open with what they are about: "The tracker uses cookies to ..." is news.
_COOKIE_NOTICE = re.compile(
    r"^\W*(?:(?:we(?: and our partners)? use|(?:this|our) (?:web)?site uses) cookies\b"
    r"|(?:accept|allow|reject) (?:all )?cookies\b"
    r"|cookie (?:settings|preferences|policy|notice)\b)",
    re.IGNORECASE,
)
_BANNER = re.compile(
    r"^(?:advertisement|advert|sponsored(?: content)?|share(?: this(?: article| story| post)?)?"
    r"(?: on \w+)?|tweet|print|e-?mail|comments?|related(?: articles| stories| news| content)?"
    r"|recommended(?: for you)?|also read|read more|see also|more from [\w .]+|continue reading"
    r"|skip to (?:main )?content|listen to (?:this )?article|loading)\W*$",
    re.IGNORECASE,
)
# "Copyright 2024 ...", "Copyright © ...", "© Coast Gazette": a notice names the year or the
# sign; "Copyright holders argued ..." is a sentence about copyright.
_FOOTER = re.compile(
    r"\ball rights reserved\b|^\W*©|^\W*\(c\)\s|^\W*copyright\s*(?:©|\(c\)|\d{4})", re.IGNORECASE
)
# "READ MORE: <another article's headline>": a link to elsewhere, not text of this article.
_RELATED_LINK = re.compile(
    r"^(?:read more|also read|read also|see also|related|more on this)\s*:\s*\S", re.IGNORECASE
)

# Reprint and syndication notices ("This article was originally published by Harbour Daily
# and is reprinted with permission.", "The post ... appeared first on Coast Gazette."): they say
# where the text came from, they are not the text. The phrase either opens the line or follows
# a word by which the line speaks of the article itself, so that "The decree, originally
# published in 1923, ..." stays a sentence of the article.
_REPRINT_PHRASE = re.compile(
    r"\b(?:(?:reprinted|republished|reproduced)\s+(?:here\s+)?(?:with|by)\s+(?:kind\s+)?permission"
    r"|(?:republished|reprinted)\s+from"
    r"|appeared\s+first\s+(?:on|in|at)"
    r"|first\s+appeared\s+(?:on|in|at)"
    r"|originally\s+(?:published|appeared|ran|posted)\s+(?:by|in|on|at))\b",
    re.IGNORECASE,
)
# Every notice uses one of these words: looking for them in the lower-cased text is ten times
# faster than the pattern, and spares the pattern nearly every text.
_REPRINT_WORDS = ("reprint", "republish", "reproduc", "appeared", "originally")
_SELF_REFERENCE = re.compile(
    r"\b(?:this|it|article|story|post|piece|report|column|op-ed|essay|interview|version|content)\b",
    re.IGNORECASE,
)
# The outlet a notice names: capitalised words ("Harbour Daily", "The Conversation",
# "Radio Free Europe/Radio Liberty", "News.com.au"), maybe joined by "of", "and", "&" ("Times
# of Malta"), or a domain ("example.org"). A full stop after a word ends the name.
_NAME_WORD = r"[A-Z0-9][\w&'\u2019/-]*(?:\.[\w&'\u2019/-]+)*"
_OUTLET = re.compile(
    rf"\b(?:by|in|on|at|from|of)\s+(?:the\s+)?"
    rf"({_NAME_WORD}(?:\s+(?:(?:of|for|and|&|de|la|the)\s+)?{_NAME_WORD})*"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
)
_NOT_OUTLETS = frozenset(
    {
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december", "monday", "tuesday", "wednesday"),
        *("thursday", "friday", "saturday", "sunday", "today", "yesterday"),
    }
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
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")  # "R" of "R.", "U.S" of "U.S."
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACES = " \t\u00a0"


@dataclass(frozen=True)
class TitleChoice:
    title: str | None
    method: TitleMethod
    confidence: float


def tidy_body(text: str) -> str:
    """No trailing spaces on lines, at most one blank line in a row, no blank edges."""
    # Each step only where the text needs it: a search of the whole text is far cheaper than
    # splitting a long body into lines or running a pattern over it.
    if any(f"{space}\n" in text for space in _TRAILING_SPACES):
        text = "\n".join(line.rstrip(_TRAILING_SPACES) for line in text.split("\n"))
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def is_meaningful(line: str) -> bool:
    """A line with at least one letter or digit (not a rule like "----" or "* * *")."""
    return any(char.isalnum() for char in line)


def is_promo(line: str) -> bool:
    """A promo, call-to-action, cookie, share, footer or reprint line: site furniture, not
    article. Only a short line can be furniture (see MAX_FURNITURE_WORDS)."""
    line = line.strip()
    if not _furniture_sized(line):
        return False
    return bool(
        _CALL_TO_ACTION.search(line)
        or _BARE_CALL_TO_ACTION.match(line)
        or _COOKIE_NOTICE.search(line)
        or _BANNER.match(line)
        or _FOOTER.search(line)
        or _RELATED_LINK.match(line)
        or _reprint_phrase(line) is not None
    )


# The two rules below run on every line of a body: the pattern, which rules out nearly every
# line, goes first.


def is_related_link(line: str) -> bool:
    line = line.strip()
    return bool(_RELATED_LINK.match(line)) and _furniture_sized(line)


def drop_related_links(text: str) -> str:
    """`text` without its "READ MORE: ..." lines. Every related link has a colon after its
    opening words, so only the lines with a colon are looked at, each once: a long body is
    not split into lines for the few it may hold."""
    dropped = []  # (start, end) of each line to drop, its line break included
    colon = text.find(":")
    while colon >= 0:
        line_start = text.rfind("\n", 0, colon) + 1
        line_end = text.find("\n", colon)
        line_end = len(text) if line_end < 0 else line_end
        if is_related_link(text[line_start:line_end]):
            dropped.append((line_start, line_end + 1))
        colon = text.find(":", line_end)
    if not dropped:
        return text
    kept, at = [], 0
    for start, end in dropped:
        kept.append(text[at:start])
        at = end
    kept.append(text[at:])
    return "".join(kept)


def is_reprint_notice(line: str) -> bool:
    """A line saying where the article was first published: furniture wherever it stands."""
    line = line.strip()
    return (
        _REPRINT_PHRASE.search(line) is not None
        and _furniture_sized(line)
        and _reprint_phrase(line) is not None
    )


def reprint_publisher(line: str) -> str | None:
    """The outlet a reprint notice names ("Harbour Daily"), or None (not a notice, no name)."""
    line = line.strip()
    if not _furniture_sized(line):
        return None
    phrase = _reprint_phrase(line)
    if phrase is None:
        return None
    for match in _OUTLET.finditer(line, phrase.start()):
        name = match.group(1).rstrip(".,;:!?*_)]\"'\u201d\u2019")
        first_word = name.split()[0].casefold() if name else ""
        if first_word and first_word not in _NOT_OUTLETS and not first_word.isdigit():
            return name
    return None


def reprint_publisher_in(text: str) -> str | None:
    """The outlet the first reprint notice of `text` names, if any: only the lines where the
    notice's wording occurs are looked at, each once."""
    if not _may_hold_reprint_notice(text):
        return None
    line_end = -1
    for phrase in _REPRINT_PHRASE.finditer(text):
        if phrase.start() < line_end:
            continue  # on a line already looked at
        line_start = text.rfind("\n", 0, phrase.start()) + 1
        line_end = text.find("\n", phrase.end())
        line_end = len(text) if line_end < 0 else line_end
        publisher = reprint_publisher(text[line_start:line_end])
        if publisher is not None:
            return publisher
    return None


def drop_reprint_notices(body: str) -> tuple[str, str | None]:
    """The body without its reprint notice lines, and the outlet the first of them names."""
    if not _may_hold_reprint_notice(body):
        return body, None  # the usual case: one scan of the text, no line split
    kept = []
    publisher = None
    for line in body.split("\n"):
        if is_reprint_notice(line):
            publisher = publisher or reprint_publisher(line)
        else:
            kept.append(line)
    return tidy_body("\n".join(kept)), publisher


def _may_hold_reprint_notice(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _REPRINT_WORDS)


def _furniture_sized(line: str) -> bool:
    return len(line) <= MAX_FURNITURE_CHARS and len(line.split()) <= MAX_FURNITURE_WORDS


def _reprint_phrase(line: str) -> re.Match[str] | None:
    phrase = _REPRINT_PHRASE.search(line)
    if phrase is None:
        return None
    before = line[: phrase.start()]
    if any(char.isalnum() for char in before) and not _SELF_REFERENCE.search(before):
        return None
    return phrase


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
    full_stop = line.endswith(".") and not line.endswith("...")
    if full_stop and not _is_abbreviation(_word_before(line, len(line) - 1)):
        return False
    return next(_sentence_ends(line), None) is None


def derive_title(body: str) -> TitleChoice:
    """A title made of the body's first sentence, cut at a word boundary when too long.

    Furniture (a promo, a reprint notice) is never the title: the first paragraph that is not
    furniture gives it, and a body of furniture only has no title."""
    first_paragraph = next(
        (line for line in _lines(body) if is_meaningful(line) and not is_promo(line)), ""
    )
    text = _DATELINE_PREFIX.sub("", collapse_spaces(first_paragraph))
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
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        # Records keep times in UTC: "9999-12-31T23:00-05:00" is a date no store can hold.
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        return None
    # Records write offsets in whole minutes (RFC 3339): an offset with seconds would move the
    # time, so such a time is given in UTC instead, the same instant.
    offset = moment.utcoffset()
    return in_utc if offset is not None and offset % timedelta(minutes=1) else moment


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` one by one, without splitting all of a long text first."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def _sentence_ends(text: str) -> Iterator[int]:
    """Indexes of the stops that end a sentence inside `text` (not at its very end)."""
    for match in _SENTENCE_END.finditer(text):
        stop = match.start(1)
        if match.group(1) == "." and _is_abbreviation(_word_before(text, stop)):
            continue
        yield stop


def _word_before(text: str, stop: int) -> str:
    """The word (letters, digits, "_" and dots, as in "U.S") right before `text[stop]`.

    Read backwards from the stop: a sentence end is followed by a space, so the words read for
    successive stops never overlap and a text full of stops is read once, not once per stop."""
    start = stop
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._"):
        start -= 1
    return text[start:stop]


def _is_abbreviation(word: str) -> bool:
    """Whether a stop after `word` ends an abbreviation ("Mr", "U.S"), not a sentence."""
    return bool(word) and (word.lower() in _ABBREVIATIONS or bool(_INITIALS.match(word)))
