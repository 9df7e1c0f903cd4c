"""Where files go once dealt with: `processed/YYYY-MM-DD/` after Kafka acknowledged them,
`failed/` with a `<name>.error.json` beside them when they could not be read. Sub-folders of
the inbox are kept, and a name already taken gets a numbered suffix, never an overwrite."""

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from newsflow_watcher.parsing import InputRejected


def move_to_processed(path: Path, relative: str, processed_dir: Path) -> Path:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return _move(path, processed_dir / day / relative)


def move_to_failed(
    path: Path, relative: str, failed_dir: Path, rejection: InputRejected, sha256: str | None
) -> Path:
    destination = _move(path, failed_dir / relative)
    report = {
        "file": relative,
        "reason": rejection.reason.value,
        "message": rejection.message,
        "failed_at": datetime.now(UTC).isoformat(),
        "sha256": sha256,
    }
    error_file = destination.with_name(destination.name + ".error.json")
    error_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return destination


def _move(path: Path, wanted: Path) -> Path:
    wanted.parent.mkdir(parents=True, exist_ok=True)
    destination = _free_name(wanted)
    if path.is_symlink():
        # A link moves as a link (shutil.move renames it); its target is never read.
        shutil.move(path, destination)
        return destination
    try:
        # A hard link and an unlink rather than a rename: a rename out of the watched folder
        # is an unmatched move, which watchdog holds for 0.5 s (in order) to pair it with a
        # move in, delaying the events of every file dropped after it. An unlink is not held.
        os.link(path, destination)
    except FileExistsError:
        return _move(path, wanted)  # taken meanwhile: the next free name
    except OSError:
        # Another file system, or one without hard links: shutil.move renames or copies.
        shutil.move(path, destination)
        return destination
    os.unlink(path)
    return destination


def _free_name(wanted: Path) -> Path:
    candidate, number = wanted, 1
    while candidate.exists() or candidate.is_symlink():
        candidate = wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")
        number += 1
    return candidate
