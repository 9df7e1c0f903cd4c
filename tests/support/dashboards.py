"""Reading the Grafana dashboards and the metrics the services export: shared by the
dashboard structure test and the test that runs every panel's query against Prometheus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.local import load_script

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy/grafana/dashboards"
GENERATOR = REPO / "deploy/grafana/generate.py"
DATASOURCE_UID = "newsflow-prometheus"

# Series Prometheus makes itself, not the services.
PROMETHEUS_SERIES = frozenset({"up"})

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTED_NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")
_NAME_PATTERN = re.compile(r'__name__\s*=~\s*"([^"]+)"')
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "offset"})


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel_id: int
    panel: str
    ref: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} #{self.panel_id} {self.panel!r} [{self.ref}]"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def walk(items):
        for item in items:
            yield item
            yield from walk(item.get("panels", []))

    yield from walk(dashboard.get("panels", []))


def queries() -> list[Query]:
    found = []
    for path in dashboard_files():
        dashboard = load(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found.append(
                    Query(
                        dashboard["uid"],
                        panel["id"],
                        panel["title"],
                        target["refId"],
                        target["expr"],
                    )
                )
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (not the `__name__` patterns)."""
    bare = _QUOTED.sub('""', expr)
    return {name for name in _SELECTED_NAME.findall(bare) if name not in _KEYWORDS}


def name_patterns(expr: str) -> list[str]:
    return _NAME_PATTERN.findall(expr)


_EXPORTED_SCRIPT = r"""
import importlib, json
from prometheus_client import REGISTRY
from newsflow.cli.main import SERVICES
from newsflow.runtime.batches import StageMetrics
import newsflow.runtime.service
from newsflow.runtime.lag import LagMonitor
from newsflow.core.settings import KafkaSettings

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "gauge": ("",),
}
for name, target in SERVICES.items():
    module = importlib.import_module(target.split(":")[0])
    package = target.split(".")[0]
    try:
        importlib.import_module(package + ".metrics")
    except ModuleNotFoundError:
        pass
    if getattr(module, "StageMetrics", None) is StageMetrics:
        StageMetrics(name)
lag = LagMonitor(KafkaSettings(), "g", registry=None)
families = list(REGISTRY.collect()) + list(lag.collect())
names = sorted(
    family.name + suffix
    for family in families
    for suffix in SUFFIXES.get(family.type, ("",))
)
print(json.dumps(names))
"""


@cache
def exported_metrics() -> frozenset[str]:
    """Every metric name the services in SERVICES export, read from their code: each
    service's modules and metrics module imported, the shared worker metrics created for
    each Faust worker, plus the runtime's and the lag monitor's. In a fresh interpreter, so
    the test process's own registry does not leak in."""
    done = subprocess.run(
        [sys.executable, "-c", _EXPORTED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, f"could not list the exported metrics:\n{done.stderr[-3000:]}"
    return frozenset(json.loads(done.stdout))


def load_generator():
    return load_script(GENERATOR, "grafana_generate")
