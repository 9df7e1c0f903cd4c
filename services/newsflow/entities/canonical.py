"""One name per entity within an article: pure functions over the mentions the model found.

Rules, in order (README.md has the reasons):
1. Countries: "U.S.", "US", "the United States" -> "United States" (see `countries`).
2. People: titles are dropped ("Secretary of State Mike Pompeo" -> "Mike Pompeo"); full names
   that differ only by a middle initial, accents or a short first name ("Michael R. Pompeo",
   "Mike Pompeo") are one person named by the first of them; a surname or any shorter
   trailing part ("Pompeo", "Padrino Lopez") is the person whose full name ends so, the one
   named most recently before it (else the first named after it).
3. Abbreviations: "Organization of American States (OAS)" in the text, or an abbreviation
   whose letters are the initials of a longer name in the article, name the long form.
4. Anything else: mentions equal but for case, accents or a leading "the" share the first form.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from newsflow.core.names import entity_key, fold, name_tokens, same_first_name
from newsflow.core.records import EntitiesSection, Entity, EntityLabel, Mention

from .countries import country_name


@dataclass(frozen=True)
class FoundMention:
    """A span the model labelled: `text == article[start:end]`."""

    text: str
    label: EntityLabel
    start: int
    end: int


def _phrases(block: str) -> tuple[str, ...]:
    """Comma-separated phrases of a text block, without the line breaks."""
    return tuple(phrase.strip() for phrase in block.split(",") if phrase.strip())


# Titles and roles written before a name. Longest first, so "Vice President" beats "President".
TITLES: tuple[str, ...] = tuple(
    sorted(
        _phrases(
            """
            Mr, Mrs, Ms, Miss, Mx, Dr, Prof, Professor, Sir, Dame, Lord, Lady, Rev, Reverend,
            Father, Sister, Brother, Rabbi, Imam, Sheikh, Pope, Cardinal, Bishop, Archbishop,
            King, Queen, Prince, Princess, Emperor, Sultan, Emir, Crown Prince, President,
            Vice President, President-elect, Prime Minister, Deputy Prime Minister, Premier,
            Chancellor, Minister, Foreign Minister, Defence Minister, Defense Minister,
            Finance Minister, Interior Minister, Secretary, Secretary of State,
            Secretary of Defense, Defense Secretary, Secretary-General, Secretary General,
            Foreign Secretary, Home Secretary, Attorney General, Senator, Sen, Representative,
            Rep, Congressman, Congresswoman, Governor, Gov, Mayor, Ambassador, Judge, Justice,
            Chief Justice, Speaker, General, Gen, Lieutenant General, Lt Gen, Major General,
            Maj Gen, Admiral, Adm, Vice Admiral, Colonel, Col, Lieutenant, Lt, Major, Maj,
            Captain, Capt, Sergeant, Sgt, Commander, Cmdr, Marshal, Field Marshal,
            Chief of Staff, Spokesman, Spokeswoman, Chairman, Chairwoman, Chief Executive, CEO,
            Coach, Detective, Officer, Inspector, Superintendent, Commissioner, Director
            """
        ),
        key=lambda title: -len(title),
    )
)
_TITLE_PREFIX = re.compile(
    r"^(?:(?:" + "|".join(re.escape(t).replace(r"\ ", r"\.?\s+") for t in TITLES) + r")\.?\s+)+",
    re.IGNORECASE,
)
_ABBREVIATION = re.compile(r"^(?:[A-Z]\.){2,}$|^[A-Z][A-Za-z]{0,2}[A-Z][A-Z&]*$")
_PARENTHESIS = re.compile(r"\s*\(\s*([^()\n]{2,80}?)\s*\)")
_NAME_WITH_ABBREVIATION = re.compile(r"^(.+?)\s*\(\s*([^()]{2,15}?)\s*\)$")
_FUNCTION_WORDS = frozenset(
    _phrases("of, the, and, for, in, on, at, to, de, du, des, la, le, el, del, y, &")
)
_POSSESSIVE = re.compile("(?:['\u2019]s|['\u2019])$")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_EDGE_PUNCTUATION = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb[],;:"


def strip_title(name: str) -> str:
    """Drop titles before a name: "US Secretary of State Mike Pompeo" -> "Mike Pompeo".

    A title may follow a country or one other word ("Venezuelan Defence Minister ...").
    """
    words = name.split()
    for lead in range(min(3, len(words) - 2) + 1):
        if lead and not (lead == 1 or country_name(" ".join(words[:lead]))):
            continue
        rest = " ".join(words[lead:])
        stripped = _TITLE_PREFIX.sub("", rest)
        if stripped != rest and stripped:
            return stripped
    return name


def clean(text: str, label: EntityLabel) -> str:
    """The written name without surrounding quotes, a possessive, a leading "the" or a title."""
    text = " ".join(text.split()).strip(_EDGE_PUNCTUATION + " ")
    if text.count("(") != text.count(")"):  # a bracket of the sentence, not of the name
        text = text.strip("() ")
    text = _POSSESSIVE.sub("", text).strip() or text
    if label is EntityLabel.PERSON:
        return strip_title(text)
    return _LEADING_THE.sub("", text) or text


def initials(name: str, skip_function_words: bool = True) -> str:
    words = [word for word in re.split(r"[\s\-]+", name) if word]
    if skip_function_words:
        words = [word for word in words if word.casefold() not in _FUNCTION_WORDS]
    return "".join(word[0] for word in words).upper()


def is_abbreviation(text: str) -> bool:
    return bool(_ABBREVIATION.match(text))


# --- people -----------------------------------------------------------------------------------


def _preferred(forms: Sequence[str]) -> str:
    """The first form not written all in capitals (headlines, datelines), else the first."""
    return next((form for form in forms if any(char.islower() for char in form)), forms[0])


def _people(mentions: Sequence[FoundMention], names: list[str]) -> dict[int, str]:
    """Index of each mention of a person -> the canonical name of that person.

    Mentions the model labelled ORG or MISC count as the person when they are the trailing
    part of a person's full name in the article ("Pompeo" tagged ORG next to "Mike Pompeo"):
    the model's confusion, not a company called Pompeo. LOC mentions are left alone:
    "Washington" the place is far more common than a namesake.
    """
    people = [i for i, mention in enumerate(mentions) if mention.label is EntityLabel.PERSON]
    tokens = {i: name_tokens(names[i]) for i in people}
    all_forms = {tokens[i] for i in people}

    def is_part(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
        return 0 < len(short) < len(full) and full[-len(short) :] == short

    # Full names: two words or more, and not the tail of a longer name in the same article.
    full = [
        i
        for i in people
        if len(tokens[i]) >= 2 and not any(is_part(tokens[i], form) for form in all_forms)
    ]
    person_of: dict[int, int] = {}  # mention -> first mention of its person
    members: dict[int, list[int]] = {}
    for i in full:
        for first in members:
            mine, theirs = tokens[i], tokens[first]
            if mine == theirs or (
                mine[-1] == theirs[-1]
                and len(mine) == len(theirs)
                and same_first_name(mine[0], theirs[0])
            ):
                person_of[i] = first
                members[first].append(i)
                break
        else:
            person_of[i] = i
            members[i] = [i]
    name_of = {first: _preferred([names[i] for i in group]) for first, group in members.items()}

    canonical: dict[int, str] = {i: name_of[person_of[i]] for i in full}
    confusable = (EntityLabel.ORGANISATION, EntityLabel.MISCELLANEOUS)
    for i, mention in enumerate(mentions):
        if i in canonical or mention.label not in (EntityLabel.PERSON, *confusable):
            continue
        mine = tokens[i] if i in tokens else name_tokens(names[i])
        candidates = [j for j in full if is_part(mine, tokens[j])]
        if not candidates and len(mine) == 1 and mention.label is EntityLabel.PERSON:
            # "Xu" for "Xu Bu": a lone first word, when only one person starts with it
            starting = {person_of[j] for j in full if tokens[j][0] == mine[0]}
            candidates = [j for j in full if person_of[j] in starting] if len(starting) == 1 else []
        if candidates:
            candidates.sort(key=lambda j: mentions[j].start)
            before = [j for j in candidates if mentions[j].start < mention.start]
            chosen = before[-1] if before else candidates[0]
            canonical[i] = name_of[person_of[chosen]]
    return canonical


# --- abbreviations ----------------------------------------------------------------------------


def _abbreviates(abbreviation: str, name: str) -> bool:
    """Could `abbreviation` stand for `name`? Both start alike; not "LONDON (AP)"."""
    return (
        is_abbreviation(abbreviation)
        and not is_abbreviation(name)
        and len(name.split()) >= 2
        and abbreviation[0].casefold() == name[0].casefold()
    )


def _expansions(mentions: Sequence[FoundMention], names: list[str], text: str) -> dict[str, str]:
    """Abbreviation -> the long name the article gives for it."""
    expansions: dict[str, str] = {}
    for i, mention in enumerate(mentions):
        if mention.label is EntityLabel.PERSON:
            continue
        written = _NAME_WITH_ABBREVIATION.match(names[i])
        if written and is_abbreviation(written.group(2)):
            expansions.setdefault(written.group(2).replace(".", ""), written.group(1))
            continue
        after = _PARENTHESIS.match(text, mention.end) if text else None
        if not after:
            continue
        inside = after.group(1)
        if _abbreviates(inside, names[i]):
            expansions.setdefault(inside.replace(".", ""), names[i])  # Long Name (LN)
        elif _abbreviates(names[i], inside) and initials(inside) in names[i].replace(".", ""):
            expansions.setdefault(names[i].replace(".", ""), inside)  # LN (Long Name)
    # Initials: "OAS" and "Organization of American States" in the same article.
    long_names = [
        names[i]
        for i, mention in enumerate(mentions)
        if mention.label is not EntityLabel.PERSON and len(names[i].split()) >= 2
    ]
    for i, mention in enumerate(mentions):
        abbreviation = names[i].replace(".", "")
        if (
            mention.label is EntityLabel.PERSON
            or not is_abbreviation(names[i])
            or abbreviation in expansions
        ):
            continue
        for long_name in long_names:
            if abbreviation.upper() in (initials(long_name), initials(long_name, False)):
                expansions[abbreviation] = long_name
                break
    return expansions


# --- the whole article ------------------------------------------------------------------------


def canonical_names(mentions: Sequence[FoundMention], text: str = "") -> list[str]:
    """The canonical name of each mention, in the order given (`text`: the article itself)."""
    return [name for name, _ in _resolve(mentions, text)]


def _resolve(mentions: Sequence[FoundMention], text: str) -> list[tuple[str, bool]]:
    """(canonical name, refers to a person) for each mention."""
    names = [clean(mention.text, mention.label) for mention in mentions]
    resolved: list[tuple[str, bool] | None] = [None] * len(mentions)
    for i, mention in enumerate(mentions):
        country = country_name(names[i]) if mention.label is not EntityLabel.PERSON else None
        if country:
            resolved[i] = (country, False)
    for i, name in _people(mentions, names).items():
        if resolved[i] is None:
            resolved[i] = (name, True)
    expansions = _expansions(mentions, names, text)
    keys: dict[int, tuple[bool, str]] = {}
    forms: dict[tuple[bool, str], list[str]] = {}
    for i, mention in enumerate(mentions):
        if resolved[i] is not None:
            continue
        name = names[i]
        if mention.label is not EntityLabel.PERSON:
            written = _NAME_WITH_ABBREVIATION.match(name)
            if written and is_abbreviation(written.group(2)):
                name = written.group(1)
            name = expansions.get(name.replace(".", ""), name) if is_abbreviation(name) else name
            name = country_name(name) or name
        keys[i] = (mention.label is EntityLabel.PERSON, fold(name))
        forms.setdefault(keys[i], []).append(name)
    for i, key in keys.items():
        resolved[i] = (_preferred(forms[key]), key[0])
    return [
        entry or (mention.text, False) for entry, mention in zip(resolved, mentions, strict=True)
    ]


def entities_section(
    found: Sequence[FoundMention], text: str, model_version: str
) -> EntitiesSection:
    """Mentions in text order with their canonical names, and one entry per entity.

    An entity has one label in an article: the one most of its mentions have (on a tie, its
    first mention's), and its mentions carry that label too; a person is always PER and a
    country always LOC (the model reads "US" in "US sanctions" as MISC or ORG at times, and
    one entity should not change type with the sentence).
    """
    found = sorted(found, key=lambda mention: (mention.start, mention.end))
    resolved = _resolve(found, text)
    votes: dict[tuple[bool, str], Counter[EntityLabel]] = {}
    first: dict[tuple[bool, str], FoundMention] = {}
    for mention, (name, is_person) in zip(found, resolved, strict=True):
        key = (is_person, name)
        votes.setdefault(key, Counter())[EntityLabel.PERSON if is_person else mention.label] += 1
        first.setdefault(key, mention)
    labels = {
        key: EntityLabel.LOCATION
        if not key[0] and country_name(key[1]) == key[1]
        else max(counts, key=lambda label: (counts[label], label is first[key].label))
        for key, counts in votes.items()
    }
    mentions = [
        Mention(
            text=mention.text,
            label=labels[(is_person, name)],
            start=mention.start,
            end=mention.end,
            canonical=name,
        )
        for mention, (name, is_person) in zip(found, resolved, strict=True)
    ]
    entities = [
        Entity(
            canonical=key[1],
            label=labels[key],
            count=sum(votes[key].values()),
            first_offset=first[key].start,
            key=entity_key(key[1], labels[key].value),
        )
        for key in first
    ]
    return EntitiesSection(mentions=mentions, entities=entities, model_version=model_version)
