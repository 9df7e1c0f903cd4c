"""`newsflow ingest PATH…`: send existing files or folders once, through the same reading,
parsing and producing code as the watcher, without moving them. For backfills and archives."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath

from tqdm import tqdm

from newsflow.core.settings import KafkaSettings
from newsflow.runtime import kafka as newsflow_kafka

from .confined import LinkOnPath
from .files import FileToRead, ReadRules, Topics, Vanished, read_file, shown_name
from .inbox import is_temporary
from .parsing import MAX_ARTICLES_PER_FILE


@dataclass
class IngestSummary:
    files: int = 0
    sent: int = 0
    articles: int = 0
    duplicate_files: int = 0  # same bytes as a file already sent in this run
    failed: Counter[str] = field(default_factory=Counter)
    refused_by_kafka: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.refused_by_kafka


def files_under(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Every file named or inside a named folder, with the path records will show."""
    for given in paths:
        if given.is_dir() and not given.is_symlink():
            for directory, subfolders, names in os.walk(given):
                subfolders[:] = sorted(n for n in subfolders if not n.startswith("."))
                for name in sorted(names):
                    path = Path(directory, name)
                    if not is_temporary(path.relative_to(given)):
                        yield path, shown_name(path)
        else:
            yield given, shown_name(given)


def ingest(
    paths: list[Path],
    kafka: KafkaSettings,
    raw_topic: str,
    deadletter_topic: str,
    max_file_bytes: int,
    progress: bool = True,
) -> IngestSummary:
    summary = IngestSummary()
    rules = ReadRules(max_file_bytes, MAX_ARTICLES_PER_FILE, Topics(raw_topic, deadletter_topic))
    seen_content: set[str] = set()
    pending = []
    producer = newsflow_kafka.producer(kafka)
    try:
        for path, shown in tqdm(list(files_under(paths)), unit="file", disable=not progress):
            summary.files += 1
            try:
                records = read_file(
                    rules, FileToRead(path.parent, PurePath(path.name), shown, datetime.now(UTC))
                )
            except (Vanished, LinkOnPath):
                summary.failed["vanished"] += 1
                continue
            if records.sha256 in seen_content:
                summary.duplicate_files += 1
                continue
            if records.sha256:
                seen_content.add(records.sha256)
            for topic, key, value in records.messages:
                pending.append(producer.send(topic, key=key.encode(), value=value))
            if records.rejection is not None:
                summary.failed[records.rejection.reason.value] += 1
            else:
                summary.sent += 1
                summary.articles += len(records.article_ids)
                summary.failed.update(reason.value for reason in records.dead_letter_reasons)
        producer.flush()
    finally:
        producer.close()
    summary.refused_by_kafka = sum(1 for future in pending if future.failed())
    return summary
