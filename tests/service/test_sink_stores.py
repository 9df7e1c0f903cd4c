"""The sink's stores without Kafka: idempotent upserts, the schema and its migrations, the
JSON Lines files, and how each store reports that it is away."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.core import records
from newsflow.core.settings import SettingsError, load
from newsflow.sink.exceptions import StoreNotReady, StoreUnavailable, StoreURLError
from newsflow.sink.migrations import LATEST
from newsflow.sink.rows import rows_of
from newsflow.sink.settings import SinkSettings
from newsflow.sink.stores import open_store, redacted
from newsflow.sink.writer import write_batch
from tests.support.examples import BODY, NOW, enriched_article

STORES = ["sqlite", "postgres", "jsonl"]


@pytest.fixture(params=STORES)
def store_url(request, tmp_path) -> str:
    kind = request.param
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/newsflow.db"
    if kind == "jsonl":
        return f"jsonl:///{tmp_path}/articles"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/newsflow.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    opened = open_store(store_url)
    opened.open()
    yield opened
    opened.close()


def some_articles(count: int, seen_at: datetime = NOW) -> list[records.EnrichedArticle]:
    return [
        enriched_article(
            f"Headline number {n}",
            f"Body {n}: Mike Pompeo met NATO officials in Brussels on day {n}.",
            seen_at=seen_at,
            entities=[("Mike Pompeo", "PER"), ("NATO", "ORG"), ("Brussels", "LOC")],
            claims=[("own_headline", f"Headline number {n}", "discuss"), ("c1", "Talks", "agree")],
        )
        for n in range(count)
    ]


def stored_ids(url: str) -> list[str]:
    """Every stored copy of every article id, read straight from the store (repeats kept)."""
    kind = url.split(":", 1)[0]
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return [row[0] for row in connection.execute("SELECT article_id FROM articles")]
    if kind == "jsonl":
        folder = Path(url.removeprefix("jsonl:///"))
        return [
            json.loads(line)["article_id"]
            for path in folder.glob("articles-*.jsonl")
            for line in path.read_text().splitlines()
        ]
    import psycopg

    with psycopg.connect(url) as connection:
        return [row[0] for row in connection.execute("SELECT article_id FROM articles")]


def table_count(url: str, table: str) -> int:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_redelivered_batch_leaves_one_row_per_article(store, store_url):
    batch = some_articles(20)
    store.upsert(batch)
    store.upsert(batch)  # the whole batch again, as after a crash before the offset commit
    store.upsert(batch[:5] + batch[:5])  # and repeats inside one batch
    ids = stored_ids(store_url)
    assert sorted(ids) == sorted(a.article_id for a in batch)
    if not store_url.startswith("jsonl"):
        assert table_count(store_url, "entities") == 20 * 3
        assert table_count(store_url, "stances") == 20 * 2


def test_a_reprocessed_article_replaces_its_rows(sql_store_url):
    url = sql_store_url
    store = open_store(url)
    store.open()
    first = enriched_article(entities=[("Mike Pompeo", "PER"), ("Venezuela", "LOC")])
    again = enriched_article(
        entities=[("Mike Pompeo", "PER")], claims=[("own_headline", "x", "agree")]
    )
    assert first.article_id == again.article_id
    store.upsert([first])
    store.upsert([again])
    assert table_count(url, "articles") == 1
    assert table_count(url, "entities") == 1
    [verdict] = store.articles_mentioning("Mike Pompeo", None, None, 10)[0].stances
    assert verdict.label == "agree"
    store.close()


def test_the_full_record_is_kept(store, store_url):
    article = some_articles(1)[0]
    store.upsert([article])
    if store_url.startswith("jsonl"):
        [path] = Path(store_url.removeprefix("jsonl:///")).glob("*.jsonl")
        line = path.read_text().splitlines()[0]
    elif store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            [line] = connection.execute("SELECT record FROM articles").fetchone()
    else:
        import psycopg

        with psycopg.connect(store_url) as connection:
            [line] = connection.execute("SELECT record::text FROM articles").fetchone()
    assert records.EnrichedArticle.model_validate_json(line) == article


def test_the_schema_is_migrated_once(sql_store_url):
    for _ in range(2):
        store = open_store(sql_store_url)
        store.open()
        store.close()
    assert table_count(sql_store_url, "schema_version") == LATEST


def test_a_store_with_a_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/n.db"
    store = open_store(url)
    store.open()
    store.close()
    with sqlite3.connect(tmp_path / "n.db") as connection:
        connection.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01')", (LATEST + 1,)
        )
    with pytest.raises(Exception, match="newer than"):
        open_store(url).open()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/n.db")
    store.open()
    store.upsert(some_articles(1))
    store.close()
    with sqlite3.connect(tmp_path / "n.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_queries_never_create_a_store(tmp_path):
    for url in (f"sqlite:///{tmp_path}/missing.db", f"jsonl:///{tmp_path}/missing"):
        with pytest.raises(StoreNotReady, match="run the sink first"):
            open_store(url).open(for_queries=True)
    assert list(tmp_path.iterdir()) == []


def test_jsonl_writes_one_file_per_day_of_arrival(tmp_path):
    store = open_store(f"jsonl:///{tmp_path}")
    store.open()
    today = some_articles(3, seen_at=NOW)
    tomorrow = some_articles(5, seen_at=NOW + timedelta(days=1))[3:]
    store.upsert(today + tomorrow)
    store.upsert(today + tomorrow)
    files = {p.name: len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl")}
    assert files == {"articles-2026-11-21.jsonl": 3, "articles-2026-11-22.jsonl": 2}
    store.close()
    reopened = open_store(f"jsonl:///{tmp_path}")  # a restart: ids are read from the files
    reopened.open()
    assert reopened.upsert(today).articles == 0
    reopened.close()


def test_jsonl_cuts_a_partial_line_left_by_a_crash(tmp_path):
    store = open_store(f"jsonl:///{tmp_path}")
    store.open()
    articles = some_articles(3)
    store.upsert(articles[:2])
    store.close()
    [path] = tmp_path.glob("*.jsonl")
    with path.open("ab") as file:  # the sink died half-way through writing the third
        file.write(records.encode(articles[2])[:100])
    store = open_store(f"jsonl:///{tmp_path}")
    store.open()
    assert store.upsert(articles).articles == 1
    store.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["article_id"] for line in lines] == [a.article_id for a in articles]


def test_a_second_writer_on_one_jsonl_folder_waits(tmp_path):
    first = open_store(f"jsonl:///{tmp_path}")
    first.open()
    with pytest.raises(StoreUnavailable, match="another sink"):
        open_store(f"jsonl:///{tmp_path}").open()
    first.close()


def test_postgres_that_is_not_there_is_unavailable(postgres_server):
    from tests.support.local import free_port

    store = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(StoreUnavailable, match="PostgreSQL"):
        store.open()


def test_postgres_refuses_a_nul_character_and_only_that_record_is_rejected(postgres_url):
    store = open_store(postgres_url)
    store.open()
    good = some_articles(3)
    bad = enriched_article("NUL inside", "A body with a \x00 NUL character. " + BODY)
    outcome = write_batch(store, [good[0], bad, good[1], good[2]])
    assert outcome.written.articles == 3
    assert list(outcome.rejected) == [1]
    assert "NUL" in outcome.rejected[1] or "0x00" in outcome.rejected[1]
    assert sorted(stored_ids(postgres_url)) == sorted(a.article_id for a in good)
    store.close()


# Past the last instant Python (and every store) can hold once read in UTC.
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))


def unchecked(article: records.EnrichedArticle, **changes) -> records.EnrichedArticle:
    """The article with `changes` made without validation: a record the store cannot hold,
    as one that got past the model (an older model, a newer producer) would reach it."""
    return article.model_copy(update=changes)


def test_a_time_no_store_can_hold_rejects_only_its_record(store, store_url):
    good = some_articles(3)
    bad = enriched_article("Seen at the end of time", "A body. " + BODY)
    bad = unchecked(bad, origin=unchecked(bad.origin, first_seen_at=FAR_FUTURE))
    outcome = write_batch(store, [good[0], bad, good[1], good[2]])
    assert list(outcome.rejected) == [1]
    assert "first_seen_at 9999-12-31T23:59:59-23:59" in outcome.rejected[1]
    assert outcome.written.articles == 3
    assert sorted(stored_ids(store_url)) == sorted(a.article_id for a in good)


def test_a_count_past_64_bits_or_a_date_past_9999_rejects_only_its_record(sql_store_url):
    store = open_store(sql_store_url)
    store.open()
    good = some_articles(2)
    article = enriched_article(
        "Counted forever", "NATO met NATO. " + BODY, entities=[("NATO", "ORG")]
    )
    [entity] = article.entities.entities
    huge = unchecked(
        article,
        entities=unchecked(article.entities, entities=[unchecked(entity, count=10**20)]),
    )
    far_published = unchecked(
        enriched_article("Published late", "Late. " + BODY), published_at=FAR_FUTURE
    )
    outcome = write_batch(store, [good[0], huge, far_published, good[1]])
    store.close()
    assert sorted(outcome.rejected) == [1, 2]
    assert "published_at 9999-12-31T23:59:59-23:59" in outcome.rejected[2]
    assert sorted(stored_ids(sql_store_url)) == sorted(a.article_id for a in good)
    assert table_count(sql_store_url, "entities") == 2 * 3


def test_rows_of_an_article():
    article = enriched_article(
        published_at=NOW - timedelta(hours=2),
        entities=[("Mike Pompeo", "PER"), ("Venezuela", "LOC")],
        claims=[("own_headline", "h", "discuss"), ("c9", "Pompeo resigns", "disagree")],
    )
    rows = rows_of(article)
    assert rows.article.story_id == article.article_id
    assert rows.article.dedup_verdict == "unique"
    assert rows.article.published_at == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert [(e.canonical, e.label, e.mention_count) for e in rows.entities] == [
        ("Mike Pompeo", "PER", 1),
        ("Venezuela", "LOC", 1),
    ]
    assert [(s.claim_id, s.label, s.p_disagree) for s in rows.stances] == [
        ("own_headline", "discuss", 0.05),
        ("c9", "disagree", 0.85),
    ]


def test_a_bad_store_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_SINK_STORE_URL", "mysql://somewhere/db")
    with pytest.raises(SettingsError, match="NEWSFLOW_SINK_STORE_URL"):
        load(SinkSettings)
    with pytest.raises(StoreURLError):
        open_store("sqlite://")


MISTYPED_STORE_URLS = [
    "postgresq://newsflow:S3cretPW@db.example.com:5432/news",
    "postgresql+psycopg://newsflow:S3cretPW@db.example.com/news",
    "sqlite://newsflow:S3cretPW@host/x",
]


@pytest.mark.parametrize("url", MISTYPED_STORE_URLS)
def test_a_mistyped_store_url_is_named_without_its_password(monkeypatch, url):
    monkeypatch.setenv("NEWSFLOW_SINK_STORE_URL", url)
    with pytest.raises(SettingsError) as error:
        load(SinkSettings)
    assert "NEWSFLOW_SINK_STORE_URL" in str(error.value)
    assert "newsflow:***@" in str(error.value)  # the operator still sees which URL
    assert "S3cretPW" not in str(error.value)


@pytest.mark.parametrize("url", MISTYPED_STORE_URLS)
def test_the_sink_started_with_a_mistyped_store_url_never_prints_its_password(tmp_path, url):
    from tests.support.local import free_port

    environment = {
        **os.environ,
        "NEWSFLOW_SINK_STORE_URL": url,
        "NEWSFLOW_SINK_METRICS_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "sink"],
        env=environment,
        cwd=tmp_path,  # no .env there: only the settings given here
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "NEWSFLOW_SINK_STORE_URL" in done.stderr and "newsflow:***@" in done.stderr
    assert "S3cretPW" not in done.stdout + done.stderr


def test_a_password_query_parameter_stays_out_of_store_errors():
    from tests.support.local import free_port

    url = f"postgresql://newsflow@127.0.0.1:{free_port()}/nothing?password=S3cretPW"
    store = open_store(url)
    with pytest.raises(StoreUnavailable) as error:
        store.open()
    assert "password=***" in str(error.value) and "S3cretPW" not in str(error.value)
    assert "S3cretPW" not in store.description


def test_passwords_never_reach_the_logs():
    assert redacted("postgresql://sink:s3cret@db:5432/news") == "postgresql://sink:***@db:5432/news"
