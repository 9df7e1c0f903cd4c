"""The dedup decision for one article at a time: exact duplicate, near duplicate of the
earliest article of its copy group, or unique; and the story it belongs to. Pure Python, no
Kafka: the worker, `newsflow eval dedup` and the tests all call `Deduplicator.see`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from newsflow.core.records import DedupSection, DedupVerdict

from . import stories
from .normalise import content, words
from .shingles import (
    MAX_SHINGLE_WORDS,
    BandKeys,
    containment,
    pack,
    pack_hashes,
    shingle_hashes,
    unpack,
    unpack_hashes,
)
from .state import DedupState

__all__ = ["DedupInput", "DedupSettings", "DedupState", "Deduplicator", "article_time"]

DAY_SECONDS = 86_400.0
# A published date this far past the moment the file was seen is a typo or a lie; trusting it
# would move the expiry clock forward and forget the whole index.
MAX_PUBLISHED_AHEAD = timedelta(days=1)
# What an article's meaning vector is made of: its title and first lines (a report says what
# it is about there; the rest would cost encoder time for little).
LEAD_LINES = 2
LEAD_CHARACTERS = 300


class DedupSettings(BaseModel):
    """The dedup logic's thresholds and bounds. Defaults were chosen on the development
    stream (services/newsflow/dedup/README.md says how); the ones marked "stored" shape what the
    state holds, so changing them needs empty state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # near duplicates
    shingle_words: int = Field(
        default=5, ge=1, le=MAX_SHINGLE_WORDS, description="Words per shingle (stored)."
    )
    max_words: int = Field(
        default=2000, ge=10, description="Words of a body used at most: bounds huge bodies."
    )
    lsh_bands: int = Field(default=48, ge=1, description="MinHash bands (stored).")
    lsh_rows: int = Field(default=2, ge=1, description="MinHash values per band (stored).")
    minhash_seed: int = Field(default=1, description="MinHash permutations (stored).")
    near_duplicate_containment: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Share of the shorter text's shingles that the other must contain.",
    )
    near_duplicate_min_length_ratio: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Shorter / longer shingle count at least: a line quoted in a long "
        "article does not make it a copy.",
    )
    max_candidates: int = Field(
        default=16, ge=1, description="Near-duplicate candidates verified per article."
    )
    max_bucket_size: int = Field(default=64, ge=1, description="Articles kept per LSH bucket.")
    # stories
    story_threshold: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Similarity to an earlier article to join its story.",
    )
    story_min_meaning: float = Field(
        default=0.4,
        ge=-1.0,
        le=1.0,
        description="With a sentence encoder: cosine of the title-and-lead vectors an article "
        "needs with an earlier one to join its story by shared words.",
    )
    story_window_days: float = Field(
        default=3.0, gt=0, description="Articles further apart in time are not one story."
    )
    story_terms_kept: int = Field(default=40, ge=1, description="Terms in a story profile.")
    story_names_kept: int = Field(
        default=16, ge=0, description="Most mentioned names whose terms get the name boost."
    )
    story_name_boost: float = Field(default=2.0, ge=1.0, description="Weight factor of names.")
    story_title_boost: float = Field(
        default=3.0, ge=0.0, description="Weight added to a term for appearing in the title."
    )
    story_key_terms: int = Field(
        default=8, ge=1, description="Strongest terms an article is indexed under (stored)."
    )
    max_posting_size: int = Field(
        default=48, ge=1, description="Newest articles kept per story index term."
    )
    max_story_candidates: int = Field(
        default=32, ge=1, description="Earlier articles scored per article for its story."
    )
    # state
    expiry_days: float = Field(
        default=14.0, gt=0, description="Articles older than this (by article time) expire."
    )
    sweep_interval_hours: float = Field(
        default=24.0, gt=0, description="How often, in article time, expired entries go."
    )


class DedupInput(Protocol):
    """What dedup reads of an article; `RawArticle` has it all. Its time is `published_at`,
    else `origin.first_seen_at` when the object has an `origin` (see `article_time`)."""

    @property
    def article_id(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def body(self) -> str: ...
    @property
    def published_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class _Fingerprint:
    """What the index needs of an article's text."""

    hashes: np.ndarray  # sorted shingle hashes
    signature: bytes  # MinHash
    band_keys: list[str]
    profile: dict[str, float]  # story terms
    lead: str  # the title and the first lines: what the article is about, in its words


@dataclass(frozen=True)
class _Copy:
    article_id: str
    containment: float
    summary: dict[str, Any]


class Deduplicator:
    """Decides, article by article, and remembers what it saw in `state`.

    Deterministic: the same articles in the same order give the same sections, from empty
    state or from state restored out of its mappings. Not thread-safe: one caller at a time.
    """

    def __init__(
        self,
        state: DedupState,
        settings: DedupSettings | None = None,
        on_index: Callable[[str, dict[str, Any], list[str], list[str]], None] | None = None,
        meaning: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        """`on_index(article_id, summary, buckets, terms)` is told of every article `see`
        lists in the index: a worker that derives the index from `summaries` keeps track.

        `meaning(text)` is a unit vector of what a text says (a sentence encoder): with it,
        articles that share words must also say much the same in their titles and leads to
        be one story. Without it stories are found by shared words alone."""
        self.state = state
        self.settings = settings or DedupSettings()
        self.on_index = on_index
        self.meaning = meaning
        self._band_keys = BandKeys(
            self.settings.lsh_bands, self.settings.lsh_rows, self.settings.minhash_seed
        )
        # Counters since this object was made, for metrics (Prometheus counters restart
        # from zero with the process anyway); what must survive a restart is in `state`.
        self.expired_total = 0
        self.redelivered_total = 0
        self.verdicts_total: dict[str, int] = {verdict.value: 0 for verdict in DedupVerdict}

    def see(self, article: DedupInput, origin: str | None = None) -> DedupSection:
        """The dedup section of `article`, which is then remembered (unless it is an exact
        duplicate: its original stands for it).

        `origin` names the record that carried the article (topic, partition, offset). The
        same record seen again, as after a crash, gets the answer it got the first time
        rather than being called a duplicate of itself. The answer is kept in the article's
        own `articles` entry, written once, so no crash can leave one without the other.
        """
        time = self._advance_clock(article_time(article))
        cutoff = self.state.clock["watermark"] - self.settings.expiry_days * DAY_SECONDS

        known = self.state.articles.get(article.article_id)
        if known is not None and origin is not None and known.get("origin") == origin:
            self.redelivered_total += 1
            return DedupSection.model_validate(known["section"])
        if known is not None and known["time"] >= cutoff:
            section = DedupSection(
                verdict=DedupVerdict.EXACT_DUPLICATE,
                exact_duplicate_of=article.article_id,
                story_id=known["story_id"],
                story_lead_headline=known["story_lead_headline"],
            )
            self.verdicts_total[section.verdict] += 1
            return section

        fingerprint = self._fingerprint(article)
        vector = None  # only an article that starts or joins a story by itself needs one
        copy, not_copies = self._near_duplicate(
            article.article_id, fingerprint.hashes, fingerprint.band_keys, cutoff
        )
        if copy is not None:
            copy_of = copy.summary["copy_of"] or copy.article_id
            similarity = copy.containment
            if copy_of != copy.article_id:
                # The score is against the article named: the earliest of the copy group.
                first = self.state.summaries.get(copy_of)
                if first is not None:
                    similarity = containment(fingerprint.hashes, unpack_hashes(first["shingles"]))
            story = copy.summary
            section = DedupSection(
                verdict=DedupVerdict.NEAR_DUPLICATE,
                near_duplicate_of=copy_of,
                similarity=round(similarity, 4),
                story_id=story["story_id"],
                story_lead_headline=story["story_lead_headline"],
            )
        else:
            copy_of = None
            if self.meaning is not None:
                vector = pack_vector(self.meaning(fingerprint.lead))
            story = self._story(article.article_id, fingerprint.profile, vector, time, not_copies)
            section = DedupSection(
                verdict=DedupVerdict.UNIQUE,
                story_id=story["story_id"] if story else article.article_id,
                story_lead_headline=story["story_lead_headline"] if story else article.title,
            )
        self._remember(article.article_id, time, copy_of, section, fingerprint, vector, origin)
        self.verdicts_total[section.verdict] += 1
        return section

    def _fingerprint(self, article: DedupInput) -> _Fingerprint:
        settings = self.settings
        text = content(article.body, settings.max_words)
        body_words = words(text.normalised, settings.max_words)
        hashes = shingle_hashes(body_words, settings.shingle_words)
        signature = self._band_keys.signature(hashes)
        profile = stories.profile(
            article.title,
            body_words,
            text.lines,
            terms_kept=settings.story_terms_kept,
            names_kept=settings.story_names_kept,
            name_boost=settings.story_name_boost,
            title_boost=settings.story_title_boost,
        )
        lead = " ".join([article.title or "", *text.lines[:LEAD_LINES]])[:LEAD_CHARACTERS]
        return _Fingerprint(hashes, signature, self._band_keys.keys(signature), profile, lead)

    def _near_duplicate(
        self, own_id: str, hashes: np.ndarray, band_keys: list[str], cutoff: float
    ) -> tuple[_Copy | None, list[str]]:
        """The verified copy with the highest containment among the articles sharing a band,
        and the candidates that were not copies (they often report the same story).

        The article's own id is never a candidate: it is in the index without an `articles`
        entry only when a crash cut its first visit short (the tables are separate
        changelogs), and an article is no copy of itself."""
        settings = self.settings
        shared_bands: dict[str, int] = {}
        for key in band_keys:
            for article_id in self.state.lsh_buckets.get(key, ()):
                if article_id != own_id:
                    shared_bands[article_id] = shared_bands.get(article_id, 0) + 1
        # Most shared bands first (the likeliest copies); ties in the order first met.
        ranked = sorted(shared_bands, key=lambda article_id: -shared_bands[article_id])
        best: _Copy | None = None
        not_copies = []
        for article_id in ranked[: settings.max_candidates]:
            summary = self.state.summaries.get(article_id)
            if summary is None or summary["time"] < cutoff:
                continue  # expired; the next sweep takes it out of the buckets
            other = unpack_hashes(summary["shingles"])
            share = containment(hashes, other)
            shorter, longer = sorted((len(hashes), len(other)))
            if (
                share >= settings.near_duplicate_containment
                and shorter >= settings.near_duplicate_min_length_ratio * longer
            ):
                if best is None or share > best.containment:
                    best = _Copy(article_id, share, summary)
            else:
                not_copies.append(article_id)
        return best, not_copies

    def _story(
        self,
        own_id: str,
        profile: dict[str, float],
        vector: str | None,
        time: float,
        also_consider: list[str],
    ) -> dict[str, Any] | None:
        """The summary of the most similar earlier article within the story window whose
        similarity reaches the threshold and whose title and lead mean much the same (when
        both have a meaning vector); None when the article starts a story (its own id, left
        by a visit a crash cut short, does not count)."""
        settings = self.settings
        window = settings.story_window_days * DAY_SECONDS
        votes: dict[str, float] = dict.fromkeys(also_consider, 1.0)
        for term in stories.key_terms(profile, settings.story_key_terms):
            posted = self.state.story_terms.get(term, ())
            # A term many articles are posted under is common: sharing it counts for less.
            weight = 1.0 / (1.0 + len(posted) / 8.0)
            for article_id in posted:
                if article_id != own_id:
                    votes[article_id] = votes.get(article_id, 0.0) + weight
        ranked = sorted(votes, key=lambda article_id: -votes[article_id])
        scored = []
        for article_id in ranked[: settings.max_story_candidates]:
            summary = self.state.summaries.get(article_id)
            if summary is None or abs(summary["time"] - time) > window:
                continue
            score = stories.similarity(profile, summary["terms"])
            if score >= settings.story_threshold:
                scored.append((score, summary))
        # The most similar first; equal scores keep the ranking's order (stable sort).
        scored.sort(key=lambda item: -item[0])
        for _, summary in scored:
            if vector is None or all(
                cosine(vector, other) >= settings.story_min_meaning
                for other in self._story_vectors(summary)
            ):
                return summary
        return None

    def _story_vectors(self, summary: dict[str, Any]) -> list[str]:
        """The meaning vectors an article must be near to join `summary`'s story: the
        article's and the story lead's (so that a story cannot drift, article by article,
        to another subject)."""
        lead = self.state.summaries.get(summary["story_id"]) or {}
        return [v for v in (summary.get("meaning"), lead.get("meaning")) if v is not None]

    # --- memory -------------------------------------------------------------------------------

    def _remember(
        self,
        article_id: str,
        time: float,
        copy_of: str | None,
        section: DedupSection,
        fingerprint: _Fingerprint,
        vector: str | None,
        origin: str | None,
    ) -> None:
        settings = self.settings
        state = self.state
        state.articles[article_id] = {
            "time": time,
            "story_id": section.story_id,
            "story_lead_headline": section.story_lead_headline,
            "origin": origin,
            "section": section.model_dump(mode="json"),
        }
        # The order articles were remembered in: the index's lists are in this order, so an
        # index rebuilt from the summaries is the one `see` built (`rebuild_index`).
        sequence = state.clock.get("sequence", 0) + 1
        state.clock["sequence"] = sequence
        summary = state.summaries[article_id] = {
            "time": time,
            "sequence": sequence,
            "copy_of": copy_of,
            "story_id": section.story_id,
            "story_lead_headline": section.story_lead_headline,
            "shingles": pack_hashes(fingerprint.hashes),
            "minhash": pack(fingerprint.signature),
            "terms": fingerprint.profile,
        }
        if vector is not None:
            summary["meaning"] = vector
        terms = stories.key_terms(fingerprint.profile, settings.story_key_terms)
        self.index(article_id, fingerprint.band_keys, terms)
        if self.on_index is not None:
            self.on_index(article_id, summary, fingerprint.band_keys, terms)

    def _advance_clock(self, time: float | None) -> float:
        """The article's time (the watermark when it has none), after moving the watermark
        and sweeping out expired entries when a sweep is due."""
        clock = self.state.clock
        watermark = clock.get("watermark")
        if time is None:
            time = watermark if watermark is not None else 0.0
        if watermark is None or time > watermark:
            clock["watermark"] = watermark = time
        swept_at = clock.get("swept_at")
        if swept_at is None:
            clock["swept_at"] = watermark
        elif watermark - swept_at >= self.settings.sweep_interval_hours * 3600.0:
            self.expire(watermark - self.settings.expiry_days * DAY_SECONDS)
            clock["swept_at"] = watermark
        return time

    # --- the candidate index ----------------------------------------------------------------

    def index_keys(self, summary: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The LSH buckets and story terms an article is listed under, from its summary."""
        return (
            self._band_keys.keys(unpack(summary["minhash"])),
            stories.key_terms(summary["terms"], self.settings.story_key_terms),
        )

    def index(self, article_id: str, buckets: list[str], terms: list[str]) -> None:
        """List an article under these buckets and terms (where it is not listed yet)."""
        settings = self.settings
        for key in buckets:
            _append_capped(self.state.lsh_buckets, key, article_id, settings.max_bucket_size)
        for term in terms:
            _append_capped(self.state.story_terms, term, article_id, settings.max_posting_size)

    def unindex(self, article_id: str, buckets: list[str], terms: list[str]) -> None:
        for key in buckets:
            _remove(self.state.lsh_buckets, key, article_id)
        for term in terms:
            _remove(self.state.story_terms, term, article_id)

    @staticmethod
    def index_order(summary: dict[str, Any]) -> tuple[int, float]:
        """Where an article goes in the index's lists: the order `see` remembered it in
        (summaries written before there was a sequence come first, by article time)."""
        return summary.get("sequence", 0), summary["time"]

    def rebuild_index(self, listed: Iterable[tuple[str, list[str], list[str]]]) -> None:
        """Fill `lsh_buckets` and `story_terms` anew from (article_id, buckets, terms) given
        in `index_order`: for a worker that derives them from `summaries` rather than
        storing them. The lists come out as `see` made them."""
        buckets: dict[str, list[str]] = {}
        terms: dict[str, list[str]] = {}
        for article_id, its_buckets, its_terms in listed:
            for key in its_buckets:
                buckets.setdefault(key, []).append(article_id)
            for term in its_terms:
                terms.setdefault(term, []).append(article_id)
        self.state.lsh_buckets.clear()
        self.state.story_terms.clear()
        cap, posting_cap = self.settings.max_bucket_size, self.settings.max_posting_size
        self.state.lsh_buckets.update((k, ids[-cap:]) for k, ids in buckets.items())
        self.state.story_terms.update((k, ids[-posting_cap:]) for k, ids in terms.items())

    def expire(self, cutoff: float) -> int:
        """Forget every article older than `cutoff` (seconds since the epoch, article time);
        returns how many left the index. Runs by itself as article time passes."""
        state = self.state
        expired = [
            article_id
            for article_id, summary in list(state.summaries.items())
            if summary["time"] < cutoff
        ]
        for article_id in expired:
            self.unindex(article_id, *self.index_keys(state.summaries.pop(article_id)))
        for article_id in [
            article_id
            for article_id, known in list(state.articles.items())
            if known["time"] < cutoff
        ]:
            del state.articles[article_id]
        self.expired_total += len(expired)
        return len(expired)

    def counts(self) -> dict[str, int]:
        """Sizes of the state and counters since start, for metrics."""
        return {
            "indexed_articles": len(self.state.summaries),
            "exact_index_articles": len(self.state.articles),
            "lsh_buckets": len(self.state.lsh_buckets),
            "story_terms": len(self.state.story_terms),
            "expired_total": self.expired_total,
            **{f"{verdict}_total": count for verdict, count in self.verdicts_total.items()},
        }


def article_time(article: DedupInput) -> float | None:
    """Seconds since the epoch of the article's own time: its published date (no later than
    a day after its file was seen), else when its file was first seen; None without either."""
    published = getattr(article, "published_at", None)
    origin = getattr(article, "origin", None)
    seen = getattr(origin, "first_seen_at", None)
    if published is not None and seen is not None and published > seen + MAX_PUBLISHED_AHEAD:
        published = seen
    moment = published or seen
    return moment.timestamp() if moment is not None else None


def pack_vector(vector: np.ndarray) -> str:
    """A unit vector as text for a JSON table value: int8 steps of 1/127 (a few hundred
    bytes; cosines move by well under 0.01)."""
    return pack(np.round(np.clip(vector, -1.0, 1.0) * 127).astype(np.int8).tobytes())


def cosine(first: str, second: str) -> float:
    a = np.frombuffer(unpack(first), dtype=np.int8).astype(np.float32)
    b = np.frombuffer(unpack(second), dtype=np.int8).astype(np.float32)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms else 0.0


def _append_capped(mapping, key: str, article_id: str, cap: int) -> None:
    ids = list(mapping.get(key, ()))
    if article_id in ids:
        return
    ids.append(article_id)
    mapping[key] = ids[-cap:]  # assigned, never mutated: a table logs assignments only


def _remove(mapping, key: str, article_id: str) -> None:
    ids = mapping.get(key)
    if ids is None or article_id not in ids:
        return
    kept = [other for other in ids if other != article_id]
    if kept:
        mapping[key] = kept
    else:
        del mapping[key]
