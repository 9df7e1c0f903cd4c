"""Noticing files in the inbox: inotify events through watchdog (polling where inotify is
unavailable), a scan at start and every `rescan_seconds` for anything an event missed, and a
settle period so that only complete files are handed on.

Temporary names (`*.tmp`, `*.part`, `*.crdownload`, dot-files and dot-folders) are ignored
until they are renamed; a rename is an event like any other.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

TEMPORARY_SUFFIXES = (".tmp", ".part", ".crdownload", ".download", ".partial", ".swp")


def is_temporary(relative: Path) -> bool:
    """A name that says the file is still being written (or is hidden on purpose)."""
    return relative.name.lower().endswith(TEMPORARY_SUFFIXES) or any(
        part.startswith(".") for part in relative.parts
    )


@dataclass(frozen=True)
class SettledFile:
    path: Path
    relative: str  # how records and dead letters name the file: its path inside the inbox
    first_seen_at: datetime
    # Found by a scan rather than an event: it may be left over from a run that sent it.
    found_by_scan: bool


@dataclass
class _Watched:
    size: int
    mtime_ns: int
    unchanged_since: float
    first_seen_at: datetime
    found_by_scan: bool


class _Notify(FileSystemEventHandler):
    def __init__(self, noticed: queue.SimpleQueue) -> None:
        self._noticed = noticed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            # Only a folder that appears needs a look inside; a folder "modified" is just a
            # file added to it, which has its own event (scanning then would cost O(n^2)).
            if event.event_type in ("created", "moved"):
                self._noticed.put((os.fsdecode(_target(event)), True))
        elif event.event_type in ("created", "modified", "moved", "closed"):
            self._noticed.put((os.fsdecode(_target(event)), False))


def _target(event: FileSystemEvent) -> bytes | str:
    return event.dest_path if event.event_type == "moved" else event.src_path


class Inbox:
    def __init__(
        self,
        root: Path,
        settle_seconds: float,
        rescan_seconds: float = 30.0,
        force_polling: bool = False,
    ) -> None:
        self.root = root.resolve()
        self._settle = settle_seconds
        self._rescan_every = rescan_seconds
        self._force_polling = force_polling
        self._noticed: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        self._watched: dict[Path, _Watched] = {}
        self._claimed: set[Path] = set()
        self._next_scan = 0.0
        self._observer: Observer | PollingObserver | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handler = _Notify(self._noticed)
        if not self._force_polling:
            try:
                self._observer = Observer()
                self._observer.schedule(handler, str(self.root), recursive=True)
                self._observer.start()
            except OSError as error:  # e.g. the inotify watch limit is exhausted
                log.warning("inotify unavailable (%s); polling the inbox instead", error)
                self._observer = None
        if self._observer is None:
            self._observer = PollingObserver(timeout=1.0)
            self._observer.schedule(handler, str(self.root), recursive=True)
            self._observer.start()
        self._scan(self.root)  # files that arrived while the watcher was down

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    # --- what the service asks -----------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Files noticed and not yet handed on: what waits in the inbox."""
        return len(self._watched)

    def settled(self, limit: int) -> list[SettledFile]:
        """Up to `limit` files that have not changed for the settle period; they stay claimed
        (never handed on twice) until `release`."""
        self._take_notices()
        now = time.monotonic()
        if now >= self._next_scan:
            self._scan(self.root)
            self._next_scan = now + self._rescan_every
        ready: list[SettledFile] = []
        for path, watched in list(self._watched.items()):
            if len(ready) >= limit:
                break
            if now - watched.unchanged_since < self._settle:
                continue  # not due for a look yet: a stat per file per loop adds up
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                del self._watched[path]  # taken back before it settled: nothing to do
                continue
            if (info.st_size, info.st_mtime_ns) != (watched.size, watched.mtime_ns):
                watched.size, watched.mtime_ns = info.st_size, info.st_mtime_ns
                watched.unchanged_since = now
            else:
                del self._watched[path]
                self._claimed.add(path)
                relative = path.relative_to(self.root).as_posix()
                ready.append(
                    SettledFile(path, relative, watched.first_seen_at, watched.found_by_scan)
                )
        return ready

    def release(self, path: Path) -> None:
        """The file was dealt with (or will be retried by a later scan if it is still here)."""
        self._claimed.discard(path)

    # --- noticing ----------------------------------------------------------------------------

    def _take_notices(self) -> None:
        while True:
            try:
                name, is_directory = self._noticed.get_nowait()
            except queue.Empty:
                return
            path = Path(name)
            if is_directory:
                self._scan(path)  # a folder moved in arrives as one event for all its files
            else:
                self._notice(path, found_by_scan=False)

    def _scan(self, folder: Path) -> None:
        for directory, subfolders, files in os.walk(folder):  # never follows linked folders
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            for name in files:
                self._notice(Path(directory, name), found_by_scan=True)
            for name in subfolders:
                # A link to a folder is listed as a folder but never entered: quarantine it.
                if os.path.islink(os.path.join(directory, name)):
                    self._notice(Path(directory, name), found_by_scan=True)

    def _notice(self, path: Path, found_by_scan: bool) -> None:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return
        if path in self._claimed or path in self._watched or is_temporary(relative):
            return
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            return
        self._watched[path] = _Watched(
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            unchanged_since=time.monotonic(),
            first_seen_at=datetime.now(UTC),
            found_by_scan=found_by_scan,
        )
