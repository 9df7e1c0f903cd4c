"""`newsflow status`: what an operator sees of the running pipeline.

Against real services on the real broker: a watcher taking in files, a dedup worker
keeping up, a sink whose store is unreachable (up, not ready, its last error shown), and
entities and stance not running (down). Plus the table's logic on readings made up here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest

from newsflow.cli import status as pipeline_status
from newsflow.cli.status import Reading, StatusSettings, parse_metrics, summarise, table
from tests.support.helpers import ServiceProcess, pipeline_env, pipeline_topics, wait_for
from tests.support.local import free_port

# --- the logic, on readings made up here ----------------------------------------------------


def test_the_default_ports_are_the_ones_the_services_listen_on():
    from newsflow.dedup.settings import DedupWorkerSettings
    from newsflow.entities.settings import EntitiesWorkerSettings
    from newsflow.sink.settings import SinkSettings
    from newsflow.stance.settings import StanceWorkerSettings
    from newsflow.watcher.settings import WatcherSettings

    classes = {
        "watcher": WatcherSettings,
        "dedup": DedupWorkerSettings,
        "entities": EntitiesWorkerSettings,
        "stance": StanceWorkerSettings,
        "sink": SinkSettings,
    }
    defaults = {name: cls.model_fields["metrics_port"].default for name, cls in classes.items()}
    assert StatusSettings().ports() == defaults


def test_the_ports_follow_the_services_variables(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_SINK_METRICS_PORT", "19105")
    assert StatusSettings().ports()["sink"] == 19105


def test_metrics_are_summed_over_labels_and_the_latest_error_time_kept():
    samples, last_error_at = parse_metrics(
        "# TYPE newsflow_consumer_lag_records gauge\n"
        'newsflow_consumer_lag_records{group="g",topic="t",partition="0"} 3\n'
        'newsflow_consumer_lag_records{group="g",topic="t",partition="1"} 4\n'
        "# TYPE newsflow_last_error_timestamp_seconds gauge\n"
        'newsflow_last_error_timestamp_seconds{logger="a"} 100\n'
        'newsflow_last_error_timestamp_seconds{logger="b"} 250\n'
    )
    assert samples["newsflow_consumer_lag_records"] == 7
    assert last_error_at == 250


def test_records_per_second_lag_and_last_error_of_a_running_service():
    before = Reading(up=True, samples={"newsflow_dedup_records_in_total": 100})
    after = Reading(
        up=True,
        samples={"newsflow_dedup_records_in_total": 130, "newsflow_consumer_lag_records": 12},
        ready=True,
        ready_detail="ok",
        last_error={"at": 1000.0, "message": "broker went away"},
    )
    status = summarise("dedup", "127.0.0.1:9102", before, after, elapsed=2.0, now=1090.0)
    assert (status.records_per_second, status.lag, status.healthy) == (15.0, 12, True)
    assert status.last_error == "90s ago: broker went away"


def test_the_instances_make_up_started_are_listed_after_each_services_first(tmp_path):
    targets = tmp_path / "prometheus-instances.json"
    # What deploy/local/instances.py writes for two instances of each model worker.
    targets.write_text(
        '[{"targets": ["127.0.0.1:9113"], "labels": {"service": "entities"}},'
        ' {"targets": ["127.0.0.1:9114"], "labels": {"service": "stance"}}]'
    )
    ports = StatusSettings().ports()
    where = pipeline_status.with_local_instances(ports, targets)
    assert list(where.items()) == [
        ("watcher", 9101),
        ("dedup", 9102),
        ("entities", 9103),
        ("entities-2", 9113),
        ("stance", 9104),
        ("stance-2", 9114),
        ("sink", 9105),
    ]
    assert pipeline_status.with_local_instances(ports, tmp_path / "absent.json") == ports

    before = Reading(up=True, samples={"newsflow_stance_records_in_total": 10})
    after = Reading(up=True, samples={"newsflow_stance_records_in_total": 16}, ready=True)
    second = summarise("stance-2", "127.0.0.1:9114", before, after, elapsed=2.0, now=0.0)
    assert (second.service, second.records_per_second) == ("stance-2", 3.0)


def test_a_down_service_is_down_in_the_table_and_counted_out():
    down = Reading(up=False, error="Connection refused")
    up = Reading(up=True, samples={"newsflow_watcher_articles_sent_total": 5}, ready=True)
    statuses = [
        summarise("watcher", "127.0.0.1:9101", up, up, 1.0, 0.0),
        summarise("stance", "127.0.0.1:9104", down, down, 1.0, 0.0),
    ]
    lines = table(statuses).splitlines()
    assert lines[1].split() == ["watcher", "127.0.0.1:9101", "up", "yes", "0.0", "-", "-"]
    assert lines[2].split() == ["stance", "127.0.0.1:9104", "DOWN", "no", "-", "-", "-"]
    assert lines[3] == " " * len("watcher  ") + "not answering: Connection refused"
    assert lines[4:] == ["1 of 2 services up and ready"]


def test_a_service_that_is_not_ready_says_why_under_its_row():
    stuck = Reading(up=True, ready=False, ready_detail="store unavailable: disk full")
    lines = table([summarise("sink", "127.0.0.1:9105", stuck, stuck, 1.0, 0.0)]).splitlines()
    assert lines[1].split()[2:4] == ["up", "no"]
    assert lines[2].strip() == "not ready: store unavailable: disk full"


def test_lines_are_cut_at_the_terminal_width():
    reading = Reading(up=True, ready=True, last_error={"at": 0.0, "message": "x" * 300})
    lines = table([summarise("sink", "127.0.0.1:9105", reading, reading, 1.0, 0.0)], width=80)
    assert all(len(line) <= 80 for line in lines.splitlines())
    assert lines.splitlines()[1].endswith("…")


# --- against running services ---------------------------------------------------------------


def reason(output: str, service: str) -> str:
    """The indented line under a service's row ("" when there is none)."""
    lines = output.splitlines()
    [index] = [n for n, line in enumerate(lines) if line.split()[:1] == [service]]
    following = lines[index + 1]
    return following.strip() if following.startswith(" ") else ""


def row(output: str, service: str) -> dict[str, str]:
    """A service's line of the table, cut where the header's columns start."""
    lines = output.splitlines()
    starts = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    [line] = [line for line in lines[1:] if line.split()[:1] == [service]]
    ends = [start for start, _ in starts[1:]] + [len(line)]
    return {name: line[start:end].strip() for (start, name), end in zip(starts, ends, strict=True)}


@pytest.mark.kafka
@pytest.mark.timeout(240)
def test_status_of_a_running_pipeline_with_a_stuck_sink_and_two_services_down(
    tmp_path, kafka_bootstrap, kafka_admin, unique_name
):
    root = tmp_path
    prefix = unique_name("status")
    topics = pipeline_topics(kafka_admin, prefix)
    env = pipeline_env(root, kafka_bootstrap, prefix, topics, ("watcher", "dedup", "sink"))
    # Nothing listens there: the sink starts, serves its endpoints and keeps retrying.
    env["NEWSFLOW_SINK_STORE_URL"] = f"postgresql://newsflow@127.0.0.1:{free_port()}/newsflow"
    entities_port = free_port()  # nothing runs on these two
    env["NEWSFLOW_ENTITIES_METRICS_PORT"] = str(entities_port)
    stance_port = free_port()  # given with --port
    watcher, dedup, sink = (
        ServiceProcess(service, env, root / f"{service}.log")
        for service in ("watcher", "dedup", "sink")
    )
    dropping = threading.Event()

    def drop_files() -> None:
        number = 0
        while not dropping.is_set():
            path = root / "inbox" / f"story-{number}.txt"
            path.write_text(f"Story {number} about harbours\n\nThe harbour reopened ({number}).\n")
            number += 1
            time.sleep(0.1)

    dropper = threading.Thread(target=drop_files, daemon=True)
    try:
        for process in (watcher, dedup, sink):
            process.start(wait_ready=False)
        wait_for(watcher.ready, 60, "the watcher to be ready")
        wait_for(dedup.ready, 120, "the dedup worker to be ready")
        wait_for(lambda: sink.http("/metrics")[0] == 200, 60, "the sink's endpoints")
        wait_for(lambda: "store unavailable" in sink.http("/readyz")[1], 60, "the sink to fail")
        dropper.start()
        wait_for(lambda: dedup.metric("newsflow_dedup_records_in_total") >= 5, 60, "dedup at work")

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "newsflow.cli",
                "status",
                "--interval",
                "2",
                "--port",
                f"stance={stance_port}",
            ],
            env={**watcher.env, "COLUMNS": "200"},
            cwd=root,  # not where a `make up` may have left its list of instances
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        dropping.set()
        for process in (watcher, dedup, sink):
            process.kill()
        kafka_admin.delete_topics([topic.name for topic in topics.values()])

    output = done.stdout
    assert done.returncode == 1, f"exit {done.returncode}: {output}{done.stderr}"
    columns = ["service", "address", "up", "ready", "records/s", "lag", "last error"]
    assert re.split(r"\s{2,}", output.splitlines()[0]) == columns

    watcher_row = row(output, "watcher")
    assert watcher_row["address"] == f"127.0.0.1:{watcher.port}"
    assert (watcher_row["up"], watcher_row["ready"]) == ("up", "yes"), output
    assert float(watcher_row["records/s"]) > 0, f"the watcher sends ~10 files/s:\n{output}"

    dedup_row = row(output, "dedup")
    assert (dedup_row["up"], dedup_row["ready"]) == ("up", "yes"), output
    assert float(dedup_row["records/s"]) >= 0 and int(dedup_row["lag"]) >= 0, output

    # Up but stuck: not ready and why, its lag, and the error it logged.
    sink_row = row(output, "sink")
    assert (sink_row["up"], sink_row["ready"]) == ("up", "no"), output
    assert reason(output, "sink").startswith("not ready: store unavailable: PostgreSQL at")
    assert int(sink_row["lag"]) >= 0, output
    assert re.fullmatch(r"\d+s ago: opening the store failed: .*", sink_row["last error"]), output

    for service, port in (("entities", entities_port), ("stance", stance_port)):
        down_row = row(output, service)
        assert down_row["address"] == f"127.0.0.1:{port}", output
        assert (down_row["up"], down_row["ready"]) == ("DOWN", "no"), output
        assert (down_row["records/s"], down_row["lag"], down_row["last error"]) == ("-",) * 3
        assert reason(output, service) == "not answering: Connection refused", output
    assert reason(output, "watcher") == reason(output, "dedup") == "", output

    assert output.splitlines()[-1] == "2 of 5 services up and ready", output


def test_status_refuses_an_unknown_service():
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "status", "--port", "nosuch=1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SERVICE one of watcher, dedup, entities, stance, sink" in done.stderr


def test_services_that_are_not_running_are_down():
    ports = {"watcher": free_port(), "sink": free_port()}
    statuses = pipeline_status.status(ports, interval=0.1)
    assert [(s.up, s.ready, s.records_per_second, s.lag) for s in statuses] == [
        (False, False, None, None)
    ] * 2
    assert table(statuses).splitlines()[-1] == "0 of 2 services up and ready"
