"""The sink as operators run it: `newsflow sink` against the real broker and real stores
(SQLite, PostgreSQL, JSON Lines), fed enriched records on its own topic."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from kafka.errors import KafkaError
from test_sink_stores import stored_ids, table_count

from newsflow.core import records
from tests.support.examples import enriched_article, raw_article
from tests.support.helpers import committed_records, read_topic, wait_for
from tests.support.rigs import ServiceRig, service_rig

pytestmark = pytest.mark.kafka


def articles(count: int, start: int = 0) -> list[records.EnrichedArticle]:
    """Distinct articles, first seen now (the end-to-end latency is measured from then)."""
    seen = datetime.now(UTC)
    return [
        enriched_article(
            f"Headline {n}: ministers meet in Brussels",
            f"Story {n}. Mike Pompeo met NATO officials in Brussels; talks went on late.",
            seen_at=seen,
            entities=[("Mike Pompeo", "PER"), ("NATO", "ORG"), ("Brussels", "LOC")],
            claims=[("own_headline", f"Headline {n}", "discuss"), ("c1", "Talks fail", "agree")],
        )
        for n in range(start, start + count)
    ]


class SinkRig(ServiceRig):
    @property
    def store_url(self) -> str:
        return self.env["NEWSFLOW_SINK_STORE_URL"]

    def committed(self, group: str | None = None) -> int:
        try:
            return committed_records(
                self.settings, group or self.env["NEWSFLOW_SINK_GROUP_ID"], self.topic["enriched"]
            )
        except KafkaError:  # e.g. the group's coordinator is still being elected
            return 0

    def wait_committed(self, count: int, group: str | None = None, timeout: float = 90) -> None:
        wait_for(lambda: self.committed(group) >= count, timeout, f"{count} records committed")

    def ids(self) -> list[str]:
        try:
            return stored_ids(self.store_url)
        except Exception:  # not created yet, or PostgreSQL stopped
            return []


def make_rig(tmp_path, new_topic, kafka_settings, unique_name, store_url) -> SinkRig:
    return service_rig(
        "sink",
        tmp_path,
        new_topic,
        kafka_settings,
        {"enriched": None, "deadletter": None},
        SinkRig,
        store_url=store_url,
        group_id=unique_name("sink"),
        batch_size="100",
        batch_timeout_seconds="0.2",
        retry_max_seconds="2",
    )


@pytest.fixture(params=["sqlite", "postgres", "jsonl"])
def rig(request, tmp_path, new_topic, kafka_settings, unique_name) -> SinkRig:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/newsflow.db"
    elif request.param == "jsonl":
        url = f"jsonl:///{tmp_path}/articles"
    else:
        url = request.getfixturevalue("postgres_url")
    return make_rig(tmp_path, new_topic, kafka_settings, unique_name, url)


@pytest.fixture
def sqlite_rig(tmp_path, new_topic, kafka_settings, unique_name) -> SinkRig:
    url = f"sqlite:///{tmp_path}/newsflow.db"
    return make_rig(tmp_path, new_topic, kafka_settings, unique_name, url)


@pytest.fixture
def postgres_rig(tmp_path, new_topic, kafka_settings, unique_name, postgres_url) -> SinkRig:
    return make_rig(tmp_path, new_topic, kafka_settings, unique_name, postgres_url)


def test_a_redelivered_batch_leaves_one_row_per_article(rig):
    batch = articles(50)
    # A producer's retry put 20 of them on the topic twice.
    rig.send("enriched", *batch, *batch[:20])
    sink = rig.service().start()
    try:
        rig.wait_committed(70)
    finally:
        assert sink.stop() == 0
    expected = sorted(a.article_id for a in batch)
    assert sorted(rig.ids()) == expected

    # Everything delivered again, as to a sink whose offsets were lost.
    again = rig.service(group_id=rig.env["NEWSFLOW_SINK_GROUP_ID"] + "-again").start()
    try:
        rig.wait_committed(70, group=rig.env["NEWSFLOW_SINK_GROUP_ID"] + "-again")
        assert again.metric("newsflow_sink_records_in_total") == 70
    finally:
        again.stop()
    assert sorted(rig.ids()) == expected
    if not rig.store_url.startswith("jsonl"):
        assert table_count(rig.store_url, "entities") == 50 * 3
        assert table_count(rig.store_url, "stances") == 50 * 2


def test_killed_mid_stream_and_restarted_leaves_exactly_the_expected_rows(rig):
    batch = articles(3000)
    rig.send("enriched", *batch)
    sink = rig.service().start()
    wait_for(lambda: len(rig.ids()) >= 300, 60, "the first batches stored", every=0.02)
    sink.stop(signal.SIGKILL)
    stored_at_kill = len(rig.ids())
    committed_at_kill = rig.committed()
    assert 0 < stored_at_kill < 3000, "the kill must land while records are being written"

    restarted = rig.service().start()
    try:
        rig.wait_committed(3000)
    finally:
        restarted.stop()
    ids = rig.ids()
    assert len(ids) == 3000 and sorted(ids) == sorted(a.article_id for a in batch)
    if not rig.store_url.startswith("jsonl"):
        assert table_count(rig.store_url, "entities") == 3000 * 3
        assert table_count(rig.store_url, "stances") == 3000 * 2
    # What the killed sink had stored but not committed was delivered again, harmlessly.
    assert committed_at_kill <= stored_at_kill


def test_an_invalid_record_is_dead_lettered_and_the_sink_goes_on(sqlite_rig):
    rig = sqlite_rig
    good = articles(2)
    raw_only = records.encode(raw_article())  # valid JSON, but not an enriched article
    rig.send("enriched", *[good[0], b"{not json at all", raw_only, good[1]])
    sink = rig.service().start()
    try:
        rig.wait_committed(4)
        letters = [v for _, v in read_topic(rig.settings, rig.topic["deadletter"], 2, settle=1)]
        assert sink.metric("newsflow_sink_dead_letters_total", 'reason="invalid_record"') == 1
    finally:
        sink.stop()
    assert sorted(rig.ids()) == sorted(a.article_id for a in good)
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"malformed_record", "invalid_record"}
    assert all(letter["stage"] == "sink" for letter in letters)
    assert by_reason["invalid_record"]["input"]["topic"] == rig.topic["enriched"]
    assert "dedup" in by_reason["invalid_record"]["message"]  # the first missing section
    assert by_reason["malformed_record"]["payload_excerpt"] == "{not json at all"


def test_a_record_postgres_refuses_is_dead_lettered_and_the_others_stored(postgres_rig):
    rig = postgres_rig
    good = articles(3)
    bad = enriched_article("NUL inside", "A body with a \x00 character in it.")
    rig.send("enriched", *[good[0], bad, good[1], good[2]])
    sink = rig.service().start()
    try:
        rig.wait_committed(4)
        [letter] = [v for _, v in read_topic(rig.settings, rig.topic["deadletter"], 1, settle=1)]
    finally:
        sink.stop()
    assert letter["reason"] == "store_rejected" and letter["article_id"] == bad.article_id
    assert sorted(rig.ids()) == sorted(a.article_id for a in good)


def out_of_range(article: records.EnrichedArticle, change) -> bytes:
    """The article's JSON after `change(wire)`: what another producer could write."""
    wire = json.loads(records.encode(article))
    change(wire)
    return json.dumps(wire).encode()


def count_of_1e20(wire: dict) -> None:
    wire["entities"]["entities"][0]["count"] = 10**20


def published_past_year_9999_in_utc(wire: dict) -> None:
    wire["published_at"] = "9999-12-31T23:59:59-23:59"


def test_numbers_and_dates_no_store_holds_are_dead_lettered_and_the_sink_stays_up(rig):
    good = articles(3)
    huge, late = articles(2, start=3)
    rig.send(
        "enriched",
        *[
            good[0],
            out_of_range(huge, count_of_1e20),
            good[1],
            out_of_range(late, published_past_year_9999_in_utc),
            good[2],
        ],
    )
    sink = rig.service().start()
    try:
        rig.wait_committed(5)
        letters = [v for _, v in read_topic(rig.settings, rig.topic["deadletter"], 2, settle=1)]
        assert sink.ready(), "the sink is still running and ready"
    finally:
        assert sink.stop() == 0
    assert sorted(rig.ids()) == sorted(a.article_id for a in good)
    assert len(letters) == 2 and {letter["reason"] for letter in letters} == {"invalid_record"}
    [huge_letter] = [d for d in letters if huge.article_id in d["payload_excerpt"]]
    [late_letter] = [d for d in letters if late.article_id in d["payload_excerpt"]]
    assert "count" in huge_letter["message"]
    assert "published_at" in late_letter["message"] and "9999" in late_letter["message"]


def test_a_store_password_is_not_on_readyz_healthz_or_in_the_log(
    tmp_path, new_topic, kafka_settings, unique_name
):
    from tests.support.local import free_port

    # libpq's form: the password as a query parameter; nothing listens on the port.
    url = f"postgresql://newsflow@127.0.0.1:{free_port()}/news?password=S3cretPW"
    rig = make_rig(tmp_path, new_topic, kafka_settings, unique_name, url)
    sink = rig.service(drain_timeout_seconds="1").start(wait_ready=False)
    try:
        _, ready = wait_for(
            lambda: (
                (answer := sink.http("/readyz"))[0] == 503
                and "store unavailable" in answer[1]
                and answer
            ),
            30,
            "the sink to say the store is unavailable",
        )
        _, health = wait_for(
            lambda: (
                (answer := sink.http("/healthz"))[0] == 200
                and json.loads(answer[1])["last_error"]
                and answer
            ),
            30,
            "the store error on /healthz",
        )
    finally:
        sink.stop()
    assert "password=***" in json.loads(ready)["detail"]
    assert "password=***" in json.loads(health)["last_error"]["message"]
    log = sink.log_path.read_text()
    assert "password=***" in log
    assert "S3cretPW" not in ready + health + log


def test_metrics_count_rows_batches_and_latency(sqlite_rig):
    rig = sqlite_rig
    rig.send("enriched", *articles(120))
    sink = rig.service().start()
    try:
        rig.wait_committed(120)
        wait_for(
            lambda: sink.metric("newsflow_sink_end_to_end_latency_seconds_count") == 120,
            10,
            "the latency of every article",
        )
        assert sink.metric("newsflow_sink_rows_written_total", 'table="articles"') == 120
        assert sink.metric("newsflow_sink_rows_written_total", 'table="entities"') == 360
        assert sink.metric("newsflow_sink_batch_size_records_sum") == 120
        assert sink.metric("newsflow_sink_commit_seconds_count") >= 2
        assert sink.metric("newsflow_sink_store_up") == 1
        assert sink.metric("newsflow_sink_store_errors_total", 'kind="unavailable"') == 0
    finally:
        sink.stop()


def test_sigterm_finishes_the_batch_in_hand_and_commits_it(sqlite_rig):
    rig = sqlite_rig
    rig.send("enriched", *articles(2000))
    sink = rig.service().start()
    wait_for(lambda: len(rig.ids()) > 0, 60, "the first batch stored", every=0.02)
    assert sink.stop(signal.SIGTERM) == 0
    stored = len(rig.ids())
    # Every stored record's offset is committed: nothing is left to deliver again.
    assert rig.committed() == stored
    assert any("stop requested" in line.get("message", "") for line in sink.logs())


def test_postgres_stopped_for_30_seconds_loses_nothing(postgres_rig, postgres_server):
    rig = postgres_rig
    first, during, after = articles(200), articles(300, start=200), articles(100, start=500)
    sink = rig.service().start()
    try:
        rig.send("enriched", *first)
        wait_for(lambda: len(rig.ids()) == 200, 60, "the first 200 stored")

        postgres_server.stop("fast")
        stopped_at = time.monotonic()
        for n in range(0, 300, 30):  # records keep arriving while the store is away
            rig.send("enriched", *during[n : n + 30])
            time.sleep(1)
        _, body = wait_for(
            lambda: (answer := sink.http("/readyz"))[0] == 503 and answer,
            20,
            "the sink to report not ready",
        )
        assert "store unavailable" in body
        assert sink.metric("newsflow_sink_store_up") == 0
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
        postgres_server.start()

        rig.send("enriched", *after)
        rig.wait_committed(600)
        wait_for(sink.ready, 30, "the sink ready again")
        assert sink.metric("newsflow_sink_store_errors_total", 'kind="unavailable"') >= 1
    finally:
        sink.stop()
        if not postgres_server.is_running():
            postgres_server.start()
    ids = rig.ids()
    assert len(ids) == 600
    assert Counter(ids) == Counter(a.article_id for a in first + during + after)
