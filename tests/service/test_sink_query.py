"""`newsflow query` as analysts use it, on stores filled by the tests: articles mentioning an
entity (with a stance), the articles of a story, and stance counts per claim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from newsflow.core import records
from newsflow.sink.stores import open_store
from tests.support.examples import NOW, enriched_article

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
        ("own_headline", "State Department denies intervention plans", "discuss"),
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
        [sys.executable, "-m", "newsflow.cli", "query", "--store", store_url, *arguments],
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


# --- one name per entity across the store -------------------------------------------------------

SHORT = enriched_article(
    "Pompeo visits Caracas",
    "Mike Pompeo arrived in Caracas. Mike Pompeo met Juan Guaidó.",
    seen_at=NOW + timedelta(hours=1),
    entities=[("Mike Pompeo", "PER"), ("Juan Guaidó", "PER")],
)
FORMAL = enriched_article(
    "State Department statement",
    "Secretary of State Michael R. Pompeo said the United States stands with Juan Guaido.",
    seen_at=NOW + timedelta(hours=2),
    entities=[("Michael R. Pompeo", "PER"), ("Juan Guaido", "PER")],
)


def filled_store(url: str, *batches: list[records.EnrichedArticle]) -> str:
    store = open_store(url)
    store.open()
    for batch in batches:
        store.upsert(batch)
    store.close()
    return url


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres", "jsonl"])
def test_every_spelling_of_a_person_is_one_entity_whatever_the_order(store_kind, tmp_path, request):
    answers = []
    for number, order in enumerate(([SHORT], [FORMAL]), start=1):
        batches = [order, [FORMAL] if order == [SHORT] else [SHORT]]
        if store_kind == "sqlite":
            url = f"sqlite:///{tmp_path}/order{number}.db"
        elif store_kind == "jsonl":
            url = f"jsonl:///{tmp_path}/order{number}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = server.create_database(f"names_{tmp_path.name.replace('-', '_')}_{number}")
        filled_store(url, *batches)
        for searched in ("Mike Pompeo", "Michael R. Pompeo", "michael pompeo"):
            found = json.loads(query(url, "--entity", searched, "--format", "json"))
            assert {a["article_id"] for a in found} == {SHORT.article_id, FORMAL.article_id}
            answers.append({(a["article_id"], a["entity"]) for a in found})
        guaido = json.loads(query(url, "--entity", "Juan Guaido", "--format", "json"))
        # One article each: the spelling with the accent names him.
        assert {(a["article_id"], a["entity"]) for a in guaido} == {
            (SHORT.article_id, "Juan Guaidó"),
            (FORMAL.article_id, "Juan Guaidó"),
        }
    # The same one name in every answer: "Mike Pompeo" has more mentions (two to one).
    assert all(answer == answers[0] for answer in answers)
    assert {name for _, name in answers[0]} == {"Mike Pompeo"}


def test_the_best_attested_spelling_names_the_entity_once_more_articles_use_it(tmp_path):
    url = filled_store(f"sqlite:///{tmp_path}/n.db", [FORMAL])
    found = json.loads(query(url, "--entity", "Mike Pompeo", "--format", "json"))
    assert [a["entity"] for a in found] == ["Michael R. Pompeo"]
    more = [
        enriched_article(
            f"Pompeo speaks {n}",
            f"Michael Pompeo spoke on day {n}.",
            seen_at=NOW + timedelta(hours=3 + n),
            entities=[("Michael Pompeo", "PER")],
        )
        for n in range(2)
    ]
    filled_store(url, more)
    found = json.loads(query(url, "--entity", "Mike Pompeo", "--format", "json"))
    assert len(found) == 3
    assert {a["entity"] for a in found} == {"Michael Pompeo"}  # stored rows renamed at once
    suggestions = query(url, "--entity", "Pompeo")
    assert "Michael Pompeo (PER, 3 articles)" in suggestions


def test_rows_stored_before_keys_get_theirs_when_the_store_is_migrated(tmp_path):
    import sqlite3

    from newsflow.sink.migrations import MIGRATIONS, SCHEMA_VERSION_TABLE

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute(SCHEMA_VERSION_TABLE)
        for statement in MIGRATIONS[0].sqlite:
            connection.execute(statement)
        connection.execute("INSERT INTO schema_version VALUES (1, 'v1', '2026-01-01')")
        for article, name in ((SHORT, "Mike Pompeo"), (FORMAL, "Michael R. Pompeo")):
            connection.execute(
                "INSERT INTO articles (article_id, title_method, body, first_seen_at, "
                "source_path, source_format, source_sha256, stored_at, record) "
                "VALUES (?, 'first_line', 'body', ?, 'a.txt', 'txt', ?, ?, '{}')",
                (article.article_id, NOW.isoformat(), "0" * 64, NOW.isoformat()),
            )
            connection.execute(
                "INSERT INTO entities VALUES (?, ?, 'PER', 1, 0)", (article.article_id, name)
            )
    url = filled_store(f"sqlite:///{path}")  # the sink opens it: schema 1 -> latest
    found = json.loads(query(url, "--entity", "Mike Pompeo", "--format", "json"))
    assert {a["article_id"] for a in found} == {SHORT.article_id, FORMAL.article_id}


# --- hostile text in the store and in the question ----------------------------------------------

# Clears the screen, retitles the terminal window (OSC ... BEL), then a C1 CSI and a
# right-to-left override that would reverse the rest of the line.
HOSTILE_TITLE = "Markets calm\x1b[2J\x1b]0;pwned\x07 again\x9b5m \u202eesrever"
SHOWN_TITLE = "Markets calm\\x1b[2J\\x1b]0;pwned\\x07 again\\x9b5m \\u202eesrever"


def test_control_characters_in_stored_text_are_shown_escaped_in_tables(tmp_path):
    article = enriched_article(
        HOSTILE_TITLE,
        "Mike Pompeo said markets were calm. Evil Corp agreed.",
        entities=[("Mike Pompeo", "PER"), ("Evil\x1b]0;x\x07Corp", "ORG")],
    )
    url = filled_store(f"sqlite:///{tmp_path}/n.db", [article])
    for table in (
        query(url, "--entity", "Mike Pompeo"),
        query(url, "--story", article.article_id),
        query(url, "--entity", "Evil"),  # no such entity: the names that contain it
    ):
        assert "\x1b" not in table and "\x07" not in table and "\x9b" not in table
        assert "\u202e" not in table
    assert SHOWN_TITLE in query(url, "--entity", "Mike Pompeo")
    assert SHOWN_TITLE in query(url, "--story", article.article_id)
    assert "Evil\\x1b]0;x\\x07Corp (ORG, 1 articles)" in query(url, "--entity", "Evil")
    # JSON is for programs: the exact text, escaped by JSON itself.
    answer = query(url, "--entity", "Mike Pompeo", "--format", "json")
    assert not any(char in answer for char in "\x1b\x07\x9b\u202e")
    [found] = json.loads(answer)
    assert found["title"] == HOSTILE_TITLE


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres", "jsonl"])
def test_like_wildcards_in_a_searched_name_match_only_themselves(store_kind, tmp_path, request):
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path}/n.db"
    elif store_kind == "jsonl":
        url = f"jsonl:///{tmp_path}/articles"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"like_{tmp_path.name.replace('-', '_')}"
        )
    filled_store(
        url,
        [
            enriched_article(
                "Juice maker grows",
                "Mike Pompeo drank 100% Juice in Brussels.",
                entities=[("Mike Pompeo", "PER"), ("100% Juice", "ORG"), ("Brussels", "LOC")],
            )
        ],
    )
    percent = query(url, "--entity", "%")
    assert "no stored article mentions '%'" in percent
    assert "100% Juice (ORG, 1 articles)" in percent
    assert "Mike Pompeo" not in percent and "Brussels" not in percent
    underscore = query(url, "--entity", "_")
    assert underscore == "no stored article mentions '_'\n"


def test_the_store_url_comes_from_the_sinks_variable(tmp_path):
    url = filled_store(f"sqlite:///{tmp_path}/elsewhere.db", [LEAD])
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "query", "--entity", "Mike Pompeo"],
        env={**os.environ, "NEWSFLOW_SINK_STORE_URL": url},
        cwd=tmp_path,  # no ./data/newsflow.db here: the store can only come from the variable
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert LEAD.title in done.stdout
