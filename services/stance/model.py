"""The stance model: two gradient-boosted stages over `features.Features`.

Stage one tells related pairs from unrelated ones; stage two, trained on related pairs
only, tells agree, disagree and discuss apart, with class weights so that the rare
`disagree` (under 2 % of FNC-1) is not simply never predicted. The four probabilities are
P(unrelated) = 1 - P(related) and P(label) = P(related) * P(label | related); the label is
`unrelated` when P(related) < 0.5, else the most probable related label.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from .features import Features, TextVectors
from .fnc import LABELS, Dataset

MODEL_FILE = "stance-model.joblib"
RELATED_LABELS = ("agree", "disagree", "discuss")


class ModelError(RuntimeError):
    """The model file is missing or was written by an incompatible version."""


def save_model(model: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path, compress=3)
    return path


def load_model(path: Path, kind: type, what: str):
    """A model written by `save_model`; ModelError when it is missing, cannot be unpickled
    (another scikit-learn release) or is not a `kind`."""
    if not path.is_file():
        raise ModelError(f"no {what} at {path} (train one with `make stance-model`)")
    try:
        model = joblib.load(path)
    except Exception as error:  # unpickling reports anything from AttributeError on
        raise ModelError(f"cannot load {path}: {error!r}") from error
    if not isinstance(model, kind):
        raise ModelError(f"{path} holds a {type(model).__name__}, not {what}")
    return model


@dataclass(frozen=True)
class TrainingOptions:
    seed: int = 1
    svd_dimensions: int = 48
    related_iterations: int = 300
    stance_iterations: int = 400
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    feature_share: float = 0.8  # features each split may consider: what the seed varies
    # Stage-two class weights are (n / count) ** weight_power: 1 is fully balanced, 0 none.
    weight_power: float = 0.5


@dataclass
class StanceModel:
    features: Features
    related: HistGradientBoostingClassifier
    stance: HistGradientBoostingClassifier
    options: TrainingOptions
    version: str = ""
    info: dict = field(default_factory=dict)

    # --- training ---------------------------------------------------------------------------

    @classmethod
    def train(
        cls, data: Dataset, options: TrainingOptions, progress=None, report=print
    ) -> StanceModel:
        claims, bodies, pairs = index_pairs(data)
        labels = np.array([pair.stance for pair in data.pairs])
        report(f"fitting the text vectors on {len(claims)} claims and {len(bodies)} bodies")
        vectors = TextVectors.fit(claims, bodies, options.seed, options.svd_dimensions)
        features = Features(vectors)
        report(f"computing features of {len(pairs)} pairs")
        matrix = features.matrix(claims, bodies, pairs, progress=progress)

        related_target = (labels != "unrelated").astype(int)
        report("training stage one (related or unrelated)")
        related = _booster(options, options.related_iterations)
        related.fit(matrix, related_target)

        is_related = related_target == 1
        stance_labels = labels[is_related]
        counts = {label: int(np.sum(stance_labels == label)) for label in RELATED_LABELS}
        weights = {
            label: (len(stance_labels) / (len(RELATED_LABELS) * count)) ** options.weight_power
            for label, count in counts.items()
        }
        report(
            "training stage two (agree, disagree, discuss) with class weights "
            + ", ".join(f"{label} {weight:.2f}" for label, weight in weights.items())
        )
        stance = _booster(options, options.stance_iterations)
        stance.fit(
            matrix[is_related],
            stance_labels,
            sample_weight=np.array([weights[label] for label in stance_labels]),
        )
        model = cls(features, related, stance, options)
        model.version = model._fingerprint()
        return model

    # --- prediction -------------------------------------------------------------------------

    def probabilities(
        self, claims: Sequence[str], bodies: Sequence[str], pairs: Sequence[tuple[int, int]]
    ) -> np.ndarray:
        """P(agree), P(disagree), P(discuss), P(unrelated) for each pair, in `LABELS` order."""
        if not pairs:
            return np.zeros((0, len(LABELS)))
        matrix = self.features.matrix(claims, bodies, pairs)
        related = self.related.predict_proba(matrix)[:, list(self.related.classes_).index(1)]
        stance = self.stance.predict_proba(matrix)
        order = [list(self.stance.classes_).index(label) for label in RELATED_LABELS]
        result = np.empty((len(pairs), len(LABELS)))
        result[:, :3] = stance[:, order] * related[:, None]
        result[:, 3] = 1.0 - related
        return result

    def predict_dataset(self, data: Dataset) -> tuple[list[str], np.ndarray]:
        claims, bodies, pairs = index_pairs(data)
        probabilities = self.probabilities(claims, bodies, pairs)
        return labels_of(probabilities), probabilities

    # --- files ------------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        """The version: the seed and a hash of what was learnt, so a record names its model.
        Only learnt values go in (not the pickled objects, whose bytes vary with dict order
        and memory addresses), so the same training gives the same version."""
        vectors = self.features.vectors
        learnt = (
            sorted(vectors.ngrams.vocabulary_.items()),
            vectors.ngrams.idf_.tobytes(),
            sorted(vectors.terms.vocabulary_.items()),
            vectors.terms.idf_.tobytes(),
            vectors.svd.components_.tobytes(),
            self.related,
            self.stance,
            self.options,
        )
        buffer = io.BytesIO()
        joblib.dump(learnt, buffer)
        return f"stance-{self.options.seed}-{hashlib.sha256(buffer.getvalue()).hexdigest()[:12]}"

    def save(self, folder: Path) -> Path:
        return save_model(self, folder / MODEL_FILE)

    @classmethod
    def load(cls, folder: Path) -> StanceModel:
        return load_model(folder / MODEL_FILE, cls, "a stance model")


def _booster(options: TrainingOptions, iterations: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=options.learning_rate,
        max_iter=iterations,
        max_leaf_nodes=options.max_leaf_nodes,
        max_features=options.feature_share,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=options.seed,
    )


def labels_of(probabilities: np.ndarray) -> list[str]:
    """`unrelated` when P(unrelated) ≥ 0.5, else the most probable related label."""
    related_best = np.argmax(probabilities[:, :3], axis=1)
    return [
        "unrelated" if row[3] >= 0.5 else RELATED_LABELS[best]
        for row, best in zip(probabilities, related_best, strict=True)
    ]


def index_pairs(data: Dataset) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """Distinct claims, distinct bodies, and each pair as (claim index, body index)."""
    claim_index: dict[str, int] = {}
    body_index: dict[int, int] = {}
    pairs = []
    for pair in data.pairs:
        c = claim_index.setdefault(pair.headline, len(claim_index))
        b = body_index.setdefault(pair.body_id, len(body_index))
        pairs.append((c, b))
    bodies = [data.bodies[body_id] for body_id in body_index]
    return list(claim_index), bodies, pairs
