"""The committed stance model on articles it never saw in training: a report toward its own
headline, and articles written here that state the opposite of a claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsflow.stance.model import StanceModel
from newsflow.watcher.parsing import parse_file_bytes

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared/data/seeds"
ENCODER = REPO / "models" / "sentence-encoder"

# Each: a claim, and a report that says the claim is false (written for this test).
CONTRADICTIONS = [
    (
        "Apple agrees to buy Netflix for 50 billion dollars",
        "Apple and Netflix on Tuesday denied reports that the iPhone maker had agreed to buy "
        'the streaming service for 50 billion dollars. "There is no deal and there have been '
        'no talks," an Apple spokeswoman said. A Netflix spokesman called the report '
        '"completely false" and said the company was not for sale. The story, first posted '
        "on an anonymous blog, had lifted Netflix shares by 4 percent before the denials.",
    ),
    (
        "Astronomers discover a second moon orbiting Earth",
        "Astronomers have dismissed viral posts claiming that a second moon has been found "
        "orbiting Earth. The object, spotted last month, is a small asteroid that travels "
        "around the Sun near Earth's path and is not a moon, NASA said on Friday. \"Earth has "
        'one moon, and that has not changed," said a researcher at the agency. Experts said '
        "the posts misread a routine asteroid survey.",
    ),
    (
        "Pop singer Lena Marsh killed in Los Angeles car crash",
        "Pop singer Lena Marsh is alive and well, her representatives said on Sunday, after a "
        "fake news website reported that she had been killed in a car crash in Los Angeles. "
        '"Lena is at home with her family and was never in any accident," her manager said. '
        "Police in Los Angeles said they had no record of such a crash. The hoax spread "
        "quickly on social media before it was debunked.",
    ),
    (
        "Government to ban cash payments from next year",
        "The finance ministry on Monday denied that it plans to ban cash payments next year, "
        'calling the reports false. "Cash will remain legal tender and there is no plan to '
        'abolish it," the finance minister told reporters. Rumours of a ban had spread after '
        "a misquoted interview. The ministry said the claims were baseless.",
    ),
]


@pytest.fixture(scope="module")
def model() -> StanceModel:
    return StanceModel.load(REPO / "models" / "stance", ENCODER)


def label(model: StanceModel, claim: str, body: str) -> tuple[str, np.ndarray]:
    probabilities = model.probabilities([claim], [body], [(0, 0)])
    return model.labels(probabilities)[0], probabilities[0]


def test_a_report_agrees_with_or_discusses_its_own_headline(model):
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS} (they are kept outside the repository)")
    path = next(SEEDS.glob("004_*.txt"))
    article = parse_file_bytes(path.name, path.read_bytes()).articles[0]
    assert article.title == "US condemns Russian troop deployments in Venezuela"
    found, probabilities = label(model, article.title, article.body)
    assert found in ("agree", "discuss"), probabilities


def test_articles_that_state_the_opposite_of_a_claim_disagree(model):
    # A small model errs, and a retrained one errs elsewhere: three of the four must be
    # `disagree` (the model card gives each one's label), and none may be taken for a report
    # of something else.
    found = {claim: label(model, claim, body) for claim, body in CONTRADICTIONS}
    labels = [result[0] for result in found.values()]
    assert labels.count("disagree") >= 3, found
    assert "unrelated" not in labels, found


def test_an_article_about_something_else_is_unrelated(model):
    found, probabilities = label(model, CONTRADICTIONS[0][0], CONTRADICTIONS[1][1])
    assert found == "unrelated", probabilities


def test_the_probabilities_sum_to_one_and_a_pair_does_not_depend_on_the_others(model):
    claims = [claim for claim, _ in CONTRADICTIONS]
    bodies = [body for _, body in CONTRADICTIONS]
    pairs = [(c, b) for c in range(len(claims)) for b in range(len(bodies))]
    together = model.probabilities(claims, bodies, pairs)
    assert np.allclose(together.sum(axis=1), 1.0)
    alone = model.probabilities(claims[2:3], bodies[1:2], [(0, 0)])
    assert np.array_equal(alone[0], together[pairs.index((2, 1))])


def test_a_folder_that_mixes_two_models_is_refused(tmp_path):
    import shutil

    from newsflow.stance.model import ModelError

    folder = tmp_path / "stance"
    shutil.copytree(REPO / "models" / "stance", folder)
    shutil.copyfile(ENCODER / "model.onnx", folder / "cross-encoder.onnx")
    with pytest.raises(ModelError, match="mix of two models"):
        StanceModel.load(folder, ENCODER)
