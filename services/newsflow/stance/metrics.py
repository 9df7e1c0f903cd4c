"""The stance worker's own metrics; the common ones are `newsflow.runtime.batches.StageMetrics`."""

from prometheus_client import Counter, Gauge, Histogram

from newsflow.core.records import ClaimSource, StanceLabel
from newsflow.runtime.service import start_at_zero

LABELS = Counter(
    "newsflow_stance_labels_total",
    "Stance labels given, by where the claim came from and label.",
    ["source", "label"],
)
PROBABILITY = Histogram(
    "newsflow_stance_probability_ratio",
    "Probability of the label given, by label: how sure the model was.",
    ["label"],
    buckets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
MODEL_SECONDS = Histogram(
    "newsflow_stance_model_seconds",
    "Model time per article (features and both stages, for all of its claims).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
CLAIMS_PER_ARTICLE = Histogram(
    "newsflow_stance_claims_per_article",
    "Claims an article was labelled against.",
    buckets=(1, 2, 3, 5, 10, 20, 50, 100),
)
CLAIMS_LOADED = Gauge(
    "newsflow_stance_claims_loaded", "Claims from the claims file currently in force."
)
CLAIMS_RELOADS = Counter(
    "newsflow_stance_claims_reloads_total", "Times the claims file was read successfully."
)
CLAIMS_FILE_ERRORS = Counter(
    "newsflow_stance_claims_file_errors_total",
    "Times the claims file was missing, unreadable or malformed (the previous claims stayed).",
)
CLAIMS_FILE_OK = Gauge(
    "newsflow_stance_claims_file_ok",
    "1 when the claims file was read successfully on the last change, 0 when it was not.",
)

start_at_zero(LABELS, ClaimSource, StanceLabel)
start_at_zero(PROBABILITY, StanceLabel)
