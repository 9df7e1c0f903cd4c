"""The repository, the image's user, free ports, and the stdlib-only scripts of deploy/
loaded by path."""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
# The uid the newsflow image runs as: the Dockerfile's USER.
IMAGE_UID = int(re.search(r"^USER (\d+)$", (REPO / "Dockerfile").read_text(), re.M).group(1))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load_script(path: Path | str, name: str | None = None) -> ModuleType:
    """A script of deploy/ (e.g. deploy/kafka/localkafka.py) as a module. They are
    stdlib-only so that they run before any virtual environment exists, hence not installed
    as packages. Loaded once per process, like an import."""
    path = REPO / path
    name = name or path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
