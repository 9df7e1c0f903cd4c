"""The distributed pipeline under load, on the end-to-end harness (tests/e2e/pipeline.py):
its own broker on free ports and every service as its own process.

Files are written to a staging folder first and renamed into the inbox (as a download tool
does), so a drop is one rename and its time is known. Each article's end-to-end latency is
its row's `stored_at` minus its file's drop time; the record's trace (one `processed_at` per
stage) splits it into stages. Per-stage CPU comes from /proc/<pid>/stat, records from each
service's Prometheus counters, peak RSS from VmHWM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.pipeline import Pipeline, memory_bytes
from tests.support.local import load_script

from .corpus import BenchFile, write
from .limit import CLAIMS_FILE

log = logging.getLogger("bench")
LOCAL_INSTANCES = Path(__file__).resolve().parents[2] / "deploy/local/instances.py"
TICKS = os.sysconf("SC_CLK_TCK")

# The counter that says how many records each process handled.
RECORD_COUNTERS = {
    "watcher": "newsflow_watcher_articles_sent_total",
    "dedup": "newsflow_dedup_records_in_total",
    "entities": "newsflow_entities_records_in_total",
    "stance": "newsflow_stance_records_in_total",
    "sink": "newsflow_sink_records_in_total",
}
PROCESS_ORDER = ("watcher", "dedup", "entities", "stance", "sink", "broker", "harness")
# The hops of an article's way, from the trace: (name, from, to).
HOPS = (
    ("noticed", "dropped", "first_seen"),
    ("watcher", "first_seen", "watcher"),
    ("dedup", "watcher", "dedup"),
    ("entities", "dedup", "entities"),
    ("stance", "entities", "stance"),
    ("sink", "stance", "stored"),
)


class BenchPipeline(Pipeline):
    """The harness's pipeline, with the stance worker given the claims file `make up` uses."""

    def service_env(self, name: str, instance: str = "") -> dict[str, str]:
        env = super().service_env(name, instance)
        if name == "stance" and CLAIMS_FILE.is_file():
            env["NEWSFLOW_STANCE_CLAIMS_FILE"] = str(CLAIMS_FILE)
        return env

    def restart(self, settings: dict[str, dict[str, str]]) -> None:
        """Stop every instance of the services named (SIGTERM, drained), start them again
        with these settings on top of their own, and wait until every service is ready."""
        restarted = [
            (instance, extra)
            for name, extra in settings.items()
            for instance in self.services
            if service_of(instance) == name
        ]
        for instance, _ in restarted:
            self.services[instance].signal(signal.SIGTERM)
        for instance, extra in restarted:
            service = self.services[instance]
            if service.wait(60) is None:
                service.kill()
            service.env = {**service.env, **extra}
            service.start()
        self.wait_ready()

    def pids(self) -> dict[str, int]:
        found = {name: s.process.pid for name, s in self.services.items() if s.running()}
        broker = self.broker.pid()
        if broker is not None:
            found["broker"] = broker
        found["harness"] = os.getpid()  # this process: dropping files, polling the store
        return found


# --- what the processes did ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """CPU of the process, all threads, and of its child processes (the watcher's parser
    processes), those that ended included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime + stime, and cutime + cstime: children that ended and were waited for
    seconds = sum(int(field) for field in fields[11:15]) / TICKS
    return seconds + sum(cpu_seconds(child) or 0.0 for child in _children(pid))


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def scrape(port: int) -> dict[str, float]:
    """Every sample of a service's /metrics, summed over labels."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]
    records: dict[str, float]
    machine: tuple[int, int]

    @classmethod
    def take(cls, pipeline: BenchPipeline) -> Snapshot:
        """CPU and records so far of each service, its instances together."""
        cpu: dict[str, float] = {}
        for name, pid in pipeline.pids().items():
            if (seconds := cpu_seconds(pid)) is not None:
                cpu[service_of(name)] = cpu.get(service_of(name), 0.0) + seconds
        records: dict[str, float] = {}
        for name, service in pipeline.services.items():
            if (counter := RECORD_COUNTERS.get(service_of(name))) is not None:
                found = scrape(service.port).get(counter, 0.0)
                records[service_of(name)] = records.get(service_of(name), 0.0) + found
        return cls(time.time(), cpu, records, machine_busy())


def service_of(instance: str) -> str:
    """`stance` of `stance-2`: the service an instance's process runs."""
    name, _, number = instance.rpartition("-")
    return name if name and number.isdigit() else instance


def per_process(before: Snapshot, after: Snapshot, files: int) -> dict[str, dict]:
    """Records/s, CPU per record and CPU per article in, for each process over a phase."""
    wall = after.at - before.at
    figures = {}
    for name in PROCESS_ORDER:
        if name not in after.cpu or name not in before.cpu:
            continue
        cpu = after.cpu[name] - before.cpu[name]
        records = after.records.get(name, 0.0) - before.records.get(name, 0.0)
        figures[name] = {
            "cpu_seconds": round(cpu, 3),
            "cores": round(cpu / wall, 3) if wall else None,
            "records": int(records) if name in RECORD_COUNTERS else None,
            "records_per_second": round(records / wall, 2)
            if name in RECORD_COUNTERS and wall
            else None,
            "cpu_ms_per_record": round(1000 * cpu / records, 2) if records else None,
            "cpu_ms_per_article_in": round(1000 * cpu / files, 2) if files else None,
        }
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    cores = os.cpu_count() or 1
    ours = sum(f["cpu_seconds"] for f in figures.values())
    harness = figures.get("harness", {}).get("cpu_seconds", 0.0)
    machine = busy / TICKS
    figures["_machine"] = {
        "wall_seconds": round(wall, 3),
        "busy_share": round(busy / total, 3) if total else None,
        "pipeline_cores": round((ours - harness) / wall, 3) if wall else None,
        "harness_cores": round(harness / wall, 3) if wall else None,
        "other_cores": round(max(machine - ours, 0.0) / wall, 3) if wall else None,
        "cores": cores,
    }
    return figures


# --- dropping files and waiting for the rows ------------------------------------------------


def drop(paths: Sequence[Path], inbox: Path, offsets: Sequence[float] | None = None) -> dict:
    """Rename the staged files into the inbox, at once or at `offsets` seconds from now;
    returns each file's drop time (seconds since the epoch)."""
    dropped = {}
    started = time.monotonic()
    for index, path in enumerate(paths):
        if offsets is not None:
            wait = started + offsets[index] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        os.rename(path, inbox / path.name)
        dropped[path.name] = time.time()
    return dropped


def poisson_offsets(count: int, rate: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    offsets, now = [], 0.0
    for _ in range(count):
        offsets.append(now)
        now += rng.expovariate(rate)
    return offsets


def stored_count(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_stored(pipeline: BenchPipeline, count: int, timeout: float) -> float:
    """Until the store holds `count` articles; the time it did (seconds since the epoch)."""
    deadline = time.monotonic() + timeout
    last_check = 0.0
    while stored_count(pipeline.store_path) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {stored_count(pipeline.store_path)} of {count} articles stored "
                f"after {timeout:.0f}s"
            )
        if time.monotonic() - last_check > 5:
            pipeline.check_alive()
            last_check = time.monotonic()
        time.sleep(0.1)
    return time.time()


def _epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def stored_rows(store: Path, names: set[str]) -> list[dict]:
    """The stored articles that came from the files named, with the times of their way."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT stored_at, record FROM articles").fetchall()
    found = []
    for stored_at, record_text in rows:
        record = json.loads(record_text)
        origin = record.get("origin") or {}
        name = origin.get("file_name")
        if name not in names:
            continue
        times = {"first_seen": _epoch(origin.get("first_seen_at")), "stored": _epoch(stored_at)}
        for entry in record.get("trace", []):
            times[entry["stage"]] = _epoch(entry.get("processed_at"))
        found.append({"file": name, "times": times})
    return found


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_figures(rows: list[dict], dropped: dict[str, float]) -> dict:
    latencies = [r["times"]["stored"] - dropped[r["file"]] for r in rows]
    # The spread of a single run: its p95 in each third of the drop window.
    thirds: list[list[float]] = [[], [], []]
    if rows:
        first, last = min(dropped.values()), max(dropped.values())
        width = (last - first) / 3 or 1.0
        for row, latency in zip(rows, latencies, strict=True):
            thirds[min(int((dropped[row["file"]] - first) / width), 2)].append(latency)
    hops = {}
    for name, start, end in HOPS:
        spans = []
        for row in rows:
            times = {**row["times"], "dropped": dropped[row["file"]]}
            if times.get(start) is not None and times.get(end) is not None:
                spans.append(times[end] - times[start])
        hops[name] = {
            "p50": _round(percentile(spans, 0.5)),
            "p95": _round(percentile(spans, 0.95)),
        }
    return {
        "articles": len(latencies),
        "p50": _round(percentile(latencies, 0.5)),
        "p95": _round(percentile(latencies, 0.95)),
        "p99": _round(percentile(latencies, 0.99)),
        "max": _round(max(latencies) if latencies else None),
        "p95_thirds": [_round(percentile(third, 0.95)) for third in thirds if third],
        "hops": hops,
        "samples": sorted(round(v, 3) for v in latencies),
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# --- phases -------------------------------------------------------------------------------


@dataclass
class Phase:
    """One batch of files through the pipeline: at once (saturation) or at a rate."""

    name: str
    files: int
    dropped: dict[str, float] = field(default_factory=dict)
    done_at: float = 0.0
    processes: dict[str, dict] = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    offered_per_second: float | None = None

    def figures(self) -> dict:
        first, last = min(self.dropped.values()), max(self.dropped.values())
        stored = sorted(
            t for t in self.latency.get("_stored_times", []) if t is not None
        )  # fmt: skip
        wall = self.done_at - first
        steady = None
        if len(stored) >= 20:
            low, high = percentile(stored, 0.1), percentile(stored, 0.9)
            if high > low:
                steady = 0.8 * len(stored) / (high - low) * self.files / len(stored)
        return {
            "name": self.name,
            "files": self.files,
            "offered_per_second": _round(self.offered_per_second, 2),
            "achieved_drop_per_second": _round(
                (len(self.dropped) - 1) / (last - first) if last > first else None, 2
            ),
            "drop_seconds": round(last - first, 3),
            "seconds_to_last_row": round(wall, 3),
            "articles_per_second": round(self.files / wall, 2) if wall else None,
            "steady_articles_per_second": _round(steady, 2),
            "latency": {k: v for k, v in self.latency.items() if not k.startswith("_")},
            "processes": self.processes,
        }


def run_phase(
    pipeline: BenchPipeline,
    name: str,
    files: Sequence[BenchFile],
    expected_total: int,
    rate: float | None = None,
    seed: int = 0,
    timeout: float = 600,
    during: Callable[[], None] | None = None,
) -> Phase:
    """Drop `files` (at once, or as Poisson arrivals at `rate` per second) and wait until
    the store holds `expected_total` articles; `during` runs right after the drop starts."""
    staging = pipeline.root / "staging" / name
    paths = write(files, staging)
    phase = Phase(name, len(files), offered_per_second=rate)
    before = Snapshot.take(pipeline)
    if during is not None:
        during()
    offsets = poisson_offsets(len(paths), rate, seed) if rate else None
    phase.dropped = drop(paths, pipeline.inbox, offsets)
    phase.done_at = wait_stored(pipeline, expected_total, timeout)
    after = Snapshot.take(pipeline)
    phase.processes = per_process(before, after, len(files))
    rows = stored_rows(pipeline.store_path, set(phase.dropped))
    phase.latency = latency_figures(rows, phase.dropped)
    phase.latency["_stored_times"] = [r["times"]["stored"] for r in rows]
    log.info(
        "%s: %d files, %.1f articles/s, latency p50 %.2fs p95 %.2fs",
        name,
        len(files),
        phase.figures()["articles_per_second"] or 0,
        phase.latency["p50"] or 0,
        phase.latency["p95"] or 0,
    )
    return phase


def start(root: Path) -> BenchPipeline:
    pipeline = BenchPipeline(root)
    pipeline.start_broker()
    pipeline.create_topics()
    pipeline.start_services(local_instances())
    pipeline.wait_ready()
    return pipeline


def local_instances() -> dict[str, int]:
    """As many instances of each model worker as `make up` starts on this machine
    (WORKER_INSTANCES, as for `make up`, overrides it)."""
    module = load_script(LOCAL_INSTANCES)
    count = module.instances(os.environ.get("WORKER_INSTANCES") or None)
    return {service: count for service in module.MODEL_WORKERS}


def peaks(pipeline: BenchPipeline) -> dict[str, int | None]:
    return {name: memory_bytes(pid, "VmHWM") for name, pid in pipeline.pids().items()}
