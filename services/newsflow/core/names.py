"""One name per entity across the whole store: the key that says two names are one entity.

The entity worker names each entity one way inside an article ("Secretary of State Mike
Pompeo", "Pompeo" -> "Mike Pompeo"). Across articles the same person is written
"Mike Pompeo" in one and "Michael R. Pompeo" in another, "Juan Guaidó" here and "Juan Guaido"
there. Every entity therefore carries a key: names with the same key are the same entity,
wherever and in whatever order they arrive.

- A person's key is the folded first name (its long form: "mike" -> "michael") and the
  folded surname; middle names, initials and "Jr." do not count. A one-word name is its own
  key (an article that names the person in full has already resolved "Pompeo").
- Any other entity's key is its label and its folded name (case, accents, a leading "the").

Which spelling names the entity is decided from every article that uses the key
(`best_spelling`), so the answer does not depend on arrival order, and is derived when
read: a better-attested spelling arriving later renames the entity everywhere at once.

Shared by the entity worker (which writes keys into records), the sink's stores and
`newsflow query` (which match a searched name by its keys).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

PERSON = "PER"
LABELS = ("PER", "ORG", "LOC", "MISC")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name, with runs of whitespace as one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.replace("\u2019", "'").casefold().split())


def _groups(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(group.split()) for group in text.split(",") if group.strip())


# Short and long forms of first names, long form first: "Mike Pompeo" is "Michael Pompeo".
FIRST_NAME_GROUPS = _groups(
    """
    michael mike mick, william bill billy will, robert bob bobby rob, richard dick rick,
    james jim jimmy, thomas tom tommy, joseph joe, charles charlie chuck, anthony tony,
    stephen steven steve, david dave, daniel dan danny, christopher chris,
    alexander alex sasha, nicholas nick, benjamin ben, samuel sam, edward ed ted eddie,
    theodore ted teddy, andrew andy, patrick pat, peter pete, jonathan jon, matthew matt,
    timothy tim, gregory greg, kenneth ken, ronald ron, donald don, lawrence larry,
    gerald jerry, frederick fred, elizabeth liz beth betty, katherine catherine kate kathy,
    margaret maggie peggy, jennifer jenny, susan sue, deborah debbie, patricia pat patty,
    rebecca becky
    """
)
_LONG_FORM = {}
for _group in reversed(FIRST_NAME_GROUPS):  # the first group wins for a shared short form
    for _name in _group:
        _LONG_FORM[_name] = _group[0]
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_LEADING_THE = re.compile(r"^the\s+")
_PUNCTUATION = re.compile(r"[\"'\u201c\u201d\u2018\u2019.,;:()\[\]]")


def same_first_name(first: str, other: str) -> bool:
    if first == other:
        return True
    return any(first in group and other in group for group in FIRST_NAME_GROUPS)


def name_tokens(name: str) -> tuple[str, ...]:
    """Folded words of a person's name that identify them: no initials, no "Jr."."""
    words = [word.strip(".,") for word in fold(name).replace("-", " - ").split()]
    return tuple(
        word for word in words if len(word) > 1 and word != "-" and word not in NAME_SUFFIXES
    )


def entity_key(name: str, label: str) -> str:
    """The key of an entity named `name` (its canonical name in one article) with `label`."""
    if label == PERSON:
        tokens = name_tokens(name)
        if len(tokens) >= 2:
            return f"{PERSON}:{_LONG_FORM.get(tokens[0], tokens[0])} {tokens[-1]}"
        return f"{PERSON}:{tokens[0] if tokens else fold(name)}"
    plain = " ".join(_PUNCTUATION.sub(" ", _LEADING_THE.sub("", fold(name))).split())
    return f"{label}:{plain or fold(name)}"


def keys_of_search(name: str) -> list[str]:
    """Every key a name someone searches for could have: it does not say its label."""
    return sorted({entity_key(name, label) for label in LABELS})


@dataclass(frozen=True)
class Attested:
    """One spelling of an entity and how much the store uses it."""

    spelling: str
    articles: int
    mentions: int


def best_spelling(spellings: Iterable[Attested]) -> str:
    """The spelling that names an entity: the one most articles use.

    Ties go to the most mentions, then to the spelling with accents ("Guaidó", written
    plain only where the writer's keyboard lacked them), then to a name not in capitals,
    then to the first in code-point order, so the choice never depends on arrival order.
    """

    def rank(item: Attested) -> tuple[int, int, int, bool, str]:
        accents = sum(1 for char in item.spelling if ord(char) > 127 and char.isalpha())
        return (-item.articles, -item.mentions, -accents, item.spelling.isupper(), item.spelling)

    return min(spellings, key=rank).spelling
