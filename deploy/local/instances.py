"""How many processes of each service `make up` starts, and what that makes of the Procfile
and of Prometheus's targets.

The model workers (entities, stance) cost about a hundred times what the others do per
article, so they are where more cores help: `make up` starts as many instances of each as
the machine has cores (WORKER_INSTANCES overrides it), at most as many as their input
topics have partitions (a Kafka consumer group gives each partition to one member; more
members would idle). Each instance after the first has its own metrics port (the first's
plus 10 per instance) and state folder; they share the consumer group, so Kafka spreads the
partitions over them.

    python deploy/local/instances.py COUNT PROCFILE_OUT TARGETS_OUT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from newsflow.cli.status import StatusSettings
from newsflow.core.topics import DEDUPED, TAGGED

HERE = Path(__file__).resolve().parent
MODEL_WORKERS = ("entities", "stance")
PARTITIONS = min(DEDUPED.partitions, TAGGED.partitions)  # the model workers' input topics
PORT_STEP = 10


def instances(requested: str | None = None) -> int:
    """Instances of each model worker: `requested` (WORKER_INSTANCES) or the cores."""
    count = int(requested) if requested else (os.cpu_count() or 1)
    if count < 1:
        raise ValueError(f"WORKER_INSTANCES={requested}: at least 1")
    return min(count, PARTITIONS)


def extra(count: int) -> list[tuple[str, str, int]]:
    """(process name, service, metrics port) of every instance after the first."""
    first_ports = StatusSettings().ports()
    return [
        (f"{service}-{number}", service, first_ports[service] + PORT_STEP * (number - 1))
        for service in MODEL_WORKERS
        for number in range(2, count + 1)
    ]


def procfile(base: str, count: int) -> str:
    """The Procfile `make up` runs: `base` and the extra instances of the model workers."""
    lines = base.rstrip("\n").splitlines()
    for name, service, port in extra(count):
        prefix = f"NEWSFLOW_{service.upper()}_"
        lines.append(
            f"{name}: {prefix}METRICS_PORT={port} {prefix}STATE_DIR=./data/state/{name} "
            f"exec newsflow {service}"
        )
    return "\n".join(lines) + "\n"


def scrape_targets(count: int) -> list[dict]:
    """Prometheus file_sd targets of the extra instances (prometheus.local.yml reads them)."""
    return [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"service": service}}
        for _, service, port in extra(count)
    ]


def main(argv: list[str]) -> int:
    count_text, procfile_out, targets_out = argv
    count = instances(count_text or None)
    Path(procfile_out).write_text(procfile((HERE / "Procfile").read_text(), count))
    Path(targets_out).write_text(json.dumps(scrape_targets(count), indent=1) + "\n")
    print(f"{count} instance(s) of each of {', '.join(MODEL_WORKERS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
