"""`newsflow eval dedup` and the development stream builder, as a user runs them: the figures
printed (`--json`), the predictions file, and the quality targets on the FNC-1 stream.

The synthetic stream is made here; FNC-1 is read from beside the repository and the test
that needs it is skipped when it is absent.
"""

import json
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli.main import cli
from newsflow.core.sentences import SentenceEncoder
from newsflow.lab.dedup.evaluation import evaluate, pair_scores, read_stream

REPO = Path(__file__).resolve().parents[2]
FNC1 = REPO.parent / "shared/data/fnc1"
FIGURES = {
    "copy_precision",
    "copy_recall",
    "copy_f1",
    "story_precision",
    "story_recall",
    "story_f1",
    "articles_per_second",
    "peak_rss_bytes",
}
SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "de", "po", "ze", "lu")
START = datetime(2026, 3, 1, tzinfo=UTC)


class Random:
    """A tiny deterministic generator, so the stream is the same on every machine."""

    def __init__(self, seed: int) -> None:
        self.state = seed * 7919 + 17

    def below(self, limit: int) -> int:
        self.state = (self.state * 1103515245 + 12345) % 2**31
        return self.state % limit


def topic_words(topic: int) -> list[str]:
    draw = Random(topic)
    return [
        "".join(SYLLABLES[draw.below(len(SYLLABLES))] for _ in range(3)) + f"{topic}"
        for _ in range(50)
    ]


def text(topic: int, variant: int) -> str:
    """An article on `topic`: its own sentences, in the topic's made-up vocabulary."""
    vocabulary, draw = topic_words(topic), Random(topic * 100 + variant)
    sentences = [
        " ".join(vocabulary[draw.below(len(vocabulary))] for _ in range(12)).capitalize() + "."
        for _ in range(12)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 2]) for i in range(0, 12, 2))


def synthetic_stream() -> list[dict]:
    """Four stories of three articles each, a day apart; every first article gets an exact
    copy (other spacing), a wrapped reprint and a truncated copy a few hours later."""
    lines = []
    for topic in range(1, 5):
        day = START + timedelta(days=topic * 10)
        for variant in range(3):
            body = text(topic, variant)
            when = day + timedelta(hours=variant * 6)
            original = f"t{topic}-a{variant}"
            lines.append(line(original, f"Topic {topic} news {variant}", body, None, topic, when))
            if variant:
                continue
            paragraphs = body.split("\n\n")
            copies = [
                ("exact", f"Topic {topic} news {variant}", body.replace(" ", "  ")),
                (
                    "wrapped",
                    f"Reprint: topic {topic}",
                    "\n\n".join(
                        [
                            "This article was originally published by Example News and is "
                            "reprinted with permission.",
                            *paragraphs,
                            "Share this article",
                        ]
                    ),
                ),
                ("truncated", f"Topic {topic} in brief", "\n\n".join(paragraphs[:4])),
            ]
            for hours, (kind, title, copy_body) in enumerate(copies, start=1):
                lines.append(
                    line(
                        f"{original}-{kind}",
                        title,
                        copy_body,
                        original,
                        topic,
                        when + timedelta(hours=hours),
                    )
                )
    lines.sort(key=lambda item: item["published_at"])
    return lines


def line(
    stream_id: str, title: str, body: str, duplicate_of: str | None, topic: int, when: datetime
) -> dict:
    return {
        "id": stream_id,
        "title": title,
        "body": body,
        "duplicate_of": duplicate_of,
        "story": f"story-{topic}",
        "published_at": when.isoformat(),
    }


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in lines), encoding="utf-8")
    return path


def run(*args: str):
    result = CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)
    return result


# --- the command on a synthetic stream ---------------------------------------------------------


def test_json_figures_have_exactly_the_issues_keys_and_sensible_values(tmp_path):
    stream = write(tmp_path / "stream.jsonl", synthetic_stream())
    result = run("dedup", str(stream), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == FIGURES
    # A clean stream: every copy found, nothing else linked, the four stories apart.
    assert figures["copy_precision"] == figures["copy_recall"] == figures["copy_f1"] == 1.0
    assert figures["story_precision"] == figures["story_recall"] == figures["story_f1"] == 1.0
    assert figures["articles_per_second"] > 0
    assert isinstance(figures["peak_rss_bytes"], int) and figures["peak_rss_bytes"] > 2**20


def test_predictions_file_has_one_line_per_article_in_stream_ids(tmp_path):
    lines = synthetic_stream()
    stream = write(tmp_path / "stream.jsonl", lines)
    out = tmp_path / "out" / "predictions.jsonl"
    result = run("dedup", str(stream), "--predictions", str(out))
    assert result.exit_code == 0, result.output
    assert "copy groups" in result.output and "articles/s" in result.output

    predictions = [json.loads(text) for text in out.read_text("utf-8").splitlines()]
    assert [p["id"] for p in predictions] == [item["id"] for item in lines]
    assert all(set(p) == {"id", "verdict", "duplicate_of", "story_id"} for p in predictions)
    by_id = {p["id"]: p for p in predictions}
    assert by_id["t1-a0-exact"]["verdict"] == "exact_duplicate"
    assert by_id["t1-a0-exact"]["duplicate_of"] == "t1-a0"
    for kind in ("wrapped", "truncated"):
        assert by_id[f"t1-a0-{kind}"]["verdict"] == "near_duplicate"
        assert by_id[f"t1-a0-{kind}"]["duplicate_of"] == "t1-a0"
    assert by_id["t1-a1"] == {
        "id": "t1-a1",
        "verdict": "unique",
        "duplicate_of": None,
        "story_id": "t1-a0",
    }
    assert {p["story_id"] for p in predictions} == {f"t{topic}-a0" for topic in range(1, 5)}


def test_gold_fields_may_be_absent(tmp_path):
    lines = [
        {"id": item["id"], "body": item["body"], "extra": 1} for item in synthetic_stream()[:5]
    ]
    result = run("dedup", str(write(tmp_path / "s.jsonl", lines)), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # No gold pairs: recall (and so F1) is undefined rather than a made-up number.
    assert figures["copy_recall"] is None and figures["story_recall"] is None


def test_a_bad_line_is_reported_with_its_number(tmp_path):
    stream = tmp_path / "bad.jsonl"
    stream.write_text('{"id": "a", "body": "text"}\n{"id": "b"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "dedup", str(stream)])
    assert result.exit_code != 0
    assert "line 2" in result.output and "body" in result.output


def test_pairwise_scores_count_pairs_within_groups():
    # Predicted {a,b,c} {d}; gold {a,b} {c,d}: predicted pairs ab ac bc, gold ab cd.
    scores = pair_scores(["x", "x", "x", "y"], ["g", "g", "h", "h"])
    assert (scores.predicted_pairs, scores.gold_pairs) == (3, 2)
    assert scores.precision == pytest.approx(1 / 3, abs=1e-4)
    assert scores.recall == 0.5
    assert scores.f1 == pytest.approx(0.4, abs=1e-4)


# --- the development stream from FNC-1 ----------------------------------------------------------


@pytest.mark.timeout(600)
def test_the_dev_stream_from_fnc1_meets_the_quality_targets(tmp_path):
    if not FNC1.is_dir():
        pytest.skip(f"FNC-1 not found in {FNC1} (it is kept outside the repository)")
    out = tmp_path / "dedup-stream.jsonl"
    result = run("build-dedup-stream", "--fnc1", str(FNC1), "--out", str(out), "--seed", "13")
    assert result.exit_code == 0, result.output
    first = out.read_bytes()
    lines = [json.loads(text) for text in first.decode("utf-8").splitlines()]
    assert len(lines) > 2000
    ids = {item["id"] for item in lines}
    position = {item["id"]: index for index, item in enumerate(lines)}
    copies = [item for item in lines if item["duplicate_of"]]
    assert all(position[item["duplicate_of"]] < position[item["id"]] for item in copies)
    assert {item["duplicate_of"] for item in copies} <= ids
    assert {"real-copy", "exact", "wrapped", "headline", "truncated", "edited"} <= {
        item["transform"] for item in copies
    }
    # Deterministic: the same seed builds the same stream.
    again = tmp_path / "again.jsonl"
    run("build-dedup-stream", "--fnc1", str(FNC1), "--out", str(again), "--seed", "13")
    assert again.read_bytes() == first

    # A slice in stream order (the README gives the figures on the whole stream), with the
    # sentence encoder, as the worker runs.
    meaning = SentenceEncoder(REPO / "models" / "sentence-encoder").vector
    report = evaluate(islice(read_stream(out), 1200), meaning=meaning)
    assert report.copies.precision >= 0.99
    assert report.copies.recall >= 0.97
    assert report.stories.f1 >= 0.92
