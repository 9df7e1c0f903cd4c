"""One run of the harness: broker and services from scratch, the corpus in waves, faults if
asked, idle, drained with SIGTERM, checked. Used by `python -m tests.e2e` and the tests."""

from __future__ import annotations

import json
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import checks
from .corpus import Corpus
from .faults import ChaosPlan, Controller
from .pipeline import MemoryWatch, Pipeline

log = logging.getLogger("e2e")


@dataclass
class Result:
    corpus: Corpus
    report: checks.Report
    stored: dict[str, dict]
    seconds: float
    exit_codes: dict[str, int | None]
    memory: dict[str, int] = field(default_factory=dict)  # peak RSS bytes by service
    stall_restarts: dict[str, int] = field(default_factory=dict)  # see newsflow.runtime.stall
    # With the sink paused: the records waiting for it on its topic when it was resumed,
    # and the services' peak RSS until then.
    sink_backlog: int | None = None
    memory_while_paused: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    # Instances SIGKILLed mid-stream and never restarted: records each had taken by then.
    killed: dict[str, float] = field(default_factory=dict)
    fault_errors: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.report.ok
            and not self.differences
            and not self.fault_errors
            and all(code == 0 for code in self.exit_codes.values())
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.stored, indent=1, sort_keys=True) + "\n")


def _wait_stored(pipeline: Pipeline, count: int, timeout: float) -> None:
    """Until `count` articles are stored, or the pipeline is idle without them (an article
    lost: the checks will say which)."""
    deadline = time.monotonic() + timeout
    while pipeline.stored_count() < count:
        pipeline.check_alive()
        if time.monotonic() > deadline:
            log.warning("only %d of %d articles stored after %.0fs", pipeline.stored_count(),
                        count, timeout)  # fmt: skip
            return
        if pipeline.idle_for(10):
            log.warning("idle with %d of %d articles stored", pipeline.stored_count(), count)
            return
        time.sleep(1)


def _kill_second_instances(pipeline: Pipeline, taken_before: dict[str, float], timeout: float):
    """SIGKILL each second instance (`dedup-2`, ...) as soon as it has taken records of the
    current wave, and leave it dead: its partitions must move to the first instance, which
    takes over its uncommitted records. Returns the records each one had taken."""
    waiting = {name: s for name, s in pipeline.services.items() if name.endswith("-2")}
    killed = {}
    deadline = time.monotonic() + timeout
    while waiting:
        pipeline.check_alive()
        for name, service in list(waiting.items()):
            if (taken := service.records_in()) > taken_before[name]:
                service.kill()
                log.info("%s SIGKILLed after taking %d records", name, taken)
                killed[name] = taken
                del waiting[name], pipeline.services[name]
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{', '.join(waiting)} took no record of the wave in {timeout:.0f}s: "
                "no partition assigned?"
            )
        time.sleep(0.05)
    return killed


def run(
    corpus: Corpus,
    root: Path,
    plan: ChaosPlan | None = None,
    timeout: float = 1800,
    pause_sink: bool = False,
    instances: int = 1,
    store_url: str | None = None,
    kill_midstream: bool = False,
) -> Result:
    """The corpus through a fresh pipeline. `plan`: faults while it flows. `pause_sink`: the
    sink is stopped (SIGSTOP) after the seeds, until everything else is done, then resumed.
    `instances`: processes of each worker and the sink (more than one sink wants a
    PostgreSQL `store_url`); `kill_midstream`: the second instance of each is SIGKILLed
    while it works on the originals, and not restarted."""
    pipeline = Pipeline(root, store_url)
    started = time.monotonic()
    controller = None
    memory = MemoryWatch(pipeline.services)
    sink_backlog, memory_while_paused, killed = None, {}, {}
    try:
        pipeline.start_broker()
        pipeline.create_topics()
        pipeline.start_services(instances)
        pipeline.wait_ready()
        log.info("pipeline ready after %.0fs", time.monotonic() - started)

        # The seeds are one story: one at a time, so that their order is always the same.
        stored_so_far = 0
        for item in corpus.of_kind("seed"):
            corpus.write_item(pipeline.inbox, item, pipeline.outside)
            stored_so_far += len(item.article_ids)
            _wait_stored(pipeline, stored_so_far, timeout)
        if plan is not None:
            controller = Controller(pipeline, plan)
            controller.start()
        if pause_sink:
            sink = pipeline.services["sink"]
            sink.signal(signal.SIGSTOP)
            for wave in (1, 2):
                corpus.write(pipeline.inbox, wave, pipeline.outside)
                # Everything before the sink done; the rest waits on the sink's topic.
                pipeline.wait_idle(timeout, quiet=4.0, but=("sink",))
            sink_backlog = pipeline.lag()["sink"]
            memory_while_paused = dict(memory.peaks)
            log.info("sink paused: %d records waiting for it", sink_backlog)
            sink.signal(signal.SIGCONT)
        else:
            # Originals and bad files, then the copies once their originals are stored.
            taken = {name: s.records_in() for name, s in pipeline.services.items()}
            corpus.write(pipeline.inbox, 1, pipeline.outside)
            if kill_midstream:
                killed = _kill_second_instances(pipeline, taken, timeout=120)
            originals = len({a for item in corpus.items if item.wave <= 1
                             if item.kind != "bad" for a in item.article_ids})  # fmt: skip
            _wait_stored(pipeline, originals, timeout)
            corpus.write(pipeline.inbox, 2, pipeline.outside)
        if controller is not None:
            controller.join()  # the whole schedule of faults, then calm
            for service in pipeline.services.values():
                if not service.running():
                    service.start()
        pipeline.wait_idle(timeout)
        seconds = time.monotonic() - started
        exit_codes = pipeline.stop_services()
        report, stored = checks.check(corpus, pipeline)
        stall_restarts = pipeline.stall_restarts()
    finally:
        if controller is not None:
            controller.stop()
        peaks = memory.stop()
        pipeline.close()
    return Result(
        corpus,
        report,
        stored,
        seconds,
        exit_codes,
        memory=peaks,
        stall_restarts=stall_restarts,
        sink_backlog=sink_backlog,
        memory_while_paused=memory_while_paused,
        faults=controller.counts() if controller else {},
        killed=killed,
        fault_errors=controller.errors if controller else [],
    )


def _megabytes(peak: int, while_paused: int | None) -> str:
    text = f"{peak / 2**20:.0f}"
    return text if while_paused is None else f"{text} ({while_paused / 2**20:.0f} sink paused)"


def summary(result: Result, title: str) -> str:
    """The table `make e2e` and `make chaos` print."""
    figures = result.report.figures
    rows = [
        ("articles in (files)", figures.get("files in")),
        ("  of which bad files", result.corpus.counts().get("bad", 0)),
        ("articles expected in the store", figures.get("articles expected")),
        ("articles stored", figures.get("articles stored")),
        ("exact copies dropped", figures.get("exact copies dropped")),
        ("files sent again after a crash, dropped", figures.get("files sent again")),
        ("near copies linked", figures.get("near copies linked")),
        ("  of which across partitions", figures.get("near copies across partitions")),
        ("follow-ups in their story", figures.get("follow-ups in their story")),
        ("  of which across partitions", figures.get("follow-ups across partitions")),
    ]
    rows += [(f"failed: {reason}", n) for reason, n in figures.get("failed by reason", {}).items()]
    letters = figures.get("dead letters by stage", {})
    rows += [(f"dead letters: {stage}", n) for stage, n in letters.items()]
    rows += [(f"fault: {name}", n) for name, n in result.faults.items()]
    rows += [(f"SIGKILLed mid-stream: {name}, records taken", f"{taken:.0f}")
             for name, taken in result.killed.items()]  # fmt: skip
    rows += [
        ("faults injected", sum(result.faults.values())),
        ("stalled consumers restarted in place", sum(result.stall_restarts.values())),
        ("lost", len(result.report.lost)),
        ("doubled", len(result.report.doubled)),
        ("differences from fault-free run", len(result.differences)),
        ("exit codes on SIGTERM", " ".join(f"{k}={v}" for k, v in result.exit_codes.items())),
        ("seconds", f"{result.seconds:.0f}"),
    ]
    if result.sink_backlog is not None:
        rows.append(("records waiting while the sink was paused", result.sink_backlog))
    rows += [
        (f"peak RSS MB: {name}", _megabytes(peak, result.memory_while_paused.get(name)))
        for name, peak in sorted(result.memory.items())
    ]
    rows += [
        ("result", "PASS" if result.ok else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    sections = ", ".join(figures.get("sections checked", []))
    lines = [f"{title} (seed {result.corpus.seed}, sections checked: {sections})"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    stages = figures.get("stage counts (in, out, duplicates, dead letters)", {})
    if stages:
        lines.append(f"  {'stage':<17} {'in':>6} {'out':>6} {'dupes':>6} {'dead':>6}")
        lines += [f"  {s:<17} {a:>6} {b:>6} {c:>6} {d:>6}" for s, (a, b, c, d) in stages.items()]
    problems = result.report.problems + result.fault_errors + result.differences[:20]
    problems += [f"lost: {a}" for a in result.report.lost[:20]]
    problems += [f"doubled: {a}" for a in result.report.doubled[:20]]
    lines += [f"  PROBLEM: {p}" for p in problems]
    return "\n".join(lines)
