"""The entity worker as a user meets it: `newsflow entities` on the real broker with the
committed model, a de-duplicated article in, the same article with its entities out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from newsflow import kafka as newsflow_kafka
from newsflow.records import DedupedArticle, DedupSection, DedupVerdict, encode
from newsflow.topics import DEDUPED

from examples import raw_article
from helpers import ServiceProcess, read_topic

pytestmark = pytest.mark.kafka

MODEL = Path(__file__).resolve().parents[1] / "models/ner"


def deduped(title: str, body: str) -> DedupedArticle:
    raw = raw_article(title, body)
    section = DedupSection(verdict=DedupVerdict.UNIQUE, story_id=raw.article_id)
    return DedupedArticle(**raw.model_dump(), dedup=section)


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings, kafka_bootstrap, unique_name):
    from conftest import free_port

    topics = {
        "in": new_topic("deduped", partitions=DEDUPED.partitions),
        "out": new_topic("tagged"),
        "dead": new_topic("dead"),
    }
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NEWSFLOW_ENTITIES_METRICS_PORT": str(free_port()),
        "NEWSFLOW_ENTITIES_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_ENTITIES_GROUP_ID": unique_name("entities"),
        "NEWSFLOW_ENTITIES_MODEL_DIR": str(MODEL),
        "NEWSFLOW_ENTITIES_DEDUPED_TOPIC": topics["in"],
        "NEWSFLOW_ENTITIES_TAGGED_TOPIC": topics["out"],
        "NEWSFLOW_ENTITIES_DEADLETTER_TOPIC": topics["dead"],
    }
    service = ServiceProcess("entities", env, tmp_path / "entities.log").start()
    yield topics, kafka_settings
    service.kill()


def send(settings, topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = newsflow_kafka.producer(settings)
    for value in values:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def test_an_article_comes_out_with_its_entities(rig):
    topics, settings = rig
    body = (
        "Secretary of State Mike Pompeo met officials of the Organization of American States "
        "(OAS) in Washington on Monday. Pompeo said the OAS would meet again in Caracas."
    )
    article = deduped("Pompeo meets the OAS", body)
    send(settings, topics["in"], encode(article))

    [(key, tagged)] = read_topic(settings, topics["out"], 1, timeout=60)
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
    topics, settings = rig
    empty = json.loads(encode(deduped("Empty", "placeholder")))
    empty["body"] = ""
    enormous = deduped("Enormous", "The United Nations met in Geneva on Monday. " * 120_000)
    after = deduped("After", "Angela Merkel spoke in Berlin.")
    started = time.monotonic()
    send(settings, topics["in"], json.dumps(empty).encode(), encode(enormous), encode(after))

    [(_, letter)] = read_topic(settings, topics["dead"], 1, timeout=60)
    assert letter["reason"] == "invalid_record" and "body" in letter["message"]
    tagged = {value["title"]: value for _, value in read_topic(settings, topics["out"], 2, 120)}
    assert set(tagged) == {"Enormous", "After"}, "the partition was not blocked"
    assert time.monotonic() - started < 120
