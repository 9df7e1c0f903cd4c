"""Several instances: two processes of every worker and of the sink in each consumer group,
over topics of 6 partitions, on a real broker, the sink on PostgreSQL. The second instance
of each is SIGKILLed as soon as it has taken records of the originals, and never restarted:
its partitions move to the first, which takes over what it had not committed.

What users rely on when they scale out: every article stored exactly once, exact copies
dropped, and near copies and follow-ups found although they arrive on other partitions (and
so, before the kill, often at the other instance) than their originals."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e.corpus import generate
from tests.e2e.pipeline import stages
from tests.e2e.runs import run, summary

pytestmark = pytest.mark.kafka

SEED = 20261125
ARTICLES = 80


@pytest.fixture
def run_root():
    # Not under pytest's temporary folder (see test_e2e.py).
    root = Path(tempfile.mkdtemp(prefix="newsflow-test-instances-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(900)
def test_two_instances_of_each_one_killed_midstream_every_article_once(run_root, postgres_url):
    corpus = generate(ARTICLES, SEED)
    result = run(
        corpus, run_root, timeout=400, instances=2, store_url=postgres_url, kill_midstream=True
    )
    table = summary(result, "two instances of each, the second SIGKILLed mid-stream")
    figures, report = result.report.figures, result.report

    # Each second instance had a share of the work when it died.
    assert sorted(result.killed) == sorted(f"{stage.service}-2" for stage in stages()), table
    assert all(taken > 0 for taken in result.killed.values()), table

    assert report.lost == [], table
    assert report.doubled == [], table
    assert report.problems == [], table
    assert figures["articles stored"] == figures["articles expected"], table
    assert figures["near copies linked"] == len(corpus.of_kind("near_copy")), table
    assert figures["follow-ups in their story"] == len(corpus.of_kind("follow_up")), table
    assert figures["near copies across partitions"] > 0, table
    assert figures["follow-ups across partitions"] > 0, table
    # The instances that lived drained cleanly on SIGTERM.
    assert result.exit_codes and set(result.exit_codes.values()) == {0}, table
