"""Poison records: what a producer other than ours might put on a worker's input topic
(wrong types, missing fields, a 5 MB body, JSON with an unpaired UTF-16 surrogate, bytes
that are not JSON) ends as a dead letter after a bounded number of attempts, and the
records behind it on the same partition still come out: the partition is never blocked.

Every worker in SERVICES is tried, each on its own topics."""

from __future__ import annotations

import json

import pytest

from newsflow.cli.main import SERVICES
from newsflow.core import records
from newsflow.core.topics import RAW
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.examples import raw_article
from tests.support.helpers import ServiceProcess, read_topic

pytestmark = pytest.mark.kafka

MAX_ATTEMPTS = 2
# Worker -> (its input topic setting, its output topic settings, the record it reads).
WORKERS = {
    "dedup": ("RAW_TOPIC", ("DEDUPED_TOPIC", "DUPLICATES_TOPIC"), "raw"),
    "entities": ("DEDUPED_TOPIC", ("TAGGED_TOPIC",), "deduped"),
    "stance": ("TAGGED_TOPIC", ("ENRICHED_TOPIC",), "tagged"),
}


def valid_input(kind: str, title: str, body: str) -> dict:
    raw = raw_article(title, body)
    record = raw
    if kind in ("deduped", "tagged"):
        dedup = records.DedupSection(verdict=records.DedupVerdict.UNIQUE, story_id=raw.article_id)
        record = records.DedupedArticle(**dict(raw), dedup=dedup)
    if kind == "tagged":
        entities = records.EntitiesSection(mentions=[], entities=[], model_version="test")
        record = records.TaggedArticle(**dict(record), entities=entities)
    return json.loads(records.encode(record))


def poison(kind: str) -> dict[str, bytes]:
    wrong_types = valid_input(kind, "Wrong types", "A body.")
    wrong_types.update(body=12345, title=["not", "a", "title"], trace="nothing")
    missing = valid_input(kind, "Missing fields", "A body.")
    del missing["article_id"], missing["origin"]
    surrogate = json.dumps(valid_input(kind, "Surrogate", "SURROGATE")).replace(
        "SURROGATE", "half a pair: \\ud800 and nothing after"
    )
    return {
        "wrong types": json.dumps(wrong_types).encode(),
        "missing fields": json.dumps(missing).encode(),
        "unpaired surrogate": surrogate.encode(),
        "not JSON": b"\xff\xfe\x00 not json at all",
    }


@pytest.mark.timeout(400)
@pytest.mark.parametrize("worker", [w for w in WORKERS if w in SERVICES])
def test_poison_records_are_dead_lettered_and_the_partition_goes_on(
    worker, tmp_path, new_topic, kafka_settings, kafka_bootstrap, unique_name
):
    from tests.support.local import free_port

    input_setting, output_settings, kind = WORKERS[worker]
    prefix = f"NEWSFLOW_{worker.upper()}_"
    # As many partitions as the real input topic (the tables are co-partitioned with it);
    # one key puts every record on one partition, in order.
    source, dead = new_topic("in", partitions=RAW.partitions), new_topic("dead")
    outputs = {setting: new_topic(setting.lower()) for setting in output_settings}
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        prefix + "METRICS_PORT": str(free_port()),
        prefix + "STATE_DIR": str(tmp_path / "state"),
        prefix + "GROUP_ID": unique_name(worker),
        prefix + "MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        prefix + input_setting: source,
        prefix + "DEADLETTER_TOPIC": dead,
        **{prefix + setting: topic for setting, topic in outputs.items()},
    }
    bad = poison(kind)
    huge_body = "The United Nations met in Geneva on Monday. " * 120_000  # 5.3 MB
    ordered = [
        json.dumps(valid_input(kind, "Before", "Angela Merkel spoke in Berlin.")).encode(),
        *bad.values(),
        json.dumps(valid_input(kind, "Huge", huge_body)).encode(),
        json.dumps(valid_input(kind, "After", "Emmanuel Macron spoke in Paris.")).encode(),
    ]
    producer = newsflow_kafka.producer(kafka_settings)
    for value in ordered:
        producer.send(source, key=b"one-partition", value=value)
    producer.flush()
    producer.close()

    service = ServiceProcess(worker, env, tmp_path / f"{worker}.log").start()
    try:
        out_topic = outputs[output_settings[0]]
        passed = {v["title"]: v for _, v in read_topic(kafka_settings, out_topic, 3, 240, 2)}
        letters = [v for _, v in read_topic(kafka_settings, dead, len(bad), 60, settle=2)]
        assert service.ready(), "the worker is still running"
    finally:
        service.stop()

    assert {"Before", "Huge", "After"} <= set(passed), "the partition was blocked"
    by_offset = {letter["input"]["offset"]: letter for letter in letters}
    assert sorted(by_offset) == [1, 2, 3, 4], [(d["reason"], d["message"]) for d in letters]
    for letter in letters:
        assert letter["stage"] == worker
        assert 1 <= letter["attempts"] <= MAX_ATTEMPTS
        assert letter["reason"] in ("malformed_record", "invalid_record", "processing_failed")
    assert len(passed["Huge"]["body"]) == len(huge_body)
