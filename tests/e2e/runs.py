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
    stall_restarts: dict[str, int] = field(default_factory=dict)  # see newsflow.stall
    # With the sink paused: the records waiting for it on its topic when it was resumed,
    # and the services' peak RSS until then.
    sink_backlog: int | None = None
    memory_while_paused: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
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


def run(
    corpus: Corpus,
    root: Path,
    plan: ChaosPlan | None = None,
    timeout: float = 1800,
    pause_sink: bool = False,
) -> Result:
    """The corpus through a fresh pipeline. `plan`: faults while it flows. `pause_sink`: the
    sink is stopped (SIGSTOP) after the seeds, until everything else is done, then resumed."""
    pipeline = Pipeline(root)
    started = time.monotonic()
    controller = None
    memory = MemoryWatch(pipeline.services)
    sink_backlog, memory_while_paused = None, {}
    try:
        pipeline.start_broker()
        pipeline.create_topics()
        pipeline.start_services()
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
            corpus.write(pipeline.inbox, 1, pipeline.outside)
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
    ]
    rows += [(f"failed: {reason}", n) for reason, n in figures.get("failed by reason", {}).items()]
    letters = figures.get("dead letters by stage", {})
    rows += [(f"dead letters: {stage}", n) for stage, n in letters.items()]
    rows += [(f"fault: {name}", n) for name, n in result.faults.items()]
    rows += [
        ("faults injected", sum(result.faults.values())),
        ("stalled workers restarted in place", sum(result.stall_restarts.values())),
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
