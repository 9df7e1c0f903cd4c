"""The READMEs' commands, copied as a reader would: `newsflow query` and the SQL run here
against a store holding the articles they ask about; every other command is either run by
the test named for it or cannot run on one machine, and says why. A README command that is
neither fails this test."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.sink.stores import open_store
from tests.support.examples import enriched_article
from tests.support.local import REPO
from tests.support.readmes import Shown, commands

STORY = "2bfc1dad809e5831d941ea4cb2ac0b7c"  # the story the READMEs ask for

# Commands run elsewhere, and where; or why no test runs them on one machine.
ELSEWHERE: list[tuple[str, str]] = [
    (r"make up", "tests/deploy/test_make_up.py"),
    (r"printf .* > inbox/quotas\.txt", "tests/deploy/test_make_up.py"),
    (r"ls data/processed/\*/", "tests/deploy/test_make_up.py"),
    (r"newsflow status( --watch)?", "tests/deploy/test_make_up.py"),
    (r"make test", "the suite itself: .ci/run runs it on a fresh machine"),
    (r"make (e2e|chaos|chaos SEED=\d+)", "tests/deploy/test_e2e.py"),
    (r"make scale-e2e", "tests/deploy/test_instances.py"),
    (r"make (stance-model|ner-model|ner-fast-model)", "hours of training (make models)"),
    (r"newsflow eval (build-stance-split|stance .*)", "tests/models/test_stance_eval.py"),
    (r"export NEWSFLOW_SINK_STORE_URL='postgresql://analyst:….*'", "a placeholder server"),
    (r"kcat .*", "needs kcat, which newsflow does not install"),
    (
        r"mkdir -p inbox && CONTAINER_UID=\$\(id -u\) docker compose up -d --build( \w+)*",
        "tests/deploy/test_containers.py",
    ),
    (r"make (compose-tool|images-offline)", ".ci/run, for tests/deploy/test_containers.py"),
    (
        r"export PYTHON_IMAGE=\S+ KAFKA_IMAGE=\S+ PROMETHEUS_IMAGE=\S+",
        ".ci/run, for tests/deploy/test_containers.py",
    ),
    (r"(docker|kubectl) .*", "needs a Docker engine or a cluster: tests/deploy/test_k8s.py"),
]


def where_run(shown: Shown) -> str | None:
    for pattern, where in ELSEWHERE:
        if re.fullmatch(pattern, shown.text):
            return where
    return None


def runs_here(shown: Shown) -> bool:
    return shown.language == "sql" or shown.text.startswith("newsflow query ")


def test_every_readme_command_is_run_by_a_test_or_says_why_not():
    shown = commands()
    assert any(runs_here(c) for c in shown) and any(where_run(c) for c in shown)
    unaccounted = [str(c) for c in shown if not runs_here(c) and where_run(c) is None]
    assert not unaccounted, "README commands no test runs:\n" + "\n".join(unaccounted)
    for _, where in ELSEWHERE:
        if where.startswith("tests/"):
            assert (REPO / where.split(":")[0]).is_file(), f"{where} does not exist"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Where `newsflow query` looks by default (./data/newsflow.db), holding a story about
    Mike Pompeo: articles that discuss, agree with and disagree with its claims."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "data").mkdir()
    store = open_store(f"sqlite:///{folder}/data/newsflow.db")
    store.open()
    store.upsert(
        [
            enriched_article(
                f"Pompeo says {what}",
                f"Secretary of State Mike Pompeo said {what} on Monday. Officials disagreed.",
                story_id=STORY,
                claims=[("own_headline", f"Pompeo says {what}", label)],
            )
            for what, label in (("talks go on", "discuss"), ("no troops", "disagree"))
        ]
    )
    store.close()
    return folder


def newsflow_query(shown: Shown, cwd: Path) -> subprocess.CompletedProcess:
    command, _, pipe = shown.text.partition(" | ")
    assert pipe in ("", "jq ."), f"{shown}: a pipe this test does not know"
    arguments = shlex.split(command)[1:]
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_SINK_STORE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli", *arguments],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "shown", [c for c in commands() if c.text.startswith("newsflow query ")], ids=str
)
def test_a_readme_query_answers(shown, store):
    done = newsflow_query(shown, store)
    assert done.returncode == 0, f"{shown}\n{done.stderr[-2000:]}"
    if "--format json" in shown.text:
        assert json.loads(done.stdout), f"{shown}: an empty answer"
    else:
        assert "Pompeo" in done.stdout, f"{shown}: no article of the story\n{done.stdout}"


@pytest.mark.parametrize("shown", [c for c in commands() if c.language == "sql"], ids=str)
def test_a_readme_sql_example_finds_rows(shown, store):
    with sqlite3.connect(store / "data/newsflow.db") as connection:
        rows = connection.execute(shown.text).fetchall()
    assert rows, f"{shown}: no rows"
