"""`make up` runs every service there is: the Procfile and its settings follow the CLI;
`make up OBSERVE=1` adds Prometheus with the local scrape config."""

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from newsflow.cli.main import SERVICE_COMMANDS
from newsflow.cli.status import StatusSettings, with_local_instances
from tests.support.helpers import wait_for
from tests.support.local import free_port, load_script

LOCAL = Path(__file__).resolve().parents[2] / "deploy/local"


def procfile() -> dict[str, str]:
    lines = (LOCAL / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_make_up_starts_every_service():
    assert sorted(procfile()) == sorted(SERVICE_COMMANDS)


def test_each_process_runs_its_own_service():
    for name, command in procfile().items():
        assert command == f"exec newsflow {name}", "exec: honcho's signals reach the service"


def test_local_settings_keep_state_out_of_the_repository_tree():
    settings = dict(
        line.split("=", 1)
        for line in (LOCAL / "local.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name, value in settings.items():
        if name.endswith(("_DIR", "_INBOX")):
            assert value.startswith(("./data/", "./inbox")), f"{name}={value}: git-ignored?"


def test_observed_make_up_runs_prometheus_with_the_local_config_and_the_rules(tmp_path):
    """`make up OBSERVE=1` starts Debian's prometheus through deploy/local/prometheus.sh: it
    scrapes every service at its loopback port, has the rules loaded, and stops again."""
    script = LOCAL / "prometheus.sh"
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_PORT": str(port),
        "PROMETHEUS_DATA": str(tmp_path / "data"),
        "PROMETHEUS_RUN_DIR": str(tmp_path / "run"),
    }
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=60)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"prometheus ready on http://127.0.0.1:{port}" in started.stdout
        api = f"http://127.0.0.1:{port}/api/v1"

        def scraped() -> set[tuple[str, str]]:
            with urllib.request.urlopen(f"{api}/targets", timeout=10) as answer:
                targets = json.load(answer)["data"]["activeTargets"]
            return {
                (t["labels"]["service"], t["scrapeUrl"])
                for t in targets
                if t["labels"]["job"] == "newsflow"
            }

        # Every service's first instance (further ones are in the file `make up` writes).
        expected = {
            (service, f"http://127.0.0.1:{service_port}/metrics")
            for service, service_port in StatusSettings().ports().items()
        }
        # Targets appear once the first discovery has run, a moment after ready.
        wait_for(lambda: expected <= scraped(), 30, "Prometheus's targets")
        with urllib.request.urlopen(f"{api}/rules", timeout=10) as answer:
            groups = {group["name"] for group in json.load(answer)["data"]["groups"]}
        assert {"newsflow-rates", "newsflow-latency", "newsflow-alerts"} <= groups
        pid = int((tmp_path / "run/prometheus.pid").read_text())
    finally:
        stopped = subprocess.run(
            [script, "stop"], env=env, capture_output=True, text=True, timeout=60
        )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not (tmp_path / "run/prometheus.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def load_instances():
    return load_script(LOCAL / "instances.py")


def test_make_up_starts_each_model_worker_once_per_core_up_to_its_partitions():
    instances = load_instances()
    assert instances.instances() == min(os.cpu_count(), instances.PARTITIONS)
    assert instances.instances("3") == 3
    assert instances.instances("64") == instances.PARTITIONS  # more would idle
    with pytest.raises(ValueError, match="WORKER_INSTANCES=0"):
        instances.instances("0")


def test_further_instances_have_their_own_port_and_state_and_are_scraped(tmp_path):
    instances = load_instances()
    base = (LOCAL / "Procfile").read_text()
    lines = instances.procfile(base, 3).splitlines()
    processes = dict(line.split(": ", 1) for line in lines)
    assert sorted(processes) == sorted(
        [*SERVICE_COMMANDS, "entities-2", "entities-3", "stance-2", "stance-3"]
    )
    ports = set(StatusSettings().ports().values())
    state_dirs = set()
    for name in ("entities-2", "entities-3", "stance-2", "stance-3"):
        service = name.split("-")[0]
        settings = dict(word.split("=", 1) for word in processes[name].split() if "=" in word)
        prefix = f"NEWSFLOW_{service.upper()}_"
        assert processes[name].endswith(f"exec newsflow {service}")
        ports.add(int(settings[prefix + "METRICS_PORT"]))
        state_dirs.add(settings[prefix + "STATE_DIR"])
    assert len(ports) == len(SERVICE_COMMANDS) + 4 and len(state_dirs) == 4
    targets = instances.scrape_targets(3)
    assert sorted(t["labels"]["service"] for t in targets) == ["entities"] * 2 + ["stance"] * 2
    assert {int(t["targets"][0].rpartition(":")[2]) for t in targets} <= ports
    # ... and `newsflow status` lists them from what make up wrote for Prometheus.
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    listed = with_local_instances(StatusSettings().ports(), tmp_path / "targets.json")
    for name in ("entities-2", "entities-3", "stance-2", "stance-3"):
        service = name.split("-")[0]
        port = dict(w.split("=", 1) for w in processes[name].split() if "=" in w)[
            f"NEWSFLOW_{service.upper()}_METRICS_PORT"
        ]
        assert listed[name] == int(port)
    # Prometheus reads them from the file `make up` writes.
    config = (LOCAL.parent / "prometheus/prometheus.local.yml").read_text()
    assert "../../.run/prometheus-instances.json" in config
