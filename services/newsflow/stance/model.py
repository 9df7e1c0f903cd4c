"""The stance model: is the article about the claim at all, and if so does it agree with it,
disagree with it, or discuss it.

- **Related or unrelated**: a gradient-boosted classifier over word overlap (TF-IDF, BM25,
  shared names, cue words: `features.py`) and meaning (the claim's cosine with the body's
  sentences from the pinned sentence encoder: `evidence.py`). Its probability is
  recalibrated on held-out stories (Platt scaling).
- **Agree, disagree or discuss**: a fine-tuned cross-encoder reads the claim with the
  body's passage about it (`crossencoder.py`); its scores and the cue words around the
  claim's terms become probabilities by a logistic regression fitted on held-out stories
  (`calibration.py`).

P(unrelated) = 1 - P(related) and P(label) = P(related) x P(label | related). The label is
`unrelated` when P(unrelated) ≥ 0.5; otherwise the related label that maximises
P(label) x its decision weight, weights chosen on held-out stories for macro-F1 (so the rare
`disagree` is not simply never said; the probabilities themselves stay calibrated).

A body's sentences are embedded once per call and a claim once per model (claim vectors
are cached: the claims file's claims recur in every batch).
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from newsflow.core.records import StanceLabel
from newsflow.core.sentences import DEFAULT_FOLDER as SENTENCE_ENCODER_FOLDER
from newsflow.core.sentences import SentenceEncoder

from . import crossencoder, evidence
from .calibration import Calibration
from .crossencoder import CrossEncoder
from .features import CUE_NAMES, PAIR_FEATURES, VECTOR_FEATURES, Features

MODEL_FILE = "stance-model.joblib"
# The order of every probability row: the cross-encoder's related labels, then unrelated.
RELATED_LABELS = crossencoder.LABELS
LABELS: tuple[str, ...] = (*RELATED_LABELS, StanceLabel.UNRELATED)
# Below this P(related) the cross-encoder is not run: the pair is `unrelated` whatever it
# would say, and its related probabilities (at most this share) follow the training prior.
CROSS_ENCODER_FROM = 0.1
CLAIM_CACHE_SIZE = 4096
# Stage one reads similarities only, not the words' SVD vectors themselves: those let a
# model recognise the claims it was trained on, which is no help with new ones.
LEXICAL_COLUMNS = len(PAIR_FEATURES) + len(VECTOR_FEATURES)
# The cue words beside the cross-encoder's scores in the second stage's calibration: in the
# claim, in the body, and in the body's sentences that share the claim's terms. (All 43
# word features there fitted the held-back stories a little better and made plain reports
# `disagree`: too many weights for a few hundred pairs.)
STANCE_CUES = [
    PAIR_FEATURES.index(name)
    for prefix, suffix in (("claim_", ""), ("body_", "_rate"), ("near_terms_", ""))
    for name in (f"{prefix}{cue}{suffix}" for cue in CUE_NAMES)
]


class ModelError(RuntimeError):
    """The model files are missing or were written by an incompatible version."""


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


@dataclass
class StanceModel:
    """What `stance-model.joblib` holds; the cross-encoder's graph lies beside it."""

    features: Features
    related: HistGradientBoostingClassifier
    calibration: Calibration
    cross_encoder_sha256: str
    seed: int
    version: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._runtime: tuple[SentenceEncoder, CrossEncoder] | None = None
        self._claims: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_runtime", None)
        state.pop("_claims", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def attach(self, cross_encoder: CrossEncoder, sentence_encoder: SentenceEncoder) -> None:
        if cross_encoder.sha256 != self.cross_encoder_sha256:
            raise ModelError(
                f"the cross-encoder graph has sha256 {cross_encoder.sha256}, the model was "
                f"trained with {self.cross_encoder_sha256}: the folder is a mix of two models"
            )
        self._runtime = (sentence_encoder, cross_encoder)

    @property
    def sentence_encoder(self) -> SentenceEncoder:
        return self._runtime[0]

    @property
    def cross_encoder(self) -> CrossEncoder:
        return self._runtime[1]

    def claim_vectors(self, claims: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(claims) if text not in self._claims]
        for text, vector in zip(missing, self.sentence_encoder.embed(missing), strict=True):
            self._claims[text] = vector
        for text in claims:
            self._claims.move_to_end(text)
        vectors = np.array([self._claims[text] for text in claims], dtype=np.float32)
        while len(self._claims) > CLAIM_CACHE_SIZE:
            self._claims.popitem(last=False)
        return vectors.reshape(len(claims), -1)

    # --- prediction ---------------------------------------------------------------------------

    def probabilities(
        self, claims: Sequence[str], bodies: Sequence[str], pairs: Sequence[tuple[int, int]]
    ) -> np.ndarray:
        """P(agree), P(disagree), P(discuss), P(unrelated) for each pair, in `LABELS` order."""
        if not pairs:
            return np.zeros((0, len(LABELS)))
        used = sorted({b for _, b in pairs})
        body_evidence: list[evidence.BodyEvidence | None] = [None] * len(bodies)
        for b in used:
            body_evidence[b] = evidence.body_evidence(self.sentence_encoder, bodies[b])
        claim_vectors = self.claim_vectors(claims)
        inputs = related_inputs(self.features, claims, bodies, body_evidence, claim_vectors, pairs)
        related = self.calibration.related(related_scores(self.related, inputs))
        which = [i for i, p in enumerate(related) if p >= CROSS_ENCODER_FROM]
        given_related = np.tile(self.calibration.prior, (len(pairs), 1))
        if which:
            scores = stance_scores(
                self.cross_encoder, claims, body_evidence, claim_vectors, pairs, which
            )
            given_related[which] = self.calibration.stance(scores, inputs[which][:, STANCE_CUES])
        result = np.empty((len(pairs), len(LABELS)))
        result[:, :3] = given_related * related[:, None]
        result[:, 3] = 1.0 - related
        return result

    def labels(self, probabilities: np.ndarray) -> list[str]:
        return labels_of(probabilities, self.calibration.decision_weights)

    # --- files --------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """The version: the seed and a hash of what was learnt, so a record names its model."""
        vectors = self.features.vectors
        learnt = (
            sorted(vectors.ngrams.vocabulary_.items()),
            vectors.ngrams.idf_.tobytes(),
            sorted(vectors.terms.vocabulary_.items()),
            vectors.terms.idf_.tobytes(),
            vectors.svd.components_.tobytes(),
            self.related,
            self.calibration,
            self.cross_encoder_sha256,
        )
        buffer = io.BytesIO()
        joblib.dump(learnt, buffer)
        return f"stance-{self.seed}-{hashlib.sha256(buffer.getvalue()).hexdigest()[:12]}"

    def save(self, folder: Path) -> Path:
        return save_model(self, folder / MODEL_FILE)

    @classmethod
    def load(
        cls, folder: Path, sentence_encoder_folder: Path = SENTENCE_ENCODER_FOLDER
    ) -> StanceModel:
        from newsflow.core.sentences import SentenceEncoderError, shared

        model = load_model(folder / MODEL_FILE, cls, "a stance model")
        try:
            cross_encoder = CrossEncoder(folder)
            sentence_encoder = shared(sentence_encoder_folder)
        except (OSError, SentenceEncoderError) as error:
            raise ModelError(f"cannot load the stance model's encoders: {error}") from None
        except Exception as error:  # ONNX Runtime reports a bad graph with its own types
            raise ModelError(f"cannot load {folder}: {error!r}") from None
        model.attach(cross_encoder, sentence_encoder)
        return model


# --- the two stages' inputs, shared by training and prediction ------------------------------


def related_inputs(
    features: Features,
    claims: Sequence[str],
    texts: Sequence[str],
    bodies: Sequence[evidence.BodyEvidence | None],
    claim_vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
) -> np.ndarray:
    """Stage one's features: word overlap (`features.py`) and meaning (`evidence.py`)."""
    lexical = features.matrix(claims, texts, pairs)[:, :LEXICAL_COLUMNS]
    meaning = np.array(
        [evidence.similarity_features(claim_vectors[c], bodies[b]) for c, b in pairs],
        dtype=np.float32,
    ).reshape(len(pairs), len(evidence.SIMILARITY_FEATURES))
    return np.hstack([lexical, meaning])


def related_scores(related: HistGradientBoostingClassifier, inputs: np.ndarray) -> np.ndarray:
    """Stage one's raw P(related), before recalibration."""
    return related.predict_proba(inputs)[:, list(related.classes_).index(1)]


def stance_scores(
    cross_encoder: CrossEncoder,
    claims: Sequence[str],
    bodies: Sequence[evidence.BodyEvidence | None],
    claim_vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    which: Sequence[int],
) -> np.ndarray:
    """The cross-encoder's scores for the pairs at the indices `which`."""
    scores = np.zeros((len(which), len(RELATED_LABELS)), dtype=np.float32)
    for row, index in enumerate(which):
        c, b = pairs[index]
        passage = evidence.passage(claim_vectors[c], bodies[b])
        scores[row] = cross_encoder.logits(claims[c], passage)
    return scores


def booster(seed: int, iterations: int = 300) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=0.08,
        max_iter=iterations,
        max_leaf_nodes=31,
        max_features=0.8,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def labels_of(probabilities: np.ndarray, weights: Sequence[float] = (1.0, 1.0, 1.0)) -> list[str]:
    """`unrelated` when P(unrelated) ≥ 0.5, else the related label with the highest weighted
    probability."""
    related_best = np.argmax(probabilities[:, :3] * np.asarray(weights), axis=1)
    return [
        "unrelated" if row[3] >= 0.5 else RELATED_LABELS[best]
        for row, best in zip(probabilities, related_best, strict=True)
    ]
