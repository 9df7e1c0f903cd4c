"""The fine-tuned transformer NER as a spaCy pipeline component, run with ONNX Runtime.

A spaCy component, so that a model folder is a spaCy pipeline whichever model it holds:
`spacy.load(folder)` gives the tokenizer (CoNLL-style rules, see
`newsflow.lab.entities.train.conll_tokenisation`) and this component, which sets `doc.ents`
from the ONNX graph's scores. Tagging, the document rules and `newsflow eval entities` treat
both models alike.

The component's folder holds `model.onnx` (the int8 graph), `tokenizer.json` (the encoder's
WordPiece tokenizer) and `config.json` (labels and windows). ONNX Runtime runs on
`threads` threads (one by default: the worker scales by processes, not threads).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import onnxruntime
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab
from tokenizers import Tokenizer

from . import conll, transformer

FACTORY = "newsflow_transformer_ner"
FILES = ("model.onnx", "tokenizer.json", "config.json")


@Language.factory(FACTORY, default_config={"threads": 1, "batch_size": 32})
def make_component(nlp: Language, name: str, threads: int, batch_size: int) -> TransformerNer:
    return TransformerNer(nlp.vocab, name, threads=threads, batch_size=batch_size)


def sentence_starts(doc: Doc) -> list[bool]:
    """The doc's own sentence starts if it has them, else after `.`, `!`, `?` and line breaks."""
    if doc.has_annotation("SENT_START"):
        return [bool(token.is_sent_start) for token in doc]
    starts = [False] * len(doc)
    for index in range(1, len(doc)):
        previous = doc[index - 1]
        starts[index] = previous.text in transformer.SENTENCE_ENDS or "\n" in previous.text_with_ws
    if starts:
        starts[0] = True
    return starts


class TransformerNer:
    """Sets `doc.ents` (PER, ORG, LOC, MISC) from the ONNX model in the component's folder."""

    def __init__(self, vocab: Vocab, name: str, *, threads: int = 1, batch_size: int = 32) -> None:
        self.vocab = vocab
        self.name = name
        self.threads = threads
        self.batch_size = batch_size
        self.folder: Path | None = None
        self.tagger: transformer.WordTagger | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return transformer.ENTITY_TYPES

    def from_disk(self, path: Path, exclude: Iterable[str] = ()) -> TransformerNer:
        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        if tuple(config["labels"]) != transformer.LABELS:
            raise ValueError(
                f"{path}: the model's labels {config['labels']} are not {transformer.LABELS}"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(
            str(path / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()

        def logits(batch: transformer.Batch) -> np.ndarray:
            return session.run(
                ["logits"],
                {
                    "input_ids": batch.input_ids,
                    "attention_mask": batch.attention_mask,
                    "token_type_ids": batch.token_type_ids,
                },
            )[0]

        self.tagger = transformer.WordTagger(
            tokenizer,
            logits,
            window_pieces=config["window_pieces"],
            context_pieces=config["context_pieces"],
        )
        self.folder = path
        return self

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        if self.folder is None:
            raise ValueError("the component has no model: load one with from_disk first")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (self.folder / name).resolve() != (path / name).resolve():
                shutil.copyfile(self.folder / name, path / name)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        if self.tagger is None:
            raise ValueError("the component has no model: load the pipeline from its folder")
        stream = iter(docs)
        while batch := list(islice(stream, batch_size or self.batch_size)):
            tags = self.tagger.tag(
                [([token.text for token in doc], sentence_starts(doc)) for doc in batch]
            )
            for doc, doc_tags in zip(batch, tags, strict=True):
                doc.ents = [
                    Span(doc, chunk.start, chunk.end, label=chunk.label)
                    for chunk in conll.chunks(doc_tags)
                ]
                yield doc
