"""A folder of JSON Lines files for people who want files: `articles-YYYY-MM-DD.jsonl`, one
line per article (the enriched record exactly as on the topic), by the UTC day its file was
first seen by the watcher, so every delivery of one article goes to the same file.

Append-only and exactly once: an article id already in its day's file is skipped, so a
redelivered record is not written again (the first version stored wins; files are never
rewritten). A batch is appended with one write and fsync; a crash half-way through a write
leaves a partial last line, which the next writer cuts off before it appends.
Queries read every file; for large volumes use SQLite or PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, date
from pathlib import Path

from pydantic import ValidationError

from newsflow.core.names import Attested, best_spelling, keys_of_search
from newsflow.core.records import EnrichedArticle, StanceLabel, encode

from ..answers import (
    ArticleMention,
    ClaimCounts,
    ClaimVerdict,
    EntityName,
    StoryArticle,
)
from ..exceptions import RecordRejected, StoreNotReady, StoreUnavailable
from ..rows import ArticleRows, EntityRow, Written, latest_per_article, rows_of

log = logging.getLogger(__name__)


class JSONLinesStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.description = f"jsonl:///{self.folder}"
        self._ids_by_day: dict[date, set[str]] = {}
        self._lock_file: int | None = None

    def open(self, *, for_queries: bool = False) -> None:
        if for_queries:
            if not self.folder.is_dir():
                raise StoreNotReady(f"no JSON Lines store at {self.folder}: run the sink first")
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                # Two writers would each miss the other's ids: one sink per folder.
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                raise StoreUnavailable(
                    f"another sink is writing to {self.folder}; retrying until it stops"
                ) from None
            self._lock_file = lock
        except OSError as error:
            raise StoreUnavailable(f"JSON Lines store {self.folder}: {error}") from error
        self._ids_by_day.clear()

    def close(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)  # releases the lock
            self._lock_file = None

    def ping(self) -> None:
        if not os.access(self.folder, os.W_OK):
            raise StoreUnavailable(f"JSON Lines store {self.folder} is not writable")

    def path_of(self, day: date) -> Path:
        return self.folder / f"articles-{day.isoformat()}.jsonl"

    def upsert(self, articles: Sequence[EnrichedArticle]) -> Written:
        if self._lock_file is None:
            self.open()
        by_day: dict[date, list[EnrichedArticle]] = {}
        for record in latest_per_article(articles):
            by_day.setdefault(_day_of_arrival(record), []).append(record)
        written = 0
        for day, records in sorted(by_day.items()):
            written += self._append(day, records)
        return Written(articles=written)

    def _append(self, day: date, records: list[EnrichedArticle]) -> int:
        path = self.path_of(day)
        try:
            known = self._known_ids(day)
            new = [record for record in records if record.article_id not in known]
            if not new:
                return 0
            data = b"".join(encode(record) + b"\n" for record in new)
            created = not path.exists()
            with path.open("ab") as file:
                size_before = file.tell()
                try:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                except OSError:
                    file.truncate(size_before)  # no partial batch left behind
                    raise
            if created:
                _fsync_folder(self.folder)
        except OSError as error:
            raise StoreUnavailable(f"JSON Lines store {path}: {error}") from error
        known.update(record.article_id for record in new)
        return len(new)

    def _known_ids(self, day: date) -> set[str]:
        if day not in self._ids_by_day:
            path = self.path_of(day)
            _cut_partial_last_line(path)
            self._ids_by_day[day] = {
                json.loads(line)["article_id"] for line in _lines(path) if line.strip()
            }
        return self._ids_by_day[day]

    # --- queries: a scan of every file ---------------------------------------------------------

    def _all_rows(self) -> Iterator[ArticleRows]:
        for path in sorted(self.folder.glob("articles-*.jsonl")):
            for number, line in enumerate(_lines(path), start=1):
                try:
                    yield rows_of(EnrichedArticle.model_validate_json(line))
                except ValidationError:
                    # A partial last line (a crash mid-write) or a line edited by hand.
                    log.warning("skipping unreadable line %s:%d", path, number)

    def article_count(self) -> int:
        return sum(1 for _ in self._all_rows())

    def articles_mentioning(
        self, entity: str, stance: str | None, claim: str | None, limit: int
    ) -> list[ArticleMention]:
        found = []
        every = list(self._all_rows())
        names = _names(every)
        named = _named_entity(entity)
        for rows in every:
            matches = [e for e in rows.entities if named(e)]
            wanted = [
                s
                for s in rows.stances
                if (not stance or s.label == stance)
                and (not claim or claim in (s.claim_id, s.claim_text))
            ]
            if not matches or ((stance or claim) and not wanted):
                continue
            article = rows.article
            for match in matches:
                found.append(
                    ArticleMention(
                        article_id=article.article_id,
                        title=article.title,
                        published_at=_iso(article.published_at),
                        first_seen_at=_iso(article.first_seen_at),
                        publisher=article.publisher,
                        story_id=article.story_id,
                        entity=names[match.entity_key],
                        label=match.label,
                        mentions=match.mention_count,
                        stances=[
                            ClaimVerdict(s.claim_id, s.claim_text, s.label)
                            for s in sorted(rows.stances, key=lambda s: s.claim_id)
                        ],
                    )
                )
        found.sort(key=lambda m: m.article_id)
        found.sort(key=lambda m: m.published_at or m.first_seen_at, reverse=True)
        return found[:limit]

    def articles_of_story(self, story_id: str, limit: int) -> list[StoryArticle]:
        found = [
            StoryArticle(
                a.article_id,
                a.title,
                _iso(a.published_at),
                _iso(a.first_seen_at),
                a.publisher,
                a.dedup_verdict,
                a.near_duplicate_of,
            )
            for a in (rows.article for rows in self._all_rows())
            if a.story_id == story_id
        ]
        found.sort(key=lambda a: (a.first_seen_at, a.article_id))
        return found[:limit]

    def stance_counts(self, entity: str | None, claim: str | None, limit: int) -> list[ClaimCounts]:
        counts: dict[tuple[str, str, str], dict[str, int]] = {}
        named = _named_entity(entity or "")
        for rows in self._all_rows():
            if entity and not any(named(e) for e in rows.entities):
                continue
            for s in rows.stances:
                if claim and claim not in (s.claim_id, s.claim_text):
                    continue
                key = (s.claim_id, s.claim_text, s.claim_source)
                by_label = counts.setdefault(key, dict.fromkeys(StanceLabel, 0))
                by_label[s.label] = by_label.get(s.label, 0) + 1
        answers = [
            ClaimCounts(*key, *(c[label] for label in StanceLabel)) for key, c in counts.items()
        ]
        answers.sort(key=lambda c: (c.claim_id, c.claim_text))
        answers.sort(key=lambda c: c.articles, reverse=True)
        return answers[:limit]

    def entity_names_like(self, text: str, limit: int) -> list[EntityName]:
        every = list(self._all_rows())
        wanted = {
            e.entity_key
            for rows in every
            for e in rows.entities
            if text.lower() in e.canonical.lower()
        }
        articles: dict[tuple[str, str], set[str]] = {}
        for rows in every:
            for e in rows.entities:
                if e.entity_key in wanted:
                    articles.setdefault((e.entity_key, e.label), set()).add(e.article_id)
        names = _names(every)
        found = [EntityName(names[key], label, len(ids)) for (key, label), ids in articles.items()]
        found.sort(key=lambda n: (-n.articles, n.canonical))
        return found[:limit]


def _day_of_arrival(record: EnrichedArticle) -> date:
    """The UTC day its file was first seen, which names its file; RecordRejected for a time
    that has no UTC day (past year 9999 or before year 1 once its offset is applied)."""
    try:
        return record.origin.first_seen_at.astimezone(UTC).date()
    except OverflowError:
        raise RecordRejected(
            f"article {record.article_id} cannot be stored: origin.first_seen_at "
            f"{record.origin.first_seen_at.isoformat()} lies outside the years 1 to 9999 in UTC"
        ) from None


def _named_entity(entity: str):
    """Whether an entity row is the searched entity: by any key it could have, or by spelling."""
    keys = set(keys_of_search(entity))
    return lambda row: row.entity_key in keys or row.canonical.lower() == entity.lower()


def _names(every: Sequence[ArticleRows]) -> dict[str, str]:
    """Each entity key's name: the spelling most articles give it (`names.best_spelling`)."""
    spellings: dict[str, dict[str, list[EntityRow]]] = {}
    for rows in every:
        for e in rows.entities:
            spellings.setdefault(e.entity_key, {}).setdefault(e.canonical, []).append(e)
    return {
        key: best_spelling(
            Attested(
                spelling, len({e.article_id for e in found}), sum(e.mention_count for e in found)
            )
            for spelling, found in by_spelling.items()
        )
        for key, by_spelling in spellings.items()
    }


def _lines(path: Path) -> Iterator[str]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as file:
        for line in file:
            if line.endswith("\n"):
                yield line


def _cut_partial_last_line(path: Path) -> None:
    """A crash during a write may leave the last line unfinished: cut it off."""
    if not path.exists():
        return
    with path.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return
        # Walk back to the last newline; only the tail can be partial.
        position = size
        while position > 0:
            step = min(64 * 1024, position)
            file.seek(position - step)
            chunk = file.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        log.warning("cutting a partial last line off %s (%d bytes)", path, size - position)
        file.truncate(position)
        file.flush()
        os.fsync(file.fileno())


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None
