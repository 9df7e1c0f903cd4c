"""The sink's Prometheus metrics: `newsflow_sink_<what>_<unit>`."""

from prometheus_client import Counter, Gauge, Histogram

from newsflow.core.records import UNREADABLE_RECORD, DeadLetterReason
from newsflow.runtime.service import start_at_zero

RECORDS_IN = Counter("newsflow_sink_records_in_total", "Records consumed from articles.enriched.")
ARTICLES_WRITTEN = Counter(
    "newsflow_sink_articles_written_total",
    "Articles upserted into the store (a redelivered article counts again; the store keeps "
    "one row).",
)
ROWS_WRITTEN = Counter(
    "newsflow_sink_rows_written_total",
    "Rows written, by table (articles, entities, stances; jsonl: lines).",
    ["table"],
)
DEAD_LETTERS = Counter(
    "newsflow_sink_dead_letters_total",
    "Records sent to the dead-letter topic, by reason.",
    ["reason"],
)
start_at_zero(DEAD_LETTERS, [*UNREADABLE_RECORD, DeadLetterReason.STORE_REJECTED])
STORE_ERRORS = Counter(
    "newsflow_sink_store_errors_total",
    "Failed attempts at the store, by kind (unavailable: retried; rejected: a record refused).",
    ["kind"],
)
KAFKA_ERRORS = Counter(
    "newsflow_sink_kafka_errors_total",
    "Failed dead-letter sends and offset commits (the records are delivered again).",
    ["operation"],
)
STORE_UP = Gauge("newsflow_sink_store_up", "1 while the store answers, 0 while it does not.")
BATCH_SIZE = Histogram(
    "newsflow_sink_batch_size_records",
    "Records in one batch written to the store.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
COMMIT_SECONDS = Histogram(
    "newsflow_sink_commit_seconds",
    "Time to write one batch to the store and make it durable (one transaction).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROCESSING_SECONDS = Histogram(
    "newsflow_sink_processing_seconds",
    "Time per record: its batch's decode, write and offset commit divided among its records.",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
END_TO_END_SECONDS = Histogram(
    "newsflow_sink_end_to_end_latency_seconds",
    "From the article's file first seen by the watcher to its row committed in the store.",
    buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
