"""`python -m tests.benchmarks`: the figures of docs/benchmarks.md (`make bench`).

In order: the corpus, the eval commands' speeds, then the distributed pipeline on its own
broker beside the limit (the stage code in one process): a warm-up of each, saturation runs
of the pipeline each right after the limit's run over the same files, a profiled run, and
latency runs at 25%, 50% and 75% of the saturation throughput. The
watcher's and the sink's own benchmarks (tests/benchmarks/watcher.py, sink.py) are run
before by `make bench`; their JSON is folded into the report when present.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import components, endtoend, limit, profiles, report
from .corpus import build, write

log = logging.getLogger("bench")
LOADS = (0.25, 0.5, 0.75)
# The experiment after the latency runs: the same 50% load with the batch waits newsflow had
# before these reports (workers 0.25 s, the sink 0.5 s in the harness; see `batch_waits`),
# to show what the shorter waits gain. The settle period stays.
EARLIER_WAITS_SHARE = 0.5


def batch_waits() -> dict[str, float]:
    """The batch waits the services have by default: what the latency runs used."""
    from newsflow.runtime.worker import WorkerSettings
    from newsflow.sink.settings import SinkSettings

    return {
        "workers": WorkerSettings.model_fields["batch_seconds"].default,
        "sink": SinkSettings.model_fields["batch_timeout_seconds"].default,
    }


EARLIER_WAITS = {
    "dedup": {"NEWSFLOW_DEDUP_BATCH_SECONDS": "0.25"},
    "entities": {"NEWSFLOW_ENTITIES_BATCH_SECONDS": "0.25"},
    "stance": {"NEWSFLOW_STANCE_BATCH_SECONDS": "0.25"},
    "sink": {"NEWSFLOW_SINK_BATCH_TIMEOUT_SECONDS": "0.5"},
}


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"warmup": 12, "slice": 30, "runs": 3, "profile": 30, "load_seconds": 8,
                "component_runs": 1}  # fmt: skip
    return {"warmup": 120, "slice": 360, "runs": 3, "profile": 300, "load_seconds": 60,
            "component_runs": 3}  # fmt: skip


def machine() -> dict:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="report folder")
    parser.add_argument("--json", type=Path, help="default: <out>/benchmarks.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to try the code")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--watcher-json", type=Path, default=Path("data/bench/watcher.json"))
    parser.add_argument("--sink-json", type=Path, default=Path("data/bench/sink.json"))
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--started-file",
        type=Path,
        help="holds the epoch second `make bench` started at, for the total wall time",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: write the report again from a run's JSON (after FIXES.md changed)",
    )
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
        for derived in ("headline", "per_stage", "cpu_budget"):
            results.pop(derived, None)
        results["rendered_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        args.out.mkdir(parents=True, exist_ok=True)
        report.write(results, args.out, args.json or args.out / "benchmarks.json")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)

    started = time.monotonic()
    size = sizes(args.quick)
    results: dict = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench" if not args.quick else "python -m tests.benchmarks --quick",
        "machine": machine(),
        "load_average_start": load_average(),
        "sizes": size,
    }
    log.info("load average at start: %s", results["load_average_start"])
    root = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    try:
        corpus = build(args.seed)
        files = corpus.files
        cut = [size["warmup"]]
        for _ in range(size["runs"]):
            cut.append(cut[-1] + size["slice"])
        warmup, slices = files[: cut[0]], [files[a:b] for a, b in itertools.pairwise(cut)]
        profiled = files[cut[-1] : cut[-1] + size["profile"]]
        pool = files[cut[-1] + size["profile"] :]
        results["corpus"] = corpus.figures()

        results["components"] = components.measure(corpus, size["component_runs"])
        gc.collect()
        results["limit"], results["pipeline"] = pipeline_phases(
            root, warmup, slices, profiled, pool, size, args
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log.info("run folder kept: %s", root)

    for name, path in (("watcher", args.watcher_json), ("sink", args.sink_json)):
        if path.is_file():
            results[f"{name}_benchmark"] = json.loads(path.read_text())
    results["load_average_end"] = load_average()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    if args.started_file and args.started_file.is_file():
        since = float(args.started_file.read_text().split()[0])
        results["make_bench_seconds"] = round(time.time() - since, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    report.write(results, args.out, args.json or args.out / "benchmarks.json")
    log.info("wrote %s/benchmarks.md in %.0fs", args.out, results["wall_seconds"])
    return 0


def pipeline_phases(root, warmup, slices, profiled, pool, size, args) -> tuple[dict, dict]:
    """The limit and the pipeline over the same files in the same order, each run of the
    limit right before the pipeline's run of the same files, so that both meet much the
    same load from other programs; then the profiled run and the latency runs."""
    figures: dict = {}
    limits: dict = {"runs": []}
    seen: set[str] = set()

    def expected(files) -> int:
        seen.update(a for f in files for a in f.article_ids)
        return len(seen)

    in_process = limit.InProcessPipeline(root / "limit" / "run")
    pipeline = endtoend.start(root / "pipeline")
    figures["instances"] = endtoend.local_instances()

    def limit_run(name: str, files) -> dict:
        paths = write(files, root / "limit" / name)
        before = endtoend.Snapshot.take(pipeline)
        result = in_process.run(paths)
        after = endtoend.Snapshot.take(pipeline)
        processes = endtoend.per_process(before, after, len(files))
        machine = processes["_machine"]
        idle = sum(
            v["cpu_seconds"]
            for k, v in processes.items()
            if k in pipeline.services or k == "broker"
        )
        machine["idle_pipeline_cores"] = round(idle / machine["wall_seconds"], 3)
        log.info("limit %s: %d files, %.1f articles/s", name, len(files),
                 result.figures()["articles_per_second"] or 0)  # fmt: skip
        return {**result.figures(), "machine": machine}

    try:
        log.info("pipeline ready; warm-up with %d files", len(warmup))
        limits["warmup"] = limit_run("warmup", warmup)
        figures["warmup"] = endtoend.run_phase(
            pipeline, "warmup", warmup, expected(warmup)
        ).figures()
        saturation = []
        for number, files in enumerate(slices, start=1):
            limits["runs"].append(limit_run(f"run{number}", files))
            phase = endtoend.run_phase(pipeline, f"saturation-{number}", files, expected(files))
            saturation.append(phase.figures())
        figures["saturation"] = saturation
        in_process.close()
        in_process = None  # the models' memory back before the latency runs
        gc.collect()
        rate = statistics.median(s["articles_per_second"] for s in saturation)

        if profiled and not args.no_profile:
            seconds = max(10.0, len(profiled) / rate)
            folder = root / "profiles"
            recorders: dict = {}

            def record() -> None:
                services = {k: v for k, v in pipeline.pids().items() if k in pipeline.services}
                recorders.update(profiles.start(services, seconds, folder))

            phase = endtoend.run_phase(
                pipeline, "profiled", profiled, expected(profiled), during=record
            )
            profiles.wait(recorders, seconds + 30)
            figures["profiled"] = phase.figures()
            figures["profiles"] = profiles.summarise_folder(folder, recorders)
            figures["profiles_seconds"] = seconds

        # Latency at a share of the saturation throughput, Poisson arrivals; then once
        # more at 50% with the earlier, longer batch waits (an experiment: what they cost).
        shares = [*LOADS, EARLIER_WAITS_SHARE]
        per_load = min(size["load_seconds"], len(pool) / (rate * sum(shares)) if rate else 0)
        loads, taken = [], 0
        for number, share in enumerate(shares):
            count = max(5, int(rate * share * per_load))
            files = pool[taken : taken + count]
            taken += count
            if not files:
                break
            name = f"load-{int(share * 100)}"
            if number == len(LOADS):
                figures["peak_rss_bytes"] = endtoend.peaks(pipeline)  # before the restart
                pipeline.restart(EARLIER_WAITS)
                name += "-earlier-waits"
            phase = endtoend.run_phase(
                pipeline, name, files, expected(files), rate=rate * share, seed=args.seed + number
            )
            result = {"share_of_saturation": share, **phase.figures()}
            if number == len(LOADS):
                figures["earlier_waits"] = {"settings": EARLIER_WAITS, **result}
            else:
                loads.append(result)
        figures["loads"] = loads
        figures["batch_waits"] = batch_waits()
        figures["cpu_of_child_processes"] = True  # see endtoend.cpu_seconds
        figures["saturation_rate_used"] = round(rate, 3)
        figures.setdefault("peak_rss_bytes", endtoend.peaks(pipeline))
        figures["exit_codes"] = pipeline.stop_services()
    finally:
        pipeline.close()
    return limits, figures


if __name__ == "__main__":
    raise SystemExit(main())
