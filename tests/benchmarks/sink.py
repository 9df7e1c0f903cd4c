"""Sink benchmark: store-level upserts of realistic enriched articles, in rows per second,
for SQLite and PostgreSQL (and JSON Lines), with batches of 1, 100 and 1,000 records.

Each batch is one durable transaction, as in the service (SQLite: WAL, synchronous=FULL;
PostgreSQL: a local server started for the run with its default fsync settings). A record
is about 2.5 KB of body with 12 entities, 36 mentions and 2 claims: one article row,
12 entity rows and 2 stance rows. Kafka is not involved: this is the store's ceiling.

    .venv/bin/python tests/benchmarks/sink.py [--stores sqlite,postgres,jsonl] [--json OUT]
        [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from newsflow.core import records
from newsflow.sink.stores import open_store
from tests.support.examples import enriched_article
from tests.support.local import free_port
from tests.support.postgres import LocalPostgres

BATCHES = {1: 300, 100: 5_000, 1000: 10_000}  # batch size -> records written
NAMES = [
    ("Mike Pompeo", "PER"),
    ("Nicolas Maduro", "PER"),
    ("Juan Guaido", "PER"),
    ("Angela Merkel", "PER"),
    ("NATO", "ORG"),
    ("Pentagon", "ORG"),
    ("European Union", "ORG"),
    ("Reuters", "ORG"),
    ("Venezuela", "LOC"),
    ("Brussels", "LOC"),
    ("Caracas", "LOC"),
    ("Cold War", "MISC"),
]
WORDS = [
    "officials",
    "said",
    "talks",
    "agreement",
    "market",
    "election",
    "court",
    "ruling",
    "troops",
    "border",
]


def make_articles(count: int, seed: int) -> list[records.EnrichedArticle]:
    rng = random.Random(seed)
    start = datetime.now(UTC)
    articles = []
    for n in range(count):
        sentences = []
        for _ in range(36):
            name = rng.choice(NAMES)[0]
            words = " ".join(rng.choice(WORDS) for _ in range(8))
            sentences.append(f"{name} {words}.")
        for name, _ in NAMES:  # every entity at least once
            sentences.append(f"{name} was mentioned.")
        body = f"Report {seed}-{n}. " + " ".join(sentences)
        articles.append(
            enriched_article(
                f"Report {seed}-{n}: {rng.choice(WORDS)} in {rng.choice(NAMES)[0]}",
                body,
                seen_at=start + timedelta(seconds=n),
                entities=NAMES,
                claims=[
                    ("own_headline", f"Report {seed}-{n}", "discuss"),
                    ("venezuela-options", "The US will intervene in Venezuela", "unrelated"),
                ],
            )
        )
    return articles


def measure(url: str, batch_size: int, articles: list[records.EnrichedArticle]) -> dict:
    store = open_store(url)
    store.open()
    rows = 0
    started = time.perf_counter()
    for first in range(0, len(articles), batch_size):
        written = store.upsert(articles[first : first + batch_size])
        rows += written.articles + written.entities + written.stances
    elapsed = time.perf_counter() - started
    assert store.article_count() == len(articles)
    store.close()
    return {
        "batch_size": batch_size,
        "articles": len(articles),
        "seconds": round(elapsed, 3),
        "articles_per_second": round(len(articles) / elapsed, 1),
        "rows_per_second": round(rows / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="Records written per case, as a share of the full run (make bench: 0.3).",
    )
    arguments = parser.parse_args()
    stores = arguments.stores.split(",")

    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-sink-"))
    server = None
    if "postgres" in stores:
        server = LocalPostgres(port=free_port()).init().start()
    results = []
    try:
        for batch_size, full in BATCHES.items():
            count = max(batch_size, int(full * arguments.scale))
            articles = make_articles(count, seed=batch_size)
            for kind in stores:
                name = f"b{batch_size}"
                if kind == "sqlite":
                    url = f"sqlite:///{work}/{name}.db"
                elif kind == "jsonl":
                    url = f"jsonl:///{work}/{name}"
                else:
                    url = server.create_database(f"bench_{name}")
                result = {"store": kind, **measure(url, batch_size, articles)}
                results.append(result)
                print(
                    f"{kind:9} batch {batch_size:5}: {result['articles']:6} articles in "
                    f"{result['seconds']:7.2f} s  {result['articles_per_second']:9.1f} articles/s"
                    f"  {result['rows_per_second']:10.1f} rows/s",
                    flush=True,
                )
    finally:
        if server is not None:
            server.remove()
        shutil.rmtree(work, ignore_errors=True)
    if arguments.json:
        report = {"cores": os.cpu_count(), "load_average": os.getloadavg(), "sink": results}
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
