"""FNC-1 files, the official split and the official score, on small hand-made examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.lab.stance import fnc

FNC1 = Path(__file__).resolve().parents[2].parent / "shared/data/fnc1"


def test_the_fnc_score_of_a_hand_scored_example():
    gold = ["agree", "disagree", "discuss", "unrelated", "unrelated", "agree"]
    predicted = ["agree", "discuss", "unrelated", "unrelated", "agree", "discuss"]
    # right related 1.0 + related as another related 0.25 + related as unrelated 0
    # + right unrelated 0.25 + unrelated as related 0 + related as another related 0.25
    score = fnc.fnc_score(gold, predicted)
    assert score.score == pytest.approx(1.75)
    assert score.maximum == pytest.approx(0.25 * 2 + 1.0 * 4)
    assert score.null_score == pytest.approx(0.5)
    assert score.percentage == pytest.approx(100 * 1.75 / 4.5)
    assert score.confusion == [
        [1, 0, 1, 0],  # gold agree
        [0, 0, 1, 0],  # gold disagree
        [0, 0, 0, 1],  # gold discuss
        [1, 0, 0, 1],  # gold unrelated
    ]


def test_a_perfect_prediction_scores_the_maximum():
    gold = ["agree", "unrelated", "discuss", "disagree"]
    assert fnc.fnc_score(gold, gold).percentage == pytest.approx(100.0)


def test_f1_per_class_from_a_confusion_matrix():
    confusion = [[2, 0, 0, 0], [0, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 3]]
    f1 = fnc.f1_per_class(confusion)
    assert f1["agree"] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert f1["disagree"] == 0.0  # never predicted, never right
    assert f1["discuss"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1["unrelated"] == pytest.approx(2 * 0.75 * 1 / 1.75)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reading_fnc_files_with_newlines_inside_bodies(tmp_path):
    bodies = write(
        tmp_path / "bodies.csv",
        'Body ID,articleBody\n7,"First paragraph.\n\nSecond, with a comma."\n9,Short one.\n',
    )
    stances = write(
        tmp_path / "stances.csv",
        'Headline,Body ID,Stance\n"A claim, quoted",7,agree\nAnother claim,9,unrelated\n',
    )
    data = fnc.read_dataset(bodies, stances)
    assert data.bodies[7] == "First paragraph.\n\nSecond, with a comma."
    assert data.pairs == [
        fnc.Pair("A claim, quoted", 7, "agree"),
        fnc.Pair("Another claim", 9, "unrelated"),
    ]
    assert data.labelled


def test_a_stances_file_without_labels_is_read_for_predictions(tmp_path):
    bodies = write(tmp_path / "bodies.csv", "Body ID,articleBody\n1,Text.\n")
    stances = write(tmp_path / "stances.csv", "Headline,Body ID\nA claim,1\n")
    data = fnc.read_dataset(bodies, stances)
    assert data.pairs == [fnc.Pair("A claim", 1, None)]
    assert not data.labelled


@pytest.mark.parametrize(
    ("stances", "problem"),
    [
        ("Headline,Stance\nA,agree\n", "missing column(s) 'Body ID'"),
        ("Headline,Body ID,Stance\nA,2,agree\n", "no body with Body ID 2"),
        ("Headline,Body ID,Stance\nA,1,maybe\n", "Stance 'maybe' is not one of"),
        ("Headline,Body ID,Stance\nA,one,agree\n", "Body ID 'one' is not a number"),
    ],
)
def test_files_not_in_fnc_format_are_refused_with_the_reason(tmp_path, stances, problem):
    bodies = write(tmp_path / "bodies.csv", "Body ID,articleBody\n1,Text.\n")
    with pytest.raises(fnc.FncFormatError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        fnc.read_dataset(bodies, write(tmp_path / "stances.csv", stances))


def test_the_split_is_by_body_id_with_the_official_seed():
    training, holdout = fnc.split_body_ids(list(range(10)))
    assert len(training) == 8 and len(holdout) == 2
    assert sorted(training + holdout) == list(range(10))
    import random

    expected = list(range(10))
    random.Random(1489215).shuffle(expected)
    assert training + holdout == expected


def test_the_official_holdout_of_fnc1_matches_its_published_size():
    if not (FNC1 / "train_stances.csv").is_file():
        pytest.skip(f"FNC-1's training files are not here ({FNC1})")
    training, holdout = fnc.official_split(fnc.read_training_data(FNC1))
    assert (len(training.bodies), len(holdout.bodies)) == (1346, 337)
    assert (len(training.pairs), len(holdout.pairs)) == (40350, 9622)
    gold = [pair.stance for pair in holdout.pairs]
    assert fnc.fnc_score(gold, gold).maximum == pytest.approx(4448.5)
    assert not set(training.bodies) & set(holdout.bodies)


def test_the_story_split_keeps_every_claim_of_a_held_out_story_unseen():
    pairs = [
        fnc.Pair("Claim A", 1, "agree"),
        fnc.Pair("Claim A reworded", 2, "discuss"),
        fnc.Pair("Claim A", 2, "agree"),  # joins A's two headlines into one story
        fnc.Pair("Claim B", 3, "disagree"),
        fnc.Pair("Claim C", 4, "agree"),
        fnc.Pair("Claim D", 5, "discuss"),
        fnc.Pair("Claim A", 3, "unrelated"),
        fnc.Pair("Claim B", 4, "unrelated"),
        fnc.Pair("Claim C", 5, "unrelated"),
        fnc.Pair("Claim D", 1, "unrelated"),
    ]
    data = fnc.Dataset({i: f"body {i}" for i in range(1, 6)}, pairs)
    training, held_out = fnc.story_split(data, share=0.3, seed=3)
    assert held_out.pairs and training.pairs
    assert not {p.headline for p in training.pairs} & {p.headline for p in held_out.pairs}
    assert not set(training.bodies) & set(held_out.bodies)
    story_a = {"Claim A", "Claim A reworded"}
    held_claims = {p.headline for p in held_out.pairs} | {p.headline for p in training.pairs}
    assert story_a <= held_claims
    for side in (training, held_out):
        claims = {p.headline for p in side.pairs}
        assert not (claims & story_a) or story_a <= claims, "a story is never cut in two"
