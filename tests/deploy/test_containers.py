"""The README's containers, for real: the image built, `docker compose up` on a Docker engine,
articles dropped into the inbox, and what a user then sees: every article on
`articles.enriched` and in the sink's store, bad files in the watcher's `failed/` with their
reason, every service ready inside its container, Prometheus scraping them all, and nothing
left running after `docker compose down`.

The images are the compose file's (.env), or whatever PYTHON_IMAGE, KAFKA_IMAGE and
PROMETHEUS_IMAGE name instead: `make images-offline` makes stand-ins where Docker Hub is out
of reach, as .ci/run does. Grafana is not started: its image comes only from Docker Hub and
no package registry serves it; its provisioning is checked in test_compose.py and the
dashboards against a real Prometheus in test_dashboards_live.py.

Every port is published on the host's loopback only and all other traffic stays on the
project's own compose network; the project has a name of its own, so a user's
`docker compose up` beside it is untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from newsflow.cli.main import SERVICES
from newsflow.core import topics
from tests.e2e.corpus import SEEDS_DIR, STORED_KINDS, Item, generate
from tests.support.helpers import wait_for
from tests.support.local import IMAGE_UID, REPO, free_port

pytestmark = pytest.mark.timeout(900)

IMAGE = "newsflow:compose-test"
STARTED = ("kafka", "topics", *SERVICES, "prometheus")
LONG_RUNNING = ("kafka", *SERVICES, "prometheus")
# Bad files whose reason does not depend on the watcher's size limit or the file's owner.
BAD_REASONS = {"empty_file", "whitespace_only", "binary_file", "invalid_json", "missing_body"}
TRAINING_TOOLS = ("torch", "transformers", "tensorflow", "datasets", "accelerate")
PORTS = ("KAFKA_PORT", "PROMETHEUS_PORT", *(f"{s.upper()}_METRICS_PORT" for s in SERVICES))


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@dataclass
class Deployment:
    """One `docker compose` project of this repository's compose file."""

    env: dict[str, str]
    inbox: Path
    staging: Path

    def run(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "--project-directory", str(REPO), *arguments]
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def compose(self, *arguments: str, timeout: float = 300) -> str:
        done = self.run(*arguments, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(
                f"`docker compose {' '.join(arguments)}` failed ({done.returncode}):\n"
                + (done.stderr or done.stdout)[-4000:]
            )
        return done.stdout

    def inside(self, service: str, *command: str) -> str:
        return self.compose("exec", "-T", service, *command, timeout=60)

    def python(self, service: str, code: str) -> str:
        return self.inside(service, "python", "-c", code)

    def states(self) -> dict[str, str]:
        """Each started container's state, its health where it has a healthcheck."""
        listed = self.compose("ps", "--all", "--format", "json")  # one object per line
        containers = [json.loads(line) for line in listed.splitlines() if line.strip()]
        return {c["Service"]: c["Health"] or c["State"] for c in containers}

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "40").stdout[-12000:]

    def drop(self, items: list[Item]) -> None:
        """Written outside, then renamed into the inbox, as a careful producer does, and
        owned by the containers' uid (the owner of the inbox)."""
        uid = int(self.env["CONTAINER_UID"])
        for item in items:
            staged = self.staging / item.path
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(item.data)
            folder = self.inbox
            for name in Path(item.path).parent.parts:
                folder /= name
                folder.mkdir(exist_ok=True)
                os.chown(folder, uid, -1)
            os.chown(staged, uid, -1)
            os.replace(staged, self.inbox / item.path)


@pytest.fixture(scope="module")
def corpus_items() -> list[Item]:
    """The seed articles (when present), generated ones, an exact copy, near copies, a JSON
    Lines feed and bad files."""
    corpus = generate(articles=20, seed=20261207, seeds_dir=SEEDS_DIR)
    return [item for item in corpus.items if item.kind != "bad" or item.reason in BAD_REASONS]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if not engine_answers():
        why = "no Docker engine answers `docker info` (.ci/run installs Debian's docker.io)"
        if os.environ.get("NEWSFLOW_REQUIRE_DOCKER") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("compose")
    inbox, staging = folder / "inbox", folder / "staging"
    inbox.mkdir()
    staging.mkdir()
    # The README's rule: the containers run as the owner of the inbox. Run by root (CI),
    # the inbox gets the image's own user instead, so the test sees what a production host
    # runs.
    uid = IMAGE_UID if os.getuid() == 0 else os.getuid()
    os.chown(inbox, uid, -1)
    env = {
        # The store is .env's SQLite in the sink's volume, whatever this shell points at.
        **{k: v for k, v in os.environ.items() if k != "SINK_STORE_URL"},
        "COMPOSE_PROJECT_NAME": f"newsflow-test-{os.getpid()}",
        "NEWSFLOW_IMAGE": IMAGE,
        "INBOX": str(inbox),
        "CONTAINER_UID": str(uid),
        **{port: str(free_port()) for port in PORTS},
    }
    deployment = Deployment(env, inbox, staging)
    try:
        deployment.compose("up", "--detach", "--build", *STARTED, timeout=900)
        try:
            wait_for(
                lambda: all(deployment.states().get(s) == "healthy" for s in LONG_RUNNING),
                timeout=300,
                what="every container healthy",
                every=2,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}: {deployment.states()}\n{deployment.logs()}") from None
        yield deployment
    finally:
        deployment.run("down", "--volumes", "--timeout", "10")


def stored_ids(deployment: Deployment) -> set[str]:
    """The ids in the sink's SQLite store, read inside its container where the sink says it is."""
    code = (
        "import json, os, sqlite3\n"
        "path = os.environ['NEWSFLOW_SINK_STORE_URL'].split(':///', 1)[1]\n"
        "rows = sqlite3.connect(path).execute('SELECT article_id FROM articles').fetchall()"
        " if os.path.exists(path) else []\n"
        "print(json.dumps([row[0] for row in rows]))"
    )
    try:
        return set(json.loads(deployment.python("sink", code)))
    except AssertionError:  # the table is made when the first record arrives
        return set()


def test_articles_dropped_in_the_inbox_come_out_enriched_and_stored(deployment, corpus_items):
    deployment.drop(corpus_items)
    expected = {a for item in corpus_items if item.kind in STORED_KINDS for a in item.article_ids}
    stored = wait_for(
        lambda: (ids := stored_ids(deployment)) >= expected and ids,
        timeout=240,
        what=f"{len(expected)} articles in the sink's store",
        every=2,
    )
    assert stored == expected

    # A user's own program on the host, through the broker's published listener.
    consumer = KafkaConsumer(
        topics.ENRICHED.name,
        bootstrap_servers=f"127.0.0.1:{deployment.env['KAFKA_PORT']}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    with consumer:
        records = [json.loads(message.value) for message in consumer]
    assert {record["article_id"] for record in records} == expected
    assert all(record["entities"] and record["stance"]["claims"] for record in records)


def test_bad_files_are_in_the_watchers_failed_folder_with_their_reason(deployment, corpus_items):
    bad = {item.path: item.reason for item in corpus_items if item.kind == "bad"}
    assert bad, "the corpus has no bad files"
    code = (
        "import json, pathlib\n"
        "failed = pathlib.Path('/var/lib/newsflow/watcher/failed')\n"
        "print(json.dumps({str(p.relative_to(failed))[: -len('.error.json')]:"
        " json.loads(p.read_text())['reason'] for p in failed.rglob('*.error.json')}))"
    )
    found = wait_for(
        lambda: (f := json.loads(deployment.python("watcher", code))).keys() >= bad.keys() and f,
        timeout=60,
        what="every bad file in failed/",
        every=2,
    )
    assert {path: found[path] for path in bad} == bad
    left = deployment.inside("watcher", "find", "/var/lib/newsflow/inbox", "-type", "f")
    assert left.strip() == "", f"files left in the inbox: {left}"


def test_every_service_is_ready_inside_its_container(deployment):
    for service in SERVICES:
        port = f"NEWSFLOW_{service.upper()}_METRICS_PORT"
        answer = deployment.python(
            service,
            "import os, urllib.request\n"
            f"url = 'http://127.0.0.1:' + os.environ[{port!r}] + '/readyz'\n"
            "print(urllib.request.urlopen(url, timeout=5).status)",
        )
        assert answer.strip() == "200", f"{service}: /readyz answered {answer!r}"


def test_prometheus_scrapes_every_service(deployment):
    url = f"http://127.0.0.1:{deployment.env['PROMETHEUS_PORT']}/api/v1/targets"

    def targets() -> dict[str, str]:
        """Health by target: the pipeline's by service, Prometheus's own by its job."""
        with urllib.request.urlopen(url, timeout=5) as answer:
            active = json.load(answer)["data"]["activeTargets"]
        return {t["labels"].get("service") or t["labels"]["job"]: t["health"] for t in active}

    up = wait_for(
        lambda: (t := targets()) and all(h == "up" for h in t.values()) and t,
        timeout=120,
        what="every Prometheus target up",
        every=2,
    )
    assert set(up) == {*SERVICES, "prometheus"}


def test_the_image_runs_as_its_own_user_on_a_read_only_root_without_training_tools(deployment):
    inspected = subprocess.run(
        ["docker", "image", "inspect", IMAGE, "--format", "{{.Config.User}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert inspected.stdout.strip() == str(IMAGE_UID)
    assert deployment.inside("watcher", "id", "-u").strip() == deployment.env["CONTAINER_UID"]
    for service in SERVICES:  # even its own home folder
        tried = deployment.run("exec", "-T", service, "touch", "/home/newsflow/written")
        assert tried.returncode != 0 and "Read-only file system" in tried.stderr, (service, tried)
    installed = deployment.python(
        "entities",
        "import importlib.util, json\n"
        f"print(json.dumps([m for m in {TRAINING_TOOLS!r} if importlib.util.find_spec(m)]))",
    )
    assert json.loads(installed) == []


def test_compose_down_leaves_nothing_running(deployment):
    deployment.compose("down", "--timeout", "30")
    project = deployment.env["COMPOSE_PROJECT_NAME"]
    label = f"label=com.docker.compose.project={project}"
    containers = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", label],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert containers.stdout.strip() == ""
    networks = subprocess.run(
        ["docker", "network", "ls", "--quiet", "--filter", label],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert networks.stdout.strip() == ""
