"""Article text as dedup compares it: site furniture (promo, reprint notices, share and
subscribe footers, copyright, bylines) dropped line by line, the rest case folded and
Unicode-normalised, so copies that differ only in wrapper or typography compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A line with more words than this is article text even when it says "subscribe" or "share".
MAX_BOILERPLATE_WORDS = 30
MAX_BYLINE_WORDS = 10

# Each pattern matches a whole line after `normalise_line` (case folded, single spaces).
# Calls to action address the reader about the outlet's channels, not about the news ("us"
# alone would also be the country, case folded).
_CALL_TO_ACTION = re.compile(
    r"^(?:join|subscribe|follow|sign up|signup|download|install|donate|click|tap|register)\b"
    r".*\b(?:our|us (?:on|at|for|in|today)|channel|newsletter|app|podcast|telegram|twitter"
    r"|facebook|instagram|youtube|whatsapp|mailing list|alerts|inbox|here)\b"
    r"|^(?:like|support) (?:us|our)\b|^get (?:our|the) (?:app|newsletter|latest|daily)\b"
)
_BARE_FURNITURE = re.compile(
    r"^(?:advertisement|advert|sponsored(?: content)?|share(?: this)?(?: article| story| post)?"
    r"(?: on [\w ]+| via [\w ]+| with [\w ]+)?|tweet|print|e-?mail|comments?|subscribe(?: now)?"
    r"|related(?: articles| stories| news| content| coverage)?|recommended(?: for you)?"
    r"|also read|read more|see also|continue reading|more from [\w .&'-]+|loading|"
    r"listen to (?:this )?article|skip to (?:main )?content|follow us|sign up|back to top)\W*$"
)
# Reprint and syndication notices: "This article was originally published by X and is
# reprinted with permission.", "Originally appeared on X", "Republished with permission".
_REPRINT = re.compile(
    r"\b(?:originally (?:published|appeared|posted|ran)|first (?:published|appeared)"
    r"|(?:re)?printed with (?:the )?permission|republished (?:here )?with (?:the )?permission"
    r"|syndicated (?:from|by)|reproduced with permission|(?:this|the) (?:article|story|post)"
    r" (?:appeared|was published) (?:first )?(?:on|in|at))\b"
)
_SOURCE_LINE = re.compile(
    r"^(?:(?:sources?|credits?|photos?|images?|picture|video|graphic|caption|file photo)"
    r"(?: credit)?\s*[:|\u2013\u2014-]|via\s|read (?:more|the full (?:story|article)|the rest)"
    r"|continue reading|more on this|related|see also|also read|read also)"
)
_COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b)|\ball rights reserved\b")
_SHARE_ROW = re.compile(
    r"^(?:(?:share|tweet|pin|email|print|facebook|twitter|linkedin|whatsapp|reddit|telegram)"
    r"\W*){2,}$"
)
_BYLINE = re.compile(
    r"^(?:by|written by|reporting by|words by|story by)\s+\S"
    r"|^(?:published|updated|posted|last updated|first published)\b"
)
_DATE_WORD = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?"
    r"|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?"
    r"|dec(?:ember)?|[ap]\.?m\.?|gmt|utc|[ecmp][sd]t|bst|cet|cest|at|on|st|nd|rd|th)"
)
# "Monday, 5 March 2019 17:14 GMT": a date or time alone on its line.
# One character or one date word per step, never both: no nested repetition, so a line that
# fails to match fails in linear time (a nested `(?:[\W\d_]+|...)+` backtracks exponentially).
_DATE_OR_TIME_ONLY = re.compile(rf"^(?:[\W\d_]|{_DATE_WORD}\b)*$")
_WORD = re.compile(r"\w+")


def is_boilerplate(line: str) -> bool:
    """A line of site furniture rather than article text (`line` as `normalise_line` makes
    it)."""
    spaces = line.count(" ")
    if spaces >= MAX_BOILERPLATE_WORDS:  # more words than furniture has: article text
        return False
    if _REPRINT.search(line) or _COPYRIGHT.search(line) or _SHARE_ROW.match(line):
        return True
    if _CALL_TO_ACTION.match(line) or _BARE_FURNITURE.match(line):
        return True
    short = spaces < MAX_BYLINE_WORDS
    return short and bool(
        _BYLINE.match(line) or _SOURCE_LINE.match(line) or _DATE_OR_TIME_ONLY.match(line)
    )


def normalise_line(line: str) -> str:
    """A line (NFKC already) as compared: case folded, single spaces. Quotes and dashes are
    left as they are: no word (\\w+) contains them, and no pattern above depends on them."""
    return " ".join(line.casefold().split())


@dataclass(frozen=True)
class Content:
    """An article body's lines without boilerplate, as written (NFKC, single spaces) and
    normalised."""

    lines: list[str]
    normalised: list[str]


def content(body: str, max_words: int) -> Content:
    """The body's lines that are article text, up to the line that reaches `max_words`
    words (so that a huge body costs no more than a long one)."""
    lines, normalised = [], []
    budget = max_words
    for raw_line in unicodedata.normalize("NFKC", body).splitlines():
        line = normalise_line(raw_line)
        if not line or is_boilerplate(line):
            continue
        lines.append(" ".join(raw_line.split()))
        normalised.append(line)
        budget -= line.count(" ") + 1
        if budget <= 0:
            break
    return Content(lines, normalised)


def words(lines: list[str], limit: int) -> list[str]:
    """The first `limit` words (letters and digits) of normalised lines."""
    return _WORD.findall("\n".join(lines))[:limit]
