"""`newsflow eval stance` on a small FNC-format example written for this test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli.main import cli
from newsflow.lab.stance import fnc

MODEL_DIR = Path(__file__).resolve().parents[2] / "models/stance"

BODIES = [
    (
        11,
        "The city council voted on Tuesday to close the old river bridge for repairs from June "
        "to September. Engineers found cracks in two supports, the council said, and traffic "
        "will be sent over the ring road while the work is done.",
    ),
    (
        12,
        "A local bakery on Elm Street won the regional bread prize this weekend. The owners "
        "said they would celebrate by giving away rolls to every customer on Saturday.",
    ),
    (
        13,
        'Officials denied reports that the river bridge will close this summer. "That story is '
        'false," a council spokesman said, adding that no repairs are planned before next year '
        "and that the rumour was a hoax spread online.",
    ),
]
STANCES = [
    ("River bridge to close for summer repairs", 11, "agree"),
    ("River bridge to close for summer repairs", 12, "unrelated"),
    ("River bridge to close for summer repairs", 13, "disagree"),
    ("Bakery wins regional bread prize", 12, "agree"),
    ("Bakery wins regional bread prize", 11, "unrelated"),
    ("Bakery wins regional bread prize", 13, "unrelated"),
]


@pytest.fixture
def example(tmp_path) -> tuple[Path, Path]:
    if not (MODEL_DIR / "stance-model.joblib").is_file():
        pytest.skip(f"no trained stance model in {MODEL_DIR} (make stance-model)")
    bodies, stances = tmp_path / "bodies.csv", tmp_path / "stances.csv"
    fnc.write_bodies(dict(BODIES), bodies)
    with stances.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Headline", "Body ID", "Stance"])
        writer.writerows(STANCES)
    return bodies, stances


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["eval", "stance", "--model-dir", str(MODEL_DIR), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_figures_agree_with_the_predictions_file(example, tmp_path):
    bodies, stances = example
    predictions = tmp_path / "predictions.csv"
    figures = json.loads(
        run("--bodies", str(bodies), "--stances", str(stances), "--json",
            "--predictions", str(predictions))
    )  # fmt: skip
    assert set(figures) == {
        "fnc_score", "macro_f1", "per_class_f1", "confusion", "calibration_error",
        "pairs_per_second",
    }  # fmt: skip
    assert 0 <= figures["calibration_error"] <= 1
    with predictions.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Headline", "Body ID", "Stance"]
    assert [(h, int(b)) for h, b, _ in rows[1:]] == [(h, b) for h, b, _ in STANCES]
    # Scoring the written predictions independently gives the printed score.
    score = fnc.fnc_score([s for _, _, s in STANCES], [s for _, _, s in rows[1:]])
    assert figures["fnc_score"] == pytest.approx(score.percentage, abs=1e-3)
    assert figures["confusion"] == score.confusion
    assert sum(map(sum, figures["confusion"])) == len(STANCES)
    assert figures["pairs_per_second"] > 0
    # Unrelated pairs on this made-up example are easy: nothing shared at all.
    labels = {(h, int(b)): s for h, b, s in rows[1:]}
    assert labels[("Bakery wins regional bread prize", 11)] == "unrelated"
    assert labels[("River bridge to close for summer repairs", 11)] != "unrelated"


def test_ours_and_the_baseline_in_one_run(example, tmp_path):
    bodies, stances = example
    predictions = tmp_path / "out.csv"
    both = json.loads(
        run("--bodies", str(bodies), "--stances", str(stances), "--model", "both", "--json",
            "--predictions", str(predictions))
    )  # fmt: skip
    assert set(both) == {"ours", "baseline"}
    assert all(0 <= report["fnc_score"] <= 100 for report in both.values())
    assert predictions.is_file() and (tmp_path / "out.baseline.csv").is_file()
    text = run("--bodies", str(bodies), "--stances", str(stances), "--model", "both")
    assert "model        ours" in text and "model        baseline" in text
    assert "FNC score" in text and "confusion" in text and "pairs/s on one core" in text


def test_a_stances_file_without_labels_gives_predictions_only(example, tmp_path):
    bodies, _ = example
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text(
        "Headline,Body ID\n" + "".join(f"{h},{b}\n" for h, b, _ in STANCES), encoding="utf-8"
    )
    predictions = tmp_path / "predictions.csv"
    figures = json.loads(
        run("--bodies", str(bodies), "--stances", str(unlabelled), "--json",
            "--predictions", str(predictions))
    )  # fmt: skip
    assert figures["fnc_score"] is None and figures["confusion"] is None
    assert figures["pairs_per_second"] > 0
    assert len(predictions.read_text(encoding="utf-8").splitlines()) == len(STANCES) + 1
    assert "no Stance column" in run("--bodies", str(bodies), "--stances", str(unlabelled))


def test_a_file_in_another_format_is_refused_with_its_name(tmp_path):
    bodies = tmp_path / "bodies.csv"
    bodies.write_text("id,text\n1,hello\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "stance", "--bodies", str(bodies), "--stances", str(bodies)]
    )
    assert result.exit_code != 0
    assert "bodies.csv: missing column(s) 'Body ID', 'articleBody'" in result.output
