"""The watcher as users meet it: `newsflow watcher` running against the real broker, files
dropped into its inbox, records on its topics, files moved to processed/ or failed/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from newsflow.core.settings import KafkaSettings
from tests.support.helpers import read_topic, wait_for
from tests.support.watcher_rig import WatcherRig, watcher_rig

pytestmark = pytest.mark.kafka

ARTICLE = (
    "Ministers agree new fishing quotas\n\nThe agreement was reached late on Tuesday after talks.\n"
)


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings) -> WatcherRig:
    return watcher_rig(tmp_path, new_topic, kafka_settings)


@pytest.fixture
def running(rig):
    service = rig.service().start()
    yield service
    service.kill()


def test_a_dropped_file_becomes_one_record_and_moves_to_processed(rig, running):
    (rig.inbox / "quotas.txt").write_text(ARTICLE)

    [article] = rig.articles(1, settle=2)
    assert article["title"] == "Ministers agree new fishing quotas"
    assert article["body"] == "The agreement was reached late on Tuesday after talks."
    assert article["origin"]["path"] == "quotas.txt"
    assert article["origin"]["format"] == "txt"
    assert article["trace"][0]["stage"] == "watcher"
    [moved] = wait_for(rig.processed_files, 10, "the file in processed/")
    assert moved.name == "quotas.txt" and moved.parent.name == time.strftime("%Y-%m-%d")
    assert not (rig.inbox / "quotas.txt").exists()
    assert running.metric("newsflow_watcher_files_sent_total") == 1


def test_files_that_arrived_while_down_and_in_subfolders_are_sent(rig):
    (rig.inbox / "wire" / "reuters").mkdir(parents=True)
    (rig.inbox / "early.txt").write_text(ARTICLE)
    (rig.inbox / "wire" / "reuters" / "nested.md").write_text(
        "# Nested headline\n\nBody text here.\n"
    )
    service = rig.service().start()
    try:
        articles = rig.articles(2, settle=2)
    finally:
        service.stop()
    assert sorted(a["origin"]["path"] for a in articles) == ["early.txt", "wire/reuters/nested.md"]


def test_a_file_written_slowly_is_sent_once_and_complete(rig, running):
    paragraphs = [f"Paragraph {n} of a long report that arrives slowly." for n in range(8)]
    with (rig.inbox / "slow.txt").open("w") as slow:
        slow.write("A report written over several seconds\n\n")
        for paragraph in paragraphs:
            slow.write(paragraph + "\n\n")
            slow.flush()
            time.sleep(0.4)  # longer than nothing, shorter than the 0.5 s settle period

    [article] = rig.articles(1, settle=3)
    assert article["body"].splitlines()[-1] == paragraphs[-1]
    assert article["body"].count("Paragraph") == len(paragraphs)


def test_a_file_closed_or_renamed_in_is_read_at_once_not_after_the_settle_period(rig, tmp_path):
    # A settle period longer than the test: only the events can have made these complete.
    rig.env["NEWSFLOW_WATCHER_SETTLE_SECONDS"] = "600"
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "600"
    service = rig.service().start()
    try:
        (rig.inbox / "written.txt").write_text(ARTICLE)
        staged = tmp_path / "staged.txt"
        staged.write_text(ARTICLE.replace("Tuesday", "Wednesday"))
        os.rename(staged, rig.inbox / "renamed.txt")

        articles = rig.articles(2)
        assert sorted(a["origin"]["path"] for a in articles) == ["renamed.txt", "written.txt"]
        wait_for(lambda: len(rig.processed_files()) == 2, 20, "both files in processed/")
    finally:
        service.kill()


def test_a_file_still_open_for_writing_waits_for_its_close(rig):
    rig.env["NEWSFLOW_WATCHER_SETTLE_SECONDS"] = "600"
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "600"
    service = rig.service().start()
    try:
        with (rig.inbox / "open.txt").open("w") as writing:
            writing.write("A report still being written\n\nIts first paragraph.\n\n")
            writing.flush()
            assert rig.articles(0, settle=3) == []  # flushed, but its writer has it open
            writing.write("Its last paragraph.\n")
        [article] = rig.articles(1)
        assert article["body"] == "Its first paragraph.\n\nIts last paragraph."
    finally:
        service.kill()


def test_a_part_file_is_sent_only_after_its_rename(rig, running):
    partial = rig.inbox / "download.txt.part"
    partial.write_text(ARTICLE)
    time.sleep(3)  # well past the settle period and a rescan
    assert rig.articles(0, settle=2) == []
    partial.rename(rig.inbox / "download.txt")
    [article] = rig.articles(1, settle=1)
    assert article["origin"]["file_name"] == "download.txt"


def test_the_same_text_under_two_names_has_the_same_id(rig, running):
    (rig.inbox / "one.txt").write_text(ARTICLE)
    (rig.inbox / "two.txt").write_text(ARTICLE.replace("\n", "\r\n"))
    first, second = rig.articles(2)
    assert first["article_id"] == second["article_id"]
    assert first["origin"]["sha256"] != second["origin"]["sha256"]


BAD_INPUTS = {
    "empty.txt": (b"", "empty_file"),
    "blank.txt": (b"  \n\t\n   \n", "whitespace_only"),
    "photo.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary_file"),
    "broken.json": (b'{"title": "Half", "body": "an object that never', "invalid_json"),
    "nobody.json": (b'{"title": "No body here"}', "missing_body"),
    "sheet.xlsx": (b"PK\x03\x04 spreadsheet", "unsupported_type"),
    "menu.html": (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no_article_text"),
}


def test_every_bad_input_lands_in_failed_with_its_reason_and_a_dead_letter(rig, running):
    secret = rig.root / "secret.txt"
    secret.write_text("Top secret: the target of a link must never be read\n\nclassified")
    for name, (content, _) in BAD_INPUTS.items():
        (rig.inbox / name).write_bytes(content)
    (rig.inbox / "link.txt").symlink_to(secret)
    expected = {name: reason for name, (_, reason) in BAD_INPUTS.items()} | {"link.txt": "symlink"}

    letters = rig.dead_letters(len(expected), settle=2)
    assert {d["input"]["path"]: d["reason"] for d in letters} == expected
    wait_for(lambda: len(rig.failed_files()) == len(expected), 15, "every bad file in failed/")
    for name, reason in expected.items():
        report = json.loads((rig.failed / f"{name}.error.json").read_text())
        assert report["reason"] == reason and report["message"]
    assert (rig.failed / "link.txt").is_symlink(), "the link itself is quarantined"
    assert secret.exists(), "the link's target is never moved"
    everything = json.dumps(letters) + "".join(p.read_text() for p in rig.failed.glob("*.json"))
    assert "Top secret" not in everything
    assert rig.articles(0, settle=3) == []
    assert running.metric("newsflow_watcher_files_failed_total", 'reason="symlink"') == 1


def test_every_reason_is_on_metrics_at_zero_before_the_first_failure(running):
    # A series that appears with its first count hides that count from rate(): the first
    # failed file of a run would not show on the dashboard.
    _, text = running.http("/metrics")
    for reason in ("empty_file", "invalid_json", "too_large", "symlink", "too_slow"):
        assert f'newsflow_watcher_files_failed_total{{reason="{reason}"}} 0.0' in text
        assert f'newsflow_watcher_dead_letters_total{{reason="{reason}"}} 0.0' in text


def test_a_file_over_the_size_limit_is_refused_without_reading_it(rig):
    rig.env["NEWSFLOW_WATCHER_MAX_FILE_BYTES"] = "1000"
    service = rig.service().start()
    try:
        (rig.inbox / "huge.txt").write_text("Huge\n\n" + "word " * 1000)
        [letter] = rig.dead_letters(1)
    finally:
        service.stop()
    assert letter["reason"] == "too_large"
    assert letter["payload_size_bytes"] > 1000 and letter["payload_truncated"]


def test_a_file_without_read_permission_is_quarantined(rig):
    # Root reads anything; without these two capabilities it obeys file permissions as the
    # unprivileged user of a real deployment does.
    as_ordinary_user = (
        ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    )
    locked = rig.inbox / "locked.txt"
    locked.write_text(ARTICLE)
    locked.chmod(0)
    service = rig.service(command_prefix=as_ordinary_user).start()
    try:
        [letter] = rig.dead_letters(1)
        wait_for(rig.failed_files, 10, "the file in failed/")
    finally:
        service.stop()
    assert letter["reason"] == "unreadable" and "Permission denied" in letter["message"]
    assert (rig.failed / "locked.txt.error.json").exists()


def test_polling_finds_files_where_inotify_is_not_used(rig):
    rig.env["NEWSFLOW_WATCHER_FORCE_POLLING"] = "true"
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "600"  # only the poller can find the file
    service = rig.service().start()
    try:
        (rig.inbox / "polled.txt").write_text(ARTICLE)
        [article] = rig.articles(1)
    finally:
        service.stop()
    assert article["origin"]["file_name"] == "polled.txt"


def test_a_jsonl_file_sends_its_good_lines_and_dead_letters_the_bad_one(rig, running):
    lines = [
        {"title": "First", "body": "The first article's body."},
        {"title": "Second"},
        {"title": "Third", "body": "The third article's body.", "url": "https://example.org/3"},
    ]
    (rig.inbox / "feed.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    articles = rig.articles(2, settle=1)
    [letter] = rig.dead_letters(1)
    assert sorted(a["title"] for a in articles) == ["First", "Third"]
    assert {a["origin"]["line"] for a in articles} == {1, 3}
    assert letter["reason"] == "missing_body" and letter["input"]["line"] == 2
    wait_for(rig.processed_files, 10, "the feed in processed/")


def test_killed_between_acknowledgement_and_move_it_sends_nothing_twice(rig):
    # A processed "folder" that is a file makes every move fail after the acknowledgement,
    # which holds the watcher in exactly the window a crash could hit.
    rig.processed.write_text("not a folder")
    service = rig.service().start()
    (rig.inbox / "once.txt").write_text(ARTICLE)
    rig.articles(1)
    wait_for(lambda: service.metric("newsflow_watcher_move_errors_total") >= 1, 15, "a failed move")
    service.kill()

    rig.processed.unlink()
    restarted = rig.service().start()
    try:
        wait_for(rig.processed_files, 15, "the file moved after the restart")
        assert restarted.metric("newsflow_watcher_resends_avoided_total") == 1
    finally:
        restarted.stop()
    assert len(rig.articles(1, settle=3)) == 1


def test_sigterm_drains_and_exits_zero(rig):
    service = rig.service().start()
    for n in range(20):
        (rig.inbox / f"article-{n}.txt").write_text(
            f"Headline number {n}\n\nBody of article {n}.\n"
        )
    wait_for(lambda: service.metric("newsflow_watcher_files_seen_total") >= 1, 15, "reading")
    assert service.stop() == 0
    remaining = sorted(p.name for p in rig.inbox.iterdir())
    sent = rig.articles(20 - len(remaining), settle=2)
    assert len(sent) + len(remaining) == 20, "every file is either sent or still in the inbox"
    assert len({a["origin"]["path"] for a in sent}) == len(sent), "nothing sent twice"
    assert any(
        line.get("message", "").startswith("stop requested: draining") for line in service.logs()
    )


def test_a_bad_setting_stops_the_watcher_with_the_variable_named(rig):
    rig.env["NEWSFLOW_WATCHER_SETTLE_SECONDS"] = "soon"
    service = rig.service().start(wait_ready=False)
    assert service.process.wait(timeout=30) == 2
    assert "NEWSFLOW_WATCHER_SETTLE_SECONDS" in service.log_path.read_text()


def test_not_ready_while_the_broker_is_unreachable(rig):
    rig.env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    service = rig.service().start(wait_ready=False)
    try:
        _, body = wait_for(
            lambda: (
                (answer := service.http("/readyz"))[0] == 503 and "Kafka" in answer[1] and answer
            ),
            30,
            "a not-ready answer that names Kafka",
        )
        assert "127.0.0.1:1" in body
        assert service.http("/healthz")[0] == 200
    finally:
        assert service.stop() == 0


def test_files_keep_their_place_while_the_broker_is_down(tmp_path, local_kafka_module, rig):
    """The broker stopped for 20 s while files arrive: every file reaches Kafka once."""
    from tests.support.local import free_port

    broker = local_kafka_module.LocalKafka(
        home=tmp_path / "own-kafka", port=free_port(), controller_port=free_port()
    )
    bootstrap = broker.start()
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    from newsflow.runtime import kafka as newsflow_kafka

    admin = newsflow_kafka.admin(settings)
    admin.create_topics(
        {
            rig.topic["raw"]: {"num_partitions": 3, "replication_factor": 1},
            rig.topic["deadletter"]: {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    admin.close()
    rig.env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    service = rig.service().start()
    try:
        for n in range(10):
            (rig.inbox / f"before-{n}.txt").write_text(f"Before the outage {n}\n\nBody {n}.\n")
        wait_for(lambda: len(rig.processed_files()) == 10, 30, "files sent before the outage")
        broker.stop()
        for n in range(10):
            (rig.inbox / f"during-{n}.txt").write_text(f"During the outage {n}\n\nBody {n}.\n")
            time.sleep(2)  # files keep arriving across the 20 s outage
        broker.start()
        wait_for(lambda: len(rig.processed_files()) == 20, 120, "every file sent after it")
        found = read_topic(settings, rig.topic["raw"], 20, timeout=60, settle=3)
    finally:
        service.stop()
        broker.stop()
    titles = sorted(value["title"] for _, value in found)
    assert len(titles) == 20 and len(set(titles)) == 20
    assert os.listdir(rig.inbox) == []


def test_ingest_sends_a_folder_once_and_reports_what_failed(rig):
    archive = rig.root / "archive"
    (archive / "2019").mkdir(parents=True)
    (archive / "a.txt").write_text(ARTICLE)
    (archive / "2019" / "copy-of-a.txt").write_text(ARTICLE)
    (archive / "2019" / "b.md").write_text("# Another story\n\nWith its own body.\n")
    (archive / "2019" / "empty.txt").write_text("")
    (archive / "2019" / "draft.txt.part").write_text(ARTICLE + "unfinished")
    command = [
        sys.executable,
        "-m",
        "newsflow.cli",
        "ingest",
        str(archive),
        "--raw-topic",
        rig.topic["raw"],
        "--deadletter-topic",
        rig.topic["deadletter"],
        "--no-progress",
    ]
    result = subprocess.run(
        command, env={**os.environ, **rig.env}, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1, result.stderr
    assert "files: 4  sent: 2 (2 articles)  duplicates by content: 1  failed: 1" in result.stdout
    assert "empty_file: 1" in result.stdout
    assert sorted(a["title"] for a in rig.articles(2, settle=2)) == [
        "Another story",
        "Ministers agree new fishing quotas",
    ]
    assert [d["reason"] for d in rig.dead_letters(1, settle=1)] == ["empty_file"]
    assert (archive / "a.txt").exists(), "ingest never moves the files it sends"
