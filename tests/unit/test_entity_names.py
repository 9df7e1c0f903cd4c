"""Entity keys and the one name of an entity across the store (pure logic, no store)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.core.names import Attested, best_spelling, entity_key, keys_of_search
from tests.support.examples import enriched_article


@pytest.mark.parametrize(
    "one, other",
    [
        ("Mike Pompeo", "Michael R. Pompeo"),
        ("Mike Pompeo", "Michael Pompeo"),
        ("Juan Guaidó", "Juan Guaido"),
        ("Nicolás Maduro", "Nicolas Maduro"),
        ("Martin Luther King Jr.", "Martin King"),
        ("JOHN BOLTON", "John Bolton"),
    ],
)
def test_spellings_of_one_person_share_a_key(one, other):
    assert entity_key(one, "PER") == entity_key(other, "PER")


@pytest.mark.parametrize(
    "one, other",
    [("Mike Pompeo", "Mike Pence"), ("John Bolton", "Michael Bolton"), ("Pompeo", "Mike Pompeo")],
)
def test_different_people_have_different_keys(one, other):
    assert entity_key(one, "PER") != entity_key(other, "PER")


def test_other_entities_are_keyed_by_label_and_folded_name():
    assert entity_key("the Pentagon", "ORG") == entity_key("PENTAGON", "ORG") == "ORG:pentagon"
    assert entity_key("Bogotá", "LOC") == entity_key("Bogota", "LOC")
    assert entity_key("Washington", "LOC") != entity_key("Washington", "PER")


def test_a_searched_name_matches_whatever_its_label():
    keys = keys_of_search("Mike Pompeo")
    assert entity_key("Michael R. Pompeo", "PER") in keys
    assert entity_key("Mike Pompeo", "ORG") in keys


def test_the_name_most_articles_use_wins_then_mentions_then_accents():
    assert best_spelling([Attested("Mike Pompeo", 4, 9), Attested("Michael R. Pompeo", 1, 20)]) == (
        "Mike Pompeo"
    )
    assert best_spelling([Attested("Mike Pompeo", 1, 2), Attested("Michael R. Pompeo", 1, 5)]) == (
        "Michael R. Pompeo"
    )
    assert best_spelling([Attested("Juan Guaido", 2, 3), Attested("Juan Guaidó", 2, 3)]) == (
        "Juan Guaidó"
    )
    assert best_spelling([Attested("JUAN GUAIDO", 1, 1), Attested("Juan Guaido", 1, 1)]) == (
        "Juan Guaido"
    )


def test_the_choice_does_not_depend_on_order():
    spellings = [Attested("B Name", 1, 1), Attested("A Name", 1, 1), Attested("C Name", 1, 1)]
    assert best_spelling(spellings) == best_spelling(reversed(spellings)) == "A Name"


# --- the tagger and the store together, on the seed articles ------------------------------------

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared/data/seeds"


@pytest.mark.parametrize("order", ["001 first", "004 first"])
def test_pompeo_in_seeds_001_and_004_is_one_entity_in_the_store(order, tmp_path):
    from newsflow.entities.tagging import Tagger
    from newsflow.sink.stores import open_store

    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS} (they are kept outside the repository)")
    tagger = Tagger.load(REPO / "models/ner")
    articles = {}
    for prefix in ("001", "004"):
        body = next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")
        article = enriched_article(f"seed {prefix}", body)
        articles[prefix] = article.model_copy(update={"entities": tagger.tag(body)})
    pompeo = {
        prefix: {e.key for e in article.entities.entities if "Pompeo" in e.canonical}
        for prefix, article in articles.items()
    }
    assert pompeo["001"] == pompeo["004"] == {entity_key("Mike Pompeo", "PER")}
    url = f"sqlite:///{tmp_path}/seeds.db"
    store = open_store(url)
    store.open()
    for prefix in ("001", "004") if order == "001 first" else ("004", "001"):
        store.upsert([articles[prefix]])
    store.close()
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "query", "--store", url, "--entity", "Mike Pompeo",
         "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    found = json.loads(done.stdout)
    assert {a["article_id"] for a in found} == {a.article_id for a in articles.values()}
    assert {a["entity"] for a in found} == {"Mike Pompeo"}
