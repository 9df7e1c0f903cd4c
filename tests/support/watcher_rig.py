"""A watcher of its own for a test: its folders under the test's temporary folder, its topics
on the test broker, and `newsflow watcher` started as a process."""

from __future__ import annotations

from pathlib import Path

from newsflow.core.settings import KafkaSettings
from tests.support.rigs import ServiceRig, service_rig


class WatcherRig(ServiceRig):
    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def processed_files(self) -> list[Path]:
        return sorted(p for p in self.processed.rglob("*") if p.is_file())

    def failed_files(self) -> list[Path]:
        return sorted(p for p in self.failed.rglob("*") if not p.name.endswith(".error.json"))

    def articles(self, count: int, settle: float = 0) -> list[dict]:
        return self.out("raw", count, settle, timeout=30)

    def dead_letters(self, count: int, settle: float = 0) -> list[dict]:
        return self.out("deadletter", count, settle, timeout=30)


def watcher_rig(tmp_path: Path, new_topic, kafka_settings: KafkaSettings) -> WatcherRig:
    (tmp_path / "inbox").mkdir()
    return service_rig(
        "watcher",
        tmp_path,
        new_topic,
        kafka_settings,
        {"raw": None, "deadletter": None},
        WatcherRig,
        inbox=str(tmp_path / "inbox"),
        processed_dir=str(tmp_path / "processed"),
        failed_dir=str(tmp_path / "failed"),
        state_dir=str(tmp_path / "state"),
        settle_seconds="0.5",
        rescan_seconds="2",
    )
