"""Where each process's time goes: py-spy samples every service from outside while the
pipeline is under load (`py-spy record --format raw`: one line per distinct stack with its
sample count), summarised by the functions that take the time and by kind of work.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

RATE = 100  # samples per second: enough for a summary, little load on a 2-core machine

# Kinds of work. The model wherever it is on the stack (model time even when Faust called
# it); otherwise the innermost frame of a library or module that names a kind (Faust calling
# pydantic is serialisation, pydantic called by the logger is logging's); the generic kinds
# (stdlib JSON, the event loop) only when nothing more specific is on the stack.
MODEL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model inference (spaCy/thinc)", ("spacy/", "thinc/")),
    ("model inference (stance features and boosting)", ("sklearn/", "stance/features.py",
                                                        "stance/model.py")),
)  # fmt: skip
SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dedup logic", ("dedup/logic.py", "dedup/shingles.py", "dedup/stories.py",
                     "dedup/normalise.py", "datasketch/")),
    ("tables (RocksDB, changelog)", ("faust/tables/", "faust/stores/", "rocksdict")),
    ("record validation and serialisation (pydantic, JSON)", ("pydantic", "orjson",
                                                               "newsflow/core/records.py")),
    ("logging", ("logging/", "pythonjsonlogger")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("Kafka client (aiokafka, kafka-python)", ("aiokafka/", "kafka/")),
    ("SQLite store", ("sqlite3/", "stores/sql.py", "stores/sqlite.py")),
    ("file reading and parsing", ("watcher/files.py", "watcher/parsing.py", "trafilatura/",
                                  "charset_normalizer/", "lxml", "htmldate/", "justext/",
                                  "watcher/text_", "watcher/html_", "watcher/json_",
                                  "watcher/decoding.py")),
    ("file watching (watchdog, inbox)", ("watchdog/", "watcher/inbox.py")),
    ("Faust and mode runtime", ("faust/", "mode/", "venusian/")),
)  # fmt: skip
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("record validation and serialisation (pydantic, JSON)", ("json/",)),
    ("waits and the event loop (asyncio, selectors, timed waits)", (
        "asyncio/", "selectors.py", "threading.py", "concurrent/", "newsflow/runtime/service.py")),
)  # fmt: skip
CATEGORIES = MODEL + SPECIFIC + GENERIC


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def start(pids: dict[str, int], seconds: float, folder: Path) -> dict[str, subprocess.Popen]:
    """One `py-spy record` per process, for `seconds`, writing <name>.txt into `folder`."""
    binary = py_spy()
    if binary is None:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    recorders = {}
    for name, pid in pids.items():
        recorders[name] = subprocess.Popen(
            [
                binary, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                "--rate", str(RATE), "--format", "raw", "--function", "--nonblocking",
                "--output", str(folder / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(folder / f"{name}.log").open("wb"),
        )  # fmt: skip
    return recorders


def wait(recorders: dict[str, subprocess.Popen], timeout: float) -> None:
    for recorder in recorders.values():
        try:
            recorder.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            recorder.terminate()
            recorder.wait(timeout=10)


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    if not path.exists():
        return stacks
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def function_name(frame: str) -> str:
    """`name (path/file.py:12)` -> `file.py:name`, short enough for a table."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = file.replace("\\", "/").split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{short}:{name}"


def category(frames: list[str]) -> str:
    """Model time wherever the model is on the stack; otherwise the kind of the innermost
    frame that has one (so Faust calling pydantic is serialisation, not Faust)."""
    places = [frame.partition(" (")[2] for frame in frames]
    for name, markers in MODEL:
        if any(marker in place for place in places for marker in markers):
            return name
    loop = GENERIC[-1]
    if places and any(marker in places[-1] for marker in loop[1]):
        return loop[0]  # waiting in (or running) the event loop itself
    for kinds in (SPECIFIC, GENERIC):
        for place in reversed(places):
            for name, markers in kinds:
                if any(marker in place for marker in markers):
                    return name
    return "other"


def summarise(stacks: list[tuple[list[str], int]], top: int = 12) -> dict:
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            own[function_name(frames[-1])] += count
        for name in {function_name(frame) for frame in frames}:
            inclusive[name] += count
        kinds[category(frames)] += count

    def shares(counter: Counter[str], limit: int) -> list[list]:
        return [[name, round(n / total, 3)] for name, n in counter.most_common(limit)]

    return {
        "samples": total,
        "rate": RATE,
        "by_kind": shares(kinds, len(CATEGORIES) + 1),
        "top_self": shares(own, top),
        "top_inclusive": shares(inclusive, top + 8),
    }


def summarise_folder(folder: Path, names: Iterable[str]) -> dict[str, dict]:
    return {name: summarise(read_raw(folder / f"{name}.txt")) for name in names}
