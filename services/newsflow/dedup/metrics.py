"""The dedup worker's own metrics; the common ones are `newsflow.runtime.batches.StageMetrics`."""

from prometheus_client import Counter, Gauge, Histogram

from newsflow.core.records import DedupVerdict
from newsflow.runtime.service import start_at_zero

VERDICTS = Counter("newsflow_dedup_verdicts_total", "Articles by dedup verdict.", ["verdict"])
SIMILARITY = Histogram(
    "newsflow_dedup_similarity_ratio",
    "Similarity of near duplicates to the article they copy.",
    buckets=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0),
)
INDEXED = Gauge("newsflow_dedup_index_articles", "Articles in the near-duplicate index.")
EXPIRED = Counter("newsflow_dedup_expired_total", "Articles expired from the index.")
REDELIVERED = Counter(
    "newsflow_dedup_redelivered_total",
    "Records seen again after a restart, answered with their first verdict.",
)

start_at_zero(VERDICTS, DedupVerdict)
