"""Noticing files in the inbox: inotify events (`inotify_watch.py`; watchdog's polling where
inotify is unavailable), a scan at start and every `rescan_seconds` for anything an event
missed, and only complete files handed on.

A file is complete at once when inotify says it was closed after writing (IN_CLOSE_WRITE)
or renamed into the inbox (IN_MOVED_TO) and the kernel says no process still has it open
for writing (a read lease is granted). Otherwise (polling, a network file system, a file of
another user, a file still open, one found by a scan) it is complete once unchanged for the
settle period.

Temporary names (`*.tmp`, `*.part`, `*.crdownload`, dot-files and dot-folders) are ignored
until they are renamed; a rename is an event like any other.

Folders are entered only `max_depth` deep and never through a link: a link to a folder, a
folder nested deeper, and a folder the watcher may not read are handed on as entries of
their own, to be quarantined (or, where even that is refused, reported once and left alone).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import queue
import stat
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.polling import PollingObserver

from . import metrics
from .files import shown_name
from .inotify_watch import InotifyWatch

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
    relative_path: PurePath  # its path inside the inbox, as the file system has it
    relative: str  # how records and dead letters name the file (see `files.shown_name`)
    first_seen_at: datetime
    # Found by a scan rather than an event: it may be left over from a run that sent it.
    found_by_scan: bool
    # A folder handed on as an entry of its own (too deep, or unreadable when scanned).
    is_folder: bool = False
    size_bytes: int = 0  # when it was last looked at


@dataclass
class _Watched:
    size: int
    mtime_ns: int
    unchanged_since: float
    first_seen_at: datetime
    found_by_scan: bool
    is_folder: bool


class _Polled(FileSystemEventHandler):
    """Notices from watchdog's polling, which sees a file's size change, never its close:
    only the settle period tells that a file is complete."""

    def __init__(self, noticed: queue.SimpleQueue) -> None:
        self._noticed = noticed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            # Only a folder that appears needs a look inside; a folder "modified" is just a
            # file added to it, which has its own event (scanning then would cost O(n^2)).
            if event.event_type in ("created", "moved"):
                self._noticed.put((os.fsdecode(_target(event)), True, False))
        elif event.event_type in ("created", "modified", "moved"):
            self._noticed.put((os.fsdecode(_target(event)), False, False))


def _target(event: FileSystemEvent) -> bytes | str:
    return event.dest_path if event.event_type == "moved" else event.src_path


class Inbox:
    def __init__(
        self,
        root: Path,
        settle_seconds: float,
        rescan_seconds: float = 30.0,
        force_polling: bool = False,
        max_depth: int = 32,
    ) -> None:
        self.root = root.resolve()
        self._max_depth = max_depth
        self._settle = settle_seconds
        self._rescan_every = rescan_seconds
        self._force_polling = force_polling
        self._noticed: queue.SimpleQueue[tuple[str, bool, bool]] = queue.SimpleQueue()
        self._watched: dict[Path, _Watched] = {}
        # Watched files an event says may be complete, in the order of the events: looked at
        # before the settle period is over (an ordered set).
        self._maybe_complete: dict[Path, None] = {}
        self._claimed: set[Path] = set()
        # Entries that could not be moved out, with their status then: left alone (not read
        # and reported again at every scan) until they change, e.g. their permissions.
        self._left_alone: dict[Path, tuple[int, ...]] = {}
        self._next_scan = 0.0
        self._observer: InotifyWatch | PollingObserver | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # What lies too deep is quarantined before the observer walks the tree.
        self._scan(self.root)
        self._start_observer()
        self._scan(self.root)  # files that arrived while the observer started

    def _start_observer(self) -> None:
        self._observer = None
        if not self._force_polling:
            try:
                self._observer = InotifyWatch(str(self.root), self._max_depth, self._noticed)
                self._observer.start()
            except OSError as error:  # e.g. the inotify watch limit is exhausted
                log.warning("inotify unavailable (%s); polling the inbox instead", error)
                self._observer = None
        if self._observer is None:
            # watchdog's polling walks the tree recursively (os.walk) at every poll; a tree a
            # thousand folders deep (before it is quarantined) would kill it. A path is at
            # most 4,096 bytes, so no walk goes deeper than about 2,048 folders.
            sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
            self._observer = PollingObserver(timeout=1.0)
            self._observer.schedule(_Polled(self._noticed), str(self.root), recursive=True)
            self._observer.start()

    def keep_listening(self) -> None:
        """Start the observer again if its thread died: until then only rescans find files."""
        if self._observer is not None and not self._observer.is_alive():
            log.error("the inbox observer stopped; starting it again")
            metrics.OBSERVER_RESTARTS.inc()
            self._observer.stop()
            self._start_observer()
            self._next_scan = 0.0

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
        """Up to `limit` complete files (see the module's docstring); they stay claimed
        (never handed on twice) until `release`."""
        self._take_notices()
        now = time.monotonic()
        if now >= self._next_scan:
            self._scan(self.root)
            self._next_scan = now + self._rescan_every
        ready: list[SettledFile] = []
        for path in list(self._maybe_complete):
            if len(ready) >= limit:
                return ready
            del self._maybe_complete[path]
            if (watched := self._watched.get(path)) is not None:
                self._look(path, watched, now, ready, closed=True)
        for path, watched in list(self._watched.items()):
            if len(ready) >= limit:
                break
            if now - watched.unchanged_since < self._settle:
                continue  # not due for a look yet: a stat per file per loop adds up
            self._look(path, watched, now, ready, closed=False)
        return ready

    def _look(
        self, path: Path, watched: _Watched, now: float, ready: list[SettledFile], closed: bool
    ) -> None:
        """Hand `path` on if it is complete: nobody has it open for writing and either an
        event said it was `closed` (or renamed in) or it has not changed for the settle
        period. Otherwise it stays watched: a writer's close is an event of its own."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            self._forget(path)  # taken back before it was complete: nothing to do
            return
        except OSError:
            # Its folder became unreadable: the folder is reported (once) at the rescan.
            self._forget(path)
            self._next_scan = now
            return
        if (info.st_size, info.st_mtime_ns) != (watched.size, watched.mtime_ns):
            watched.size, watched.mtime_ns = info.st_size, info.st_mtime_ns
            watched.unchanged_since = now
            if not closed:
                return
        writing = _open_for_writing(path)
        if writing:
            watched.unchanged_since = now  # a writer that paused: wait for it to close
            return
        if writing is None and now - watched.unchanged_since < self._settle:
            return  # the kernel cannot tell: the settle period decides
        self._forget(path)
        self._claimed.add(path)
        relative = path.relative_to(self.root)
        ready.append(
            SettledFile(
                path,
                relative,
                shown_name(relative),
                watched.first_seen_at,
                watched.found_by_scan,
                watched.is_folder,
                watched.size,
            )
        )

    def _forget(self, path: Path) -> None:
        del self._watched[path]
        self._maybe_complete.pop(path, None)

    def release(self, path: Path) -> None:
        """The file was dealt with (or will be retried by a later scan if it is still here)."""
        self._claimed.discard(path)

    def leave_alone(self, path: Path) -> None:
        """It could not be moved out: not handed on again until it changes."""
        self._claimed.discard(path)
        with contextlib.suppress(OSError):
            self._left_alone[path] = _status(os.lstat(path))

    def look_again(self, path: Path) -> None:
        """It changed while it was being sent: hand it on again once it settles."""
        self._claimed.discard(path)
        self._notice(path, found_by_scan=False)

    # --- noticing ----------------------------------------------------------------------------

    def _take_notices(self) -> None:
        while True:
            try:
                name, is_directory, may_be_complete = self._noticed.get_nowait()
            except queue.Empty:
                return
            path = Path(name)
            if is_directory:
                self._scan(path)  # a folder moved in arrives as one event for all its files
            else:
                self._notice(path, found_by_scan=False, may_be_complete=may_be_complete)

    def _scan(self, folder: Path) -> None:
        """Every file below `folder`, never through a link and at most `max_depth` deep.
        Iterative: a recursive walk fails on a tree a thousand folders deep."""
        try:
            depth = len(folder.relative_to(self.root).parts)
        except ValueError:
            return
        if depth and os.path.islink(folder):
            self._notice(folder, found_by_scan=True)  # a link to a folder, moved in
            return
        pending = [(folder, depth)]
        while pending:
            directory, depth = pending.pop()
            try:
                with os.scandir(directory) as entries:
                    listed = list(entries)
            except FileNotFoundError:
                continue
            except OSError:
                # Unreadable: handed on as an entry, so that it is reported.
                self._notice(directory, found_by_scan=True, as_entry=True)
                continue
            for entry in listed:
                path = Path(entry.path)
                if entry.name.startswith("."):
                    continue
                try:
                    is_folder = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_folder = False
                if not is_folder:
                    # Files, and links (to folders too): a link is quarantined, never followed.
                    self._notice(path, found_by_scan=True)
                elif depth + 1 >= self._max_depth:
                    self._notice(path, found_by_scan=True, as_entry=True)
                else:
                    pending.append((path, depth + 1))

    def _notice(
        self,
        path: Path,
        found_by_scan: bool,
        as_entry: bool = False,
        may_be_complete: bool = False,
    ) -> None:
        """Watch `path` until it is complete. A folder is watched only `as_entry` (too deep
        or unreadable); otherwise its files are noticed one by one."""
        if may_be_complete and path in self._watched:
            self._maybe_complete[path] = None  # e.g. created, then closed after writing
            return
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return
        if path in self._claimed or path in self._watched or is_temporary(relative):
            return
        if not as_entry and len(relative.parts) > self._max_depth:
            return  # inside a folder quarantined as too deep
        try:
            info = os.lstat(path)
        except OSError:
            return  # gone, or its folder unreadable (reported by the scan)
        if stat.S_ISDIR(info.st_mode) and not as_entry:
            return
        left_alone = self._left_alone.get(path)
        if left_alone is not None:
            if left_alone == _status(info):
                return
            del self._left_alone[path]
        self._watched[path] = _Watched(
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            unchanged_since=time.monotonic(),
            first_seen_at=datetime.now(UTC),
            found_by_scan=found_by_scan,
            is_folder=stat.S_ISDIR(info.st_mode),
        )
        if may_be_complete:
            self._maybe_complete[path] = None


def _open_for_writing(path: Path) -> bool | None:
    """Whether some process still has the file open for writing, as far as the kernel tells:
    a read lease is refused (EAGAIN) exactly then. None where leases are not allowed (a file
    of another user without CAP_LEASE, a network file system): the settle period decides."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as error:
        return True if error.errno == errno.EAGAIN else None
    else:
        fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(descriptor)


def _status(info: os.stat_result) -> tuple[int, ...]:
    # ctime too: a chmod that makes a folder readable changes only that.
    return (info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
