"""What the NER model learns from besides CoNLL-2003's labels: word clusters and unlabelled text.

- Static vectors from Brown clusters of English words (`write_cluster_vectors`), learnt by
  others from a large unlabelled corpus and shipped in a data package.
- Unlabelled news text for pretraining the tok2vec layer: CoNLL-2003 train's own tokens
  (without tags) and FNC-1's article bodies (without stances), tokenised as the model's
  tokenizer does. Neither is ever committed; the text lives in the training cache.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from newsflow.entities import conll

logger = logging.getLogger(__name__)


def write_unlabelled_text(conll_train: Path, fnc1_bodies: Path | None, target: Path) -> int:
    """One paragraph per line, tokens separated by spaces; returns the number of tokens."""
    import spacy

    from .train import conll_tokenisation

    nlp = spacy.blank("en")
    conll_tokenisation(nlp)
    tokens = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        for document in conll.read(conll_train):
            for sentence in document.sentences:
                out.write(" ".join(sentence.words) + "\n")
                tokens += len(sentence.rows)
        if fnc1_bodies is not None:
            csv.field_size_limit(1 << 30)
            with fnc1_bodies.open(encoding="utf-8", newline="") as bodies:
                for row in csv.DictReader(bodies):
                    for paragraph in row["articleBody"].splitlines():
                        words = [t.text for t in nlp.make_doc(paragraph) if not t.is_space]
                        if words:
                            out.write(" ".join(words) + "\n")
                            tokens += len(words)
    return tokens


def write_jsonl(text_file: Path, target: Path) -> None:
    """The same corpus as spaCy's pretraining reads it: one {"text": ...} per line."""
    with text_file.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for line in lines:
            if line.strip():
                out.write(json.dumps({"text": line.strip()}) + "\n")


# Brown clusters of English words, from spacy-lookups-data (Explosion's data package, MIT):
# 190,000 words in 1,000 clusters learnt from a large unlabelled English corpus. Words used in
# the same contexts share a cluster ("London" and "Caracas"; "Clinton", "Lu" and "Kang"), so
# a name never seen in CoNLL-2003 train still looks like the names that were.
CLUSTER_PREFIXES = (2, 4, 6, 8, 10, 12, 14, 16, 64)  # path lengths: coarse to exact cluster
LOG_PROBABILITY_BUCKETS = (-8.0, -10.0, -12.0, -14.0, -16.0, -18.0)  # word frequency classes
CLUSTER_CODE_DIM = 64


def write_cluster_vectors(target: Path, *, seed: int = 13) -> Path:
    """A spaCy vectors table: for each clustered word, its cluster path and frequency class.

    A word's vector is the sum of a fixed random code for each prefix of its cluster's path
    in the Brown tree (near clusters share their short prefixes, so their vectors are near),
    followed by a one-hot frequency class. Words with the same cluster and class share one
    row, so the table is small: a few thousand rows and one key per word. Case variants
    ("GERMANY", "germany") that the data lacks take the cluster of the most frequent
    spelling, as CoNLL's headlines are in capitals.
    """
    import gzip
    from importlib.resources import files

    import numpy
    import spacy
    from spacy.vectors import Vectors

    data = files("spacy_lookups_data") / "data"
    with gzip.open(data / "en_lexeme_cluster.json.gz") as raw:
        clusters = {word: cluster for word, cluster in json.load(raw).items() if cluster}
    with gzip.open(data / "en_lexeme_prob.json.gz") as raw:
        probabilities = json.load(raw)

    def frequency_class(log_probability: float) -> int:
        floors = LOG_PROBABILITY_BUCKETS
        return next((i for i, floor in enumerate(floors) if log_probability >= floor), len(floors))

    def row_key(word: str) -> tuple[int, int]:
        return clusters[word], frequency_class(probabilities.get(word, -20.0))

    # Case variants first, each from its most frequent spelling, then the data's own words;
    # rows and codes are numbered in this order, so the table is the same on every run.
    row_of_word: dict[str, tuple[int, int]] = {}
    for word in sorted(clusters, key=lambda word: -probabilities.get(word, -20.0)):
        for variant in (word.lower(), word.title(), word.upper()):
            if variant not in clusters:
                row_of_word.setdefault(variant, row_key(word))
    row_of_word.update((word, row_key(word)) for word in clusters)

    rows = {key: index for index, key in enumerate(dict.fromkeys(row_of_word.values()))}
    classes = len(LOG_PROBABILITY_BUCKETS) + 1
    table = numpy.zeros((len(rows), CLUSTER_CODE_DIM + classes), dtype="float32")
    random = numpy.random.default_rng(seed)
    codes: dict[tuple[int, int], numpy.ndarray] = {}

    def code(length: int, cluster: int) -> numpy.ndarray:
        # spaCy stores a path with its first step in the lowest bit: a prefix is a mask
        prefix = (length, cluster & ((1 << length) - 1))
        if prefix not in codes:
            draw = random.standard_normal(CLUSTER_CODE_DIM).astype("float32")
            codes[prefix] = draw / numpy.sqrt(len(CLUSTER_PREFIXES))
        return codes[prefix]

    for (cluster, frequency), index in rows.items():
        table[index, :CLUSTER_CODE_DIM] = sum(code(length, cluster) for length in CLUSTER_PREFIXES)
        table[index, CLUSTER_CODE_DIM + frequency] = 1.0

    nlp = spacy.blank("en")
    vectors = Vectors(data=table, name="newsflow_clusters")
    for word, key in row_of_word.items():
        vectors.add(nlp.vocab.strings.add(word), row=rows[key])
    nlp.vocab.vectors = vectors
    nlp.to_disk(target)
    logger.info("cluster vectors: %d words, %d rows, in %s", len(row_of_word), len(rows), target)
    return target
