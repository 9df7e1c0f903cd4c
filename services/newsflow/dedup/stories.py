"""Story profiles: what an article is about, as a short weighted vector of content words and
the named things it mentions, so that articles reporting one event in different words can be
matched (cosine of the vectors, within a window of time).
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter

import wordfreq

from .memo import WordMemo

# Function words, and words nearly every news article uses whatever it reports: they say
# nothing about which event an article is about. (`rarity` weighs common words down; these
# carry no topic at all.)
_STOPWORDS_TEXT = """
    a about above after again against all almost along already also although always am among
    an and another any anyone anything are around as at away back be became because become
    been before behind being below between both but by can cannot could did do does doing done
    down during each either else enough even ever every few for from further get gets getting
    got had has have having he her here hers herself him himself his how however i if in into
    is it its itself just least less let like made make makes many may me might more most much
    must my myself near neither never no nor not now of off often on once one only or other
    others our ours ourselves out over own per perhaps rather same see seen several she should
    since so some something still such than that the their theirs them themselves then there
    these they this those though through thus to too toward towards under until up upon us
    very via was we well were what whatever when where whether which while who whom whose why
    will with within without would yet you your yours yourself
    said says say saying told tell tells according reported reports report reporting news
    claim claims claimed story stories article articles new first last time times year years
    day days week weeks month months today yesterday tomorrow people person man woman men women
    two three four five six seven eight nine ten hundred thousand million billion percent mr mrs
    ms dr monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december jan feb mar apr jun jul aug sep sept
    oct nov dec am pm et gmt including include includes went go going come came take took way
    know known want wanted think thought show shows showed shown put used use using look looked
    back good great big small large long high old young right left part place
    called call official officials source sources statement according media website online
    post posted posts share shared photo photos image images video videos picture pictures read
    click http https www com
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"\w+")
# A word with a capital first (Latin, Greek and Cyrillic capitals) in mid-sentence: after a
# space that follows a letter, digit or comma. Sentence starts, and words just after a quote
# or bracket, are not taken.
_NAME = re.compile(r"(?<=[\w,] )[A-Z\u00c0-\u00d6\u00d8-\u00de\u0391-\u03a9\u0410-\u042f]\w*")
MIN_TERM_CHARS = 3
# wordfreq's Zipf scale: log10 of uses per billion words; "the" is 7.7, "Baghdadi" 2.5.
RARITY_CEILING = 8.0
MIN_RARITY = 0.5


def term_of(word: str) -> str:
    """A word (letters and digits only) folded for comparison: lower case, crude singular."""
    word = word.casefold()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        return word[:-1]
    return word


def rarity(term: str) -> float:
    """How much a word tells about what an article reports: the rarer in English, the more
    (an inverse document frequency from wordfreq's fixed counts, so no table of counts has
    to be kept and every process weighs a word the same). Unknown words count as rarest."""
    # The frequency table itself: `term` is already one lower-case token, so wordfreq's
    # tokenising lookup (`zipf_frequency`) would only cost time.
    frequency = wordfreq.get_frequency_dict("en").get(term)
    zipf = math.log10(frequency) + 9.0 if frequency else 0.0
    return max(MIN_RARITY, RARITY_CEILING - zipf)


def profile(
    title: str | None,
    words: list[str],
    lines: list[str],
    *,
    terms_kept: int,
    names_kept: int,
    name_boost: float,
    title_boost: float,
) -> dict[str, float]:
    """The profile of an article: its `terms_kept` strongest terms with their weights,
    scaled to unit length. `words` are the body's normalised words, `lines` its content
    lines as written (single-spaced), where capitals show names.

    A term weighs more the more often the article uses it (sublinearly), the rarer it is
    in English, when it is a name, and when the title uses it."""
    counts = Counter(filter(None, map(_TERMS.__getitem__, words)))  # all in C
    # A capital mid-sentence marks a name (person, place, organisation): the cheap
    # stand-in for the entity worker, which runs after dedup.
    name_counts = Counter(
        filter(None, map(_TERMS.__getitem__, map(str.casefold, _NAME.findall("\n".join(lines)))))
    )
    names = {name for name, _ in sorted(name_counts.items(), key=_strongest)[:names_kept]}
    weights = {
        term: (1.0 + math.log(count)) * (name_boost if term in names else 1.0)
        for term, count in counts.items()
    }
    for term in filter(None, map(_TERMS.__getitem__, _WORD.findall((title or "").casefold()))):
        weights[term] = weights.get(term, 0.0) + title_boost
    # Sorted by weight alone (ties keep the text's order: deterministic for a given text).
    strongest = sorted(
        [(term, weight * _RARITY[term]) for term, weight in weights.items()],
        key=operator.itemgetter(1),
        reverse=True,
    )[:terms_kept]
    norm = math.sqrt(sum(weight * weight for _, weight in strongest)) or 1.0
    # Rounded so that the stored profile, and all derived from it (the index terms), is
    # exactly what a restarted worker reads back from the table.
    return {term: round(weight / norm, 4) for term, weight in strongest}


def _term_or_empty(word: str) -> str:
    """The term a word form counts as; empty for a stopword or a too short word."""
    term = term_of(word)
    return "" if term in STOPWORDS or len(term) < MIN_TERM_CHARS else term


_TERMS = WordMemo(_term_or_empty)
_RARITY = WordMemo(rarity)


def key_terms(terms: dict[str, float], count: int) -> list[str]:
    """The strongest terms: an article is posted under these in the story index."""
    return [term for term, _ in sorted(terms.items(), key=_strongest)[:count]]


def similarity(first: dict[str, float], second: dict[str, float]) -> float:
    """Cosine of two profiles (both unit length): 1 for the same words in the same
    proportions, 0 for nothing in common."""
    if len(second) < len(first):
        first, second = second, first
    return min(1.0, sum(weight * second.get(term, 0.0) for term, weight in first.items()))


def _strongest(item: tuple[str, float]) -> tuple[float, str]:
    # Ties broken by the term itself so that every process orders them the same way.
    return (-item[1], item[0])
