"""The dedup worker as a user meets it: `newsflow dedup` on the real broker, articles in on
its input topic, verdicts and stories out."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from newsflow.core.records import encode
from newsflow.core.settings import KafkaSettings
from newsflow.core.topics import DEDUPED, RAW
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.examples import raw_article
from tests.support.helpers import ServiceProcess, committed_records, read_topic, wait_for
from tests.support.rigs import ServiceRig, service_rig

pytestmark = pytest.mark.kafka

SEEDS = Path(__file__).resolve().parents[2].parent / "shared/data/seeds"


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings, unique_name) -> ServiceRig:
    return service_rig(
        "dedup",
        tmp_path,
        new_topic,
        kafka_settings,
        {"raw": RAW.partitions, "deduped": None, "duplicates": None, "deadletter": None},
        state_dir=str(tmp_path / "state"),
        group_id=unique_name("dedup"),
    )


@pytest.fixture
def running(rig):
    service = rig.service().start()
    yield service
    service.kill()


def seed(number: str) -> tuple[str, str]:
    if not SEEDS.is_dir():
        pytest.skip(f"the seed articles are not here ({SEEDS})")
    [path] = SEEDS.glob(f"{number}_*.txt")
    title, body = path.read_text(encoding="utf-8").split("\n", 1)
    return title.strip(), body.strip()


def test_the_same_article_twice_passes_once(rig, running):
    article = raw_article()
    rig.send("raw", article, article)
    [passed] = rig.out("deduped", 1, settle=2)
    [duplicate] = rig.out("duplicates", 1)
    assert passed["dedup"]["verdict"] == "unique"
    assert passed["dedup"]["story_id"] == article.article_id
    assert duplicate["dedup"]["verdict"] == "exact_duplicate"
    assert duplicate["dedup"]["exact_duplicate_of"] == article.article_id
    assert [entry["stage"] for entry in passed["trace"]] == ["watcher", "dedup"]


def test_a_wrapped_reprint_is_linked_to_its_original(rig, running):
    title, body = seed("003")
    original = raw_article(title, body)
    rig.send("raw", original)
    rig.out("deduped", 1)
    wrapped = (
        "Join our channel and get important news uncensored!\n\n"
        + body
        + "\n\nThis article was originally published by Wire Service and is reprinted with "
        "permission.\n\nShare this article: Facebook Twitter Email\n"
    )
    reprint = raw_article("Reprint: " + title, wrapped)
    rig.send("raw", reprint)
    by_id = {a["article_id"]: a for a in rig.out("deduped", 2)}
    linked = by_id[reprint.article_id]["dedup"]
    assert linked["verdict"] == "near_duplicate"
    assert linked["near_duplicate_of"] == original.article_id
    assert linked["similarity"] >= 0.8
    assert linked["story_id"] == original.article_id


def test_three_reports_of_one_event_share_a_story(rig, running):
    articles = [raw_article(*seed(number)) for number in ("000", "001", "002")]
    for count, article in enumerate(articles, start=1):
        rig.send("raw", article)  # one at a time: the first one's id names the story
        rig.out("deduped", count)
    verdicts = {a["article_id"]: a["dedup"] for a in rig.out("deduped", 3)}
    assert {v["verdict"] for v in verdicts.values()} == {"unique"}
    assert {v["story_id"] for v in verdicts.values()} == {articles[0].article_id}
    assert {v["story_lead_headline"] for v in verdicts.values()} == {articles[0].title}


def test_state_survives_a_killed_worker(rig):
    service = rig.service().start()
    title, body = seed("003")
    original = raw_article(title, body)
    rig.send("raw", original)
    rig.out("deduped", 1)
    group = rig.env["NEWSFLOW_DEDUP_GROUP_ID"]
    # Killed only once its input is committed: a restart will not see the original again,
    # so only the tables' changelogs can tell it what it saw.
    wait_for(
        lambda: committed_records(rig.settings, group, rig.topic["raw"]) == 1, 30, "the commit"
    )
    service.kill()

    restarted = rig.service().start()
    try:
        truncated = "\n\n".join(body.split("\n\n")[: max(3, body.count("\n\n") * 2 // 3)])
        copy = raw_article(title, truncated)
        rig.send("raw", original, copy)
        verdicts = {a["article_id"]: a["dedup"] for a in rig.out("deduped", 2, settle=2)}
        [duplicate] = rig.out("duplicates", 1)
    finally:
        restarted.stop()
    assert verdicts[copy.article_id]["near_duplicate_of"] == original.article_id
    assert duplicate["dedup"]["exact_duplicate_of"] == original.article_id
    assert len(verdicts) == 2, "the original passed once, before the restart"


def test_a_malformed_record_is_dead_lettered_and_the_partition_goes_on(rig, running):
    rig.send("raw", b"{not json", b'{"article_id": 7}', raw_article())
    letters = rig.out("deadletter", 2)
    assert sorted(letter["reason"] for letter in letters) == ["invalid_record", "malformed_record"]
    assert all(letter["stage"] == "dedup" for letter in letters)
    assert all(letter["input"]["topic"] == rig.topic["raw"] for letter in letters)
    [passed] = rig.out("deduped", 1)
    assert passed["dedup"]["verdict"] == "unique"


def test_sigterm_drains_and_exits_zero(rig):
    service = rig.service().start()
    rig.send(
        "raw", *(raw_article(f"Headline {n}", f"Body of article number {n}.") for n in range(30))
    )
    wait_for(lambda: service.metric("newsflow_dedup_records_in_total") >= 1, 30, "records in")
    assert service.stop() == 0
    restarted = rig.service().start()
    try:
        passed = rig.out("deduped", 30, settle=3)
    finally:
        restarted.stop()
    assert len({a["article_id"] for a in passed}) == 30
    assert rig.out("duplicates", 0, settle=1) == [], "nothing redelivered became a duplicate"


def test_a_worker_started_while_the_broker_is_away_waits_for_it(tmp_path, local_kafka_module, rig):
    # A broker of its own, started only after the worker: as when a worker is restarted
    # during a broker outage.
    from tests.support.local import free_port

    broker = local_kafka_module.LocalKafka(
        home=tmp_path / "kafka", port=free_port(), controller_port=free_port()
    )
    env = {**rig.env, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    for name in ("RAW", "DEDUPED", "DUPLICATES", "DEADLETTER"):
        del env[f"NEWSFLOW_DEDUP_{name}_TOPIC"]  # the declared topics, made below
    worker = ServiceProcess("dedup", env, tmp_path / "dedup.log").start(wait_ready=False)
    try:
        wait_for(lambda: worker.http("/readyz")[0] == 503, 60, "dedup to answer /readyz")
        wait_for(
            lambda: "Kafka unreachable" in worker.http("/readyz")[1], 60, "the reason on /readyz"
        )
        assert worker.http("/healthz")[0] == 200
        assert worker.process.poll() is None, "the worker exited instead of waiting"

        broker.start()
        settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, client_id="test")
        admin = newsflow_kafka.admin(settings)
        newsflow_kafka.ensure_topics(admin)
        admin.close()
        wait_for(worker.ready, 120, "dedup to be ready once the broker is up")
        article = raw_article("Port closed after storm", "The port closed. " * 40)
        producer = newsflow_kafka.producer(settings)
        producer.send(RAW.name, key=article.article_id.encode(), value=encode(article))
        producer.flush()
        producer.close()
        [(_, out)] = read_topic(settings, DEDUPED.name, 1, 90)
        assert out["article_id"] == article.article_id
    finally:
        worker.kill()
        broker.stop()


def test_sigterm_while_waiting_for_the_broker_exits_zero(tmp_path, rig):
    from tests.support.local import free_port

    env = {**rig.env, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    worker = ServiceProcess("dedup", env, tmp_path / "dedup.log").start(wait_ready=False)
    try:
        wait_for(
            lambda: "Kafka unreachable" in worker.http("/readyz")[1], 60, "dedup to wait for Kafka"
        )
        assert worker.stop(signal.SIGTERM, timeout=20) == 0
    finally:
        worker.kill()


def test_a_sentence_encoder_that_fails_its_check_stops_the_worker_naming_the_setting(tmp_path):
    from newsflow.core.settings import SettingsError
    from newsflow.dedup.service import build
    from newsflow.dedup.settings import DedupWorkerSettings

    settings = DedupWorkerSettings(state_dir=tmp_path / "state", sentence_encoder_dir=tmp_path)
    with pytest.raises(SettingsError, match="NEWSFLOW_DEDUP_SENTENCE_ENCODER_DIR"):
        build(settings)
