"""The stance features on hand-written texts: similarity, and cue words near the claim's
key terms."""

from __future__ import annotations

import numpy as np
import pytest

from newsflow.stance.features import (
    PAIR_FEATURES,
    BodyView,
    ClaimView,
    Features,
    TextVectors,
    pair_features,
    words,
)

CLAIM = "Mayor Alvarez resigns after the harbour contract scandal"
SUPPORTING_BODY = (
    "Mayor Alvarez resigned on Monday. The harbour contract scandal had grown for weeks, "
    "and the council confirmed the resignation in a statement."
)
REFUTING_BODY = (
    "Reports that Mayor Alvarez resigns are false. A spokesman denied that the mayor would "
    "step down over the harbour contract. The rumour is a hoax, he said."
)
OTHER_BODY = "A new bakery opened on Elm Street, selling bread and cakes to the neighbourhood."


def feature(claim: str, body: str, name: str) -> float:
    return pair_features(ClaimView.of(claim), BodyView.of(body))[PAIR_FEATURES.index(name)]


def test_words_see_negations_in_contractions():
    assert words("It isn't true, they don't know") == [
        "it", "is", "not", "true", "they", "do", "not", "know",
    ]  # fmt: skip


def test_a_body_about_the_claim_shares_its_terms_and_one_about_else_does_not():
    assert feature(CLAIM, SUPPORTING_BODY, "term_share") > 0.6
    assert feature(CLAIM, OTHER_BODY, "term_share") == 0.0
    assert feature(CLAIM, OTHER_BODY, "sentences_with_terms_share") == 0.0


def test_refuting_words_count_where_the_claim_is_discussed():
    refuting = feature(CLAIM, REFUTING_BODY, "near_terms_refuting")
    assert refuting > 0
    assert feature(CLAIM, SUPPORTING_BODY, "near_terms_refuting") == 0.0
    assert feature(CLAIM, SUPPORTING_BODY, "near_terms_supporting") > 0
    # A refuting word in a sentence that does not touch the claim is not "near" it.
    far = OTHER_BODY + " The weather forecast was false again. " + SUPPORTING_BODY
    assert feature(CLAIM, far, "near_terms_refuting") == 0.0
    assert feature(CLAIM, far, "body_refuting_rate") > 0


def test_the_vector_features_of_a_small_corpus():
    claims = [CLAIM, "Bakery opens on Elm Street"]
    bodies = [SUPPORTING_BODY, REFUTING_BODY, OTHER_BODY]
    features = Features(TextVectors.fit(claims, bodies, seed=1, dimensions=2))
    pairs = [(0, 0), (0, 2), (1, 2)]
    matrix = features.matrix(claims, bodies, pairs)
    assert matrix.shape == (3, len(features.names))
    assert np.isfinite(matrix).all()
    cosine = matrix[:, features.names.index("ngram_cosine")]
    assert cosine[0] > cosine[1]
    assert cosine[2] > cosine[1]
    # Without stop words, a claim and a body about something else share nothing.
    assert matrix[1, features.names.index("term_cosine")] == pytest.approx(0.0)
