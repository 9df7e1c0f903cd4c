"""`newsflow query` as analysts use it, on stores filled by the tests: articles mentioning an
entity (with a stance), the articles of a story, and stance counts per claim."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from newsflow import records
from newsflow_sink.stores import open_store

from examples import NOW, enriched_article

LEAD = enriched_article(
    "Pompeo says all options are on the table in Venezuela",
    "Secretary of State Mike Pompeo said all options remain on the table in Venezuela.",
    published_at=NOW - timedelta(hours=3),
    entities=[("Mike Pompeo", "PER"), ("Venezuela", "LOC")],
    claims=[("venezuela-options", "The US will intervene in Venezuela", "agree")],
    publisher="Wire One",
)
COPY = enriched_article(
    "Pompeo: all options on the table (reprint)",
    "Mike Pompeo said all options remain on the table in Venezuela, a reprint says.",
    published_at=NOW - timedelta(hours=2),
    seen_at=NOW + timedelta(minutes=5),
    story_id=LEAD.article_id,
    verdict=records.DedupVerdict.NEAR_DUPLICATE,
    near_duplicate_of=LEAD.article_id,
    entities=[("Mike Pompeo", "PER")],
    claims=[("venezuela-options", "The US will intervene in Venezuela", "disagree")],
)
DENIAL = enriched_article(
    "State Department denies intervention plans",
    "Officials close to Mike Pompeo denied any plan. Pompeo was not available.",
    published_at=NOW - timedelta(hours=1),
    seen_at=NOW + timedelta(minutes=10),
    story_id=LEAD.article_id,
    entities=[("Mike Pompeo", "PER"), ("State Department", "ORG")],
    claims=[
        ("venezuela-options", "The US will intervene in Venezuela", "disagree"),
        ("own-headline", "State Department denies intervention plans", "discuss"),
    ],
)
UNRELATED = enriched_article(
    "Storm closes schools",
    "A storm closed schools across the region on Monday.",
    seen_at=NOW + timedelta(minutes=20),
    entities=[("Monday", "MISC")],
    claims=[("venezuela-options", "The US will intervene in Venezuela", "unrelated")],
)
ALL = [LEAD, COPY, DENIAL, UNRELATED]


@pytest.fixture(params=["sqlite", "postgres", "jsonl"], scope="module")
def store_url(request, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("query")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/newsflow.db"
    elif request.param == "jsonl":
        url = f"jsonl:///{folder}/articles"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"query_{folder.name.replace('-', '_')}")
    store = open_store(url)
    store.open()
    store.upsert(ALL)
    store.upsert(ALL)  # redelivered: the answers must not count anything twice
    store.close()
    return url


def query(store_url: str, *arguments: str, expect_ok: bool = True) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "newsflow_cli", "query", "--store", store_url, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) == expect_ok, done.stderr
    return done.stdout if expect_ok else done.stderr


def test_articles_mentioning_an_entity(store_url):
    found = json.loads(query(store_url, "--entity", "mike pompeo", "--format", "json"))
    # Newest first.
    assert [a["article_id"] for a in found] == [
        DENIAL.article_id,
        COPY.article_id,
        LEAD.article_id,
    ]
    assert found[0]["entity"] == "Mike Pompeo" and found[0]["mentions"] == 1
    assert found[2]["stances"] == [
        {
            "claim_id": "venezuela-options",
            "claim_text": "The US will intervene in Venezuela",
            "label": "agree",
        }
    ]


def test_articles_mentioning_an_entity_with_a_stance(store_url):
    found = json.loads(
        query(store_url, "--entity", "Mike Pompeo", "--stance", "disagree", "--format", "json")
    )
    assert {a["article_id"] for a in found} == {COPY.article_id, DENIAL.article_id}
    text = query(store_url, "--entity", "Mike Pompeo", "--stance", "disagree")
    heading, rule, *lines = text.splitlines()
    assert heading.split() == ["published/seen", "article", "title", "mentions", "stance"]
    assert set(rule) <= {"-", " "} and len(lines) == 2
    assert "State Department denies intervention plans" in lines[0]
    assert "venezuela-options: disagree" in lines[0]
    assert lines[1].endswith("disagree")


def test_an_unknown_entity_suggests_names(store_url):
    text = query(store_url, "--entity", "Pompeo")
    assert "no stored article mentions 'Pompeo'" in text
    assert "Mike Pompeo (PER, 3 articles)" in text


def test_the_articles_of_a_story(store_url):
    found = json.loads(query(store_url, "--story", LEAD.article_id, "--format", "json"))
    assert [a["article_id"] for a in found] == [LEAD.article_id, COPY.article_id, DENIAL.article_id]
    assert found[1]["dedup_verdict"] == "near_duplicate"
    assert found[1]["near_duplicate_of"] == LEAD.article_id
    table = query(store_url, "--story", LEAD.article_id)
    assert "near_duplicate" in table and "Wire One" in table


def test_stance_counts_per_claim(store_url):
    counts = json.loads(query(store_url, "--claims", "--format", "json"))
    by_claim = {c["claim_id"]: c for c in counts}
    assert by_claim["venezuela-options"] == {
        "claim_id": "venezuela-options",
        "claim_text": "The US will intervene in Venezuela",
        "claim_source": "claims_file",
        "agree": 1,
        "disagree": 2,
        "discuss": 0,
        "unrelated": 1,
        "articles": 4,
    }
    assert counts[0]["claim_id"] == "venezuela-options"  # most articles first
    among = json.loads(query(store_url, "--claims", "--entity", "Venezuela", "--format", "json"))
    assert [(c["claim_id"], c["agree"], c["articles"]) for c in among] == [
        ("venezuela-options", 1, 1)
    ]
    table = query(store_url, "--claims")
    assert table.splitlines()[0].split() == [
        "claim",
        "text",
        "source",
        "agree",
        "disagree",
        "discuss",
        "unrelated",
        "articles",
    ]


def test_a_question_is_required_and_a_missing_store_is_explained(tmp_path):
    assert "ask one question" in query("sqlite:///x.db", expect_ok=False)
    missing = query(f"sqlite:///{tmp_path}/none.db", "--claims", expect_ok=False)
    assert "run the sink first" in missing
    assert not (tmp_path / "none.db").exists()
