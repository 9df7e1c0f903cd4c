"""`newsflow status`: the running pipeline in a terminal, from the services' own endpoints.

Each service is asked twice, a moment apart, for /metrics and once for /readyz; the table
says whether it answers (up), whether it is ready (and why not), how many records per second
it takes in, its consumer group's lag and the last error it logged. No Prometheus needed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow.core.settings import ENV_FILE

TIMEOUT_SECONDS = 2.0
LAG_METRIC = "newsflow_consumer_lag_records"
LAST_ERROR_METRIC = "newsflow_last_error_timestamp_seconds"
# Where `make up` lists the instances it started beyond each service's first, as scrape
# targets for Prometheus (deploy/local/instances.py).
LOCAL_INSTANCES = Path(".run/prometheus-instances.json")


class StatusSettings(BaseSettings):
    """Where the services listen: the same variables (and defaults) the services read, so
    `newsflow status` finds them wherever `.env` or the environment moved them."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", env_file=ENV_FILE, extra="ignore", frozen=True
    )

    # In pipeline order: the order of the table.
    watcher_metrics_port: int = Field(default=9101, ge=1, le=65535)
    dedup_metrics_port: int = Field(default=9102, ge=1, le=65535)
    entities_metrics_port: int = Field(default=9103, ge=1, le=65535)
    stance_metrics_port: int = Field(default=9104, ge=1, le=65535)
    sink_metrics_port: int = Field(default=9105, ge=1, le=65535)

    def ports(self) -> dict[str, int]:
        return {
            name.removesuffix("_metrics_port"): getattr(self, name)
            for name in type(self).model_fields
            if name.endswith("_metrics_port")
        }


def with_local_instances(ports: Mapping[str, int], path: Path = LOCAL_INSTANCES) -> dict[str, int]:
    """`ports` (service -> port) with the instances `make up` started beyond each service's
    first (`entities-2`, …) after it, in the pipeline's order; just `ports` where `make up`
    has not run."""
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))
        extra = [
            (group["labels"]["service"], int(target.rpartition(":")[2]))
            for group in groups
            for target in group["targets"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        extra = []
    found = {}
    for service, port in ports.items():
        found[service] = port
        numbered = [p for s, p in extra if s == service]
        found.update({f"{service}-{n}": p for n, p in enumerate(numbered, start=2)})
    return found


def service_of(instance: str) -> str:
    """`entities` for `entities-2`: the service an instance's metrics are named after."""
    name, _, number = instance.rpartition("-")
    return name if name and number.isdigit() else instance


@dataclass(frozen=True)
class Reading:
    """One service's endpoints at one moment."""

    up: bool
    samples: dict[str, float] = field(default_factory=dict)  # sample name -> sum over labels
    ready: bool = False
    ready_detail: str = ""
    last_error: dict | None = None
    error: str = ""  # why it is not up
    last_error_at: float | None = None  # newsflow_last_error_timestamp_seconds, latest


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    address: str
    up: bool
    ready: bool
    ready_detail: str
    records_per_second: float | None
    lag: float | None
    last_error: str

    @property
    def healthy(self) -> bool:
        return self.up and self.ready


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def parse_metrics(text: str) -> tuple[dict[str, float], float | None]:
    """Every sample summed over its label sets, and the latest last-error time."""
    samples: dict[str, float] = {}
    last_error_at = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == LAST_ERROR_METRIC:
                last_error_at = max(last_error_at or 0.0, sample.value)
                continue
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples, last_error_at


def _reason(error: OSError) -> str:
    reason = getattr(error, "reason", error)
    return getattr(reason, "strerror", None) or str(reason)


def read(host: str, port: int) -> Reading:
    base = f"http://{host}:{port}"
    try:
        code, text = _get(f"{base}/metrics")
    except OSError as error:
        return Reading(up=False, error=_reason(error))
    if code != 200:
        return Reading(up=False, error=f"/metrics answered HTTP {code}")
    try:
        samples, last_error_at = parse_metrics(text)
    except ValueError:
        return Reading(up=False, error="not a Prometheus endpoint on /metrics")
    try:
        code, body = _get(f"{base}/readyz")
        answer = json.loads(body)
    except (OSError, ValueError):
        detail = "no answer on /readyz"
        return Reading(up=True, samples=samples, ready_detail=detail, last_error_at=last_error_at)
    return Reading(
        up=True,
        samples=samples,
        ready=code == 200,
        ready_detail=str(answer.get("detail", "")),
        last_error=answer.get("last_error"),
        last_error_at=last_error_at,
    )


def throughput_counter(service: str, samples: Mapping[str, float]) -> str | None:
    """The counter of what comes into a service: records for the workers and the sink,
    acknowledged articles for the watcher (which reads files, not records)."""
    for name in (
        f"newsflow_{service}_records_in_total",
        f"newsflow_{service}_articles_sent_total",
    ):
        if name in samples:
            return name
    return None


def describe_error(reading: Reading, now: float) -> str:
    if reading.last_error:
        age = now - float(reading.last_error.get("at", now))
        return f"{format_age(age)} ago: {reading.last_error.get('message', '')}"
    if reading.last_error_at:
        return f"{format_age(now - reading.last_error_at)} ago"
    return "-"


def format_age(seconds: float) -> str:
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def summarise(
    service: str, address: str, before: Reading, after: Reading, elapsed: float, now: float
) -> ServiceStatus:
    rate = None
    counter = throughput_counter(service_of(service), after.samples)
    if before.up and after.up and counter and counter in before.samples and elapsed > 0:
        rate = max(after.samples[counter] - before.samples[counter], 0.0) / elapsed
    return ServiceStatus(
        service=service,
        address=address,
        up=after.up,
        ready=after.up and after.ready,
        ready_detail=after.ready_detail if after.up else after.error,
        records_per_second=rate,
        lag=after.samples.get(LAG_METRIC) if after.up else None,
        last_error=describe_error(after, now) if after.up else "-",
    )


def status(
    ports: Mapping[str, int], host: str = "127.0.0.1", interval: float = 1.0
) -> list[ServiceStatus]:
    """Every service's status, read in parallel: two scrapes `interval` seconds apart."""
    services = list(ports)
    with ThreadPoolExecutor(max(len(services), 1)) as pool:
        first = list(pool.map(lambda s: read(host, ports[s]), services))
        started = time.monotonic()
        time.sleep(interval)
        second = list(pool.map(lambda s: read(host, ports[s]), services))
        elapsed = time.monotonic() - started
    now = time.time()
    return [
        summarise(service, f"{host}:{ports[service]}", before, after, elapsed, now)
        for service, before, after in zip(services, first, second, strict=True)
    ]


def why_not(status: ServiceStatus) -> str:
    """What keeps a service from being up and ready, for the line under its row."""
    if not status.up:
        return f"not answering: {status.ready_detail}"
    if not status.ready:
        return f"not ready: {status.ready_detail or 'no reason given'}"
    return ""


def table(statuses: Iterable[ServiceStatus], width: int = 120) -> str:
    """One line per service (and under it, indented, why it is down or not ready), then how
    many are up and ready. Lines are cut at `width`."""
    statuses = list(statuses)
    header = ("service", "address", "up", "ready", "records/s", "lag", "last error")
    rows = [header]
    for s in statuses:
        rows.append(
            (
                s.service,
                s.address,
                "up" if s.up else "DOWN",
                "yes" if s.ready else "no",
                "-" if s.records_per_second is None else f"{s.records_per_second:.1f}",
                "-" if s.lag is None else f"{s.lag:.0f}",
                s.last_error,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    indent = " " * (widths[0] + 2)
    lines = []
    for row, status in zip(rows, [None, *statuses], strict=True):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]))
        if status is not None and (reason := why_not(status)):
            lines.append(indent + reason)
    healthy = sum(s.healthy for s in statuses)
    lines.append(f"{healthy} of {len(statuses)} services up and ready")
    return "\n".join(line if len(line) <= width else line[: width - 1] + "…" for line in lines)
