"""The stance worker as a user meets it: `newsflow stance` on the real broker, tagged articles
in, the same articles with a stance section out; the claims file changed while it runs."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

from newsflow.core import records
from newsflow.core.identity import article_id
from newsflow.core.topics import TAGGED
from tests.support.examples import NOW, raw_article
from tests.support.helpers import wait_for
from tests.support.rigs import ServiceRig, service_rig

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "models/stance"

TITLE = "Harbour city mayor resigns over port contract scandal"
BODY = (
    "The mayor of the harbour city resigned on Monday over the port contract scandal, "
    "the city council confirmed. The mayor had faced weeks of pressure after reports that "
    "the port contract was awarded without a tender. In a statement the council said the "
    "resignation takes effect at once and that the deputy mayor will lead the city until "
    "an election is held."
)
LEAD = "Mayor of harbour city steps down after contract scandal"
BRIDGE = "The river bridge will close for repairs all summer"
STADIUM = "Football club unveils plans for a new stadium"


def tagged(
    title: str | None = TITLE, body: str = BODY, story_lead: str | None = None
) -> records.TaggedArticle:
    raw = raw_article(title, body)
    story_id = article_id(story_lead, "the story's first article") if story_lead else None
    return records.TaggedArticle(
        **raw.model_dump(exclude={"trace"}),
        trace=[
            *raw.trace,
            records.TraceEntry(stage="dedup", service_version="test", processed_at=NOW),
            records.TraceEntry(
                stage="entities", service_version="test", model_version="ner", processed_at=NOW
            ),
        ],
        dedup=records.DedupSection(
            verdict=records.DedupVerdict.UNIQUE,
            story_id=story_id or raw.article_id,
            story_lead_headline=story_lead or title,
        ),
        entities=records.EntitiesSection(mentions=[], entities=[], model_version="ner"),
    )


def write_claims(path: Path, *claims: tuple[str, str]) -> None:
    lines = ["claims:"] + [f"  - id: {i}\n    text: {text}" for i, text in claims]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stat = path.stat()  # a visible change even where timestamps are coarse
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings, unique_name) -> ServiceRig:
    if not (MODEL_DIR / "stance-model.joblib").is_file():
        pytest.skip(f"no trained stance model in {MODEL_DIR} (make stance-model)")
    write_claims(tmp_path / "claims.yaml", ("bridge", BRIDGE))
    return service_rig(
        "stance",
        tmp_path,
        new_topic,
        kafka_settings,
        {"tagged": TAGGED.partitions, "enriched": None, "deadletter": None},
        state_dir=str(tmp_path / "state"),
        group_id=unique_name("stance"),
        model_dir=str(MODEL_DIR),
        claims_file=str(tmp_path / "claims.yaml"),
        claims_check_seconds="0.2",
    )


@pytest.fixture
def running(rig):
    service = rig.service().start()
    yield service
    service.kill()


def log_lines(path: Path) -> list[dict]:
    """The JSON log lines; Faust's terminal codes can start a line before the JSON."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if "{" in line:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line[line.index("{") :]))
    return found


def claims_of(article: dict) -> dict[str, dict]:
    return {claim["claim_id"]: claim for claim in article["stance"]["claims"]}


def test_every_label_is_on_metrics_at_zero_before_the_first_article(running):
    # A series that appears with its first count hides that count from rate(): a burst of
    # articles labelled in one batch would leave the confidence panel empty.
    _, text = running.http("/metrics")
    for label in ("agree", "disagree", "discuss", "unrelated"):
        assert f'newsflow_stance_probability_ratio_count{{label="{label}"}} 0.0' in text
        assert f'newsflow_stance_labels_total{{label="{label}",source="claims_file"}} 0.0' in text
    for reason in ("malformed_record", "invalid_record", "processing_failed"):
        assert f'newsflow_stance_dead_letters_total{{reason="{reason}"}} 0.0' in text


def test_an_article_comes_out_with_a_stance_toward_each_claim(rig, running):
    article = tagged()
    rig.send("tagged", article)
    [out] = rig.out("enriched", 1)
    assert out["article_id"] == article.article_id
    assert out["body"] == article.body and out["entities"]["model_version"] == "ner"
    stance = out["stance"]
    claims = claims_of(out)
    assert list(claims) == ["own_headline", "bridge"], "no story lead: it is the story's first"
    assert claims["own_headline"]["claim_source"] == "own_headline"
    assert claims["own_headline"]["claim_text"] == TITLE
    assert claims["own_headline"]["label"] in ("agree", "discuss")
    assert claims["bridge"]["claim_source"] == "claims_file"
    assert claims["bridge"]["label"] == "unrelated"
    for claim in claims.values():
        probabilities = claim["probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert set(probabilities) == {"agree", "disagree", "discuss", "unrelated"}
    assert stance["model_version"].startswith("stance-")
    assert [entry["stage"] for entry in out["trace"]] == ["watcher", "dedup", "entities", "stance"]
    assert out["trace"][-1]["model_version"] == stance["model_version"]
    records.EnrichedArticle.model_validate(out)  # what the sink and users read
    assert (
        running.metric("newsflow_stance_labels_total", 'label="unrelated",source="claims_file"')
        == 1
    )


def test_an_article_later_in_a_story_is_labelled_against_the_story_lead(rig, running):
    article = tagged(story_lead=LEAD)
    rig.send("tagged", article)
    [out] = rig.out("enriched", 1)
    claims = claims_of(out)
    lead = claims[f"story:{article.dedup.story_id}"]
    assert lead["claim_source"] == "story_lead"
    assert lead["claim_text"] == LEAD
    assert lead["label"] != "unrelated"
    assert list(claims) == ["own_headline", f"story:{article.dedup.story_id}", "bridge"]


def test_a_claims_file_change_takes_effect_without_a_restart(rig, running):
    first = tagged()
    rig.send("tagged", first)
    rig.out("enriched", 1)
    write_claims(rig.root / "claims.yaml", ("bridge", BRIDGE), ("stadium", STADIUM))
    wait_for(lambda: running.metric("newsflow_stance_claims_loaded") == 2, 30, "the new claims")
    second = tagged("Council approves harbour budget", BODY)
    rig.send("tagged", second)
    by_id = {a["article_id"]: a for a in rig.out("enriched", 2)}
    assert set(claims_of(by_id[first.article_id])) == {"own_headline", "bridge"}
    assert set(claims_of(by_id[second.article_id])) == {"own_headline", "bridge", "stadium"}
    assert claims_of(by_id[second.article_id])["stadium"]["claim_text"] == STADIUM
    assert running.process.poll() is None, "the same process, never restarted"


def test_a_malformed_claims_file_is_reported_and_the_previous_claims_stay(rig, running):
    (rig.root / "claims.yaml").write_text(
        "claims:\n  - id: broken\n    txet: oops\n", encoding="utf-8"
    )
    wait_for(
        lambda: running.metric("newsflow_stance_claims_file_errors_total") >= 1,
        30,
        "the claims file error",
    )
    assert running.metric("newsflow_stance_claims_file_ok") == 0
    assert running.metric("newsflow_stance_claims_loaded") == 1
    article = tagged()
    rig.send("tagged", article)
    [out] = rig.out("enriched", 1)
    assert set(claims_of(out)) == {"own_headline", "bridge"}
    reported = wait_for(
        lambda: [
            line
            for line in log_lines(rig.root / "stance.log")
            if line["level"] == "ERROR" and "claims file" in line["message"]
        ],
        10,
        "the error in the log",
    )
    assert "claims.0.text: Field required" in reported[0]["message"]
    assert "keeping the 1 claim(s) in force" in reported[0]["message"]


def test_a_malformed_record_is_dead_lettered_and_the_partition_goes_on(rig, running):
    rig.send("tagged", b"{not json", b'{"article_id": 7}', tagged())
    letters = rig.out("deadletter", 2)
    assert sorted(letter["reason"] for letter in letters) == ["invalid_record", "malformed_record"]
    assert all(letter["stage"] == "stance" for letter in letters)
    assert all(letter["input"]["topic"] == rig.topic["tagged"] for letter in letters)
    [passed] = rig.out("enriched", 1)
    assert "stance" in passed


def test_an_article_without_a_title_is_labelled_against_the_claims_file_only(rig, running):
    article = tagged(title=None)
    rig.send("tagged", article)
    [out] = rig.out("enriched", 1)
    assert list(claims_of(out)) == ["bridge"]
