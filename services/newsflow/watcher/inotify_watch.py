"""The inbox's folders watched with inotify, in a thread of their own: each event newsflow
acts on becomes a notice `(path, is_folder, may_be_complete)` on a queue the inbox reads.

A file created is noticed (still being written); a file closed after writing or renamed in
may be complete; a folder created or renamed in is watched with everything below it and
noticed, so that the inbox scans what arrived in it before its watch did. A folder renamed
away loses its watches (their paths would be wrong). When the kernel's event queue overflows,
the inbox root is noticed as a folder: a full scan finds whatever the lost events told.

Renames are not paired with where they came from: a name that arrives is looked at, one
that leaves is forgotten when the look finds nothing. Pairing costs a search of the pending
events per rename, which for thousands of files renamed in at once cost as much as reading
them.

Folders are watched `max_depth` deep (deeper ones are quarantined whole by the inbox), never
through a link, and dot-folders not at all (nothing in them is read until they are renamed).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import threading

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

_FOLDER_MASK = (
    flags.CREATE
    | flags.CLOSE_WRITE
    | flags.MOVED_TO
    | flags.MOVED_FROM
    | flags.DONT_FOLLOW
    | flags.ONLYDIR
)
_READ_TIMEOUT_MS = 200
# A folder that cannot be watched (gone, unreadable, a link) is left to the inbox's scans.
_CANNOT_WATCH = (errno.ENOENT, errno.EACCES, errno.ENOTDIR, errno.ELOOP)


class InotifyWatch:
    def __init__(self, root: str, max_depth: int, noticed: queue.SimpleQueue) -> None:
        self._root = root
        self._max_depth = max_depth
        self._noticed = noticed
        self._inotify = INotify()
        self._folders: dict[int, str] = {}  # watch descriptor -> folder path
        self._watches: dict[str, int] = {}  # folder path -> watch descriptor
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inotify", daemon=True)
        self._limit_logged = False

    def start(self) -> None:
        """Watch the tree; raises OSError when the root itself cannot be watched (inotify's
        watch limit reached, say), so that the inbox polls instead."""
        try:
            self._add(self._root)
        except OSError:
            self._inotify.close()
            raise
        self._watch_below(self._root)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._inotify.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            for event in self._inotify.read(timeout=_READ_TIMEOUT_MS):
                try:
                    self._handle(event.wd, event.mask, event.name)
                except Exception:  # one odd event never stops the watch
                    log.exception("an inotify event could not be handled")
            if self._root not in self._watches:
                log.error("the inbox folder itself went away; its watch ended")
                return

    def _handle(self, wd: int, mask: int, name: str) -> None:
        if mask & flags.Q_OVERFLOW:
            log.warning("inotify's event queue overflowed; scanning the whole inbox")
            self._noticed.put((self._root, True, False))
            return
        if mask & flags.IGNORED:  # the folder was deleted, or its watch removed
            folder = self._folders.pop(wd, None)
            if folder is not None and self._watches.get(folder) == wd:
                del self._watches[folder]
            return
        folder = self._folders.get(wd)
        if folder is None:
            return
        path = os.path.join(folder, name)
        if mask & flags.ISDIR:
            if mask & (flags.CREATE | flags.MOVED_TO):
                if self._watchable(path):
                    self._add(path, quietly=True)
                    self._watch_below(path)
                self._noticed.put((path, True, False))
            elif mask & flags.MOVED_FROM:
                self._unwatch_tree(path)
        elif mask & (flags.CLOSE_WRITE | flags.MOVED_TO):
            self._noticed.put((path, False, True))
        elif mask & flags.CREATE:
            self._noticed.put((path, False, False))

    def _watch_below(self, top: str) -> None:
        """Watch every folder below `top` (iteratively: a tree may be thousands deep)."""
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                with os.scandir(folder) as entries:
                    folders = [e.path for e in entries if _is_folder(e)]
            except OSError:
                continue  # gone or unreadable: the inbox's scan reports what it must
            for path in folders:
                if self._watchable(path) and self._add(path, quietly=True):
                    pending.append(path)

    def _watchable(self, path: str) -> bool:
        relative = os.path.relpath(path, self._root)
        parts = relative.split(os.sep)
        return len(parts) < self._max_depth and not any(p.startswith(".") for p in parts)

    def _add(self, folder: str, quietly: bool = False) -> bool:
        try:
            wd = self._inotify.add_watch(folder, _FOLDER_MASK)
        except OSError as error:
            if not quietly:
                raise
            if error.errno == errno.ENOSPC and not self._limit_logged:
                self._limit_logged = True
                log.warning(
                    "inotify's watch limit is reached (fs.inotify.max_user_watches); files in "
                    "folders not watched are found by the rescans, after the settle period"
                )
            elif error.errno not in (*_CANNOT_WATCH, errno.ENOSPC):
                log.warning("cannot watch %s: %s", folder, error)
            return False
        stale = self._folders.get(wd)
        if stale is not None and self._watches.get(stale) == wd:
            del self._watches[stale]  # the same folder, reached by a new path
        self._folders[wd] = folder
        self._watches[folder] = wd
        return True

    def _unwatch_tree(self, top: str) -> None:
        prefix = top + os.sep
        for folder in [f for f in self._watches if f == top or f.startswith(prefix)]:
            wd = self._watches.pop(folder)
            self._folders.pop(wd, None)
            with contextlib.suppress(OSError):  # already gone with its folder
                self._inotify.rm_watch(wd)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
