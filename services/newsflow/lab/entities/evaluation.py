"""`newsflow eval entities`: the model on a CoNLL file, scored exactly as conlleval scores it.

Input is pre-tokenised: each document becomes a `Doc` of the file's own tokens and sentence
breaks, so predicted spans line up with the gold ones; only the model's time is measured.
Precision, recall and F1 are chunk-level exact matches (span and type), per type and overall.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsflow.entities import conll


@dataclass
class TypeCounts:
    """conlleval's counters for one entity type: chunks in gold, predicted, and both."""

    gold: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def add(self, other: TypeCounts) -> None:
        self.gold += other.gold
        self.predicted += other.predicted
        self.correct += other.correct

    def figures(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "gold": self.gold,
            "predicted": self.predicted,
            "correct": self.correct,
        }


@dataclass
class Scores:
    """Entity-level counts over a whole file, by type."""

    by_type: dict[str, TypeCounts] = field(default_factory=dict)
    tokens: int = 0

    @property
    def overall(self) -> TypeCounts:
        total = TypeCounts()
        for counts in self.by_type.values():
            total.add(counts)
        return total

    def add_sentence(self, gold_tags: Sequence[str], predicted_tags: Sequence[str]) -> None:
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"{len(gold_tags)} gold tags but {len(predicted_tags)} predicted")
        self.tokens += len(gold_tags)
        gold = set(conll.chunks(gold_tags))
        predicted = set(conll.chunks(predicted_tags))
        for chunk in gold:
            self.by_type.setdefault(chunk.label, TypeCounts()).gold += 1
        for chunk in predicted:
            self.by_type.setdefault(chunk.label, TypeCounts()).predicted += 1
        for chunk in gold & predicted:
            self.by_type[chunk.label].correct += 1


def score(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> Scores:
    """Score sentence by sentence (tag sequences in IOB1, IOB2 or IOE, mixed as you like)."""
    scores = Scores()
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        scores.add_sentence(gold_tags, predicted_tags)
    return scores


def read_scored(path: Path) -> Scores:
    """Score a file whose last two columns are the gold and the predicted tag, as conlleval."""
    scores = Scores()
    for document in conll.read(path):
        scores.tokens += document.docstart
        for sentence in document.sentences:
            scores.add_sentence([row[-2] for row in sentence.rows], sentence.tags)
    return scores


@dataclass
class Report:
    scores: Scores
    words: int
    tagging_seconds: float
    cpu_seconds: float

    @property
    def words_per_second(self) -> float:
        """Words per second of CPU time: the rate of one core, however busy the machine.

        Tagging runs on one thread, so on an idle machine this equals the wall-clock rate;
        when other processes share the core, wall-clock time grows and this does not.
        """
        seconds = self.cpu_seconds or self.tagging_seconds
        return self.words / seconds if seconds else 0.0

    @property
    def words_per_wall_second(self) -> float:
        return self.words / self.tagging_seconds if self.tagging_seconds else 0.0

    def figures(self) -> dict[str, object]:
        overall = self.scores.overall
        return {
            "precision": overall.precision,
            "recall": overall.recall,
            "f1": overall.f1,
            "per_type": {
                label: counts.figures() for label, counts in sorted(self.scores.by_type.items())
            },
            "words_per_second": self.words_per_second,
            "words_per_wall_second": self.words_per_wall_second,
            "words": self.words,
            "tagging_seconds": self.tagging_seconds,
            "cpu_seconds": self.cpu_seconds,
        }


def format_report(report: Report) -> str:
    """conlleval's layout, percentages with two decimals, then the speed."""
    overall = report.scores.overall
    lines = [
        f"processed {report.scores.tokens} tokens with {overall.gold} phrases; "
        f"found: {overall.predicted} phrases; correct: {overall.correct}.",
        f"precision: {100 * overall.precision:6.2f}%; recall: {100 * overall.recall:6.2f}%; "
        f"FB1: {100 * overall.f1:6.2f}",
    ]
    for label, counts in sorted(report.scores.by_type.items()):
        lines.append(
            f"{label:>17}: precision: {100 * counts.precision:6.2f}%; "
            f"recall: {100 * counts.recall:6.2f}%; FB1: {100 * counts.f1:6.2f}  {counts.predicted}"
        )
    lines.append(
        f"speed: {report.words_per_second:,.0f} words/s on one core ({report.words} words in "
        f"{report.cpu_seconds:.2f} s of CPU; {report.tagging_seconds:.2f} s of wall clock, "
        f"{report.words_per_wall_second:,.0f} words/s)"
    )
    return "\n".join(lines)


def sentence_tags(doc_spans: Iterable[conll.Chunk], lengths: Sequence[int]) -> list[list[str]]:
    """IOB2 tags per sentence for spans over a document (a span never crosses a sentence)."""
    tags: list[list[str]] = []
    offset = 0
    spans = sorted(doc_spans, key=lambda span: span.start)
    for length in lengths:
        inside = [
            conll.Chunk(
                max(span.start, offset) - offset,
                min(span.end, offset + length) - offset,
                span.label,
            )
            for span in spans
            if span.start < offset + length and span.end > offset
        ]
        tags.append(conll.iob2(inside, length))
        offset += length
    return tags


def evaluate(
    path: Path,
    model_dir: Path,
    predictions_path: Path | None = None,
    *,
    harmonised: bool = True,
    batch_size: int = 64,
) -> Report:
    """Tag every document of the CoNLL file at `path` and score it against its own tags.

    `harmonised`: apply the document rules of `consistency` after the model where the
    model's meta asks for them, as the tagger does (False scores the model alone).
    """
    from newsflow.entities.consistency import harmonise
    from newsflow.entities.tagging import load_pipeline, uses_document_rules

    from .corpus import to_doc

    documents = conll.read(path)
    nlp = load_pipeline(model_dir)
    docs = [to_doc(nlp.vocab, document.sentences, with_entities=False) for document in documents]
    wall, cpu = time.perf_counter(), time.process_time()
    tagged = list(nlp.pipe(docs, batch_size=batch_size))
    if harmonised and uses_document_rules(nlp):
        for doc in tagged:
            harmonise(doc)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    predicted: list[list[str]] = []
    gold: list[list[str]] = []
    for document, doc in zip(documents, tagged, strict=True):
        spans = [conll.Chunk(span.start, span.end, span.label_) for span in doc.ents]
        predicted += sentence_tags(spans, [len(sentence.rows) for sentence in document.sentences])
        gold += [sentence.tags for sentence in document.sentences]
    if predictions_path is not None:
        write_predictions(path, predictions_path, predicted)
    words = sum(document.word_count for document in documents)
    scores = score(gold, predicted)
    scores.tokens += sum(document.docstart for document in documents)
    return Report(scores, words, wall, cpu)


def write_predictions(source: Path, target: Path, predicted: Sequence[Sequence[str]]) -> None:
    """The source file again, every token line with its predicted tag appended.

    `-DOCSTART-` lines get `O`, so every line has as many columns as conlleval expects.
    """
    tags = iter([tag for sentence in predicted for tag in sentence])
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for line in lines:
            row = line.split()
            if not row:
                out.write("\n")
            elif row[0] == conll.DOCSTART:
                out.write(" ".join([*row, conll.OUTSIDE]) + "\n")
            else:
                out.write(" ".join([*row, next(tags)]) + "\n")
    if next(tags, None) is not None:
        raise ValueError(f"{source} has fewer tokens than were tagged")
