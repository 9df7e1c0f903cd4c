"""CoNLL-2003 to spaCy: pre-tokenised `Doc`s with gold entity spans, saved as `.spacy` files.

The IOB1 tags are decoded into spans with conlleval's rules (see `conll.chunks`), so the
model learns exactly the entities the scorer counts. Sentences stay in their document, in
groups of a few, so the encoder sees neighbouring sentences as it will in an article.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from newsflow.entities import conll

SENTENCES_PER_DOC = 10


def sentence_groups(
    documents: Iterable[conll.Document], size: int = SENTENCES_PER_DOC
) -> Iterator[list[conll.Sentence]]:
    """Consecutive sentences of one document, at most `size` at a time (0: whole documents)."""
    for document in documents:
        step = size or max(1, len(document.sentences))
        for first in range(0, len(document.sentences), step):
            yield document.sentences[first : first + step]


def to_doc(vocab: Vocab, sentences: list[conll.Sentence], with_entities: bool = True) -> Doc:
    """One `Doc` of the given sentences' tokens, sentence starts set, gold spans as `ents`."""
    words: list[str] = []
    sent_starts: list[bool] = []
    spans: list[conll.Chunk] = []
    for sentence in sentences:
        offset = len(words)
        words.extend(sentence.words)
        sent_starts.extend([True] + [False] * (len(sentence.rows) - 1))
        if with_entities:
            spans.extend(
                conll.Chunk(chunk.start + offset, chunk.end + offset, chunk.label)
                for chunk in conll.chunks(sentence.tags)
            )
    doc = Doc(vocab, words=words, sent_starts=sent_starts)
    if with_entities:
        doc.ents = [Span(doc, span.start, span.end, label=span.label) for span in spans]
    return doc


def convert(source: Path, target: Path, sentences_per_doc: int = SENTENCES_PER_DOC) -> int:
    """Write `source` (a CoNLL file) as a `.spacy` file; returns the number of entities."""
    vocab = Vocab()
    docs = DocBin(attrs=["ORTH", "SENT_START", "ENT_IOB", "ENT_TYPE"], store_user_data=False)
    entities = 0
    for group in sentence_groups(conll.read(source), sentences_per_doc):
        doc = to_doc(vocab, group)
        entities += len(doc.ents)
        docs.add(doc)
    target.parent.mkdir(parents=True, exist_ok=True)
    docs.to_disk(target)
    return entities
