"""Entity scoring as conlleval does it, on a hand-made example; and the model on CoNLL dev.

The example below was written for this test (no corpus text). Its expected figures are
what conlleval.pl reports for it, worked out chunk by chunk in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli.main import cli
from newsflow.entities import conll
from newsflow.lab.entities.evaluation import score

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared/data"
MODEL = REPO / "models/ner"

# word POS chunk gold(IOB1) predicted(IOB2)
EXAMPLE = """\
-DOCSTART- -X- O O O

Anna NNP I-NP I-PER B-PER
Berg NNP I-NP I-PER I-PER
flew VBD I-VP O O
to TO I-PP O O
Oslo NNP I-NP I-LOC B-LOC
with IN I-PP O O
Kim NNP I-NP I-PER B-PER
Lee NNP I-NP B-PER B-PER
. . O O O

Tor NNP I-NP I-ORG B-ORG
Energy NNP I-NP I-ORG O
met VBD I-VP O O
Nordic NNP I-NP I-MISC B-MISC
Bank NNP I-NP I-ORG B-ORG
officials NNS I-NP O O
in IN I-PP O O
Bergen NNP I-NP I-LOC B-PER
. . O O O

-DOCSTART- -X- O O O

Lars NNP I-NP I-PER I-PER
Vik NNP I-NP I-PER I-PER
and CC O O O
Oslo NNP I-NP I-ORG I-ORG
Kommune NNP I-NP I-ORG B-ORG
. . O O O
"""
# Gold chunks (IOB1: I- after O starts one; B- splits "Kim" from "Lee"):
#   Anna Berg PER, Oslo LOC, Kim PER, Lee PER | Tor Energy ORG, Nordic MISC, Bank ORG (the type
#   changes), Bergen LOC | Lars Vik PER, Oslo Kommune ORG
#                                                 -> 10: PER 4, LOC 2, ORG 3, MISC 1
# Predicted chunks (IOB2; conlleval also reads a leading I- as a start):
#   the first four, all right | Tor ORG (gold: Tor Energy), Nordic MISC right, Bank ORG right,
#   Bergen PER (gold: LOC) | Lars Vik PER right, Oslo ORG + Kommune ORG (B- splits: both wrong)
#                                                 -> 11: PER 5, LOC 1, ORG 4, MISC 1; 7 correct
# conlleval prints: processed 26 tokens with 10 phrases; found: 11 phrases; correct: 7.
#   precision:  63.64%; recall:  70.00%; FB1:  66.67
#   LOC: 100.00% 50.00% 66.67 (1); MISC: 100.00% 100.00% 100.00 (1);
#   ORG: 25.00% 33.33% 28.57 (4); PER: 80.00% 100.00% 88.89 (5)
# (conlleval counts the two -DOCSTART- lines as tokens: 24 words + 2.)
EXPECTED = {
    "LOC": (1, 2, 1),  # found, gold, correct
    "MISC": (1, 1, 1),
    "ORG": (4, 3, 1),
    "PER": (5, 4, 4),
}


def example_sentences() -> tuple[list[list[str]], list[list[str]]]:
    gold, predicted = [], []
    for document in conll.parse(EXAMPLE.splitlines()):
        for sentence in document.sentences:
            gold.append([row[-2] for row in sentence.rows])
            predicted.append([row[-1] for row in sentence.rows])
    return gold, predicted


def test_conlleval_figures_on_the_hand_made_example() -> None:
    scores = score(*example_sentences())
    assert {
        label: (counts.predicted, counts.gold, counts.correct)
        for label, counts in scores.by_type.items()
    } == EXPECTED
    overall = scores.overall
    assert (overall.predicted, overall.gold, overall.correct) == (11, 10, 7)
    assert round(100 * overall.precision, 2) == 63.64
    assert round(100 * overall.recall, 2) == 70.00
    assert round(100 * overall.f1, 2) == 66.67
    per_type = {
        label: tuple(round(100 * x, 2) for x in (c.precision, c.recall, c.f1))
        for label, c in scores.by_type.items()
    }
    assert per_type == {
        "LOC": (100.0, 50.0, 66.67),
        "MISC": (100.0, 100.0, 100.0),
        "ORG": (25.0, 33.33, 28.57),
        "PER": (80.0, 100.0, 88.89),
    }
    assert scores.tokens == 24


def test_report_counts_docstart_lines_as_conlleval_does(tmp_path: Path) -> None:
    from newsflow.lab.entities.evaluation import read_scored

    predictions = tmp_path / "example.txt"
    predictions.write_text(EXAMPLE)
    scores = read_scored(predictions)
    assert scores.tokens == 26
    assert (scores.overall.predicted, scores.overall.gold, scores.overall.correct) == (11, 10, 7)


@pytest.mark.parametrize(
    ("tags", "chunks"),
    [
        (["I-PER", "I-PER", "B-PER"], [(0, 2, "PER"), (2, 3, "PER")]),  # IOB1
        (["B-PER", "I-PER", "B-PER"], [(0, 2, "PER"), (2, 3, "PER")]),  # IOB2
        (["O", "I-LOC", "I-ORG", "O"], [(1, 2, "LOC"), (2, 3, "ORG")]),  # type change
        (["B-MISC", "O", "B-MISC"], [(0, 1, "MISC"), (2, 3, "MISC")]),  # B- after O (IOB1 quirk)
        (["I-ORG", "E-ORG", "I-ORG"], [(0, 2, "ORG"), (2, 3, "ORG")]),  # IOE
        (["O", "O"], []),
    ],
)
def test_chunk_rules(tags: list[str], chunks: list[tuple[int, int, str]]) -> None:
    assert [(c.start, c.end, c.label) for c in conll.chunks(tags)] == chunks


def test_iob2_round_trip() -> None:
    tags = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert conll.iob2(conll.chunks(tags), len(tags)) == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]


def needs_model() -> None:
    if not (MODEL / "meta.json").is_file():
        pytest.skip(f"no trained model in {MODEL} (python -m newsflow.lab.entities.train)")


def test_cli_scores_and_writes_predictions(tmp_path: Path) -> None:
    needs_model()
    gold_file = tmp_path / "gold.txt"
    # the same example as a plain 4-column CoNLL file (drop the predicted column)
    gold_file.write_text(
        "\n".join(" ".join(line.split()[:4]) for line in EXAMPLE.splitlines()) + "\n"
    )
    out = tmp_path / "predicted.txt"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "entities",
            str(gold_file),
            "--json",
            "--predictions",
            str(out),
            "--model",
            str(MODEL),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) >= {"precision", "recall", "f1", "per_type", "words_per_second"}
    assert figures["words_per_second"] > 0
    source_lines = gold_file.read_text().splitlines()
    written = out.read_text().splitlines()
    assert len(written) == len(source_lines)
    for source, line in zip(source_lines, written, strict=True):
        assert line.split()[:-1] == source.split()  # the input, plus one column
        if line.split():
            assert line.split()[-1] == "O" or line.split()[-1][:2] in ("B-", "I-")
    # Rescoring the written file gives the figures printed.
    gold, predicted = [], []
    for document in conll.parse(written):
        for sentence in document.sentences:
            gold.append([row[-2] for row in sentence.rows])
            predicted.append([row[-1] for row in sentence.rows])
    assert score(gold, predicted).overall.f1 == pytest.approx(figures["f1"])


def test_dev_f1_on_a_slice(tmp_path: Path) -> None:
    """The committed model on the first CoNLL-2003 dev documents (skipped without the data)."""
    needs_model()
    dev = DATA / "conll2003/dev.txt"
    if not dev.is_file():
        pytest.skip(f"CoNLL-2003 dev not found at {dev} (kept outside the repository)")
    lines = dev.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(conll.DOCSTART)]
    slice_file = tmp_path / "dev-slice.txt"
    slice_file.write_text("\n".join(lines[: starts[40]]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "entities", str(slice_file), "--json", "--model", str(MODEL)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["f1"] > 0.85
    assert set(figures["per_type"]) == {"LOC", "MISC", "ORG", "PER"}
