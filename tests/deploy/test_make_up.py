"""`make up` as the README tells a newcomer to use it, in a copy of the repository with
ports of its own (so it runs beside any other Kafka): one human line once every service is
ready, the README's first file through, `newsflow status`, then `make down` saying what it
stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from newsflow.cli.main import SERVICES
from tests.support.helpers import wait_for
from tests.support.local import REPO, free_port
from tests.support.readmes import commands

COPIED = ("Makefile", "pyproject.toml", "requirements.lock", "deploy")
LINKED = (".venv", "models", "services", "schemas")


def readme_command(start: str) -> str:
    """The README's first command that starts so."""
    return next(c.text for c in commands() if c.readme == "README.md" and c.text.startswith(start))


class Output:
    """A process's output lines, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def find(self, text: str) -> str | None:
        return next((line for line in self.lines if text in line), None)


@pytest.fixture
def copy(tmp_path) -> Path:
    copy = tmp_path / "newsflow"
    copy.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy2(source, copy / name)  # the venv stays up to date: no reinstall
    for name in LINKED:
        (copy / name).symlink_to(REPO / name)
    return copy


@pytest.mark.timeout(600)
def test_make_up_runs_the_readme_quickstart_and_make_down_says_what_it_stopped(copy):
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "WORKER_INSTANCES": "1",
        **{f"NEWSFLOW_{s.upper()}_METRICS_PORT": str(free_port()) for s in SERVICES},
        "PATH": f"{copy / '.venv/bin'}:{os.environ['PATH']}",  # as after . .venv/bin/activate
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    up = subprocess.Popen(
        ["make", "up"], cwd=copy, env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output = Output(up)
    try:
        ready = wait_for(
            lambda: output.find("newsflow is ready") or up.poll() is not None,
            300,
            "the ready line",
            every=1,
        )
        assert isinstance(ready, str), "make up ended:\n" + "\n".join(output.lines[-40:])
        assert "./inbox" in ready and env["KAFKA_PORT"] in ready

        shell = {"cwd": copy, "env": env, "text": True, "capture_output": True, "timeout": 60}
        subprocess.run(readme_command("printf "), shell=True, check=True, **shell)

        def listed() -> bool:
            done = subprocess.run(readme_command("ls "), shell=True, **shell)
            return done.returncode == 0 and "quotas.txt" in done.stdout

        wait_for(listed, 120, "the README's file in data/processed", every=1)

        status = subprocess.run(readme_command("newsflow status"), shell=True, **shell)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "5 of 5 services up and ready" in status.stdout
        watch = readme_command("newsflow status --watch")
        with pytest.raises(subprocess.TimeoutExpired) as watching:  # until Ctrl-C
            subprocess.run(watch, shell=True, **{**shell, "timeout": 5})
        assert "5 of 5 services up and ready" in (watching.value.stdout or b"").decode()
        levels = ('"level": "WARNING"', '"level": "ERROR"', '"level": "CRITICAL"')
        warnings = [line for line in output.lines if any(level in line for level in levels)]
        assert not warnings, "a clean start logged:\n" + "\n".join(warnings[:40])

        down = subprocess.run(["make", "down"], **shell)
        assert "stopped: make up (pid" in down.stdout, down.stdout + down.stderr
        up.wait(timeout=120)
        again = subprocess.run(["make", "down"], **shell)
        assert "nothing of make up was running" in again.stdout, again.stdout + again.stderr
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)
            time.sleep(5)
        subprocess.run(["make", "down"], cwd=copy, env=env, capture_output=True, timeout=120)
