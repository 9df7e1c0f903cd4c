"""The entity worker's own metrics; the common ones are `newsflow.runtime.batches.StageMetrics`."""

from prometheus_client import Counter, Histogram

from newsflow.core.records import EntityLabel
from newsflow.runtime.service import start_at_zero

ENTITIES = Counter(
    "newsflow_entities_entities_total", "Distinct entities found, by type.", ["label"]
)
MENTIONS_PER_ARTICLE = Histogram(
    "newsflow_entities_mentions_per_article",
    "Entity mentions found in one article.",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
)
MODEL_SECONDS = Histogram(
    "newsflow_entities_model_seconds",
    "Model time per article (its batch's tagging time divided among its articles).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

start_at_zero(ENTITIES, EntityLabel)
