"""The entity worker as a user meets it: `newsflow entities` on the real broker with the
committed model, a de-duplicated article in, the same article with its entities out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from newsflow.core.records import DedupedArticle, DedupSection, DedupVerdict, encode
from newsflow.core.topics import DEDUPED
from tests.support.examples import raw_article
from tests.support.helpers import read_topic
from tests.support.rigs import service_rig

pytestmark = pytest.mark.kafka

MODEL = Path(__file__).resolve().parents[2] / "models/ner"


def deduped(title: str, body: str) -> DedupedArticle:
    raw = raw_article(title, body)
    section = DedupSection(verdict=DedupVerdict.UNIQUE, story_id=raw.article_id)
    return DedupedArticle(**raw.model_dump(), dedup=section)


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings, unique_name):
    rig = service_rig(
        "entities",
        tmp_path,
        new_topic,
        kafka_settings,
        {"deduped": DEDUPED.partitions, "tagged": None, "deadletter": None},
        state_dir=str(tmp_path / "state"),
        group_id=unique_name("entities"),
        model_dir=str(MODEL),
    )
    service = rig.service().start()
    yield rig
    service.kill()


def test_an_article_comes_out_with_its_entities(rig):
    body = (
        "Secretary of State Mike Pompeo met officials of the Organization of American States "
        "(OAS) in Washington on Monday. Pompeo said the OAS would meet again in Caracas."
    )
    article = deduped("Pompeo meets the OAS", body)
    rig.send("deduped", article)

    [(key, tagged)] = read_topic(rig.settings, rig.topic["tagged"], 1, timeout=60)
    assert key == article.article_id
    assert tagged["body"] == body and tagged["dedup"]["verdict"] == "unique"
    entities = {(e["canonical"], e["label"]) for e in tagged["entities"]["entities"]}
    assert ("Mike Pompeo", "PER") in entities
    for mention in tagged["entities"]["mentions"]:
        assert body[mention["start"] : mention["end"]] == mention["text"]
    pompeo = [m for m in tagged["entities"]["mentions"] if m["text"] == "Pompeo"]
    assert pompeo and all(m["canonical"] == "Mike Pompeo" for m in pompeo)
    assert tagged["trace"][-1]["stage"] == "entities"
    assert tagged["trace"][-1]["model_version"] == tagged["entities"]["model_version"]


def test_an_empty_body_is_dead_lettered_and_an_enormous_one_is_tagged_in_bounded_time(rig):
    empty = json.loads(encode(deduped("Empty", "placeholder")))
    empty["body"] = ""
    enormous = deduped("Enormous", "The United Nations met in Geneva on Monday. " * 120_000)
    after = deduped("After", "Angela Merkel spoke in Berlin.")
    started = time.monotonic()
    rig.send("deduped", json.dumps(empty).encode(), enormous, after, key=b"k")

    [letter] = rig.out("deadletter", 1)
    assert letter["reason"] == "invalid_record" and "body" in letter["message"]
    tagged = {value["title"]: value for value in rig.out("tagged", 2, timeout=120)}
    assert set(tagged) == {"Enormous", "After"}, "the partition was not blocked"
    assert time.monotonic() - started < 120
