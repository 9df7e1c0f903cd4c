"""What a body says about a claim, by meaning: the body's sentences embedded once per article,
the claim once per claim text, and from the two the similarities that tell a related pair
from an unrelated one and the passage the cross-encoder reads.

Only the first `MAX_SENTENCES` sentences are embedded: a report states what it is about
early, and it bounds the cost of a long article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from newsflow.core.sentences import DIMENSIONS, SentenceEncoder

MAX_SENTENCES = 20
MIN_SENTENCE_CHARACTERS = 20  # shorter lines are bylines, captions, datelines
TOP_K = 3  # the sentences most like the claim whose mean cosine is a feature
PASSAGE_SENTENCES = 3  # beside the lead, in the passage the cross-encoder reads

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

SIMILARITY_FEATURES = (
    "sentence_cosine_max",
    "sentence_cosine_top3",
    "sentence_cosine_mean",
    "lead_cosine",
    "document_cosine",
)


def sentences(body: str) -> list[str]:
    """The body's first sentences, in order (at least one when the body has any words)."""
    parts = [part.strip() for part in _SENTENCE_END.split(body) if part and part.strip()]
    kept = [part for part in parts if len(part) >= MIN_SENTENCE_CHARACTERS] or parts[:1]
    return kept[:MAX_SENTENCES]


@dataclass(frozen=True)
class BodyEvidence:
    sentences: list[str]
    vectors: np.ndarray  # (sentences, dimensions), unit rows
    document: np.ndarray  # the mean sentence vector, unit length


def body_evidence(encoder: SentenceEncoder, body: str) -> BodyEvidence:
    found = sentences(body)
    vectors = encoder.embed(found) if found else np.zeros((0, DIMENSIONS), dtype=np.float32)
    document = vectors.mean(axis=0) if len(found) else np.zeros(DIMENSIONS, dtype=np.float32)
    document = document / max(float(np.linalg.norm(document)), 1e-12)
    return BodyEvidence(found, vectors, document.astype(np.float32))


def similarity_features(claim: np.ndarray, body: BodyEvidence) -> list[float]:
    """`SIMILARITY_FEATURES` of one pair: how close the claim is to the body's sentences."""
    if not body.sentences:
        return [0.0] * len(SIMILARITY_FEATURES)
    cosines = body.vectors @ claim
    top = np.sort(cosines)[::-1][:TOP_K]
    return [
        float(top[0]),
        float(top.mean()),
        float(cosines.mean()),
        float(cosines[0]),
        float(body.document @ claim),
    ]


def passage(claim: np.ndarray, body: BodyEvidence) -> str:
    """The lead and the sentences most like the claim, in the body's order: what the
    cross-encoder reads of the body."""
    if not body.sentences:
        return ""
    cosines = body.vectors @ claim
    chosen = {0, *np.argsort(-cosines)[:PASSAGE_SENTENCES].tolist()}
    return " ".join(body.sentences[i] for i in sorted(chosen))
