"""What every service runs inside: JSON logs, one HTTP port with /metrics, /healthz and
/readyz, and signal handling that asks the service to drain rather than die.

Signal handlers only set a flag; the service's own loop notices it, finishes the work in
hand, commits, flushes and returns, and the resources opened here close in reverse order.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Info,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

from newsflow import __version__
from newsflow.core.redaction import redacted
from newsflow.core.settings import ServiceSettings
from newsflow.runtime import logs
from newsflow.runtime.lag import LagMonitor

log = logging.getLogger(__name__)


class PortInUseError(Exception):
    """The service's metrics and health port is taken by another program."""


class Health:
    """Liveness and readiness as the service reports them.

    Live: the service's main loop has beaten within `stall_after_seconds` (a stuck loop is
    restarted by the orchestrator). Ready: the service said so and has not taken it back
    (e.g. the broker or store is unreachable).
    """

    def __init__(self, stall_after_seconds: float = 120.0) -> None:
        self._lock = threading.Lock()
        self._ready = False
        self._why_not_ready = "starting"
        self._last_beat = time.monotonic()
        self._stall_after = stall_after_seconds

    def beat(self) -> None:
        with self._lock:
            self._last_beat = time.monotonic()

    def set_ready(self) -> None:
        with self._lock:
            self._ready, self._why_not_ready = True, ""

    def set_not_ready(self, why: str) -> None:
        # /readyz answers anyone who can reach the port: no credentials in the reason.
        with self._lock:
            self._ready, self._why_not_ready = False, redacted(why)

    def silent_seconds(self) -> float:
        """How long since the main loop last beat."""
        with self._lock:
            return time.monotonic() - self._last_beat

    def liveness(self) -> tuple[bool, str]:
        silent_for = self.silent_seconds()
        if silent_for > self._stall_after:
            return False, f"main loop silent for {silent_for:.0f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        with self._lock:
            return self._ready, self._why_not_ready or "ok"


def start_at_zero(metric: MetricWrapperBase, *label_values: Iterable[str]) -> None:
    """Creates a labelled metric's series for every combination of the given label values,
    at zero. rate() and increase() see only what changes between two scrapes, so a series
    born with its first observation hides it; labels from a fixed list need not wait."""
    for values in itertools.product(*label_values):
        metric.labels(*values)


LAST_ERROR_AT = Gauge(
    "newsflow_last_error_timestamp_seconds",
    "When the service last logged an error (Unix time), by the module that logged it.",
    ["logger"],
)
ERROR_MESSAGE_CHARS = 300


class LastError(logging.Handler):
    """Remembers the last ERROR the service logged, for /healthz, /readyz and
    `newsflow status`, and stamps its time on `newsflow_last_error_timestamp_seconds`."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._last: dict[str, object] | None = None
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the error itself
            message = str(record.msg)
        LAST_ERROR_AT.labels(record.name).set(record.created)
        with self._guard:
            self._last = {
                "at": record.created,
                "logger": record.name,
                "message": redacted(message)[:ERROR_MESSAGE_CHARS],
            }

    def last(self) -> dict[str, object] | None:
        with self._guard:
            return dict(self._last) if self._last else None


LAST_ERROR = LastError()


def track_errors() -> None:
    """Keep the last logged error (call after `logs.configure`, which resets the handlers)."""
    root = logging.getLogger()
    if LAST_ERROR not in root.handlers:
        root.addHandler(LAST_ERROR)


class StatusServer:
    """Serves /metrics, /healthz and /readyz on one port, in a background thread."""

    def __init__(
        self, host: str, port: int, health: Health, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.health = health
        handler = _handler_for(health, registry)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use: another service or program is "
                    "listening there; stop it or choose another port with the service's "
                    "METRICS_PORT setting"
                ) from None
            raise
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="status-server", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(health: Health, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif self.path in ("/healthz", "/readyz"):
                ok, why = health.liveness() if self.path == "/healthz" else health.readiness()
                answer = {
                    "status": "ok" if ok else "fail",
                    "detail": why,
                    "last_error": LAST_ERROR.last(),
                }
                body = json.dumps(answer).encode()
                self._send(200 if ok else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the service's own log

    return Handler


class StopRequest:
    """The flag a signal handler sets and the main loop reads.

    Not a `threading.Event`: a handler runs on the main thread between two bytecodes, and if
    that thread is inside `Event.wait` holding the event's lock, `Event.set` in the handler
    deadlocks. Assigning an attribute is safe; waiting is sleeping in short steps.
    """

    STEP_SECONDS = 0.05

    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True

    def is_set(self) -> bool:
        return self.requested

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, less if a stop is requested; True when it is."""
        deadline = time.monotonic() + timeout
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, self.STEP_SECONDS))
        return self.requested


@dataclass
class Runtime:
    """Handed to a service's main loop: its health to report and the flag to drain on."""

    health: Health
    stopping: StopRequest
    status_port: int
    lag: LagMonitor | None = None  # of the service's consumer group, when it has one


@contextmanager
def signals_set(stopping: StopRequest) -> Iterator[None]:
    """SIGTERM and SIGINT set `stopping`; the previous handlers come back afterwards."""

    def request_stop(_signum: int, _frame: object) -> None:
        stopping.set()  # only that: the loop notices, logs and drains

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def serving(settings: ServiceSettings, lag: LagMonitor | None = None) -> Iterator[StatusServer]:
    """What every service runs inside: JSON logs, its last error and its version on /metrics,
    the status server (/metrics, /healthz, /readyz; its `health`), and the lag of its
    consumer group when it has one."""
    logs.configure(settings.service_name, settings.log_level)
    track_errors()
    Info(f"newsflow_{settings.service_name}_build", "Version of the running service.").info(
        {"version": __version__}
    )
    with ExitStack() as resources:
        server = resources.enter_context(
            StatusServer(settings.metrics_host, settings.metrics_port, Health())
        )
        if lag is not None:
            resources.enter_context(lag)
        log.info(
            "%s %s serving /metrics, /healthz, /readyz on %s:%d",
            settings.service_name,
            __version__,
            settings.metrics_host,
            server.port,
        )
        yield server


@contextmanager
def service_runtime(
    settings: ServiceSettings, input_topics: Iterable[str] = ()
) -> Iterator[Runtime]:
    """`serving`, and signal handling, around a kafka-python service's loop.

    A service whose settings name a consumer group (`group_id`) also exports that group's
    lag per partition (`newsflow_consumer_lag_records`) on `input_topics`, from the start:
    before its first commit, a group lags by everything on them."""
    group = getattr(settings, "group_id", None)
    lag = LagMonitor(settings.kafka, group, input_topics, watch_unheld=True) if group else None
    stopping = StopRequest()
    with serving(settings, lag) as server, signals_set(stopping):
        yield Runtime(health=server.health, stopping=stopping, status_port=server.port, lag=lag)
        log.info("%s stopped", settings.service_name)
