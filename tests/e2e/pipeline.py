"""The whole pipeline on this machine: its own broker (deploy/kafka/localkafka.py, on free
ports, under the run's folder), the topics, and every service in SERVICES as its own
process with its own settings, which the harness can stop, kill and restart.

The stages and what they add follow SERVICES, so the harness is right with whichever
services exist. With `instances` above 1, every worker and the sink run that many processes
in their consumer group (`dedup`, `dedup-2`, ...), each with its own state and port."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from newsflow.cli.main import SERVICES
from newsflow.core.settings import KafkaSettings
from tests.support.local import free_port, load_script

from . import store
from .corpus import MAX_FILE_BYTES

REPO = Path(__file__).resolve().parents[2]
DRAIN_SECONDS = 30  # every service's drain timeout (grace period after SIGTERM)
log = logging.getLogger("e2e")


@dataclass(frozen=True)
class Stage:
    """A worker between two topics: its consumer group, what it reads, the section it adds."""

    service: str
    group: str
    reads: str
    section: str | None


# The chain in pipeline order; a stage is part of a run when its service exists.
WORKERS = (
    Stage("dedup", "newsflow-dedup", "articles.raw", "dedup"),
    Stage("entities", "newsflow-entities", "articles.deduped", "entities"),
    Stage("stance", "newsflow-stance", "articles.tagged", "stance"),
    Stage("sink", "newsflow-sink", "articles.enriched", None),
)


def stages() -> list[Stage]:
    return [stage for stage in WORKERS if stage.service in SERVICES]


def expected_sections() -> list[str]:
    """The sections every stored record must carry: one per worker that exists."""
    return [stage.section for stage in WORKERS if stage.section and stage.service in SERVICES]


def _local_kafka_module():
    return load_script("deploy/kafka/localkafka.py")


def memory_bytes(pid: int, field: str) -> int | None:
    """A memory figure of a running process from /proc (`VmRSS`: resident now, `VmHWM`: its
    peak), or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


class Service:
    """`newsflow <command>` as its own process, logging to a file, restartable. `name` tells
    instances of one command apart (`sink`, `sink-2`)."""

    def __init__(
        self, name: str, env: dict[str, str], log_path: Path, prefix=(), command: str = ""
    ) -> None:
        self.name = name
        self.command = command or name
        self.env = env
        self.log_path = log_path
        self.prefix = tuple(prefix)
        self.port = int(env[f"NEWSFLOW_{self.command.upper()}_METRICS_PORT"])
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.draining = False  # stopped on purpose by the chaos controller, restarted by it

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "newsflow.cli", self.command],
                env=self.env,
                cwd=REPO,  # the models are found relative to the repository
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def http(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                return r.read().decode()
        except OSError:
            return ""

    def records_in(self) -> float:
        """Records this instance has taken from its topic (its `records_in_total`)."""
        name = f"newsflow_{self.command}_records_in_total "
        return sum(
            float(line.split()[-1]) for line in self.metrics().splitlines() if line.startswith(name)
        )

    def signal(self, sig: int) -> None:
        if self.running():
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(30)

    def rss_bytes(self) -> int | None:
        """Resident memory now (the watcher's setpriv execs it, so the pid is the service's)."""
        if not self.running():
            return None
        return memory_bytes(self.process.pid, "VmRSS")


class MemoryWatch:
    """Peak resident memory of every service over a run, sampled twice a second (a restarted
    service continues its name's peak)."""

    def __init__(self, services: dict[str, Service]) -> None:
        self.services = services
        self.peaks: dict[str, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="memory", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(0.5):
            for name, service in list(self.services.items()):
                rss = service.rss_bytes()
                if rss is not None and rss > self.peaks.get(name, 0):
                    self.peaks[name] = rss

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self.thread.join()
        return dict(self.peaks)


class Pipeline:
    """A run's folder, broker and services. Everything lives under `root`."""

    def __init__(self, root: Path, store_url: str | None = None) -> None:
        self.root = root.absolute()
        self.inbox = self.root / "inbox"
        self.processed = self.root / "processed"
        self.failed = self.root / "failed"
        self.outside = self.root / "outside"  # targets of symbolic links, never read
        self.store_path = self.root / "store" / "newsflow.db"  # SQLite, unless `store_url`
        self.store_url = store_url or f"sqlite:///{self.store_path}"
        self.logs = self.root / "logs"
        for folder in (self.inbox, self.outside, self.logs, self.store_path.parent):
            folder.mkdir(parents=True, exist_ok=True)
        localkafka = _local_kafka_module()
        self.broker = localkafka.LocalKafka(
            home=self.root / "kafka", port=free_port(), controller_port=free_port()
        )
        self.settings = KafkaSettings(
            bootstrap_servers=self.broker.bootstrap_servers, client_id="newsflow-e2e"
        )
        self.services: dict[str, Service] = {}

    # The broker.

    def start_broker(self) -> None:
        self.broker.start(timeout=120)

    def stop_broker(self) -> None:
        self.broker.stop()

    def create_topics(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "newsflow.cli", "topics"],
            env=self._base_env(),
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # The broker answers the creation before its metadata lists the partitions; a
        # consumer that joins its group in between is assigned nothing until its next
        # metadata refresh (kafka-python: 5 minutes). Services start once they are listed.
        deadline = time.monotonic() + 60
        consumer = KafkaConsumer(**self.settings.kafka_python())
        try:
            while not all(consumer.partitions_for_topic(s.reads) for s in stages()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the topics were created but never listed by the broker")
                time.sleep(0.5)
                consumer.close()
                consumer = KafkaConsumer(**self.settings.kafka_python())
        finally:
            consumer.close()

    # The services.

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
        env["NEWSFLOW_KAFKA_CLIENT_ID"] = "newsflow-e2e"
        return env

    def service_env(self, name: str, instance: str = "") -> dict[str, str]:
        """`newsflow <name>`'s settings; `instance` (default: `name`) names its state folder."""
        instance = instance or name
        prefix = f"NEWSFLOW_{name.upper()}_"
        env = self._base_env()
        env[prefix + "METRICS_PORT"] = str(free_port())
        env[prefix + "DRAIN_TIMEOUT_SECONDS"] = str(DRAIN_SECONDS)
        if name == "watcher":
            env[prefix + "INBOX"] = str(self.inbox)
            env[prefix + "PROCESSED_DIR"] = str(self.processed)
            env[prefix + "FAILED_DIR"] = str(self.failed)
            env[prefix + "STATE_DIR"] = str(self.root / "state" / instance)
            env[prefix + "MAX_FILE_BYTES"] = str(MAX_FILE_BYTES)
            env[prefix + "SETTLE_SECONDS"] = "0.5"
        elif name == "sink":
            env[prefix + "STORE_URL"] = self.store_url
            env[prefix + "RETRY_MAX_SECONDS"] = "2"
        else:
            env[prefix + "STATE_DIR"] = str(self.root / "state" / instance)
        if name != "watcher":
            # A consumer that stopped fetching restarts itself after this long; the default
            # (120 s) is longer than a short run waits.
            env[prefix + "STALL_SECONDS"] = "45"
        return env

    def stall_restarts(self) -> dict[str, int]:
        """Services that restarted themselves in place because they had stalled, by name."""
        counts = {}
        for name, service in self.services.items():
            text = service.log_path.read_text(errors="replace") if service.log_path.exists() else ""
            if found := text.count("restarting in place"):
                counts[name] = found
        return counts

    def start_services(self, instances: int | dict[str, int] = 1) -> None:
        """Every service; `instances` of each but the watcher (one per inbox), or as many of
        each service as the dict says (one of those it does not name)."""
        for name in SERVICES:
            if isinstance(instances, dict):
                count = instances.get(name, 1)
            else:
                count = 1 if name == "watcher" else instances
            # As root the watcher would read files without permission; without these two
            # capabilities it obeys file permissions as a real deployment's user does.
            prefix = (
                ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
                if name == "watcher" and os.geteuid() == 0
                else ()
            )
            for number in range(1, 1 + count):
                instance = name if number == 1 else f"{name}-{number}"
                service = Service(
                    instance,
                    self.service_env(name, instance),
                    self.logs / f"{instance}.log",
                    prefix,
                    command=name,
                )
                self.services[instance] = service
                service.start()

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for service in self.services.values():
            while service.http("/readyz") != 200:
                if not service.running():
                    raise RuntimeError(
                        f"{service.name} exited with {service.process.returncode}; "
                        f"see {service.log_path}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service.name} not ready after {timeout:.0f}s")
                time.sleep(0.5)

    def stop_services(self, timeout: float = 60) -> dict[str, int | None]:
        """SIGTERM to every service at once; their exit codes (None: still running)."""
        for service in self.services.values():
            service.signal(signal.SIGTERM)
        codes = {name: service.wait(timeout) for name, service in self.services.items()}
        for service in self.services.values():
            if service.running():
                service.kill()
        return codes

    def close(self) -> None:
        for service in self.services.values():
            if service.running():
                service.kill()
        with contextlib.suppress(Exception):
            self.stop_broker()

    def check_alive(self) -> None:
        """Fail at once when a service exited by itself (a SIGKILL or SIGTERM from the chaos
        controller is not that: the controller restarts what it stopped)."""
        for service in self.services.values():
            code = service.process.poll() if service.process else None
            if code is not None and code != -signal.SIGKILL and not service.draining:
                tail = service.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service.name} exited by itself with {code}:\n{tail}")

    # Progress.

    def inbox_files(self) -> int:
        return sum(1 for path in self.inbox.rglob("*") if path.is_file() or path.is_symlink())

    def lag(self) -> dict[str, int]:
        """Records each stage has not committed yet, by service."""
        admin = KafkaAdminClient(**self.settings.kafka_python())
        consumer = KafkaConsumer(**self.settings.kafka_python())
        try:
            lags = {}
            for stage in stages():
                partitions = [
                    TopicPartition(stage.reads, p)
                    for p in consumer.partitions_for_topic(stage.reads) or ()
                ]
                ends = consumer.end_offsets(partitions)
                committed = admin.list_group_offsets(stage.group).get(stage.group, {})
                lags[stage.service] = sum(
                    ends[tp] - max(0, committed[tp].offset if tp in committed else 0)
                    for tp in partitions
                )
            return lags
        finally:
            consumer.close()
            admin.close()

    def stored_count(self) -> int:
        return store.count(self.store_url)

    def _progress(self, but: tuple[str, ...] = ()) -> tuple:
        """What idleness watches: inbox files, records left by stage (but those of `but`),
        articles stored."""
        lags = tuple(left for stage, left in self.lag().items() if stage not in but)
        return (self.inbox_files(), lags, self.stored_count())

    def idle_for(self, quiet: float) -> bool:
        """True when the inbox is empty, no stage has records left and nothing changed in
        the store for `quiet` seconds (measured across calls)."""
        try:
            state = self._progress()
        except KafkaError:
            return False
        now = time.monotonic()
        if state != getattr(self, "_idle_state", None):
            self._idle_state, self._idle_since = state, now
        return state[0] == 0 and not any(state[1]) and now - self._idle_since >= quiet

    def wait_idle(
        self, timeout: float, quiet: float = 6.0, also=lambda: True, but: tuple[str, ...] = ()
    ) -> float:
        """Until the inbox is empty, no stage (but those in `but`) has records left and
        nothing changed for `quiet` seconds. Returns the seconds it took."""
        started = time.monotonic()
        last, since = None, time.monotonic()
        while True:
            self.check_alive()
            try:
                state = self._progress(but)
            except KafkaError as error:
                state = ("kafka", str(error))
            idle = state[0] == 0 and not any(state[1]) and also()
            if state != last:
                last, since = state, time.monotonic()
            elif idle and time.monotonic() - since >= quiet:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"the pipeline was not idle after {timeout:.0f}s: inbox files, lag by "
                    f"stage, stored = {json.dumps(state, default=str)}"
                )
            time.sleep(1)
