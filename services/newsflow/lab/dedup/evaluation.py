"""`newsflow eval dedup`: feeds a JSON Lines stream through the same logic the worker runs and
scores it against the stream's gold links with pairwise precision, recall and F1 of copy
groups and of stories (counted per group, never pair by pair), speed and peak memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from newsflow.core.identity import article_id
from newsflow.core.records import DedupVerdict
from newsflow.dedup.logic import Deduplicator, DedupSettings, DedupState
from newsflow.lab.groups import Groups


class StreamError(ValueError):
    """A line of the stream is not an article; the message names the line."""


@dataclass(frozen=True)
class StreamArticle:
    """One line of the stream, shaped as dedup reads an article (see `logic.DedupInput`)."""

    id: str
    article_id: str
    title: str | None
    body: str
    published_at: datetime | None
    duplicate_of: str | None
    story: str | None


@dataclass(frozen=True)
class Prediction:
    id: str
    verdict: str
    duplicate_of: str | None  # a stream id
    story_id: str  # the stream id of the story's first article

    def line(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "duplicate_of": self.duplicate_of,
            "story_id": self.story_id,
        }


@dataclass(frozen=True)
class PairScores:
    precision: float | None  # None when nothing was predicted (nothing to be right about)
    recall: float | None  # None when the gold has no pairs
    f1: float | None
    predicted_pairs: int
    gold_pairs: int


@dataclass(frozen=True)
class EvalReport:
    articles: int
    copies: PairScores
    stories: PairScores
    cpu_seconds: float  # of this process while it ran the logic: one core's work
    wall_seconds: float
    peak_rss_bytes: int
    verdicts: dict[str, int]
    indexed_articles: int
    expired_articles: int
    state_bytes_per_article: float

    @property
    def articles_per_second(self) -> float:
        # By CPU time, so the figure says what one core does whatever else the machine runs
        # (the logic is single-threaded; wall time is reported beside it).
        return self.articles / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        """The `--json` object: a stable set of keys that outside scorers read."""
        return {
            "copy_precision": self.copies.precision,
            "copy_recall": self.copies.recall,
            "copy_f1": self.copies.f1,
            "story_precision": self.stories.precision,
            "story_recall": self.stories.recall,
            "story_f1": self.stories.f1,
            "articles_per_second": round(self.articles_per_second, 1),
            "peak_rss_bytes": self.peak_rss_bytes,
        }


def read_stream(path: Path) -> Iterator[StreamArticle]:
    """The articles of a JSON Lines stream in file order (blank lines skipped)."""
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            article = parse_line(line, number)
            if article.id in seen:
                raise StreamError(f"line {number}: id {article.id!r} was used before")
            seen.add(article.id)
            yield article


def parse_line(line: str, number: int) -> StreamArticle:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise StreamError(f"line {number}: not JSON ({error.msg})") from None
    if not isinstance(item, dict):
        raise StreamError(f"line {number}: not a JSON object")
    stream_id, title, body = item.get("id"), item.get("title"), item.get("body")
    if not isinstance(stream_id, str) or not stream_id:
        raise StreamError(f"line {number}: needs a string `id`")
    if not isinstance(body, str):
        raise StreamError(f"line {number} ({stream_id}): needs a string `body`")
    if title is not None and not isinstance(title, str):
        raise StreamError(f"line {number} ({stream_id}): `title` must be a string or null")
    published_at = None
    if isinstance(item.get("published_at"), str):
        try:
            published_at = datetime.fromisoformat(item["published_at"].replace("Z", "+00:00"))
        except ValueError:
            raise StreamError(f"line {number} ({stream_id}): bad `published_at`") from None
        if published_at.tzinfo is None:
            raise StreamError(f"line {number} ({stream_id}): `published_at` needs an offset")
    return StreamArticle(
        id=stream_id,
        article_id=article_id(title, body),
        title=title,
        body=body,
        published_at=published_at,
        duplicate_of=_optional_str(item.get("duplicate_of")),
        story=_optional_str(item.get("story")),
    )


def evaluate(
    stream: Iterable[StreamArticle],
    settings: DedupSettings | None = None,
    predictions_path: Path | None = None,
    meaning: Callable[[str], np.ndarray] | None = None,
) -> EvalReport:
    """Run the stream through a fresh in-memory `Deduplicator` and score it; `meaning` as
    the worker gives it (the sentence encoder)."""
    articles = list(stream)
    deduplicator = Deduplicator(DedupState.in_memory(), settings, meaning=meaning)
    first_with_id: dict[str, str] = {}  # article_id -> stream id of its first article
    predictions = []
    started, started_cpu = time.perf_counter(), time.process_time()
    for article in articles:
        section = deduplicator.see(article)
        first_with_id.setdefault(article.article_id, article.id)
        copied = section.exact_duplicate_of or section.near_duplicate_of
        predictions.append(
            Prediction(
                id=article.id,
                verdict=section.verdict.value,
                duplicate_of=first_with_id.get(copied, copied) if copied else None,
                story_id=first_with_id.get(section.story_id, section.story_id),
            )
        )
    cpu_seconds = time.process_time() - started_cpu
    wall_seconds = time.perf_counter() - started
    if predictions_path is not None:
        write_predictions(predictions, predictions_path)

    counts = deduplicator.counts()
    indexed = counts["indexed_articles"]
    state_bytes = sum(deduplicator.state.serialised_bytes().values())
    ids = [article.id for article in articles]
    return EvalReport(
        articles=len(articles),
        copies=pair_scores(
            _copy_groups(ids, [prediction.duplicate_of for prediction in predictions]),
            _copy_groups(ids, [article.duplicate_of for article in articles]),
        ),
        stories=pair_scores(
            [prediction.story_id for prediction in predictions],
            [
                article.story if article.story is not None else f"\0{article.id}"
                for article in articles
            ],
        ),
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
        peak_rss_bytes=peak_rss_bytes(),
        verdicts=dict(Counter(prediction.verdict for prediction in predictions)),
        indexed_articles=indexed,
        expired_articles=counts["expired_total"],
        state_bytes_per_article=state_bytes / indexed if indexed else 0.0,
    )


def write_predictions(predictions: Iterable[Prediction], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for prediction in predictions:
            out.write(json.dumps(prediction.line(), ensure_ascii=False) + "\n")


def pair_scores(predicted: list[str], gold: list[str]) -> PairScores:
    """Pairwise precision, recall and F1 of two clusterings of the same items (a group label
    per item), from group sizes: pairs in a group of n are n(n-1)/2, and the pairs both
    agree on are counted in each cell of the predicted x gold contingency table."""
    predicted_pairs = _pairs(Counter(predicted).values())
    gold_pairs = _pairs(Counter(gold).values())
    both = _pairs(Counter(zip(predicted, gold, strict=True)).values())
    precision = both / predicted_pairs if predicted_pairs else None
    recall = both / gold_pairs if gold_pairs else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(
        precision=_round(precision),
        recall=_round(recall),
        f1=_round(f1),
        predicted_pairs=predicted_pairs,
        gold_pairs=gold_pairs,
    )


def peak_rss_bytes() -> int:
    """The process's high-water mark of resident memory."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def format_report(report: EvalReport) -> str:
    def scores(name: str, value: PairScores) -> str:
        shown = [
            f"{label} {'n/a' if figure is None else f'{figure:.4f}'}"
            for label, figure in (
                ("precision", value.precision),
                ("recall", value.recall),
                ("F1", value.f1),
            )
        ]
        return (
            f"{name:<12} {'  '.join(shown)}  "
            f"(predicted pairs {value.predicted_pairs}, gold pairs {value.gold_pairs})"
        )

    verdicts = ", ".join(
        f"{verdict.value} {report.verdicts.get(verdict.value, 0)}" for verdict in DedupVerdict
    )
    return "\n".join(
        [
            f"articles     {report.articles} ({verdicts})",
            scores("copy groups", report.copies),
            scores("stories", report.stories),
            f"speed        {report.articles_per_second:.0f} articles/s on one core "
            f"({report.cpu_seconds:.2f} s of CPU, {report.wall_seconds:.2f} s of wall time)",
            f"memory       peak RSS {report.peak_rss_bytes / 2**20:.0f} MiB; index at the end "
            f"{report.indexed_articles} articles ({report.state_bytes_per_article:.0f} bytes "
            f"each as stored), {report.expired_articles} expired on the way",
        ]
    )


def _copy_groups(ids: list[str], links: list[str | None]) -> list[str]:
    """Each item's copy group (a representative id): connected components of the links."""
    groups: Groups[str] = Groups()
    for item_id, link in zip(ids, links, strict=True):
        groups.find(item_id)
        if link is not None:
            groups.join(item_id, link)
    return [groups.find(item_id) for item_id in ids]


def _pairs(sizes: Iterable[int]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
