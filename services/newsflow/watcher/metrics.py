"""The watcher's Prometheus metrics: `newsflow_watcher_<what>_<unit>`."""

from prometheus_client import Counter, Gauge, Histogram

from newsflow.core.records import FILE_REASONS
from newsflow.runtime.service import start_at_zero

FILES_SEEN = Counter("newsflow_watcher_files_seen_total", "Settled files read from the inbox.")
FILES_SENT = Counter(
    "newsflow_watcher_files_sent_total", "Files whose articles Kafka acknowledged."
)
FILES_FAILED = Counter(
    "newsflow_watcher_files_failed_total", "Files moved to failed/, by reason.", ["reason"]
)
ARTICLES_SENT = Counter(
    "newsflow_watcher_articles_sent_total", "Article records acknowledged on articles.raw."
)
DEAD_LETTERS = Counter(
    "newsflow_watcher_dead_letters_total", "Dead letters acknowledged, by reason.", ["reason"]
)
start_at_zero(FILES_FAILED, FILE_REASONS)
start_at_zero(DEAD_LETTERS, FILE_REASONS)
BYTES_READ = Counter("newsflow_watcher_bytes_read_total", "Bytes read from article files.")
SEND_ERRORS = Counter(
    "newsflow_watcher_send_errors_total", "Records Kafka did not acknowledge (retried later)."
)
MOVE_ERRORS = Counter(
    "newsflow_watcher_move_errors_total", "Files that could not be moved out of the inbox."
)
RESENDS_AVOIDED = Counter(
    "newsflow_watcher_resends_avoided_total",
    "Files found in the ledger as already sent (a crash before the move), moved without resending.",
)
INBOX_BACKLOG = Gauge(
    "newsflow_watcher_inbox_backlog_files", "Files noticed in the inbox and not yet read."
)
IN_FLIGHT = Gauge(
    "newsflow_watcher_files_in_flight", "Files read and sent, waiting for acknowledgement."
)
PARSE_SECONDS = Histogram(
    "newsflow_watcher_parse_seconds",
    "Time to read and parse one file.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FILE_TO_ACK_SECONDS = Histogram(
    "newsflow_watcher_file_to_ack_seconds",
    "From the file first seen to all its records acknowledged (includes the settle period).",
    buckets=(0.5, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 120, 300),
)
OBSERVER_RESTARTS = Counter(
    "newsflow_watcher_observer_restarts_total",
    "Times the inbox observer's thread had stopped and was started again.",
)
PARSER_RESTARTS = Counter(
    "newsflow_watcher_parser_restarts_total",
    "Parser processes replaced: stopped past the time budget, or died, on a file.",
)
FILES_CHANGED_WHILE_SENT = Counter(
    "newsflow_watcher_files_changed_while_sent_total",
    "Files written to again while their records were being sent; sent again in full.",
)
