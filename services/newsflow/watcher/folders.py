"""Where files go once dealt with: `processed/YYYY-MM-DD/` after Kafka acknowledged them,
`failed/` with a `<name>.error.json` beside them when they could not be read. Sub-folders of
the inbox are kept, and a name already taken gets a numbered suffix, never an overwrite.

Every step goes through `confined`: nothing is moved out of, or written into, a folder
reached through a link."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path, PurePath

from . import confined
from .parsing import InputRejected


class Mover:
    """Moves files out of the inbox, a batch at a time (`with Mover(...) as mover:`): each
    folder on the way is opened once for all the files of the batch, not once per file.

    A folder opened is a real folder reached without links; should it be renamed or swapped
    for a link during the batch, the files still go into (or come out of) the folder itself."""

    def __init__(self, inbox: Path, processed_dir: Path, failed_dir: Path) -> None:
        self._inbox = inbox
        self._processed = processed_dir
        self._failed = failed_dir
        self._day = datetime.now(UTC).strftime("%Y-%m-%d")
        self._sources: dict[tuple[str, ...], int] = {}
        self._destinations: dict[tuple[Path, tuple[str, ...]], tuple[int, Path]] = {}
        self._resources = ExitStack()

    def __enter__(self) -> Mover:
        return self

    def __exit__(self, *_exc) -> None:
        self._resources.close()

    def to_processed(self, relative: PurePath) -> Path:
        """`processed/YYYY-MM-DD/<relative>`, or a numbered name beside it."""
        return self._move(relative, self._processed, PurePath(self._day, relative))

    def to_failed(
        self, relative: PurePath, rejection: InputRejected, sha256: str | None, shown_path: str
    ) -> Path:
        """`failed/<relative>` with `<name>.error.json` beside it."""
        report = {
            "file": shown_path,
            "reason": rejection.reason.value,
            "message": rejection.message,
            "failed_at": datetime.now(UTC).isoformat(),
            "sha256": sha256,
        }
        text = json.dumps(report, indent=2) + "\n"
        return self._move(relative, self._failed, relative, report=text.encode("utf-8"))

    def changed_since(self, relative: PurePath, identity: tuple[int, ...]) -> bool:
        """Whether the file in the inbox is no longer the one read (another inode, size or
        time)."""
        folder = self._source(relative.parts[:-1])
        return file_identity(confined.status(folder, relative.name)) != identity

    def _move(
        self, relative: PurePath, root: Path, wanted: PurePath, report: bytes | None = None
    ) -> Path:
        source = self._source(relative.parts[:-1])
        destination, where = self._destination(root, wanted.parts[:-1])
        name = confined.move(source, relative.name, destination, wanted.name)
        if report is not None:
            confined.create_file(destination, name + ".error.json", report)
        return where / name

    def _source(self, parts: tuple[str, ...]) -> int:
        if parts not in self._sources:
            opened = confined.folder(self._inbox, parts)
            self._sources[parts] = self._resources.enter_context(opened)
        return self._sources[parts]

    def _destination(self, root: Path, parts: tuple[str, ...]) -> tuple[int, Path]:
        if (root, parts) not in self._destinations:
            root.mkdir(parents=True, exist_ok=True)
            opened = confined.made_folder(root, parts)
            self._destinations[root, parts] = self._resources.enter_context(opened)
        return self._destinations[root, parts]


def file_identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
