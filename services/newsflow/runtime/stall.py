"""Noticing a consumer (a worker or the sink) that has stopped consuming while records wait
for it, and restarting it in place.

After the broker went away and came back, faust-streaming's consumer can rejoin its group,
keep its partitions and never fetch from them again, without an error (faust-streaming
issues 175 and 523; seen once in newsflow's chaos runs). The event loop stays alive, so the
liveness beat does not notice. Or the group settles with an input partition that no
member holds, when a member rejoined while the broker's metadata still lacked the topic
(seen in `make test`'s chaos run). kafka-python's consumer (the sink's) was once seen to
fall out of its group during a rebalance and never rejoin, fetching on with every commit
refused. This notices all three: records wait on a partition assigned to this instance, or
to none, and no batch has been processed for `stall_seconds`. The service then restarts
itself in place; what it had not committed is delivered again, which every stage handles
(at-least-once, idempotent downstream).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable

from newsflow.runtime.lag import LagMonitor

log = logging.getLogger(__name__)


class StallWatch:
    """Decides, from readings taken every second or so, whether the consumer is stalled."""

    def __init__(self, stall_seconds: float, max_gap_seconds: float = 10.0) -> None:
        self.stall_seconds = stall_seconds
        # No reading for this long means the process itself was not running (SIGSTOPped,
        # suspended with its host, or its loop blocked, which the silence watch covers): the
        # records waited on it, not on a stalled consumer, and the period starts again.
        self.max_gap_seconds = max_gap_seconds
        self._since = time.monotonic()  # since when records have waited with no progress
        self._checked = self._since

    def progressed(self) -> None:
        """A batch was processed."""
        self._since = time.monotonic()

    def check(self, waiting: int | None, busy: bool, rebalancing: bool) -> str | None:
        """Why the consumer is stalled, or None. `waiting`: records not yet committed on
        the partitions assigned to this instance (None: unknown, e.g. the broker is away,
        which is not a stall of this consumer); `busy`: a batch is being processed now."""
        now = time.monotonic()
        gap, self._checked = now - self._checked, now
        if not waiting or busy or rebalancing or gap > self.max_gap_seconds:
            self._since = now
            return None
        idle = now - self._since
        if idle < self.stall_seconds:
            return None
        return (
            f"{waiting} records wait on partitions this instance holds, or nobody does, and "
            f"none has been processed for {idle:.0f}s"
        )


def waiting_here(lag: LagMonitor, assigned: Iterable[tuple[str, int]] | None) -> int | None:
    """Records not yet committed on the input partitions `assigned` to this instance or to
    no instance of the group (a rejoin, which a restart makes, gives those out again); None
    when the lag or the assignment is not known (the broker away, the consumer starting:
    not this service's stall)."""
    reading = lag.fresh_reading(max_age_seconds=lag.interval * 3 + 5)
    if reading is None or assigned is None:
        return None
    waiting, unheld = reading
    mine = set(assigned)  # (topic, partition) tuples: Faust's and kafka-python's alike
    return sum(n for tp, n in waiting.items() if tp in mine or tp in unheld)


def restart_in_place(why: str) -> None:
    """Replace the process with a fresh start of the same command (same pid, so whatever
    supervises it sees nothing). Files and sockets close on exec (Python and RocksDB open
    them close-on-exec), so the new process can take the state folder and the port; what
    was processed but not committed is delivered again."""
    log.error("%s; restarting in place", why)
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
