"""How the transformer NER reads a document: casing classes, windows, decoding.

Pure logic: the model is replaced by a function of the batch, the WordPiece tokenizer is
the committed model's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from newsflow.entities import transformer
from newsflow.entities.transformer import (
    DIGITS,
    LABELS,
    LOWER,
    MIXED,
    OTHER,
    TITLE,
    UPPER,
    WordTagger,
    casing,
    viterbi,
    windows,
)

TOKENIZER = Path(__file__).resolve().parents[2] / "models/ner/ner/tokenizer.json"


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    loaded = Tokenizer.from_file(str(TOKENIZER))
    loaded.no_truncation()
    loaded.no_padding()
    return loaded


@pytest.mark.parametrize(
    "text, expected",
    [
        ("news", LOWER),
        ("Pompeo", TITLE),
        ("A", TITLE),
        ("NATO", UPPER),
        ("U.S.", UPPER),
        ("McDonald", MIXED),
        ("iPhone", MIXED),
        ("2019", DIGITS),
        ("--", OTHER),
    ],
)
def test_casing_classes(text, expected):
    assert casing(text) == expected


def test_casing_reaches_the_model_for_every_piece(tokenizer):
    document = transformer.encode(tokenizer, ["Guaidó", "met", "NATO", "\n", "chiefs"], [True] * 5)
    # "\n" has no piece: its word is skipped, its tag will be O.
    assert list(document.piece_counts[:4]) == [
        len(tokenizer.encode(["Guaidó"], is_pretokenized=True, add_special_tokens=False).ids),
        1,
        1,
        0,
    ]
    assert document.first_piece[3] == -1
    assert document.casings[0] == TITLE and document.casings[-1] == LOWER
    cased_off = transformer.encode(tokenizer, ["NATO"], [True], casing_classes=False)
    assert list(cased_off.casings) == [0]


def test_a_long_word_keeps_a_bounded_number_of_pieces(tokenizer):
    document = transformer.encode(tokenizer, ["x" * 90 + "é" * 9], [True])
    assert 1 <= document.piece_counts[0] <= transformer.MAX_WORD_PIECES


def test_a_short_document_is_one_window():
    assert windows([1] * 100, [True] + [False] * 99) == [transformer.Window(0, 0, 100, 100)]


def test_windows_cover_every_word_once_with_bounded_context():
    counts = [1, 2, 1, 3] * 200  # 1,400 pieces
    starts = [index % 10 == 0 for index in range(len(counts))]
    found = windows(counts, starts, window_pieces=128, context_pieces=16)
    covered = [word for window in found for word in range(window.start, window.end)]
    assert covered == list(range(len(counts)))
    for window in found:
        assert window.first <= window.start < window.end <= window.last
        assert sum(counts[window.first : window.last]) <= 126
        assert sum(counts[window.first : window.start]) <= 16
        assert sum(counts[window.end : window.last]) <= 16
        # cut at sentence starts wherever a sentence fits
        assert starts[window.start]


def test_viterbi_never_continues_an_entity_it_did_not_start():
    scores = np.full((3, len(LABELS)), -10.0, dtype=np.float32)
    scores[0, LABELS.index("O")] = -0.1
    scores[1, LABELS.index("I-PER")] = -0.1  # the model's favourite, but after O it is illegal
    scores[1, LABELS.index("B-PER")] = -0.5
    scores[2, LABELS.index("I-ORG")] = -0.1
    scores[2, LABELS.index("I-PER")] = -0.3
    path = [LABELS[i] for i in viterbi(scores)]
    assert path == ["O", "B-PER", "I-PER"]


def test_the_tagger_reads_each_word_from_its_first_piece_in_its_own_window(tokenizer):
    words = ("Anna Berg visited Oslo . " * 60).split()
    starts = [word == "Anna" for word in words]
    seen_lengths = []

    def logits(batch: transformer.Batch) -> np.ndarray:
        # Labels by piece: capitalised pieces are PER, the rest O.
        seen_lengths.append(batch.input_ids.shape[1])
        out = np.full((*batch.input_ids.shape, len(LABELS)), -5.0, dtype=np.float32)
        out[..., LABELS.index("O")] = 0.0
        title = batch.token_type_ids == TITLE
        out[title, LABELS.index("O")] = -5.0
        out[title, LABELS.index("B-PER")] = 0.0
        return out

    tagger = WordTagger(tokenizer, logits, window_pieces=64, context_pieces=8)
    (tags,) = tagger.tag([(words, starts)])
    assert len(tags) == len(words)
    expected = ["B-PER" if word[0].isupper() else "O" for word in words]
    assert tags == expected
    assert max(seen_lengths) <= 64
