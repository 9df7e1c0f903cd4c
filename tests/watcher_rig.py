"""A watcher of its own for a test: its folders under the test's temporary folder, its topics
on the test broker, and `newsflow watcher` started as a process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsflow.settings import KafkaSettings

from conftest import free_port
from helpers import ServiceProcess, read_topic


@dataclass
class WatcherRig:
    root: Path
    env: dict[str, str]
    settings: KafkaSettings
    raw_topic: str
    deadletter_topic: str

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def service(self, prefix: tuple[str, ...] = ()) -> ServiceProcess:
        return ServiceProcess("watcher", self.env, self.root / "watcher.log", prefix)

    def processed_files(self) -> list[Path]:
        return sorted(p for p in self.processed.rglob("*") if p.is_file())

    def failed_files(self) -> list[Path]:
        return sorted(p for p in self.failed.rglob("*") if not p.name.endswith(".error.json"))

    def articles(self, count: int, settle: float = 0) -> list[dict]:
        return [v for _, v in read_topic(self.settings, self.raw_topic, count, settle=settle)]

    def dead_letters(self, count: int, settle: float = 0) -> list[dict]:
        found = read_topic(self.settings, self.deadletter_topic, count, settle=settle)
        return [v for _, v in found]


def watcher_rig(tmp_path: Path, new_topic, kafka_settings, kafka_bootstrap) -> WatcherRig:
    raw, dead = new_topic("raw"), new_topic("dead")
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NEWSFLOW_WATCHER_METRICS_PORT": str(free_port()),
        "NEWSFLOW_WATCHER_INBOX": str(tmp_path / "inbox"),
        "NEWSFLOW_WATCHER_PROCESSED_DIR": str(tmp_path / "processed"),
        "NEWSFLOW_WATCHER_FAILED_DIR": str(tmp_path / "failed"),
        "NEWSFLOW_WATCHER_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_WATCHER_SETTLE_SECONDS": "0.5",
        "NEWSFLOW_WATCHER_RESCAN_SECONDS": "2",
        "NEWSFLOW_WATCHER_RAW_TOPIC": raw,
        "NEWSFLOW_WATCHER_DEADLETTER_TOPIC": dead,
    }
    (tmp_path / "inbox").mkdir()
    return WatcherRig(tmp_path, env, kafka_settings, raw, dead)
