"""Words in, IOB2 tags out: how the fine-tuned transformer reads a document, whatever runs it.

The encoder is uncased (its WordPiece vocabulary is lower-case), and capitals are the
strongest sign of a name in English news, so every piece also carries its casing class as
the encoder's token-type input. A document is cut into windows of at most `window_pieces`
pieces at sentence boundaries; a window that is not the whole document also holds
neighbouring words on both sides as context, whose tags come from the windows where they
are central. Tags are decoded per document with Viterbi over the model's per-word scores,
so an `I-` tag always continues an entity of its type.

The same code serves training (with PyTorch logits), the entity worker and `newsflow eval
entities` (with ONNX Runtime logits): what the model sees in production is what it learnt on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
LABELS = ("O", *(f"{prefix}-{kind}" for kind in ENTITY_TYPES for prefix in ("B", "I")))
LABEL_IDS = {label: index for index, label in enumerate(LABELS)}
IGNORED = -100  # the loss's "no label here": continuation pieces, context words, padding

# Casing classes of a piece, fed as token types. 0 is the special tokens and padding.
SPECIAL, LOWER, TITLE, UPPER, MIXED, DIGITS, OTHER = range(7)
CASING_CLASSES = 7

MAX_WORD_PIECES = 16  # a word's label is read from its first piece; a long word is cut here
WINDOW_PIECES = 256  # [CLS] + pieces + [SEP]
CONTEXT_PIECES = 32  # context on each side of a window's own words when a document is cut
SENTENCE_ENDS = frozenset({".", "!", "?"})


def casing(text: str) -> int:
    """The casing class of a piece's original characters."""
    if not any(char.isalpha() for char in text):
        return DIGITS if any(char.isdigit() for char in text) else OTHER
    if not any(char.isupper() for char in text):
        return LOWER
    letters = [char for char in text if char.isalpha()]
    if len(letters) > 1 and all(char.isupper() for char in letters):
        return UPPER
    if text[0].isupper() and not any(char.isupper() for char in text[1:]):
        return TITLE
    return MIXED


@dataclass(frozen=True)
class EncodedDocument:
    """A document's pieces: ids, casing classes and, per word, where its pieces are."""

    ids: np.ndarray  # int64, all pieces of all words in order
    casings: np.ndarray  # int64, one class per piece
    first_piece: np.ndarray  # int64 per word: index of its first piece, -1 for a word without
    piece_counts: np.ndarray  # int64 per word (0 for whitespace)
    sentence_starts: Sequence[bool]


def encode(
    tokenizer: Tokenizer,
    words: Sequence[str],
    sentence_starts: Sequence[bool],
    casing_classes: bool = True,
) -> EncodedDocument:
    """Tokenise pre-split words into pieces, keeping at most `MAX_WORD_PIECES` per word.

    `casing_classes=False` (a cased vocabulary) gives every piece token type 0.
    """
    count = len(words)
    first_piece = np.full(count, -1, dtype=np.int64)
    piece_counts = np.zeros(count, dtype=np.int64)
    if count == 0:
        empty = np.zeros(0, dtype=np.int64)
        return EncodedDocument(empty, empty, first_piece, piece_counts, sentence_starts)
    encoding = tokenizer.encode(list(words), is_pretokenized=True, add_special_tokens=False)
    ids: list[int] = []
    casings: list[int] = []
    for piece_id, word, (start, end) in zip(
        encoding.ids, encoding.word_ids, encoding.offsets, strict=True
    ):
        if word is None or piece_counts[word] >= MAX_WORD_PIECES:
            continue
        if piece_counts[word] == 0:
            first_piece[word] = len(ids)
        piece_counts[word] += 1
        ids.append(piece_id)
        casings.append(casing(words[word][start:end]) if casing_classes else 0)
    return EncodedDocument(
        np.asarray(ids, dtype=np.int64),
        np.asarray(casings, dtype=np.int64),
        first_piece,
        piece_counts,
        sentence_starts,
    )


@dataclass(frozen=True)
class Window:
    """Words `first:last` go to the model; the tags of words `start:end` are read from it."""

    first: int
    start: int
    end: int
    last: int


def _units(
    counts: Sequence[int], sentence_starts: Sequence[bool], budget: int
) -> Iterator[tuple[int, int]]:
    """Sentences as word ranges; a sentence of more than `budget` pieces is cut into parts."""
    start, pieces = 0, 0
    for index, count in enumerate(counts):
        if index > start and (sentence_starts[index] or pieces + count > budget):
            yield start, index
            start, pieces = index, 0
        pieces += count
    if start < len(counts):
        yield start, len(counts)


def windows(
    counts: Sequence[int],
    sentence_starts: Sequence[bool],
    window_pieces: int = WINDOW_PIECES,
    context_pieces: int = CONTEXT_PIECES,
) -> list[Window]:
    """Cut a document of words with `counts` pieces each into windows (see the module doc)."""
    words = len(counts)
    room = window_pieces - 2
    if sum(counts) <= room:
        return [Window(0, 0, words, words)] if words else []
    core_budget = room - 2 * context_pieces
    cores: list[tuple[int, int]] = []
    pieces = 0
    for start, end in _units(counts, sentence_starts, core_budget):
        size = sum(counts[start:end])
        if cores and pieces + size <= core_budget:
            cores[-1] = (cores[-1][0], end)
            pieces += size
        else:
            cores.append((start, end))
            pieces = size
    found: list[Window] = []
    for start, end in cores:
        first, left = start, 0
        while first > 0 and left + counts[first - 1] <= context_pieces:
            first -= 1
            left += counts[first]
        last, right = end, 0
        while last < words and right + counts[last] <= context_pieces:
            right += counts[last]
            last += 1
        found.append(Window(first, start, end, last))
    return found


@dataclass(frozen=True)
class Batch:
    """Padded model inputs for several windows, and where each window's words' scores are."""

    input_ids: np.ndarray  # (windows, length) int64
    attention_mask: np.ndarray  # (windows, length) int64
    token_type_ids: np.ndarray  # (windows, length) int64: casing classes
    rows: np.ndarray  # per scored word: its window's row in the batch
    columns: np.ndarray  # per scored word: its first piece's column, -1 for a word without


def window_inputs(
    document: EncodedDocument, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A window's piece ids and casings with [CLS]/[SEP], and its scored words' columns."""
    begin = document.first_piece[window.first : window.last]
    begin = begin[begin >= 0]
    piece_start = int(begin[0]) if len(begin) else 0
    piece_end = piece_start + int(document.piece_counts[window.first : window.last].sum())
    ids = document.ids[piece_start:piece_end]
    casings = document.casings[piece_start:piece_end]
    firsts = document.first_piece[window.start : window.end]
    columns = np.where(firsts >= 0, firsts - piece_start + 1, -1)
    return ids, casings, columns


def make_batch(items: Sequence[tuple[EncodedDocument, Window]], cls_id: int, sep_id: int) -> Batch:
    """Pad the windows' inputs to the longest one."""
    parts = [window_inputs(document, window) for document, window in items]
    length = max(len(ids) for ids, _, _ in parts) + 2
    input_ids = np.zeros((len(parts), length), dtype=np.int64)
    attention = np.zeros_like(input_ids)
    types = np.zeros_like(input_ids)
    rows, columns = [], []
    for row, (ids, casings, cols) in enumerate(parts):
        input_ids[row, 0] = cls_id
        input_ids[row, 1 : len(ids) + 1] = ids
        input_ids[row, len(ids) + 1] = sep_id
        attention[row, : len(ids) + 2] = 1
        types[row, 1 : len(ids) + 1] = casings
        rows.append(np.full(len(cols), row, dtype=np.int64))
        columns.append(cols)
    return Batch(input_ids, attention, types, np.concatenate(rows), np.concatenate(columns))


def _allowed_transitions() -> tuple[np.ndarray, np.ndarray]:
    """IOB2's rules as additive scores: 0 where a tag may follow, -inf where not."""
    count = len(LABELS)
    transitions = np.zeros((count, count), dtype=np.float32)
    starts = np.zeros(count, dtype=np.float32)
    for current, label in enumerate(LABELS):
        if label.startswith("I-"):
            starts[current] = -np.inf
            for previous, before in enumerate(LABELS):
                if before[2:] != label[2:]:
                    transitions[previous, current] = -np.inf
    return transitions, starts


TRANSITIONS, START_SCORES = _allowed_transitions()


def viterbi(scores: np.ndarray) -> list[int]:
    """The best label sequence for (words, labels) log-probabilities under IOB2's rules."""
    if len(scores) == 0:
        return []
    best = START_SCORES + scores[0]
    back = np.zeros(scores.shape, dtype=np.int64)
    for index in range(1, len(scores)):
        candidates = best[:, None] + TRANSITIONS
        back[index] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[index]
    path = [int(best.argmax())]
    for index in range(len(scores) - 1, 0, -1):
        path.append(int(back[index, path[-1]]))
    return path[::-1]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


Logits = Callable[[Batch], np.ndarray]  # a batch's inputs -> (windows, length, labels) scores


class WordTagger:
    """Tags documents of pre-split words with a model given as a function of a `Batch`."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        logits: Logits,
        *,
        window_pieces: int = WINDOW_PIECES,
        context_pieces: int = CONTEXT_PIECES,
        casing_classes: bool = True,
    ) -> None:
        self.tokenizer = tokenizer
        self.logits = logits
        self.window_pieces = window_pieces
        self.context_pieces = context_pieces
        self.casing_classes = casing_classes
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")

    def tag(self, documents: Sequence[tuple[Sequence[str], Sequence[bool]]]) -> list[list[str]]:
        """IOB2 tags for each document given as (words, sentence starts)."""
        encoded = [self.encode(words, starts) for words, starts in documents]
        return [
            self._decode(document, scores)
            for document, scores in zip(encoded, self._scores(encoded), strict=True)
        ]

    def scores(self, documents: Sequence[tuple[Sequence[str], Sequence[bool]]]) -> list[np.ndarray]:
        """Per document, (words, labels) log-probabilities (zeros for words without pieces)."""
        return self._scores([self.encode(words, starts) for words, starts in documents])

    def encode(self, words: Sequence[str], sentence_starts: Sequence[bool]) -> EncodedDocument:
        return encode(self.tokenizer, words, sentence_starts, self.casing_classes)

    def windows(self, document: EncodedDocument) -> list[Window]:
        return windows(
            document.piece_counts, document.sentence_starts, self.window_pieces, self.context_pieces
        )

    def _scores(self, encoded: Sequence[EncodedDocument]) -> list[np.ndarray]:
        items = [
            (number, window)
            for number, document in enumerate(encoded)
            for window in self.windows(document)
        ]
        scores = [
            np.zeros((len(document.piece_counts), len(LABELS)), dtype=np.float32)
            for document in encoded
        ]
        # One window per run: int8 activations are quantised with one scale per batch, so a
        # window batched with others would get tags that depend on its neighbours. Alone, a
        # document's tags depend on the document only (and without padding it is no slower).
        for number, window in items:
            batch = make_batch([(encoded[number], window)], self.cls_id, self.sep_id)
            window_scores = log_softmax(self.logits(batch))
            has_piece = batch.columns >= 0
            target = scores[number][window.start : window.end]
            target[has_piece] = window_scores[batch.rows[has_piece], batch.columns[has_piece]]
        return scores

    @staticmethod
    def _decode(document: EncodedDocument, scores: np.ndarray) -> list[str]:
        """Viterbi over the words with pieces; a word without pieces is `O` and ends an entity."""
        tags = ["O"] * len(scores)
        has_piece = document.piece_counts > 0
        run: list[int] = []
        for index in [*range(len(scores)), len(scores)]:
            if index < len(scores) and has_piece[index]:
                run.append(index)
                continue
            if run:
                for word, label in zip(run, viterbi(scores[run]), strict=True):
                    tags[word] = LABELS[label]
                run = []
        return tags
