"""What the corpus promises against what the pipeline did: the store (SQLite or PostgreSQL),
the topics (read from the start, so redelivered records show up) and the failed folder.

Every check adds a problem in words to the report; an empty list is a pass. Counts are of
distinct inputs (an article of a file: id, path, line), so an at-least-once redelivery is
not counted twice, but an article that should not be there is."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer

from newsflow.core.settings import KafkaSettings

from . import store
from .corpus import STORED_KINDS, Corpus
from .pipeline import Pipeline, expected_sections

TOPICS = (
    "articles.raw",
    "articles.deduped",
    "articles.duplicates",
    "articles.tagged",
    "articles.enriched",
    "articles.deadletter",
)


def read_topics(settings: KafkaSettings, topics=TOPICS) -> dict[str, list[dict]]:
    """Every record of each topic, from the start to the end as it is now."""
    consumer = KafkaConsumer(
        **settings.kafka_python(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    from kafka import TopicPartition

    found: dict[str, list[dict]] = {topic: [] for topic in topics}
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = consumer.poll(timeout_ms=2000)
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    value = json.loads(message.value)
                    value["_position"] = [tp.topic, tp.partition, message.offset]
                    found[tp.topic].append(value)
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()
    return found


def unit(record: dict) -> tuple:
    """One article of one file: what a stage must pass on, drop or dead-letter once."""
    origin = record.get("origin") or {}
    return (record.get("article_id"), origin.get("path"), origin.get("line"))


def stored_articles(store_url: str) -> dict[str, dict]:
    """The store's articles with their deterministic fields (no times), by article id."""
    rows = store.rows(store_url)
    duplicated_rows = [a for a, n in Counter(a for a, _ in rows).items() if n > 1]
    stored = {}
    for article, record_json in rows:
        record = json.loads(record_json)
        dedup = record.get("dedup") or {}
        entities = record.get("entities") or {}
        stance = record.get("stance") or {}
        stored[article] = {
            "article_id": article,
            "title": record.get("title"),
            "body": record.get("body"),
            "source_path": (record.get("origin") or {}).get("path"),
            "sections": sorted(k for k in ("dedup", "entities", "stance") if record.get(k)),
            "dedup": {
                key: dedup.get(key)
                for key in ("verdict", "near_duplicate_of", "exact_duplicate_of", "story_id")
            },
            "entities": sorted(
                (e["canonical"], e["label"], e["count"], e["first_offset"])
                for e in entities.get("entities", [])
            ),
            "stance": sorted((c["claim_id"], c["label"]) for c in stance.get("claims", [])),
        }
    if duplicated_rows:
        stored["_duplicated_rows"] = duplicated_rows
    return stored


@dataclass
class Report:
    figures: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.lost and not self.doubled


def _files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return [
        p
        for p in folder.rglob("*")
        if (p.is_file() or p.is_symlink()) and not p.name.endswith(".error.json")
    ]


def check(corpus: Corpus, pipeline: Pipeline) -> tuple[Report, dict[str, dict]]:
    """Check everything the corpus promises; returns the report and the stored articles."""
    report = Report()
    topics = read_topics(pipeline.settings)
    stored = stored_articles(pipeline.store_url)
    duplicated_rows = stored.pop("_duplicated_rows", [])
    expected = corpus.stored_ids()
    sections = expected_sections()

    # Every valid unique article exactly once, with every section.
    report.lost = sorted(expected - set(stored))
    report.doubled = sorted(set(stored) - expected) + sorted(duplicated_rows)
    original_path = {
        article: item.path for item in corpus.of_kind(*STORED_KINDS) for article in item.article_ids
    }
    for article, row in stored.items():
        missing = [s for s in sections if s not in row["sections"]]
        if missing:
            report.problem(f"{article} stored without its {', '.join(missing)} section")
        if article in original_path and row["source_path"] != original_path[article]:
            report.doubled.append(f"{article} (stored from {row['source_path']})")

    # Exact copies absent: each one on the duplicates topic, none passed on.
    duplicates = {unit(r)[1]: r for r in topics["articles.duplicates"]}
    passed_on = {unit(r)[1] for r in topics["articles.deduped"]}
    for item in corpus.of_kind("exact_copy"):
        record = duplicates.get(item.path)
        if record is None:
            report.problem(f"exact copy {item.path} is not on articles.duplicates")
        elif (record.get("dedup") or {}).get("exact_duplicate_of") != item.original_id:
            report.problem(f"exact copy {item.path} not linked to {item.original_id}")
        if item.path in passed_on:
            report.doubled.append(f"exact copy {item.path} passed on to articles.deduped")

    # Near copies stored and linked to their original.
    for item in corpus.of_kind("near_copy"):
        row = stored.get(item.article_ids[0])
        if row and row["dedup"]["near_duplicate_of"] != item.original_id:
            report.problem(
                f"near copy {item.path}: near_duplicate_of {row['dedup']['near_duplicate_of']}, "
                f"expected {item.original_id} ({item.original_path})"
            )

    # Follow-ups in their lead's story, as articles of their own.
    for item in corpus.of_kind("follow_up"):
        row = stored.get(item.article_ids[0])
        if row and (row["dedup"]["verdict"], row["dedup"]["story_id"]) != (
            "unique",
            item.original_id,
        ):
            report.problem(
                f"follow-up {item.path}: {row['dedup']['verdict']} in story "
                f"{row['dedup']['story_id']}, expected unique in {item.original_id}"
            )

    # Bad input in failed/ with its reason, and a dead letter.
    letters = topics["articles.deadletter"]
    watcher_letters = {
        (d["input"].get("path"), d["input"].get("line")): d
        for d in letters
        if d["stage"] == "watcher"
    }
    failed_by_reason: Counter[str] = Counter()
    for item in corpus.of_kind("bad"):
        quarantined = pipeline.failed / item.path
        error_file = quarantined.with_name(quarantined.name + ".error.json")
        if not (quarantined.exists() or quarantined.is_symlink()) or not error_file.exists():
            report.problem(f"bad file {item.path} not in failed/ with its .error.json")
        elif (reason := json.loads(error_file.read_text())["reason"]) != item.reason:
            report.problem(f"bad file {item.path}: reason {reason}, expected {item.reason}")
        letter = watcher_letters.get((item.path, None))
        if letter is None:
            report.problem(f"bad file {item.path}: no dead letter")
        elif letter["reason"] != item.reason:
            report.problem(f"bad file {item.path}: dead letter {letter['reason']}")
        else:
            failed_by_reason[item.reason] += 1
    for item in corpus.of_kind("feed"):
        for line, reason in item.bad_lines:
            letter = watcher_letters.get((item.path, line))
            if letter is None or letter["reason"] != reason:
                report.problem(f"{item.path} line {line}: no {reason} dead letter")
            else:
                failed_by_reason[f"{reason} (a line)"] += 1

    # Per stage: in = out + duplicates + dead letters (distinct inputs).
    dead_by_stage: dict[str, set] = {}
    for d in letters:
        source = d["input"]
        key = (
            source.get("topic"),
            source.get("partition"),
            source.get("offset"),
            source.get("path"),
            source.get("line"),
        )
        dead_by_stage.setdefault(d["stage"], set()).add(key)
    units = {topic: {unit(r) for r in values} for topic, values in topics.items()}
    # A file the watcher sent again after a crash (at-least-once) reaches dedup twice: the
    # first record passes on, the second is dropped as an exact copy of it. Such an article
    # of a file is in both outputs; it counts once, as passed on.
    resent = units["articles.deduped"] & units["articles.duplicates"]
    copies = units["articles.duplicates"] - resent
    files_in = len(corpus.items)
    files_out = len(_files(pipeline.processed)) + len(_files(pipeline.failed))
    stage_counts = {
        "watcher": (files_in, files_out, 0, len(corpus.of_kind("bad"))),
        "dedup": (
            len(units["articles.raw"]),
            len(units["articles.deduped"]),
            len(copies),
            len(dead_by_stage.get("dedup", ())),
        ),
        "entities": (
            len(units["articles.deduped"]),
            len(units["articles.tagged"]),
            0,
            len(dead_by_stage.get("entities", ())),
        ),
        "stance": (
            len(units["articles.tagged"]),
            len(units["articles.enriched"]),
            0,
            len(dead_by_stage.get("stance", ())),
        ),
        "sink": (
            len({u[0] for u in units["articles.enriched"]}),
            len(stored),
            0,
            len(dead_by_stage.get("sink", ())),
        ),
    }
    for stage, (records_in, out, dropped, dead) in stage_counts.items():
        # The watcher's files in = files moved out (processed or failed): a bad file is
        # both failed and dead-lettered, so it is counted once.
        accounted = out if stage == "watcher" else out + dropped + dead
        if records_in != accounted:
            report.problem(
                f"{stage}: in {records_in} != out {out} + duplicates {dropped}"
                f" + dead letters {dead}"
            )
    left = pipeline.inbox_files()
    if left:
        report.problem(f"{left} files still in the inbox")

    # The partition of `articles.raw` each article was on: copies and stories are only
    # found across partitions when the dedup state is shared between them.
    partition_of = {r["article_id"]: r["_position"][1] for r in topics["articles.raw"]}

    def found(kind: str, field: str) -> list:
        return [
            item
            for item in corpus.of_kind(kind)
            if (stored.get(item.article_ids[0]) or {}).get("dedup", {}).get(field)
            == item.original_id
        ]

    def across(items: list) -> int:
        return sum(
            1
            for item in items
            if partition_of.get(item.article_ids[0]) != partition_of.get(item.original_id)
        )

    near_copies = found("near_copy", "near_duplicate_of")
    follow_ups = found("follow_up", "story_id")
    report.figures = {
        "files in": files_in,
        "articles expected": len(expected),
        "articles stored": len(stored),
        "exact copies dropped": len(copies),
        "files sent again": len(resent),
        "near copies linked": len(near_copies),
        "near copies across partitions": across(near_copies),
        "follow-ups in their story": len(follow_ups),
        "follow-ups across partitions": across(follow_ups),
        "failed by reason": dict(sorted(failed_by_reason.items())),
        "dead letters by stage": {k: len(v) for k, v in sorted(dead_by_stage.items())},
        "stage counts (in, out, duplicates, dead letters)": stage_counts,
        "sections checked": sections,
        "records on topics": {t: len(v) for t, v in topics.items()},
    }
    return report, stored


def compare(stored: dict[str, dict], baseline: dict[str, dict]) -> list[str]:
    """Differences between two stores in the fields that do not depend on time."""
    differences = []
    for article in sorted(set(stored) | set(baseline)):
        mine, theirs = stored.get(article), baseline.get(article)
        if mine is None or theirs is None:
            differences.append(f"{article}: only in {'baseline' if mine is None else 'this run'}")
            continue
        for key in ("title", "body", "source_path", "dedup", "entities", "stance"):
            if mine[key] != theirs[key]:
                differences.append(f"{article}: {key} {mine[key]!r} != baseline {theirs[key]!r}")
    return differences
