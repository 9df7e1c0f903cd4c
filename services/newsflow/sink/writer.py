"""Writing a batch so that one bad record cannot hold up the others: the batch in one
transaction, and only when the store refuses its data, record by record to find which."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from newsflow.core.records import EnrichedArticle

from .exceptions import RecordRejected
from .rows import Written
from .stores import Store

log = logging.getLogger(__name__)


@dataclass
class WriteOutcome:
    written: Written = field(default_factory=Written)
    rejected: dict[int, str] = field(default_factory=dict)  # index in the batch -> why


def write_batch(store: Store, articles: Sequence[EnrichedArticle]) -> WriteOutcome:
    """Upsert the batch; StoreUnavailable propagates (the caller retries the whole batch)."""
    if not articles:
        return WriteOutcome()
    try:
        return WriteOutcome(written=store.upsert(articles))
    except RecordRejected as error:
        log.warning(
            "the store refused a batch of %d (%s); writing one by one", len(articles), error
        )
    outcome = WriteOutcome()
    for index, article in enumerate(articles):
        try:
            outcome.written.add(store.upsert([article]))
        except RecordRejected as error:
            outcome.rejected[index] = str(error)
    return outcome
