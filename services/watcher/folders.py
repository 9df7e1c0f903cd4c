"""Where files go once dealt with: `processed/YYYY-MM-DD/` after Kafka acknowledged them,
`failed/` with a `<name>.error.json` beside them when they could not be read. Sub-folders of
the inbox are kept, and a name already taken gets a numbered suffix, never an overwrite.

Every step goes through `confined`: nothing is moved out of, or written into, a folder
reached through a link."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path, PurePath

from newsflow_watcher import confined
from newsflow_watcher.parsing import InputRejected


def move_to_processed(inbox: Path, relative: PurePath, processed_dir: Path) -> Path:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return _move(inbox, relative, processed_dir, PurePath(day, relative))


def move_to_failed(
    inbox: Path,
    relative: PurePath,
    failed_dir: Path,
    rejection: InputRejected,
    sha256: str | None,
    shown_path: str,
) -> Path:
    report = {
        "file": shown_path,
        "reason": rejection.reason.value,
        "message": rejection.message,
        "failed_at": datetime.now(UTC).isoformat(),
        "sha256": sha256,
    }
    text = json.dumps(report, indent=2) + "\n"
    return _move(inbox, relative, failed_dir, relative, report=text.encode("utf-8"))


def changed_since(inbox: Path, relative: PurePath, identity: tuple[int, ...]) -> bool:
    """Whether the file in the inbox is no longer the one read (another inode, size or time)."""
    with confined.folder(inbox, relative.parts[:-1]) as folder:
        return file_identity(confined.status(folder, relative.name)) != identity


def file_identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _move(
    inbox: Path, relative: PurePath, root: Path, wanted: PurePath, report: bytes | None = None
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (
        confined.folder(inbox, relative.parts[:-1]) as source,
        confined.made_folder(root, wanted.parts[:-1]) as (destination, where),
    ):
        name = confined.move(source, relative.name, destination, wanted.name)
        if report is not None:
            confined.create_file(destination, name + ".error.json", report)
    return where / name
