"""The Prometheus configuration as Prometheus itself reads it: promtool checks both scrape
configs and the rules, and runs the alerts' unit tests (series that must and must not fire).

promtool comes with Debian's `prometheus` package, which CI installs (.ci/run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy/prometheus"


def promtool(*arguments: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is not installed: `apt-get install prometheus` (Debian's package has "
            "promtool; .ci/run installs it)"
        )
    return subprocess.run(
        [binary, *arguments], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_scrape_configs_are_valid(config):
    check(promtool("check", "config", config))


def test_rules_are_valid():
    rules = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("rules/*.yml"))
    assert rules, f"no rule files in {PROMETHEUS_DIR}/rules"
    check(promtool("check", "rules", *rules))


def test_alerts_fire_when_they_should_and_only_then():
    tests = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("tests/*.yml"))
    assert tests, f"no rule unit tests in {PROMETHEUS_DIR}/tests"
    check(promtool("test", "rules", *tests))


def test_every_alert_has_a_unit_test():
    import yaml

    alerts = {
        rule["alert"]
        for path in PROMETHEUS_DIR.glob("rules/*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in PROMETHEUS_DIR.glob("tests/*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - tested == set(), f"alerts never shown to fire in a unit test: {alerts - tested}"
