"""Everything the dedup logic remembers, in mappings handed to it: plain dicts for the eval
and tests, Faust tables (changelog-backed) in the worker. Keys are strings and values are
JSON-serialisable; a value is always replaced whole, never mutated in place, because a table
only writes its changelog on assignment.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

# The value shapes, one per mapping (times are seconds since the epoch, by article time):
#
# articles     article_id -> {"time": float, "story_id": str, "story_lead_headline": str|None,
#                             "origin": str|None (the record that carried it first),
#                             "section": {...} (the dedup section it was given)}
#              every indexed article: answers "seen this exact text before?" and "is this
#              the same record again?". Keyed like the input topic, so it can be a table
#              partitioned like `articles.raw`.
# summaries    article_id -> {"time": float, "sequence": int (the order it was
#                             remembered in: the order of the index's lists),
#                             "copy_of": str|None, "story_id": str,
#                             "story_lead_headline": str|None, "shingles": str (base64 of
#                             sorted little-endian uint32), "minhash": str (base64 of
#                             big-endian uint32: the band keys), "terms": {term: weight}}
#              what verification and story matching need of an earlier article.
# lsh_buckets  "BB:hhhhhhhhhhhhhhhh" (band, 64-bit digest of its MinHash rows)
#              -> [article_id, ...] in the order remembered (`sequence`), capped
# story_terms  term -> [article_id, ...] in the order remembered, capped: the story index
# clock        "watermark" -> float (latest article time seen), "swept_at" -> float,
#              "sequence" -> int (the last article remembered)


@dataclass
class DedupState:
    """The five mappings of the dedup logic. See the module for their keys and values."""

    articles: MutableMapping[str, Any]
    summaries: MutableMapping[str, Any]
    lsh_buckets: MutableMapping[str, Any]
    story_terms: MutableMapping[str, Any]
    clock: MutableMapping[str, Any]

    NAMES = ("articles", "summaries", "lsh_buckets", "story_terms", "clock")

    @classmethod
    def in_memory(cls) -> DedupState:
        return cls(articles={}, summaries={}, lsh_buckets={}, story_terms={}, clock={})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The contents as plain dicts (what the tables' changelogs hold)."""
        return {name: dict(getattr(self, name).items()) for name in self.NAMES}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, dict[str, Any]]) -> DedupState:
        """State rebuilt from `snapshot()` output, e.g. after a JSON round trip."""
        return cls(**{name: dict(snapshot.get(name, {})) for name in cls.NAMES})

    def serialised_bytes(self) -> dict[str, int]:
        """Bytes of each mapping as JSON keys and values: what a table's store holds."""
        return {
            name: sum(
                len(key.encode("utf-8")) + len(json.dumps(value, separators=(",", ":")))
                for key, value in getattr(self, name).items()
            )
            for name in self.NAMES
        }
