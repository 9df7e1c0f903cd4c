"""The FNC-1 baseline (FakeNewsChallenge/fnc-1-baseline, Apache-2.0) as a reference model:
its published hand features (word overlap, refuting words, polarity, co-occurrence and
n-gram hits) and scikit-learn's GradientBoostingClassifier with 200 trees, one four-class
stage, as the organisers ran it.

Reproduced as published, quirks included (its "character grams" join characters with
spaces, so they rarely match). One deliberate difference: the original lemmatises with
NLTK's WordNet, whose data cannot be installed from a package registry; here words are only
lower-cased. The features are otherwise computed the same way, per pair, in Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from newsflow.stance.model import load_model, save_model

from .fnc import LABELS, Dataset, index_pairs

BASELINE_FILE = "baseline-model.joblib"
BASELINE_SEED = 14128  # the baseline's own random_state

_REFUTING_WORDS = [
    "fake", "fraud", "hoax", "false", "deny", "denies",
    # "refute",
    "not", "despite", "nope", "doubt", "doubts", "bogus", "debunk", "pranks", "retract",
]  # fmt: skip


def clean(text: str) -> str:
    return " ".join(re.findall(r"\w+", text, flags=re.UNICODE)).lower()


def _remove_stopwords(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if t not in ENGLISH_STOP_WORDS]


def _polarity(clean_text: str) -> int:
    return sum(t in _REFUTING_WORDS for t in clean_text.split()) % 2


def _chargram_hits(clean_headline: str, clean_body: str, size: int) -> list[int]:
    text = " ".join(_remove_stopwords(clean_headline.split()))
    grams = [" ".join(text[i : i + size]) for i in range(len(text) - size + 1)]
    early, first = clean_body[:255], clean_body[:100]
    return [
        sum(gram in clean_body for gram in grams),
        sum(gram in early for gram in grams),
        sum(gram in first for gram in grams),
    ]


def _ngram_hits(clean_headline: str, clean_body: str, size: int) -> list[int]:
    tokens = clean_headline.split(" ")
    grams = [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    early = clean_body[:255]
    return [sum(gram in clean_body for gram in grams), sum(gram in early for gram in grams)]


def baseline_features(headline: str, body: str, clean_body: str | None = None) -> list[float]:
    """The baseline's 44 features of one pair, in its order."""
    clean_headline = clean(headline)
    clean_body = clean(body) if clean_body is None else clean_body
    headline_tokens, body_tokens = clean_headline.split(), clean_body.split()
    union = set(headline_tokens) | set(body_tokens)
    overlap = [len(set(headline_tokens) & set(body_tokens)) / len(union) if union else 0.0]
    refuting = [1 if word in headline_tokens else 0 for word in _REFUTING_WORDS]
    polarity = [_polarity(clean_headline), _polarity(clean_body)]
    early = clean_body[:255]
    co_occurrence = [
        sum(token in clean_body for token in clean_headline.split(" ")),
        sum(token in early for token in clean_headline.split(" ")),
    ]
    stops = sum(token in clean_body for token in _remove_stopwords(clean_headline.split(" ")))
    grams: list[int] = []
    for size in (2, 8, 4, 16):
        grams += _chargram_hits(clean_headline, clean_body, size)
    for size in (2, 3, 4, 5, 6):
        grams += _ngram_hits(clean_headline, clean_body, size)
    # The baseline stacks its feature groups as hand, polarity, refuting, overlap.
    return [*co_occurrence, stops, stops, *grams, *polarity, *refuting, *overlap]


def feature_matrix(
    claims: Sequence[str], bodies: Sequence[str], pairs: Sequence[tuple[int, int]], progress=None
) -> np.ndarray:
    clean_bodies = [clean(body) for body in bodies]
    pair_iter = pairs if progress is None else progress(pairs, desc="baseline pairs", unit="pair")
    return np.array(
        [baseline_features(claims[c], bodies[b], clean_bodies[b]) for c, b in pair_iter],
        dtype=np.float64,
    ).reshape(len(pairs), 44)


@dataclass
class BaselineModel:
    classifier: GradientBoostingClassifier
    version: str = "fnc1-baseline"

    @classmethod
    def train(cls, data: Dataset, seed: int = BASELINE_SEED, progress=None) -> BaselineModel:
        claims, bodies, pairs = index_pairs(data)
        matrix = feature_matrix(claims, bodies, pairs, progress)
        classifier = GradientBoostingClassifier(n_estimators=200, random_state=seed)
        classifier.fit(matrix, [pair.stance for pair in data.pairs])
        return cls(classifier, f"fnc1-baseline-{seed}")

    def probabilities(
        self, claims: Sequence[str], bodies: Sequence[str], pairs: Sequence[tuple[int, int]]
    ) -> np.ndarray:
        if not pairs:
            return np.zeros((0, len(LABELS)))
        probabilities = self.classifier.predict_proba(feature_matrix(claims, bodies, pairs))
        order = [list(self.classifier.classes_).index(label) for label in LABELS]
        return probabilities[:, order]

    def labels(self, probabilities: np.ndarray) -> list[str]:
        return [LABELS[i] for i in np.argmax(probabilities, axis=1)]

    def save(self, folder: Path) -> Path:
        return save_model(self, folder / BASELINE_FILE)

    @classmethod
    def load(cls, folder: Path) -> BaselineModel:
        return load_model(folder / BASELINE_FILE, cls, "the FNC-1 baseline model")
