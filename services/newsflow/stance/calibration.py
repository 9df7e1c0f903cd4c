"""Probabilities analysts can filter on, and the operating point, both fitted on stories the
model was not trained on.

- P(related): Platt scaling of the booster's probability (a logistic curve on its log-odds),
  with the held-out pairs weighted to the share of related pairs the model was trained on.
  Holding out whole stories drops the pairs across a held-out and a kept story, nearly all
  unrelated, so the held-out side has two or three times the real share of related pairs;
  fitted unweighted, P(related) would be raised for every pair, and a claims-file claim,
  unrelated to nearly every article, would be called related far too often.
- P(label | related): a multinomial logistic regression over the cross-encoder's three
  scores and 12 cue-word features (negating, refuting, hedging and supporting words in the
  claim, the body and the body's sentences about the claim), fitted by likelihood with its
  regularisation chosen by 5-fold cross-validation. The cue words are what the small
  cross-encoder misses most: a body that denies a claim in the claim's own words reads to
  it like one that reports it.
- The decision: the related label with the highest P(label) x weight. The weights are
  chosen for macro-F1 over the related labels on cross-validated probabilities of the same
  held-out stories; they move the labels, never the probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, product

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

WEIGHT_GRID = tuple(float(w) for w in np.geomspace(0.5, 8.0, 17))
REGULARISATION_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
FOLDS = 5


@dataclass(frozen=True)
class Calibration:
    related_slope: float
    related_intercept: float
    stance_model: Pipeline  # scaled (scores, cues) -> P(agree, disagree, discuss)
    prior: tuple[float, float, float]  # P(label | related) among the training pairs
    decision_weights: tuple[float, float, float]

    def related(self, scores: np.ndarray) -> np.ndarray:
        log_odds = logit(np.clip(scores, 1e-6, 1 - 1e-6))
        return expit(self.related_slope * log_odds + self.related_intercept)

    def stance(self, logits: np.ndarray, cues: np.ndarray) -> np.ndarray:
        return self.stance_model.predict_proba(np.hstack([logits, cues]))

    @classmethod
    def fit(
        cls,
        related_scores: np.ndarray,
        is_related: np.ndarray,
        stance_logits: np.ndarray,
        stance_cues: np.ndarray,
        stance_gold: np.ndarray,
        prior: Sequence[float],
        related_share: float,
        seed: int = 1,
    ) -> Calibration:
        """From held-out pairs: stage one's raw scores and whether each pair is related; the
        cross-encoder's scores of the related ones, their cue features and their labels
        (indices into the related labels). `related_share`: the share of related pairs where
        the model will be used (its training pairs')."""
        slope, intercept = related_curve(related_scores, is_related, related_share)
        inputs = np.hstack([stance_logits, stance_cues])
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
        chosen = make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(
                Cs=REGULARISATION_GRID,
                l1_ratios=(0.0,),
                cv=folds,
                scoring="neg_log_loss",
                max_iter=5000,
                use_legacy_attributes=False,
            ),
        ).fit(inputs, stance_gold)
        regularisation = float(chosen[-1].C_)
        stance_model = make_pipeline(
            StandardScaler(), LogisticRegression(C=regularisation, max_iter=5000)
        )
        held_out = cross_val_predict(
            stance_model, inputs, stance_gold, cv=folds, method="predict_proba"
        )
        stance_model.fit(inputs, stance_gold)
        return cls(
            float(slope),
            float(intercept),
            stance_model,
            tuple(float(v) for v in prior),
            choose_weights(held_out, stance_gold),
        )


def related_curve(
    scores: np.ndarray, is_related: np.ndarray, related_share: float
) -> tuple[float, float]:
    """Slope and intercept of the logistic curve on the scores' log-odds, each pair weighted
    so that related pairs make up `related_share` of the weight."""
    held_share = float(np.mean(is_related))
    weights = np.where(
        is_related, related_share / held_share, (1 - related_share) / (1 - held_share)
    )
    x = logit(np.clip(scores, 1e-6, 1 - 1e-6))
    y = is_related.astype(float)

    def loss(params):
        z = params[0] * x + params[1]
        return float(np.sum(weights * (np.logaddexp(0, z) - y * z)))

    slope, intercept = minimize(loss, [1.0, 0.0], method="L-BFGS-B").x
    return float(slope), float(intercept)


def macro_f1(gold: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    scores = []
    for label in range(classes):
        true_positive = np.sum((predicted == label) & (gold == label))
        precision = true_positive / max(1, np.sum(predicted == label))
        recall = true_positive / max(1, np.sum(gold == label))
        scores.append(2 * precision * recall / (precision + recall) if true_positive else 0.0)
    return float(np.mean(scores))


def choose_weights(probabilities: np.ndarray, gold: np.ndarray) -> tuple[float, float, float]:
    """The (agree, disagree, 1) weights on the grid that give the best macro-F1; ties go to
    the weights nearest to none."""
    best, best_weights = -1.0, (1.0, 1.0, 1.0)
    ranked = sorted(
        product(WEIGHT_GRID, WEIGHT_GRID), key=lambda w: abs(np.log(w[0])) + abs(np.log(w[1]))
    )
    for agree, disagree in ranked:
        weights = np.array([agree, disagree, 1.0])
        score = macro_f1(gold, np.argmax(probabilities * weights, axis=1), 3)
        if score > best + 1e-9:
            best, best_weights = score, (float(agree), float(disagree), 1.0)
    return best_weights


def expected_calibration_error(
    probabilities: np.ndarray, gold: np.ndarray, bins: int = 10
) -> float:
    """Top-label ECE: the gap between confidence and accuracy, averaged over equal-width
    confidence bins weighted by their share of the pairs."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)
