"""What a stage of the pipeline implements, free of Kafka and Faust (the runtime runs it).

A stage `prepare`s a batch of records on a thread, all the CPU work it can do without state
(so the event loop keeps heartbeating and a large article never causes a rebalance), then
`finish`es each record with its prepared result on the event loop, where its state may be
touched safely, returning the records it sends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from newsflow import __version__
from newsflow.core.records import RawArticle, Record, TraceEntry, position
from newsflow.core.records import Stage as StageName

In = TypeVar("In", bound=RawArticle)
Prepared = TypeVar("Prepared")
Out = TypeVar("Out", bound=RawArticle)


@dataclass(frozen=True)
class Output:
    topic: str
    key: str
    value: Record


@dataclass(frozen=True)
class Source:
    """Where an input record came from: enough to find it again, and for logs."""

    topic: str
    partition: int
    offset: int
    key: str | None

    def __str__(self) -> str:
        return position(self.topic, self.partition, self.offset)


class Stage(Generic[In, Prepared]):
    """What a worker implements. `prepare` must be pure (it runs on a thread, in batches);
    `finish` runs on the event loop, one record at a time, and returns the outputs."""

    name: ClassVar[StageName]
    input_record: ClassVar[type[RawArticle]]
    model_version: str | None = None

    def prepare(self, records: Sequence[In]) -> list[Prepared]:
        raise NotImplementedError

    def finish(self, record: In, prepared: Prepared, source: Source) -> list[Output]:
        raise NotImplementedError

    def passed_on(self, record: In, next_record: type[Out], **section: Any) -> Out:
        """`record` as the next topic's record: its fields, this stage's entry appended to
        its trace, and the section this stage adds (e.g. `stance=...`)."""
        entry = TraceEntry(
            stage=self.name,
            service_version=__version__,
            model_version=self.model_version,
            processed_at=datetime.now(UTC),
        )
        return next_record(
            **record.model_dump(exclude={"trace"}), trace=[*record.trace, entry], **section
        )
