"""Calibration and the operating point: pure logic on made-up scores."""

from __future__ import annotations

import numpy as np

from newsflow.stance.calibration import (
    Calibration,
    choose_weights,
    expected_calibration_error,
    related_curve,
)


def test_overconfident_scores_are_softened_to_their_real_accuracy():
    rng = np.random.default_rng(0)
    # Labels drawn from softmax(true scores), and the model's scores ten times too sharp.
    true = rng.normal(scale=1.5, size=(4000, 3))
    chances = np.exp(true) / np.exp(true).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(3, p=row) for row in chances])
    logits = true * 10
    related_scores = np.clip(rng.random(4000), 0.01, 0.99)
    is_related = rng.random(4000) < related_scores  # already calibrated
    no_cues = np.zeros((4000, 0))
    calibration = Calibration.fit(
        related_scores, is_related, logits, no_cues, gold, (1 / 3,) * 3, np.mean(is_related)
    )
    raw = np.exp(logits - logits.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    calibrated = calibration.stance(logits, no_cues)
    assert expected_calibration_error(raw, gold) > 0.2
    assert expected_calibration_error(calibrated, gold) < 0.05
    assert abs(calibration.related_slope - 1.0) < 0.2


def test_held_out_pairs_with_too_many_related_ones_do_not_raise_p_related():
    # Scores already calibrated where the model is used (a quarter of pairs related), and
    # held-out pairs that keep every related pair but only a third of the unrelated ones.
    rng = np.random.default_rng(2)
    scores = rng.beta(0.5, 1.5, 40000)
    is_related = rng.random(40000) < scores
    held = is_related | (rng.random(40000) < 1 / 3)
    where_used = float(np.mean(is_related))
    slope, intercept = related_curve(scores[held], is_related[held], where_used)
    assert abs(slope - 1) < 0.1 and abs(intercept) < 0.1  # left as they were
    naive = related_curve(scores[held], is_related[held], float(np.mean(is_related[held])))
    assert naive[1] > 0.9  # log 3: what ignoring the dropped pairs would add


def test_a_cue_the_scores_miss_moves_the_probabilities():
    # Scores that cannot tell label 1 from label 2; a cue that can.
    rng = np.random.default_rng(1)
    gold = rng.integers(1, 3, 2000)
    logits = np.column_stack([rng.normal(size=2000), rng.normal(size=2000) + 1, np.ones(2000)])
    gold[:200] = 0
    logits[:200, 0] += 3
    cue = (gold == 1).astype(float)[:, None] + rng.normal(scale=0.3, size=(2000, 1))
    calibration = Calibration.fit(
        np.full(2000, 0.5), gold > 0, logits, cue, gold, (1 / 3,) * 3, 0.5
    )
    probabilities = calibration.stance(logits, cue)
    assert np.mean(np.argmax(probabilities, axis=1) == gold) > 0.9


def test_the_expected_calibration_error_of_known_bins():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    gold = np.array([0, 0, 1, 1])  # 100 % right at 0.9, 0 % right at 0.6
    assert np.isclose(expected_calibration_error(probabilities, gold), 0.5 * 0.1 + 0.5 * 0.6)


def test_the_rare_label_gets_the_weight_that_makes_it_said():
    # Disagree pairs whose calibrated P(disagree) is 0.3 against 0.4 for discuss: without a
    # weight they are never labelled disagree.
    probabilities = np.array([[0.3, 0.3, 0.4]] * 10 + [[0.1, 0.1, 0.8]] * 80 + [[0.7, 0, 0.3]] * 10)
    gold = np.array([1] * 10 + [2] * 80 + [0] * 10)
    _, disagree, discuss = choose_weights(probabilities, gold)
    assert disagree * 0.3 > 0.4 and discuss == 1.0
    assert choose_weights(np.eye(3)[gold], gold) == (1.0, 1.0, 1.0)  # nothing to correct
