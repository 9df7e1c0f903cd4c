"""The chaos controller: from one seed, a schedule of faults, run one after another while the
corpus flows. SIGKILL a random service at a random moment and restart it; SIGTERM one (it
must drain and exit 0 within its grace period) and restart it; stop the broker and start it
again; make the store unreachable.

The store is SQLite, so "unreachable" is another connection holding its write lock
(BEGIN EXCLUSIVE) for the outage: the sink's writes fail with "database is locked" after
its busy timeout, which the sink treats as the store being away (paused partitions, not
ready, the batch retried with backoff). Read-only permissions would not do: the sink keeps
its connection open, and a file already open stays writable."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from .pipeline import DRAIN_SECONDS, Pipeline

log = logging.getLogger("e2e.faults")


@dataclass(frozen=True)
class Fault:
    kind: str  # kill, drain, broker, store
    target: str | None  # the service killed
    after_seconds: float  # pause before it
    down_seconds: float  # how long the service, broker or store stays away


@dataclass
class ChaosPlan:
    seed: int
    kills: int = 12
    drains: int = 4
    broker_outages: int = 1
    store_outages: int = 1
    broker_seconds: float = 20.0
    store_seconds: float = 30.0
    gap_seconds: tuple[float, float] = (2.0, 8.0)

    def schedule(self, services: list[str]) -> list[Fault]:
        rng = random.Random(self.seed)
        kinds = (
            ["kill"] * self.kills
            + ["drain"] * self.drains
            + ["broker"] * self.broker_outages
            + ["store"] * self.store_outages
        )
        rng.shuffle(kinds)
        faults = []
        for kind in kinds:
            gap = rng.uniform(*self.gap_seconds)
            if kind in ("kill", "drain"):
                faults.append(Fault(kind, rng.choice(services), gap, rng.uniform(0.2, 3.0)))
            elif kind == "broker":
                faults.append(Fault(kind, None, gap, self.broker_seconds))
            else:
                faults.append(Fault(kind, None, gap, self.store_seconds))
        return faults


@dataclass
class Controller:
    pipeline: Pipeline
    plan: ChaosPlan
    done: list[Fault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faults = self.plan.schedule(sorted(self.pipeline.services))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for fault in self.done:
            name = {"kill": f"SIGKILL {fault.target}", "drain": f"SIGTERM {fault.target}"}.get(
                fault.kind, f"{fault.kind} outage"
            )
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def _run(self) -> None:
        for fault in self.faults:
            if self.stopping.wait(fault.after_seconds):
                return
            log.info("fault: %s", fault)
            try:
                getattr(self, f"_{fault.kind}")(fault)
            except Exception as error:  # a fault that could not be injected is reported
                self.errors.append(f"{fault}: {error!r}")
            self.done.append(fault)

    def _kill(self, fault: Fault) -> None:
        service = self.pipeline.services[fault.target]
        service.signal(signal.SIGKILL)
        service.wait(30)
        time.sleep(fault.down_seconds)
        service.start()

    def _drain(self, fault: Fault) -> None:
        service = self.pipeline.services[fault.target]
        grace = DRAIN_SECONDS + 15  # its drain timeout, and time to close its clients
        service.draining = True
        try:
            service.signal(signal.SIGTERM)
            code = service.wait(grace)
            if code != 0:
                self.errors.append(
                    f"{fault.target} did not drain: "
                    + (f"exit code {code}" if code is not None else f"running after {grace}s")
                )
                service.kill()
            time.sleep(fault.down_seconds)
            service.start()
        finally:
            service.draining = False

    def _broker(self, fault: Fault) -> None:
        self.pipeline.stop_broker()
        time.sleep(fault.down_seconds)
        self.pipeline.start_broker()

    def _store(self, fault: Fault) -> None:
        # Waits for the sink's transaction in hand, then keeps every writer out.
        with contextlib.closing(
            sqlite3.connect(self.pipeline.store_path, timeout=60, isolation_level=None)
        ) as connection:
            connection.execute("BEGIN EXCLUSIVE")
            time.sleep(fault.down_seconds)
            connection.execute("ROLLBACK")
