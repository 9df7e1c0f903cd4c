"""What the stance model sees of a (claim, body) pair: similarity of their words and vectors,
and the cue words (refuting, negating, hedging, supporting) in the body's sentences that
mention the claim's key terms.

Everything that depends on the body alone is computed once per body and everything that
depends on the claim alone once per claim; a pair only combines the two. That is what makes
one article against several claims, or one claim against many articles, cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

# --- words ------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) - {"not", "no", "never", "nor", "none", "nobody"}


def _word_list(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATING = _word_list("not no never nor neither none nobody nothing without cannot")
REFUTING = _word_list(
    """fake fraud hoax hoaxes false deny denies denied denial denying despite nope doubt doubts
    doubtful bogus debunk debunked debunks debunking prank pranks retract retracted retraction
    refute refutes refuted untrue fabricated fabrication satire satirical reject rejects
    rejected dismiss dismissed dismisses misleading incorrect wrong myth baseless"""
)
HEDGING = _word_list(
    """reportedly allegedly alleged purportedly apparently rumor rumors rumour rumours rumored
    rumoured unconfirmed unverified claim claims claimed according sources report reports
    reported may might could possibly perhaps appears appear seems seem suggest suggests
    speculation speculated believed likely unclear if whether"""
)
SUPPORTING = _word_list(
    """confirm confirms confirmed confirmation official officially announced announces
    verified indeed true proof proves proved evidence revealed reveals said says"""
)
CUES: tuple[frozenset[str], ...] = (NEGATING, REFUTING, HEDGING, SUPPORTING)
CUE_NAMES = ("negating", "refuting", "hedging", "supporting")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; "n't" becomes "not" so that negations are seen."""
    return _WORD.findall(text.lower().replace("n't", " not").replace("’", "'"))  # noqa: RUF001


def key_terms(tokens: Sequence[str]) -> set[str]:
    return {t for t in tokens if t not in STOP_WORDS and (len(t) > 1 or t.isdigit())}


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _cue_counts(tokens: Sequence[str]) -> np.ndarray:
    return np.array([sum(1 for t in tokens if t in cue) for cue in CUES], dtype=np.float32)


@dataclass
class BodyView:
    """What the features need of a body, computed once."""

    tokens: int
    terms: set[str]
    lead_terms: set[str]  # of the first 60 words: where a report states its subject
    bigrams: set[tuple[str, ...]]
    trigrams: set[tuple[str, ...]]
    sentences: list[tuple[set[str], np.ndarray]] = field(repr=False)
    cue_rates: np.ndarray  # cue words per 100 words of the whole body
    names: set[str]
    numbers: set[str]

    @classmethod
    def of(cls, text: str) -> BodyView:
        tokens = words(text)
        content = [t for t in tokens if t not in STOP_WORDS]
        sentences = []
        for sentence in _SENTENCE_END.split(text):
            sentence_tokens = words(sentence)
            if sentence_tokens:
                sentences.append((key_terms(sentence_tokens), _cue_counts(sentence_tokens)))
        return cls(
            tokens=len(tokens),
            terms=key_terms(tokens),
            lead_terms=key_terms(tokens[:60]),
            bigrams=_ngrams(content, 2),
            trigrams=_ngrams(content, 3),
            sentences=sentences,
            cue_rates=_cue_counts(tokens) * (100.0 / max(len(tokens), 1)),
            names={name.lower() for name in _NAME.findall(text)},
            numbers=set(_NUMBER.findall(text)),
        )


@dataclass
class ClaimView:
    """What the features need of a claim (a headline), computed once."""

    tokens: int
    terms: set[str]
    bigrams: set[tuple[str, ...]]
    trigrams: set[tuple[str, ...]]
    cues: np.ndarray
    question: bool
    names: set[str]
    numbers: set[str]

    @classmethod
    def of(cls, text: str) -> ClaimView:
        tokens = words(text)
        content = [t for t in tokens if t not in STOP_WORDS]
        return cls(
            tokens=len(tokens),
            terms=key_terms(tokens),
            bigrams=_ngrams(content, 2),
            trigrams=_ngrams(content, 3),
            cues=_cue_counts(tokens),
            question="?" in text,
            names={name.lower() for name in _NAME.findall(text)},
            numbers=set(_NUMBER.findall(text)),
        )


def _share(part: set, whole: set) -> float:
    return len(part & whole) / len(part) if part else 0.0


PAIR_FEATURES = (
    "term_share",
    "term_jaccard",
    "lead_term_share",
    "bigram_share",
    "trigram_share",
    "name_share",
    "number_share",
    "claim_words",
    "body_words_log",
    "question",
    *(f"claim_{name}" for name in CUE_NAMES),
    *(f"body_{name}_rate" for name in CUE_NAMES),
    "sentences_with_terms_share",
    "best_sentence_term_share",
    *(f"near_terms_{name}" for name in CUE_NAMES),
    *(f"near_two_terms_{name}" for name in CUE_NAMES),
    *(f"best_sentence_{name}" for name in CUE_NAMES),
    *(f"first_sentence_{name}" for name in CUE_NAMES),
    "first_sentence_term_share",
)


def pair_features(claim: ClaimView, body: BodyView) -> list[float]:
    """The hand-made features of one pair (the vector ones are added in batches)."""
    terms = claim.terms
    near_one = np.zeros(len(CUES), dtype=np.float32)
    near_two = np.zeros(len(CUES), dtype=np.float32)
    best = np.zeros(len(CUES), dtype=np.float32)
    first = np.zeros(len(CUES), dtype=np.float32)
    best_overlap, touching, first_overlap = 0, 0, 0.0
    for index, (sentence_terms, cues) in enumerate(body.sentences):
        overlap = len(terms & sentence_terms)
        if index == 0:
            first = cues
            first_overlap = overlap / len(terms) if terms else 0.0
        if overlap:
            touching += 1
            near_one += cues
            if overlap >= 2:
                near_two += cues
            if overlap > best_overlap:
                best_overlap, best = overlap, cues
    sentence_count = max(len(body.sentences), 1)
    union = len(terms | body.terms)
    return [
        _share(terms, body.terms),
        len(terms & body.terms) / union if union else 0.0,
        _share(terms, body.lead_terms),
        _share(claim.bigrams, body.bigrams),
        _share(claim.trigrams, body.trigrams),
        _share(claim.names, body.names),
        _share(claim.numbers, body.numbers),
        float(claim.tokens),
        float(np.log1p(body.tokens)),
        float(claim.question),
        *claim.cues,
        *body.cue_rates,
        touching / sentence_count,
        best_overlap / len(terms) if terms else 0.0,
        *(near_one / max(touching, 1)),
        *near_two,
        *best,
        *first,
        first_overlap,
    ]


# --- vectors ----------------------------------------------------------------------------------


@dataclass
class TextVectors:
    """The vector side of the features, fitted on the training texts."""

    ngrams: TfidfVectorizer  # words and word pairs: the cosine
    terms: TfidfVectorizer  # single content words: cosine, TF cosine, BM25, the SVD
    svd: TruncatedSVD
    mean_body_words: float

    @classmethod
    def fit(cls, claims: Sequence[str], bodies: Sequence[str], seed: int, dimensions: int = 48):
        texts = [*claims, *bodies]
        ngrams = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=30000, sublinear_tf=True, dtype=np.float32
        ).fit(texts)
        terms = TfidfVectorizer(
            stop_words=sorted(STOP_WORDS),
            max_features=5000,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(texts)
        svd = TruncatedSVD(dimensions, random_state=seed).fit(terms.transform(texts))
        svd.components_ = svd.components_.astype(np.float32)
        mean_words = float(np.mean([len(words(body)) for body in bodies])) if bodies else 1.0
        return cls(ngrams, terms, svd, mean_words)

    def side(self, texts: Sequence[str]) -> dict[str, object]:
        """Per-text vectors of one side (claims or bodies)."""
        ngram_vectors = self.ngrams.transform(texts)
        term_vectors = self.terms.transform(texts)
        # TF without the IDF: undo it column by column, then unit length again.
        tf = normalize(term_vectors @ sparse.diags(1.0 / self.terms.idf_).astype(np.float32))
        reduced = normalize(self.svd.transform(term_vectors).astype(np.float32))
        counts = term_vectors.copy()
        counts.data = np.ones_like(counts.data)
        return {
            "ngrams": ngram_vectors,
            "terms": term_vectors,
            "tf": tf,
            "svd": reduced,
            "present": counts.tocsr(),
        }

    def bm25_weights(self, bodies: Sequence[str]) -> sparse.csr_matrix:
        """Per body, BM25's saturated term frequency (k1 1.2, b 0.75) of each content word."""
        counter = self.terms.build_analyzer()
        rows, cols, values = [], [], []
        vocabulary = self.terms.vocabulary_
        for row, body in enumerate(bodies):
            analysed = counter(body)
            counts: dict[int, int] = {}
            for token in analysed:
                column = vocabulary.get(token)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            norm = 1.2 * (0.25 + 0.75 * len(analysed) / self.mean_body_words)
            for column, count in counts.items():
                rows.append(row)
                cols.append(column)
                values.append(count * 2.2 / (count + norm))
        return sparse.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(bodies), len(vocabulary)),
        )


def _rowwise_dot(left: sparse.csr_matrix, right: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(left.multiply(right).sum(axis=1)).ravel()


VECTOR_FEATURES = ("ngram_cosine", "term_cosine", "tf_cosine", "svd_cosine", "bm25", "bm25_share")


@dataclass
class Features:
    """Turns (claim, body) pairs into the model's feature matrix."""

    vectors: TextVectors

    @property
    def names(self) -> list[str]:
        dims = self.vectors.svd.n_components
        return [
            *PAIR_FEATURES,
            *VECTOR_FEATURES,
            *(f"claim_svd_{i}" for i in range(dims)),
            *(f"body_svd_{i}" for i in range(dims)),
            *(f"product_svd_{i}" for i in range(dims)),
        ]

    def matrix(
        self,
        claims: Sequence[str],
        bodies: Sequence[str],
        pairs: Sequence[tuple[int, int]],
        progress=None,
    ) -> np.ndarray:
        """Features of `pairs`, each (index into claims, index into bodies)."""
        claim_views = [ClaimView.of(text) for text in claims]
        body_iter = bodies if progress is None else progress(bodies, desc="bodies", unit="body")
        body_views = [BodyView.of(text) for text in body_iter]
        claim_side = self.vectors.side(claims)
        body_side = self.vectors.side(bodies)
        bm25 = self.vectors.bm25_weights(bodies)

        claim_index = np.fromiter((c for c, _ in pairs), dtype=np.int64, count=len(pairs))
        body_index = np.fromiter((b for _, b in pairs), dtype=np.int64, count=len(pairs))
        pair_iter = pairs if progress is None else progress(pairs, desc="pairs", unit="pair")
        hand = np.array(
            [pair_features(claim_views[c], body_views[b]) for c, b in pair_iter],
            dtype=np.float32,
        ).reshape(len(pairs), len(PAIR_FEATURES))

        def cosine(kind: str) -> np.ndarray:
            return _rowwise_dot(claim_side[kind][claim_index], body_side[kind][body_index])

        idf = self.vectors.terms.idf_.astype(np.float32)
        claim_weights = claim_side["present"] @ sparse.diags(idf)
        bm25_score = _rowwise_dot(claim_weights[claim_index], bm25[body_index])
        claim_idf_total = np.asarray(claim_weights.sum(axis=1)).ravel()[claim_index]
        claim_svd = claim_side["svd"][claim_index]
        body_svd = body_side["svd"][body_index]
        vector = np.column_stack(
            [
                cosine("ngrams"),
                cosine("terms"),
                cosine("tf"),
                np.sum(claim_svd * body_svd, axis=1),
                bm25_score,
                bm25_score / np.maximum(claim_idf_total, 1e-6),
            ]
        ).astype(np.float32)
        return np.hstack([hand, vector, claim_svd, body_svd, claim_svd * body_svd])
