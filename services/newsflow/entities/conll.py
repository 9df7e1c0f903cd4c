"""CoNLL-2003 files: reading tokens and tags, and decoding tags into entity chunks.

Chunks are decoded with conlleval's own start/end rules, so IOB1 (the original CoNLL-2003
tags), IOB2 and IOBES sequences all give the spans conlleval would score.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DOCSTART = "-DOCSTART-"
OUTSIDE = "O"


class ConllFormatError(ValueError):
    """A line that is not `word ... tag`, or a file whose lines disagree on their columns."""


@dataclass(frozen=True)
class Chunk:
    """An entity over tokens `start` to `end` (exclusive) of one sentence or document."""

    start: int
    end: int
    label: str


@dataclass
class Sentence:
    """One sentence: its lines split into columns; the NER tag is the last column."""

    rows: list[list[str]] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return [row[0] for row in self.rows]

    @property
    def tags(self) -> list[str]:
        return [row[-1] for row in self.rows]


@dataclass
class Document:
    """The sentences between two `-DOCSTART-` lines (a file without them is one document)."""

    sentences: list[Sentence] = field(default_factory=list)
    docstart: bool = False  # opened by a `-DOCSTART-` line (conlleval counts it as a token)

    @property
    def word_count(self) -> int:
        return sum(len(sentence.rows) for sentence in self.sentences)


def read(path: Path) -> list[Document]:
    """Read a CoNLL file: one token per line, blank lines between sentences."""
    with path.open(encoding="utf-8") as lines:
        return list(parse(lines))


def parse(lines: Iterable[str]) -> Iterator[Document]:
    document = Document()
    sentence = Sentence()
    columns: int | None = None
    for number, line in enumerate(lines, start=1):
        row = line.split()
        if row and row[0] == DOCSTART:
            if sentence.rows:
                document.sentences.append(sentence)
                sentence = Sentence()
            if document.sentences or document.docstart:
                yield document
            document = Document(docstart=True)
            continue
        if not row:
            if sentence.rows:
                document.sentences.append(sentence)
                sentence = Sentence()
            continue
        if len(row) < 2:
            raise ConllFormatError(f"line {number}: expected `word ... tag`, got {line!r}")
        if columns is None:
            columns = len(row)
        elif len(row) != columns:
            raise ConllFormatError(f"line {number}: {len(row)} columns where earlier had {columns}")
        sentence.rows.append(row)
    if sentence.rows:
        document.sentences.append(sentence)
    if document.sentences or document.docstart:
        yield document


def _split(tag: str) -> tuple[str, str]:
    """`I-PER` -> (`I`, `PER`); `O` -> (`O`, ``) as conlleval splits on the first hyphen."""
    prefix, _, label = tag.partition("-")
    return prefix, label


def _ends(previous: str, current: str, previous_label: str, label: str) -> bool:
    """conlleval's endOfChunk, rule for rule: does a chunk end before the current tag?"""
    if (previous, current) in _CHUNK_END_PAIRS:
        return True
    if previous not in (OUTSIDE, ".") and previous_label != label:
        return True
    return previous in ("[", "]")


def _starts(previous: str, current: str, previous_label: str, label: str) -> bool:
    """conlleval's startOfChunk, rule for rule: does a chunk start at the current tag?"""
    if (previous, current) in _CHUNK_START_PAIRS:
        return True
    if current not in (OUTSIDE, ".") and previous_label != label:
        return True
    return current in ("[", "]")


# conlleval's pairs of (previous prefix, current prefix). It knows IOB1, IOB2 and IOE, not S-.
_CHUNK_END_PAIRS = frozenset(
    {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
)
_CHUNK_START_PAIRS = frozenset(
    {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
)


def chunks(tags: Sequence[str]) -> list[Chunk]:
    """The entity chunks of one tag sequence, decoded exactly as conlleval decodes them."""
    found: list[Chunk] = []
    previous, previous_label = OUTSIDE, ""
    start: int | None = None
    for index, tag in enumerate([*tags, OUTSIDE]):
        current, label = _split(tag)
        starts = _starts(previous, current, previous_label, label)
        # conlleval counts a chunk at every start; one still open then ends there too.
        if start is not None and (starts or _ends(previous, current, previous_label, label)):
            found.append(Chunk(start, index, previous_label))
            start = None
        if starts:
            start = index
        previous, previous_label = current, label
    return found


def iob2(spans: Iterable[Chunk], length: int) -> list[str]:
    """IOB2 tags (`B-` on every first token) for non-overlapping spans over `length` tokens."""
    tags = [OUTSIDE] * length
    for span in spans:
        tags[span.start] = f"B-{span.label}"
        for index in range(span.start + 1, span.end):
            tags[index] = f"I-{span.label}"
    return tags
