"""A Faust worker as a newsflow service, shared by the dedup, entities and stance workers:
its settings, its start (JSON logs, the status server, lag, internal topics) and the
watches that restart it in place when it stalls."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import faust
from pydantic import Field

from newsflow.core.settings import ServiceSettings
from newsflow.core.topics import DEADLETTER
from newsflow.runtime.batches import PROGRESS
from newsflow.runtime.faust_app import ensure_internal_topics
from newsflow.runtime.lag import LagMonitor
from newsflow.runtime.service import Health, serving
from newsflow.runtime.stall import StallWatch, restart_in_place, waiting_here

log = logging.getLogger(__name__)


class WorkerSettings(ServiceSettings):
    """What every Faust worker has on top of the common service settings."""

    state_dir: Path = Field(description="Where the worker keeps its tables (RocksDB).")
    batch_size: int = Field(default=64, gt=0, description="Records processed together at most.")
    # Short: under load a batch is full at once, so the wait only matters when records are
    # few, and then every second of it is latency (docs/benchmarks.md).
    batch_seconds: float = Field(
        default=0.03, gt=0, description="How long a batch waits to fill before it is processed."
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Attempts at a record before it is dead-lettered."
    )
    deadletter_topic: str = DEADLETTER.name
    stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Restart in place when records wait on the worker's partitions (or on "
        "partitions no instance holds) and none has been processed for this long.",
    )
    group_id: str | None = Field(
        default=None,
        description="Consumer group and prefix of the worker's internal topics "
        "(default newsflow-<service>); two pipelines on one cluster need different ones.",
    )


def _assignment(app: faust.App) -> set[tuple[str, int]] | None:
    try:
        return set(app.consumer.assignment())
    except Exception:  # no consumer yet (starting): nothing known
        return None


def _restart_when_silent(health: Health, seconds: float, service: str) -> None:
    """From a thread of its own: restart in place when the event loop has not run the
    health timer for `seconds`. After the broker went away, Faust can also hang while it
    starts (rejoining its group, recovering tables), before any timer runs, where the stall
    watch (a timer itself) cannot see it; an orchestrator's liveness probe would restart
    it, a plain process supervisor would not."""
    while True:
        time.sleep(min(5.0, seconds / 4))
        silent = health.silent_seconds()
        if silent > seconds:
            restart_in_place(
                f"{service}: its event loop has not run its timers for {silent:.0f}s "
                "(stuck starting, or blocked)"
            )


def run_worker(app: faust.App, settings: WorkerSettings) -> None:
    """Run a Faust app as a newsflow service until SIGTERM: JSON logs, the status server,
    liveness from a timer on the event loop, readiness while not rebalancing, and the
    consumer group's lag per partition of the agents' input topics."""
    inputs = sorted(
        {name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())}
    )
    lag = LagMonitor(settings.kafka, app.conf.id, inputs, watch_unheld=True)
    with serving(settings, lag) as server:
        health = server.health
        PROGRESS.watch = StallWatch(settings.stall_seconds)
        threading.Thread(
            target=_restart_when_silent,
            args=(health, settings.stall_seconds, settings.service_name),
            name="silence-watch",
            daemon=True,
        ).start()

        @app.timer(1.0)  # type: ignore[untyped-decorator]  # Faust's decorators are untyped
        async def report_health() -> None:
            health.beat()
            if app.rebalancing:
                health.set_not_ready("rebalancing")
            else:
                health.set_ready()
            # Rebalancing or restoring tables from their changelogs: waiting is expected.
            settling = app.rebalancing or getattr(app, "in_recovery", False)
            stalled = PROGRESS.watch.check(
                waiting_here(lag, _assignment(app)), busy=PROGRESS.busy, rebalancing=settling
            )
            if stalled:
                restart_in_place(f"{settings.service_name} stalled: {stalled}")

        ensure_internal_topics(app, settings, health)
        worker = faust.Worker(
            app,
            loglevel=settings.log_level,
            override_logging=False,  # ours: JSON lines, configured above
            redirect_stdouts=False,
            quiet=True,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as done:
            log.info("%s stopped (exit code %s)", settings.service_name, done.code)
            sys.exit(done.code)
