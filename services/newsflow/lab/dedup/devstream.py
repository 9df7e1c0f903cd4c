"""The development stream for dedup, built from FNC-1's training bodies: stories are the
connected components of related headline-body pairs, copies are made with the transforms
news copies go through, times cluster by story. Deterministic for a given seed.

The data stays outside the repository; only this builder is kept in it.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsflow.core.identity import normalise_text
from newsflow.core.records import StanceLabel

RELATED = frozenset(StanceLabel) - {StanceLabel.UNRELATED}
START = datetime(2014, 8, 1, tzinfo=UTC)  # FNC-1's claims (from Emergent) are from 2014-2015
STORY_START_SPREAD_DAYS = 200.0

# Real reprints already in FNC-1: a pair of bodies is one copy group when the shorter shares
# at least this share of its 5-word shingles with the other, and is not much shorter.
REAL_COPY_CONTAINMENT = 0.75
REAL_COPY_MIN_LENGTH_RATIO = 0.1
REAL_COPY_SHINGLE_WORDS = 5
MAX_SHINGLE_POSTING = 50  # shingles shared by more bodies than this are stock phrases

# How often each kind of copy is made (weights) and how many copies an original gets.
COPY_KINDS = {
    "exact": 2,  # same text, other whitespace and quotes: the same article id
    "wrapped": 3,  # promo line, "originally published by" notice, share footer
    "headline": 2,  # another outlet's headline over the same body
    "truncated": 2,  # the first 40-80% of the paragraphs
    "edited": 3,  # a couple of sentences dropped and added, maybe a new headline
    "reframed": 3,  # the first or the last paragraph replaced by the outlet's own
}
SHARE_WITH_COPIES = 0.4
COPIES_PER_ORIGINAL = {1: 6, 2: 3, 3: 1}
COPY_OF_COPY = 0.15  # a copy made from an earlier copy rather than the original

OUTLETS = (
    "The Daily Ledger",
    "Metro Wire",
    "Northern Courier",
    "Global Dispatch",
    "Signal Post",
    "Harbor Times",
    "The Evening Record",
    "Capital Observer",
)
PROMO_LINES = (
    "Join our Telegram channel for breaking news as it happens!",
    "Subscribe to our newsletter and get the top stories every morning.",
    "Follow us on Twitter and Facebook for the latest updates.",
    "Download our app for news alerts.",
    "Sign up for our daily briefing.",
)
REPRINT_LINES = (
    "This article was originally published by {outlet} and is reprinted with permission.",
    "Originally published at {outlet}.",
    "This story first appeared on {outlet}. Republished with permission.",
    "Reprinted with permission from {outlet}.",
)
FOOTER_LINES = (
    "Share this article",
    "Share on Facebook",
    "Share | Tweet | Email",
    "Follow us on Twitter",
    "Subscribe to our newsletter",
    "© 2015 {outlet}. All rights reserved.",
    "Copyright 2015 {outlet}",
    "Read more at {outlet}",
)
ADDED_SENTENCES = (
    "The claim could not be independently verified.",
    "Representatives did not immediately respond to a request for comment.",
    "This story has been updated with additional details.",
    "Officials declined to comment further on the matter.",
    "More details are expected to emerge in the coming days.",
    "It was not immediately clear how the information was obtained.",
    "The report has been widely shared on social media.",
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'\u201c])")
_WORD = re.compile(r"\w+")
_QUOTE_SWAP = str.maketrans({'"': "\u201c", "'": "\u2019", "\u201c": '"', "\u201d": '"'})


@dataclass
class StreamItem:
    id: str
    title: str | None
    body: str
    story: str
    published_at: datetime
    duplicate_of: str | None = None
    transform: str = "original"
    arrival: float = field(default=0.0, repr=False)

    def line(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "duplicate_of": self.duplicate_of,
            "story": self.story,
            "published_at": self.published_at.isoformat(),
            "transform": self.transform,
        }


@dataclass(frozen=True)
class StreamSummary:
    articles: int
    originals: int
    copies: int
    real_copy_pairs: int
    stories: int


def build(fnc1: Path, out: Path, seed: int) -> StreamSummary:
    """Write the development stream as JSON Lines to `out`; deterministic for `seed`."""
    bodies, stances = _read_fnc1(fnc1)
    rng = random.Random(seed)
    story_of = _stories(bodies, stances)
    headlines = _headlines(stances)
    real_copies = _real_copy_pairs(bodies)
    # A copy reports what its original reports: a real copy pair joins their stories.
    story_of = _merge_stories(story_of, real_copies)

    story_start = {
        story: START + timedelta(days=rng.uniform(0, STORY_START_SPREAD_DAYS))
        for story in sorted(set(story_of.values()), key=_natural)
    }
    items: list[StreamItem] = []
    for body_id in sorted(bodies, key=int):
        story = story_of[body_id]
        title = rng.choice(sorted(headlines[body_id])) if headlines[body_id] else None
        published = story_start[story] + _story_offset(rng)
        items.append(StreamItem(f"b{body_id}", title, bodies[body_id], story, published))
    originals = len(items)
    copies = list(_copies(items, headlines, rng))
    items.extend(copies)
    for item in items:
        # Arrival a little after publication, in varied order within a few hours.
        item.arrival = item.published_at.timestamp() + rng.uniform(0, 3 * 3600)
    by_id = {item.id: item for item in items}
    for item in copies:
        # Copies always arrive after what they copy.
        source = by_id[item.duplicate_of]
        item.arrival = max(item.arrival, source.arrival + rng.uniform(60, 600))
    items.sort(key=lambda item: (item.arrival, item.id))
    _link_real_copies(items, real_copies)

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as stream:
        for item in items:
            stream.write(json.dumps(item.line(), ensure_ascii=False) + "\n")
    return StreamSummary(
        articles=len(items),
        originals=originals,
        copies=len(copies),
        real_copy_pairs=len(real_copies),
        stories=len(set(story_of.values())),
    )


# --- FNC-1 -------------------------------------------------------------------------------


class DevStreamError(Exception):
    """FNC-1 is not where it was said to be, or not in its format."""


def _read_fnc1(folder: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    try:
        with (folder / "train_bodies.csv").open(encoding="utf-8", newline="") as file:
            bodies = {row["Body ID"]: row["articleBody"] for row in csv.DictReader(file)}
        with (folder / "train_stances.csv").open(encoding="utf-8", newline="") as file:
            stances = [
                {"Headline": row["Headline"], "Body ID": row["Body ID"], "Stance": row["Stance"]}
                for row in csv.DictReader(file)
            ]
    except OSError as error:
        raise DevStreamError(f"cannot read FNC-1 in {folder}: {error}") from None
    except KeyError as error:
        raise DevStreamError(f"{folder}: a CSV file lacks the column {error}") from None
    return bodies, stances


class _Components:
    """Union-find over string keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, first: str, second: str) -> None:
        first, second = self.find(first), self.find(second)
        if first != second:
            # The smaller key wins, so the representative does not depend on input order.
            low, high = sorted((first, second), key=_natural)
            self.parent[high] = low


def _stories(bodies: dict[str, str], stances: list[dict[str, str]]) -> dict[str, str]:
    """Body id -> story name: bodies linked through headlines they are related to."""
    components = _Components()
    for body_id in bodies:
        components.find(f"body:{body_id}")
    for row in stances:
        if row["Stance"] in RELATED:
            components.union(f"body:{row['Body ID']}", f"headline:{row['Headline']}")
    members: dict[str, list[str]] = defaultdict(list)
    for body_id in bodies:
        members[components.find(f"body:{body_id}")].append(body_id)
    story_of = {}
    for body_ids in members.values():
        name = "story-" + min(body_ids, key=int)
        for body_id in body_ids:
            story_of[body_id] = name
    return story_of


def _headlines(stances: list[dict[str, str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in stances:
        if row["Stance"] in RELATED:
            found[row["Body ID"]].add(row["Headline"].strip())
    return found


def _shingles(text: str) -> set[str]:
    words = _WORD.findall(normalise_text(text))
    size = REAL_COPY_SHINGLE_WORDS
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def _real_copy_pairs(bodies: dict[str, str]) -> list[tuple[str, str]]:
    """Pairs of bodies that are copies of one another (see REAL_COPY_CONTAINMENT)."""
    shingles = {body_id: _shingles(text) for body_id, text in bodies.items()}
    posting: dict[str, list[str]] = defaultdict(list)
    for body_id in sorted(shingles, key=int):
        for shingle in shingles[body_id]:
            posting[shingle].append(body_id)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for ids in posting.values():
        if len(ids) > MAX_SHINGLE_POSTING:
            continue
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                shared[(first, second)] += 1
    pairs = []
    for (first, second), count in sorted(shared.items()):
        shorter, longer = sorted((len(shingles[first]), len(shingles[second])))
        if (
            count / shorter >= REAL_COPY_CONTAINMENT
            and shorter >= REAL_COPY_MIN_LENGTH_RATIO * longer
        ):
            pairs.append((first, second))
    return pairs


def _merge_stories(story_of: dict[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    components = _Components()
    for story in story_of.values():
        components.find(story)
    for first, second in pairs:
        components.union(story_of[first], story_of[second])
    return {body_id: components.find(story) for body_id, story in story_of.items()}


def _link_real_copies(items: list[StreamItem], pairs: list[tuple[str, str]]) -> None:
    """Gold links for real reprints: each member of a group of real copies copies the group's
    first article in stream order (originals carry no other link, so nothing is overwritten)."""
    components = _Components()
    for first, second in pairs:
        components.union(f"b{first}", f"b{second}")
    first_of_group: dict[str, str] = {}
    for item in items:  # in stream order
        if item.id not in components.parent:
            continue
        group = components.find(item.id)
        if group in first_of_group:
            item.duplicate_of = first_of_group[group]
            item.transform = "real-copy"
        else:
            first_of_group[group] = item.id


# --- times -------------------------------------------------------------------------------


def _story_offset(rng: random.Random) -> timedelta:
    """When an article appears after its story starts: most within a day or two, a tail
    over a week or so."""
    hours = rng.expovariate(1 / 18) if rng.random() < 0.8 else rng.expovariate(1 / 72)
    return timedelta(hours=min(hours, 10 * 24))


def _copy_delay(rng: random.Random) -> timedelta:
    """How long after its source a copy is published: hours mostly, days sometimes."""
    if rng.random() < 0.85:
        return timedelta(minutes=10 + rng.expovariate(1 / (6 * 60)))
    return timedelta(days=rng.uniform(1, 10))


# --- copies ------------------------------------------------------------------------------


def _copies(
    originals: list[StreamItem], headlines: dict[str, set[str]], rng: random.Random
) -> Iterator[StreamItem]:
    kinds = sorted(COPY_KINDS)
    weights = [COPY_KINDS[kind] for kind in kinds]
    counts = sorted(COPIES_PER_ORIGINAL)
    count_weights = [COPIES_PER_ORIGINAL[count] for count in counts]
    for original in originals:
        if rng.random() >= SHARE_WITH_COPIES:
            continue
        group = [original]
        for number in range(1, rng.choices(counts, count_weights)[0] + 1):
            source = (
                rng.choice(group[1:])
                if len(group) > 1 and rng.random() < COPY_OF_COPY
                else original
            )
            kind = rng.choices(kinds, weights)[0]
            if kind in ("truncated", "edited") and len(_WORD.findall(source.body)) < 60:
                kind = "wrapped"  # too short to cut or edit and still be a copy
            if kind == "reframed" and source.body.count("\n") < 2:
                kind = "wrapped"  # a paragraph or two: replacing one leaves no copy
            body_id = original.id[1:]
            title, body = _transform(kind, source, sorted(headlines[body_id]), rng)
            copy = StreamItem(
                id=f"{original.id}-{kind}{number}",
                title=title,
                body=body,
                story=original.story,
                published_at=source.published_at + _copy_delay(rng),
                duplicate_of=source.id,
                transform=kind,
            )
            group.append(copy)
            yield copy


def _transform(
    kind: str, source: StreamItem, headlines: list[str], rng: random.Random
) -> tuple[str | None, str]:
    outlet = rng.choice(OUTLETS)
    paragraphs = [p for p in source.body.split("\n") if p.strip()]
    if kind == "exact":
        body = "\n\n".join(_respace(p, rng) for p in paragraphs)
        return source.title, body.translate(_QUOTE_SWAP) if rng.random() < 0.5 else body
    if kind == "wrapped":
        top = [rng.choice(PROMO_LINES)] if rng.random() < 0.7 else []
        top.append(rng.choice(REPRINT_LINES).format(outlet=outlet))
        footer = [line.format(outlet=outlet) for line in rng.sample(FOOTER_LINES, 2)]
        title = source.title if rng.random() < 0.6 else _other_headline(source, headlines, rng)
        return title, "\n\n".join([*top, *paragraphs, *footer])
    if kind == "headline":
        return _other_headline(source, headlines, rng), "\n\n".join(paragraphs)
    if kind == "truncated":
        if len(paragraphs) >= 3:
            keep = max(1, round(len(paragraphs) * rng.uniform(0.4, 0.8)))
            kept = paragraphs[:keep]
        else:
            sentences = _SENTENCE_SPLIT.split(" ".join(paragraphs))
            kept = [" ".join(sentences[: max(1, round(len(sentences) * rng.uniform(0.4, 0.8)))])]
        if rng.random() < 0.5:
            kept.append(f"Read the full story at {outlet}")
        return source.title, "\n\n".join(kept)
    if kind == "reframed":
        own = " ".join(rng.sample(ADDED_SENTENCES, 2))
        if rng.random() < 0.5:
            return source.title, "\n\n".join([own, *paragraphs[1:]])
        return source.title, "\n\n".join([*paragraphs[:-1], own])
    # edited: a couple of sentences dropped, one or two added, sometimes a new headline
    sentences = [_SENTENCE_SPLIT.split(p) for p in paragraphs]
    flat = [(i, j) for i, group in enumerate(sentences) for j in range(len(group))]
    for i, j in sorted(rng.sample(flat, min(len(flat) - 1, rng.randint(1, 2))), reverse=True):
        del sentences[i][j]
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(sentences))
        sentences[i].insert(rng.randint(0, len(sentences[i])), rng.choice(ADDED_SENTENCES))
    body = "\n\n".join(" ".join(group) for group in sentences if group)
    title = source.title if rng.random() < 0.5 else _other_headline(source, headlines, rng)
    return title, body


def _other_headline(source: StreamItem, headlines: list[str], rng: random.Random) -> str | None:
    others = [headline for headline in headlines if headline != source.title]
    if others:
        return rng.choice(others)
    outlet = rng.choice(OUTLETS)
    return f"{source.title} | {outlet}" if source.title else outlet


def _respace(paragraph: str, rng: random.Random) -> str:
    """The same words with other spacing: doubled spaces, a trailing space."""
    words = paragraph.split(" ")
    spaced = "".join(word + ("  " if rng.random() < 0.05 else " ") for word in words[:-1]) + (
        words[-1] if words else ""
    )
    return spaced + (" " if rng.random() < 0.3 else "")


def _natural(name: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", name)
    return (int(digits) if digits else -1, name)
