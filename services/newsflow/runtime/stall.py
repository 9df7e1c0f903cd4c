"""Noticing a worker that has stopped consuming while records wait for it.

After the broker went away and came back, faust-streaming's consumer can rejoin its group,
keep its partitions and never fetch from them again, without an error (faust-streaming
issues 175 and 523; seen once in newsflow's chaos runs). The event loop stays alive, so the
liveness beat does not notice. Or the group settles with an input partition that no
member holds, when a member rejoined while the broker's metadata still lacked the topic
(seen in `make test`'s chaos run). This notices both: records wait on a partition assigned
to this instance, or to none, and no batch has been processed for `stall_seconds`. The
worker then restarts
itself in place (see `newsflow.runtime.worker`); what it had not committed is delivered again, which
every stage handles (at-least-once, idempotent downstream).
"""

from __future__ import annotations

import time


class StallWatch:
    """Decides, from readings taken every few seconds, whether the worker is stalled."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._since = time.monotonic()  # since when records have waited with no progress

    def progressed(self) -> None:
        """A batch was processed."""
        self._since = time.monotonic()

    def check(self, waiting: int | None, busy: bool, rebalancing: bool) -> str | None:
        """Why the worker is stalled, or None. `waiting`: records not yet committed on the
        partitions assigned to this instance (None: unknown, e.g. the broker is away, which
        is not a stall of this worker); `busy`: a batch is being processed now."""
        now = time.monotonic()
        if not waiting or busy or rebalancing:
            self._since = now
            return None
        idle = now - self._since
        if idle < self.stall_seconds:
            return None
        return (
            f"{waiting} records wait on partitions this worker holds, or nobody does, and none "
            f"has been processed for {idle:.0f}s"
        )
