"""Watcher benchmark: files dropped into the inbox to records acknowledged on a real broker.

Two cases: 5,000 small articles and 200 articles of 1 MB. Files are renamed
into the inbox from a staging folder (as a download tool or rsync does), and the latency of
each file is the broker's append time of its record (LogAppendTime) minus its drop time, so
it includes the settle period (NEWSFLOW_WATCHER_SETTLE_SECONDS, default 1 s).

    .venv/bin/python tests/benchmarks/watcher.py [--small 5000] [--large 200] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kafka import KafkaConsumer

from newsflow.core.settings import KafkaSettings
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.helpers import ServiceProcess, wait_for
from tests.support.local import free_port, load_script

WORDS = [
    "government",
    "minister",
    "officials",
    "said",
    "talks",
    "agreement",
    "market",
    "shares",
    "police",
    "city",
    "report",
    "election",
    "president",
    "vote",
    "court",
    "ruling",
    "company",
    "profits",
    "storm",
    "flooding",
    "health",
    "hospital",
    "energy",
    "prices",
    "war",
    "troops",
    "border",
    "refugees",
    "climate",
    "summit",
    "trade",
    "tariffs",
    "bank",
    "rates",
]


def article_text(rng: random.Random, n: int, size: int) -> str:
    title = f"Report {n}: " + " ".join(rng.choice(WORDS) for _ in range(7)).capitalize()
    paragraphs = []
    length = len(title)
    while length < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 24))).capitalize()
        paragraphs.append(sentence + ".")
        length += len(sentence) + 2
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def run_case(name: str, count: int, size: int, bootstrap: str, root: Path) -> dict:
    rng = random.Random(count * 7 + size)
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    raw, dead = f"bench-{name}-raw", f"bench-{name}-dead"
    admin = newsflow_kafka.admin(settings)
    admin.create_topics(
        {
            topic: {
                "num_partitions": 6,
                "replication_factor": 1,
                "configs": {
                    "message.timestamp.type": "LogAppendTime",
                    "max.message.bytes": str(16 * 1024 * 1024),
                },
            }
            for topic in (raw, dead)
        },
        wait_for_metadata=True,
    )
    admin.close()

    case = root / name
    staging, inbox = case / "staging", case / "inbox"
    staging.mkdir(parents=True)
    inbox.mkdir()
    total_bytes = 0
    for n in range(count):
        data = article_text(rng, n, size).encode()
        (staging / f"{n:05d}.txt").write_bytes(data)
        total_bytes += len(data)

    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEWSFLOW_WATCHER_METRICS_PORT": str(free_port()),
        "NEWSFLOW_WATCHER_INBOX": str(inbox),
        "NEWSFLOW_WATCHER_PROCESSED_DIR": str(case / "processed"),
        "NEWSFLOW_WATCHER_FAILED_DIR": str(case / "failed"),
        "NEWSFLOW_WATCHER_STATE_DIR": str(case / "state"),
        "NEWSFLOW_WATCHER_RAW_TOPIC": raw,
        "NEWSFLOW_WATCHER_DEADLETTER_TOPIC": dead,
        "NEWSFLOW_WATCHER_LOG_LEVEL": "WARNING",
    }
    watcher = ServiceProcess("watcher", env, case / "watcher.log").start()
    dropped_at: dict[str, float] = {}
    for path in sorted(staging.iterdir()):
        os.rename(path, inbox / path.name)
        dropped_at[path.name] = time.time()
    wait_for(
        lambda: watcher.metric("newsflow_watcher_files_sent_total") >= count,
        600,
        f"{count} files acknowledged",
        every=0.2,
    )
    peak_rss = _peak_rss(watcher.process.pid)
    cpu_seconds = watcher.metric("process_cpu_seconds_total")
    watcher.stop()

    acked_at = _append_times(settings, raw, count)
    latencies = sorted(acked_at[f] - dropped_at[f] for f in dropped_at)
    wall = max(acked_at.values()) - min(dropped_at.values())
    return {
        "case": name,
        "files": count,
        "bytes": total_bytes,
        "wall_seconds": round(wall, 3),
        "files_per_second": round(count / wall, 1),
        "megabytes_per_second": round(total_bytes / wall / 1e6, 2),
        "latency_p50_seconds": round(statistics.median(latencies), 3),
        "latency_p99_seconds": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
        "watcher_cpu_seconds": round(cpu_seconds, 2),
        "watcher_peak_rss_bytes": peak_rss,
    }


def _append_times(settings: KafkaSettings, topic: str, count: int) -> dict[str, float]:
    consumer = KafkaConsumer(
        topic,
        **settings.kafka_python(),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    found = {}
    while len(found) < count:
        batch = 0
        for message in consumer:
            found[json.loads(message.value)["origin"]["file_name"]] = message.timestamp / 1000
            batch += 1
        if not batch:
            break
    consumer.close()
    return found


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        root = Path(tmp)
        broker = load_script("deploy/kafka/localkafka.py").LocalKafka(
            home=root / "kafka", port=free_port(), controller_port=free_port()
        )
        bootstrap = broker.start()
        try:
            results = [
                run_case("small", args.small, 2_000, bootstrap, root),
                run_case("large", args.large, 1_000_000, bootstrap, root),
            ]
        finally:
            broker.stop()
    report = {"cores": os.cpu_count(), "load_average": os.getloadavg(), "cases": results}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
